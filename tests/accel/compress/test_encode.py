"""Storage encodings: EIE's interleaved CSC (checked against the paper's Fig. 3), blocked int8, packed bits."""

import numpy as np
from scipy import sparse
import pytest

from accel.compress.encode import (block_features, block_weights, encode_csc, pack_bits, unblock_features,
                                   unblock_weights, unpack_bits)
from accel.errors import UserError

# EIE (Han et al., ISCA 2016) Fig. 2: the non-zeros of the 16×8 matrix W in PE0's rows (0, 4, 8, 12), in
# the column-major order of Fig. 3's "Virtual Weight" row. Each gets a distinct codebook index 1..13.
FIG2_PE0 = [(0, 0), (8, 0), (12, 0), (4, 1), (0, 2), (12, 2), (0, 4), (4, 4), (0, 5), (12, 5), (0, 6), (8, 7),
            (12, 7)]
FIG3_RELATIVE_ROW_INDEX = [0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 2, 0]
FIG3_COLUMN_POINTER = [0, 3, 4, 6, 6, 8, 10, 11, 13]


def random_indices(rng, rows, cols, density):
    return np.where(rng.random((rows, cols)) < density, rng.integers(1, 16, (rows, cols)), 0).astype(np.uint8)


def test_eie_paper_figure_3_pe0():
    rng = np.random.default_rng(3)
    w = random_indices(rng, 16, 8, 0.4)
    w[0::4] = 0
    for index, (row, col) in enumerate(FIG2_PE0, start=1):
        w[row, col] = index
    csc = encode_csc(w, n_pe=4)
    assert csc.v[0].tolist() == list(range(1, 14))
    assert csc.z[0].tolist() == FIG3_RELATIVE_ROW_INDEX
    assert csc.ptr[0].tolist() == FIG3_COLUMN_POINTER
    assert csc.padding_entries == 0
    assert np.array_equal(csc.decode(), w)


@pytest.mark.parametrize("rows,cols,n_pe,density", [(16, 8, 4, 0.3), (37, 11, 4, 0.2), (300, 64, 64, 0.1),
                                                     (5, 9, 8, 0.5), (100, 20, 3, 0.02), (64, 10, 1, 0.0)])
def test_round_trip_random_sparse(rows, cols, n_pe, density):
    rng = np.random.default_rng(rows * cols + n_pe)
    w = random_indices(rng, rows, cols, density)
    w[:, ::3] = 0  # empty columns
    csc = encode_csc(w, n_pe)
    assert np.array_equal(csc.decode(), w)
    assert csc.entries - csc.padding_entries == np.count_nonzero(w)
    from_sparse = encode_csc(sparse.csr_array(w), n_pe)  # the same entries from the non-zeros alone
    assert all(np.array_equal(a, b) for field in ("v", "z", "ptr")
               for a, b in zip(getattr(csc, field), getattr(from_sparse, field)))
    for pe in range(n_pe):
        assert len(csc.ptr[pe]) == cols + 1 and csc.ptr[pe][-1] == len(csc.v[pe]) == len(csc.z[pe])
        assert csc.z[pe].max(initial=0) <= 15
        assert np.all(np.diff(csc.ptr[pe])[::3] == 0)


@pytest.mark.parametrize("zeros,padding,z_last", [(0, 0, 0), (15, 0, 15), (16, 1, 0), (17, 1, 1), (31, 1, 15),
                                                   (32, 2, 0), (40, 2, 8)])
def test_long_zero_runs_insert_padding_entries(zeros, padding, z_last):
    w = np.zeros((48, 2), dtype=np.uint8)
    w[zeros, 1] = 7
    csc = encode_csc(w, n_pe=1)
    assert csc.v[0].tolist() == [0] * padding + [7]
    assert csc.z[0].tolist() == [15] * padding + [z_last]
    assert csc.ptr[0].tolist() == [0, 0, padding + 1]
    assert csc.padding_entries == padding
    assert np.array_equal(csc.decode(), w)


def test_zero_runs_count_the_pes_own_rows():
    w = np.zeros((70, 1), dtype=np.uint8)
    w[[1, 69], 0] = [3, 4]  # PE1's local rows 0 and 34: 33 zeros between them
    csc = encode_csc(w, n_pe=2)
    assert csc.v[1].tolist() == [3, 0, 0, 4] and csc.z[1].tolist() == [0, 15, 15, 1]
    assert len(csc.v[0]) == 0 and csc.ptr[0].tolist() == [0, 0]
    assert np.array_equal(csc.decode(), w)


@pytest.mark.parametrize("indices,n_pe,match", [(np.full((2, 2), 16), 2, "codebook index 16"),
                                                (np.full((2, 2), -1), 2, "codebook index -1"),
                                                (np.zeros(4, dtype=int), 2, "2-D integer matrix"),
                                                (np.zeros((2, 2), dtype=int), 0, "n_pe 0")])
def test_csc_rejects_bad_input(indices, n_pe, match):
    with pytest.raises(UserError, match=match):
        encode_csc(indices, n_pe)


@pytest.mark.parametrize("c,atomic_c", [(5, 4), (8, 8), (1, 8), (17, 8)])
def test_blocked_features_round_trip_and_offsets(c, atomic_c):
    rng = np.random.default_rng(c)
    h, w = 3, 5
    x = rng.integers(-128, 128, (c, h, w)).astype(np.int8)
    blocked = block_features(x, atomic_c)
    groups = -(-c // atomic_c)
    assert blocked.shape == (groups, h, w, atomic_c) and blocked.dtype == np.int8
    assert np.array_equal(unblock_features(blocked, c), x)
    image = np.frombuffer(blocked.tobytes(), dtype=np.int8)
    cc, hh, ww = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    offset = ((cc // atomic_c * h + hh) * w + ww) * atomic_c + cc % atomic_c
    assert np.array_equal(image[offset], x)
    assert np.count_nonzero(blocked.transpose(0, 3, 1, 2).reshape(-1, h, w)[c:]) == 0


@pytest.mark.parametrize("k,c,atomic_k,atomic_c", [(5, 7, 3, 4), (8, 8, 8, 8), (1, 3, 4, 2), (10, 1, 4, 8)])
def test_blocked_weights_round_trip_and_offsets(k, c, atomic_k, atomic_c):
    rng = np.random.default_rng(k * c)
    r, s = 3, 2
    wt = rng.integers(-127, 128, (k, c, r, s)).astype(np.int8)
    blocked = block_weights(wt, atomic_c, atomic_k)
    kg, cg = -(-k // atomic_k), -(-c // atomic_c)
    assert blocked.shape == (kg, cg, r, s, atomic_k, atomic_c)
    assert np.array_equal(unblock_weights(blocked, k, c), wt)
    image = np.frombuffer(blocked.tobytes(), dtype=np.int8)
    kk, cc, rr, ss = np.meshgrid(*map(np.arange, (k, c, r, s)), indexing="ij")
    offset = (((((kk // atomic_k) * cg + cc // atomic_c) * r + rr) * s + ss) * atomic_k + kk % atomic_k) \
        * atomic_c + cc % atomic_c
    assert np.array_equal(image[offset], wt)
    assert np.count_nonzero(image) == np.count_nonzero(wt)  # padding is zero


def test_blocked_layouts_reject_bad_atomic_sizes():
    with pytest.raises(UserError, match="atomic_c 0"):
        block_features(np.zeros((2, 2, 2), np.int8), 0)
    with pytest.raises(UserError, match="atomic_k 0"):
        block_weights(np.zeros((2, 2, 1, 1), np.int8), 8, 0)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 130, 200])
def test_bit_packing_round_trip_order_and_padding(n):
    rng = np.random.default_rng(n)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), (3, n))
    words = pack_bits(x)
    assert words.dtype == np.uint64 and words.shape == (3, -(-n // 64))
    assert np.array_equal(unpack_bits(words, n), x)
    assert np.array_equal(unpack_bits(pack_bits(x > 0), n, bipolar=False), (x > 0).astype(np.int8))
    element = np.arange(words.shape[1] * 64)
    bits = (words[:, element // 64] >> (element % 64).astype(np.uint64)) & np.uint64(1)
    assert np.array_equal(bits[:, :n], (x > 0).astype(np.uint64))
    assert not bits[:, n:].any()  # padding bits are 0


def test_packed_dot_products_from_popcount():
    rng = np.random.default_rng(1)
    n = 100
    a, w = rng.choice([-1, 1], n), rng.choice([-1, 1], n)
    pa, pw = pack_bits(a), pack_bits(w)
    padding = pa.size * 64 - n
    assert a @ w == n - 2 * int(np.bitwise_count(pa ^ pw).sum())
    assert a @ w == 2 * (int(np.bitwise_count(~(pa ^ pw)).sum()) - padding) - n


def test_pack_bits_rejects_other_values():
    with pytest.raises(UserError, match="pack_bits: values"):
        pack_bits(np.array([-1, 0, 1]))
    with pytest.raises(UserError, match="unpack_bits: n 65"):
        unpack_bits(np.zeros(1, np.uint64), 65)
