"""Storage encodings of compressed weights and features, one per engine, each the layout its memory image uses.

- :func:`encode_csc` — EIE's interleaved, relative-indexed compressed sparse columns (Han et al., "EIE:
  Efficient Inference Engine on Compressed Deep Neural Network", ISCA 2016, Section III-B, Figs. 2–3).
- :func:`block_features` / :func:`block_weights` — the mac_array's blocked int8 layouts (NVDLA's feature
  "surfaces" of ``atomic_c`` channels and weight groups of ``atomic_k`` kernels, NVDLA hardware manual,
  "In-Memory Data Formats").
- :func:`pack_bits` — the xnor engine's bit-packed ±1 matrices (FINN, Umuroglu et al., FPGA 2017: weights
  and activations as bits, dot products as XNOR–popcount).

Every encoding has an exact inverse; round trips are the tests.
"""

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..errors import UserError

CODEBOOK_BITS = 4
"""EIE stores a 4-bit virtual-weight (codebook) index and a 4-bit relative row index per entry."""

MAX_RUN = (1 << CODEBOOK_BITS) - 1
"""The largest relative row index: 15 zeros before an entry; a longer run needs a padding entry."""


@dataclass(frozen=True)
class EieCsc:
    """A (rows × cols) matrix of codebook indices, interleaved over ``n_pe`` PEs in relative-indexed CSC.

    Row ``i`` belongs to PE ``i mod n_pe`` as its local row ``i // n_pe``. For PE ``p``, ``v[p]`` and
    ``z[p]`` (uint8, one pair per entry) list its columns in order: ``v`` the codebook index (0 is the
    value 0), ``z`` the number of zero local rows between this entry and the previous entry of the same
    column (or the column's top). A run of more than 15 zeros is broken by a padding entry ``(v=0, z=15)``,
    which stands on the 16th zero. ``ptr[p]`` (int64, cols + 1) holds the column pointers:
    column ``j`` of PE ``p`` is entries ``ptr[p][j]:ptr[p][j+1]``, padding included.
    """

    shape: tuple[int, int]
    n_pe: int
    v: list[np.ndarray]
    z: list[np.ndarray]
    ptr: list[np.ndarray]

    @property
    def padding_entries(self) -> int:
        """Entries with ``v == 0``: the padding the 4-bit relative index forces."""
        return sum(int(np.count_nonzero(v == 0)) for v in self.v)

    @property
    def entries(self) -> int:
        """All stored entries (non-zeros and padding) over all PEs."""
        return sum(len(v) for v in self.v)

    def decode(self) -> np.ndarray:
        """The dense (rows × cols) uint8 index matrix this encodes."""
        rows, cols = self.shape
        dense = np.zeros(self.shape, dtype=np.uint8)
        for pe, (v, z, ptr) in enumerate(zip(self.v, self.z, self.ptr)):
            steps = np.cumsum(z.astype(np.int64) + 1)
            column_base = np.concatenate(([0], steps))[ptr[:-1]]
            column = np.repeat(np.arange(cols), np.diff(ptr))
            local_row = steps - column_base[column] - 1
            real = v != 0
            dense[local_row[real] * self.n_pe + pe, column[real]] = v[real]
        return dense


def _nonzeros(local) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column, row, value) of the non-zeros of a dense or scipy.sparse matrix, by column, then row."""
    if sparse.issparse(local):
        local = sparse.csc_array(local)
        local.eliminate_zeros()
        local.sort_indices()
        column = np.repeat(np.arange(local.shape[1]), np.diff(local.indptr))
        return column, local.indices.astype(np.int64), local.data
    column, row = np.nonzero(local.T)  # column-major order: by column, then row
    return column, row, local[row, column]


def encode_csc(indices, n_pe: int) -> EieCsc:
    """Encode a (rows × cols) matrix of 4-bit codebook indices (0 is zero) for ``n_pe`` EIE PEs: a numpy array
    or a scipy.sparse matrix (encoded from its non-zeros, never made dense).

    EIE, Section III-B: each PE stores its rows (``i mod n_pe``) column by column as (v, z) pairs and a
    column pointer array; Fig. 3 shows PE0 of Fig. 2's 16×8 matrix on 4 PEs.
    """
    if sparse.issparse(indices):
        indices = sparse.csr_array(indices)
        values = indices.data
    else:
        indices = np.asarray(indices)
        values = indices
    if indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer):
        raise UserError(f"encode_csc: indices must be a 2-D integer matrix, got {indices.dtype} {indices.shape}")
    bad = values[(values < 0) | (values > MAX_RUN)]
    if bad.size:
        raise UserError(f"encode_csc: codebook index {int(bad[0])} is outside 0..{MAX_RUN} (4-bit)")
    if n_pe < 1:
        raise UserError(f"encode_csc: n_pe {n_pe} must be >= 1")
    cols = indices.shape[1]
    v_all, z_all, ptr_all = [], [], []
    for pe in range(n_pe):
        column, row, value = _nonzeros(indices[pe::n_pe])
        first = np.concatenate(([True], column[1:] != column[:-1]))
        previous = np.where(first, -1, np.concatenate(([-1], row[:-1])))
        gap = row - previous - 1
        count = gap // (MAX_RUN + 1) + 1  # padding entries before each non-zero, plus itself
        at = np.cumsum(count) - 1
        v = np.zeros(int(count.sum()), dtype=np.uint8)
        z = np.full(len(v), MAX_RUN, dtype=np.uint8)
        v[at] = value
        z[at] = gap % (MAX_RUN + 1)
        per_column = np.bincount(column, weights=count, minlength=cols).astype(np.int64)
        v_all.append(v)
        z_all.append(z)
        ptr_all.append(np.concatenate(([0], np.cumsum(per_column))))
    return EieCsc(tuple(indices.shape), n_pe, v_all, z_all, ptr_all)


def _check_atomic(name: str, value: int):
    if value < 1:
        raise UserError(f"{name} {value} must be >= 1")


def block_features(x: np.ndarray, atomic_c: int) -> np.ndarray:
    """A (C, H, W) feature map as NVDLA-style channel groups: ``(ceil(C/atomic_c), H, W, atomic_c)``.

    Channels are zero-padded up to a multiple of ``atomic_c``. The memory image is the result in C order
    (``.tobytes()``): element ``x[c, h, w]`` is at element offset
    ``((c // atomic_c · H + h) · W + w) · atomic_c + c % atomic_c`` — one byte each for int8. A batch is
    its images one after another.
    """
    _check_atomic("atomic_c", atomic_c)
    if x.ndim != 3:
        raise UserError(f"block_features: feature map must be (C, H, W), got shape {x.shape}")
    c, h, w = x.shape
    groups = -(-c // atomic_c)
    padded = np.zeros((groups * atomic_c, h, w), dtype=x.dtype)
    padded[:c] = x
    return np.ascontiguousarray(padded.reshape(groups, atomic_c, h, w).transpose(0, 2, 3, 1))


def unblock_features(blocked: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of :func:`block_features`: the (channels, H, W) map, padding channels dropped."""
    groups, h, w, atomic_c = blocked.shape
    return np.ascontiguousarray(blocked.transpose(0, 3, 1, 2).reshape(groups * atomic_c, h, w)[:channels])


def block_weights(w: np.ndarray, atomic_c: int, atomic_k: int) -> np.ndarray:
    """(K, C, R, S) kernels as NVDLA-style groups: ``(ceil(K/atomic_k), ceil(C/atomic_c), R, S, atomic_k,
    atomic_c)``, zero-padded in K and C.

    The memory image is the result in C order: ``w[k, c, r, s]`` is at element offset
    ``(((((k // atomic_k) · Cg + c // atomic_c) · R + r) · S + s) · atomic_k + k % atomic_k) · atomic_c
    + c % atomic_c`` with ``Cg = ceil(C/atomic_c)``: for each kernel group, each channel group, each kernel
    position, ``atomic_k`` rows of ``atomic_c`` channel bytes — one MAC-array load.
    """
    _check_atomic("atomic_c", atomic_c)
    _check_atomic("atomic_k", atomic_k)
    if w.ndim != 4:
        raise UserError(f"block_weights: weights must be (K, C, R, S), got shape {w.shape}")
    k, c, r, s = w.shape
    kg, cg = -(-k // atomic_k), -(-c // atomic_c)
    padded = np.zeros((kg * atomic_k, cg * atomic_c, r, s), dtype=w.dtype)
    padded[:k, :c] = w
    return np.ascontiguousarray(padded.reshape(kg, atomic_k, cg, atomic_c, r, s).transpose(0, 2, 4, 5, 1, 3))


def unblock_weights(blocked: np.ndarray, kernels: int, channels: int) -> np.ndarray:
    """Inverse of :func:`block_weights`: the (kernels, channels, R, S) weights, padding dropped."""
    kg, cg, r, s, atomic_k, atomic_c = blocked.shape
    full = blocked.transpose(0, 4, 1, 5, 2, 3).reshape(kg * atomic_k, cg * atomic_c, r, s)
    return np.ascontiguousarray(full[:kernels, :channels])


WORD_BITS = 64


def pack_bits(x: np.ndarray) -> np.ndarray:
    """Pack a ±1 (or {0, 1}) array into uint64 words along its last axis: ``(..., ceil(n/64))``.

    Bit ``j`` of word ``i`` is element ``64·i + j``; +1 (or 1) is bit 1, −1 (or 0) bit 0. Padding bits
    (beyond ``n``) are 0 in every operand, so they never differ: for ±1 vectors ``a``, ``w`` of length
    ``n``, ``a · w = n − 2·popcount(a_bits XOR w_bits)`` needs no correction; an XNOR–popcount counts each
    of the ``64·words − n`` padding bits as a match, so ``a · w = 2·(popcount(XNOR) − padding) − n``.
    """
    x = np.asarray(x)
    values = set(np.unique(x).tolist())
    if not (values <= {-1, 1} or values <= {0, 1}):
        raise UserError(f"pack_bits: values {sorted(values)} must all be in {{-1, +1}} or all in {{0, 1}}")
    n = x.shape[-1]
    words = -(-n // WORD_BITS)
    bits = np.zeros((*x.shape[:-1], words * WORD_BITS), dtype=np.uint8)
    bits[..., :n] = x > 0
    return np.packbits(bits, axis=-1, bitorder="little").view("<u8").astype(np.uint64)


def unpack_bits(words: np.ndarray, n: int, bipolar: bool = True) -> np.ndarray:
    """Inverse of :func:`pack_bits`: the first ``n`` elements along the last axis, as int8 ±1 (``bipolar``)
    or {0, 1}."""
    if not 0 <= n <= words.shape[-1] * WORD_BITS:
        raise UserError(f"unpack_bits: n {n} must be in 0..{words.shape[-1] * WORD_BITS} for {words.shape[-1]} words")
    as_bytes = np.ascontiguousarray(words.astype("<u8")).view(np.uint8)
    bits = np.unpackbits(as_bytes, axis=-1, bitorder="little")[..., :n].astype(np.int8)
    return 2 * bits - 1 if bipolar else bits
