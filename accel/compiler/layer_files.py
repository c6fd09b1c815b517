"""Your own compressed layers from ``.npz`` files (numpy's ``np.savez``): one documented format per engine,
read into the layer type that engine's compiler lowers.

eie (:class:`accel.compiler.eie.SparseDense`; EIE, Han et al. ISCA 2016: 4-bit weight sharing, pruning)::

    format    "eie"                 a string (np.savez(..., format="eie"))
    shape     (2,) int              (out, in)
    codebook  (16,) float           the shared weights; index 0 is the zero weight, so codebook[0] must be 0
    indices   (out, in) uint8       the codebook index of every weight (0: pruned), dense, or instead
    indptr    (in + 1,) int         the same matrix as compressed sparse columns: column j's non-zeros are
    rows      (nnz,) int              rows[indptr[j]:indptr[j + 1]] (increasing), their indices
    codes     (nnz,) uint8            codes[...] in 1..15; read into the engine's CSC without a dense copy
    bias      (out,) uint8          optional: codebook indices of the bias (EIE's bias column, fed 1.0)
    relu      bool                  optional (default false): ReLU after the layer
    input     (in,) float           optional: the activations to run (default: random, 35 % non-zero)

mac_array (:class:`accel.nn.qgraph.QConv` or ``QDense``; int8 as TFLite, Jacob et al. 2017)::

    format             "mac_array"
    weight             (K, F) int8 (a dense layer) or (K, C/groups, R, S) int8 (a convolution), symmetric
    bias               (K,) int32            optional (default 0)
    input_scale        float                 the requantization: input_scale · weight_scale[k] / output_scale
    weight_scale       (K,) float              per output channel, in TFLite's (M0, shift) form
    output_scale       float
    output_zero_point  int                   optional (default 0)
    activation         "none"|"relu"|"relu6" optional (default none): the output clamp
    stride, groups     int                   optional (default 1), a convolution's
    padding            (2,) int              optional (default 0, 0), a convolution's
    input              int8 (C, H, W) or (F,) the input, or a float one quantized by input_scale and
    input_zero_point   int                     optional (default 0), or instead of ``input``
    input_shape        (3,) int              (C, H, W) or (F, 1, 1) of a random int8 input

xnor (:class:`accel.compiler.xnor.BinaryLayer`; FINN's MVTU, Umuroglu et al. 2017)::

    format        "xnor"
    weight_shape  (4,) int               (K, C, R, R): K filters over C channels, square R × R (1 × 1: dense)
    weight_bits   (K, ceil(C·R·R / 8)) uint8   np.packbits of each filter's (C, R, R) bits, 1 for +1, 0 for −1
    threshold     (K,) int               optional: output +1 iff dot >= threshold (absent: the integer dots)
    threshold_up  (K,) bool              optional (default true): false for +1 iff dot <= threshold
    stride, pad, pool                    optional ints (default 1, 0, 1); pad_value +1 or −1 (default −1)
    input         (C, H, W) bool         the input bits (true for +1), or instead
    input_shape   (3,) int               (C, H, W) of a random binary input

The EIE authors' compressed AlexNet (:func:`load_deep_compression`): Deep Compression's binary
``AlexNet_compressed.net`` (github.com/songhan/Deep-Compression-AlexNet, its ``decode.py`` defines the layout):
a header of uint32 entry counts, one per layer (conv1–5, fc6–8), then per layer a float32 codebook (256
entries for a convolution, 16 for a fully-connected layer), the float32 biases, the codes (4-bit, two per byte,
low nibble first, for fc layers; a byte each for conv layers) and 4-bit relative indices (two per byte): each
entry stands ``index + 1`` places after the previous one in the row-major (out, in) weight array, a code of 0
being a padding entry. Published per-PE pointer and sparse-matrix files of the EIE hardware were not found;
this is the authors' released data. A fully-connected layer is read straight into CSC; its float biases become
the nearest codebook entries (EIE's bias column shares the codebook), so they are approximate.

For eie, fixed point: the codebook is rounded to int16 with the most fraction bits that fit its largest magnitude
(``weight_frac`` ≤ 15), the input likewise (``act_frac`` ≤ 14); the run's spec takes those fraction bits, and
:class:`EieFile` states them. Every field is checked; a bad file raises one :class:`UserError` naming the file
and the field.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from zipfile import BadZipFile

import numpy as np
from scipy import sparse

from ..errors import UserError
from ..int8 import ACTIVATIONS
from ..spec import EieSpec
from .eie import SparseDense

INT16_MAX = 2**15 - 1
_LIMITS = {f.name: f.metadata["hi"] for f in dataclasses.fields(EieSpec)}
MAX_ACT_FRAC, MAX_WEIGHT_FRAC = _LIMITS["act_frac"], _LIMITS["weight_frac"]
"""The largest fraction bits of eie's 16-bit activations and codebook values (the spec's own limits)."""


def fraction_bits(values: np.ndarray, most: int) -> int:
    """The most fraction bits (0..``most``) with which every one of ``values`` rounds into int16."""
    largest = float(np.abs(values).max(initial=0.0))
    for bits in range(most, -1, -1):
        if round(largest * 2.0**bits) <= INT16_MAX:
            return bits
    return -1


@dataclass(frozen=True)
class EieFile:
    """A layer read from an eie ``.npz``: the layer, its int16 input (None: none in the file) and the fraction
    bits its codebook and input were rounded with."""

    layer: SparseDense
    x: np.ndarray | None
    weight_frac: int
    act_frac: int | None

    def spec(self, spec: EieSpec) -> EieSpec:
        """``spec`` with this file's fraction bits."""
        chosen = {"weight_frac": str(self.weight_frac)}
        if self.act_frac is not None:
            chosen["act_frac"] = str(self.act_frac)
        return spec.with_overrides(chosen)


KINDS = {"iu": "integers", "iuf": "numbers", "b": "bool", "U": "text"}
"""The numpy kinds a field may have, in words."""


class _Fields:
    """The arrays of one ``.npz``, each checked on the way out, errors naming the file and the field."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with np.load(path, allow_pickle=False) as data:
                self.arrays = {name: data[name] for name in data.files}
        except OSError as error:
            raise UserError(f"{path}: cannot read it ({error.strerror or error})") from None
        except (BadZipFile, ValueError) as error:
            raise UserError(f"{path}: not an .npz file of plain arrays ({error})") from None

    def fail(self, field: str, problem: str):
        raise UserError(f"{self.path}: field '{field}': {problem}")

    def get(self, field: str, ndim: int, kind: str, required: bool = True) -> np.ndarray | None:
        """Field ``field`` with ``ndim`` dimensions of numpy kind ``kind`` (``"iu"`` integers, ``"iuf"`` numbers,
        ``"b"`` bool); None when it is absent and not ``required``."""
        if field not in self.arrays:
            if required:
                raise UserError(f"{self.path}: field '{field}' is missing; fields: {', '.join(self.arrays) or 'none'}")
            return None
        value = self.arrays[field]
        if value.ndim != ndim or value.dtype.kind not in kind:
            self.fail(field, f"{value.dtype} of shape {value.shape}; expected {ndim} dimension(s) of {KINDS[kind]}")
        if kind == "iuf" and not np.isfinite(value).all():
            self.fail(field, "has a NaN or infinite value")
        return value

    def number(self, field: str, kind: str = "iuf", default=None, positive: bool = False):
        """A scalar field (``default`` when absent; required when ``default`` is None)."""
        value = self.get(field, 0, kind, required=default is None)
        if value is None:
            return default
        if positive and not value > 0:
            self.fail(field, f"{value}; expected > 0")
        return value.item()

    def within(self, field: str, value: np.ndarray, lo: int, hi: int) -> np.ndarray:
        bad = value[(value < lo) | (value > hi)]
        if bad.size:
            self.fail(field, f"value {bad[0]} is outside {lo}..{hi}")
        return value


def load_eie(path: str | Path, name: str | None = None) -> EieFile:
    """The eie layer in the ``.npz`` at ``path`` (format: module docstring), named ``name`` (default: the file
    name without ``.npz``); ``FILE.net:fc8`` names a layer of the EIE authors' compressed AlexNet
    (:func:`load_deep_compression`)."""
    text = str(path)
    file, _, layer = text.rpartition(":")
    if file.endswith(".net"):
        return load_deep_compression(file, layer)
    path = Path(path)
    f = _Fields(path)
    fmt = f.get("format", 0, "U")
    if str(fmt) != "eie":
        f.fail("format", f"{str(fmt)!r}; expected 'eie'")
    shape = f.get("shape", 1, "iu")
    if shape.shape != (2,) or shape.min() < 1:
        f.fail("shape", f"{shape.tolist()}; expected (out, in), both >= 1")
    out, n_in = (int(v) for v in shape)
    codebook = f.get("codebook", 1, "iuf")
    if codebook.shape != (16,) or codebook[0] != 0:
        f.fail("codebook", f"{codebook.shape[0]} entries, first {codebook[0] if codebook.size else None}; expected "
                           f"16 entries with codebook[0] == 0 (index 0 is the zero weight)")
    weight_frac = fraction_bits(codebook, MAX_WEIGHT_FRAC)
    if weight_frac < 0:
        f.fail("codebook", f"largest magnitude {np.abs(codebook).max():.4g} exceeds int16; expected at most {INT16_MAX}")
    if "indices" in f.arrays:
        indices = f.get("indices", 2, "iu")
        if indices.shape != (out, n_in):
            f.fail("indices", f"shape {indices.shape}; expected {(out, n_in)} (the field 'shape')")
        indices = f.within("indices", indices, 0, 15).astype(np.uint8)
    else:
        indptr, rows, codes = f.get("indptr", 1, "iu"), f.get("rows", 1, "iu"), f.get("codes", 1, "iu")
        if len(indptr) != n_in + 1 or indptr[0] != 0 or (np.diff(indptr.astype(np.int64)) < 0).any():
            f.fail("indptr", f"{len(indptr)} entries; expected in + 1 = {n_in + 1}, non-decreasing from 0")
        if len(rows) != indptr[-1] or len(codes) != len(rows):
            f.fail("rows" if len(rows) != indptr[-1] else "codes",
                   f"{len(rows)} rows and {len(codes)} codes; expected indptr[-1] = {indptr[-1]} of each")
        f.within("rows", rows, 0, out - 1)
        f.within("codes", codes, 1, 15)
        matrix = sparse.csc_array((codes.astype(np.uint8), rows.astype(np.int64), indptr.astype(np.int64)),
                                  shape=(out, n_in))
        if not matrix.has_canonical_format:
            f.fail("rows", "not increasing within a column (or repeated)")
        indices = sparse.csr_array(matrix)
    bias = f.get("bias", 1, "iu", required=False)
    if bias is not None:
        if bias.shape != (out,):
            f.fail("bias", f"{bias.shape[0]} entries; expected out = {out}")
        bias = f.within("bias", bias, 0, 15).astype(np.uint8)
    relu = f.get("relu", 0, "b", required=False)
    x = f.get("input", 1, "iuf", required=False)
    act_frac = None
    if x is not None:
        if x.shape != (n_in,):
            f.fail("input", f"{x.shape[0]} entries; expected in = {n_in}")
        act_frac = fraction_bits(x, MAX_ACT_FRAC)
        if act_frac < 0:
            f.fail("input", f"largest magnitude {np.abs(x).max():.4g} exceeds int16; expected at most {INT16_MAX}")
        x = np.round(x * 2.0**act_frac).astype(np.int16)
    fixed = np.round(codebook * 2.0**weight_frac).astype(np.int16)
    layer = SparseDense(indices, fixed, bias, bool(relu), name or path.stem)
    return EieFile(layer, x, weight_frac, act_frac)


@dataclass(frozen=True)
class MacArrayFile:
    """A layer read from a mac_array ``.npz``: the int8 op, its input (None: random of ``input_shape``) and
    input zero point."""

    op: object  # QConv | QDense
    x: np.ndarray | None
    x_zero_point: int
    input_shape: tuple[int, ...]


def load_mac_array(path: str | Path, name: str | None = None) -> MacArrayFile:
    """The int8 layer in the mac_array ``.npz`` at ``path`` (format: module docstring)."""
    from ..int8 import QuantParams, Requant
    from ..nn.qgraph import QConv, QDense

    path = Path(path)
    f = _Fields(path)
    if str(f.get("format", 0, "U")) != "mac_array":
        f.fail("format", f"{str(f.arrays['format'])!r}; expected 'mac_array'")
    if "weight" not in f.arrays:
        f.get("weight", 2, "iu")  # the message naming the missing field
    weight = f.arrays["weight"]
    if weight.ndim not in (2, 4) or weight.dtype != np.int8 or 0 in weight.shape:
        f.fail("weight", f"{weight.dtype} of shape {weight.shape}; expected int8 (K, F) or (K, C/groups, R, S)")
    k = weight.shape[0]
    bias = f.get("bias", 1, "iu", required=False)
    bias = np.zeros(k, np.int32) if bias is None else bias
    if bias.shape != (k,):
        f.fail("bias", f"{bias.shape[0]} entries; expected K = {k}")
    f.within("bias", bias, -(2**31), 2**31 - 1)
    weight_scale = f.get("weight_scale", 1, "iuf")
    if weight_scale.shape != (k,) or not (weight_scale > 0).all():
        f.fail("weight_scale", f"{weight_scale.shape[0]} entries; expected K = {k}, each > 0")
    input_scale = f.number("input_scale", positive=True)
    output = QuantParams(f.number("output_scale", positive=True), f.number("output_zero_point", "iu", 0))
    f.within("output_zero_point", np.array(output.zero_point), -128, 127)
    activation = str(f.get("activation", 0, "U", required=False) or "none")
    if activation not in ACTIVATIONS:
        f.fail("activation", f"{activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    requant = Requant.from_scales(input_scale, weight_scale, output, activation)
    name = name or path.stem
    if weight.ndim == 2:
        op, shape = QDense(name, "input", weight, bias.astype(np.int32), requant), (weight.shape[1],)
    else:
        stride, groups = f.number("stride", "iu", 1, positive=True), f.number("groups", "iu", 1, positive=True)
        padding = f.get("padding", 1, "iu", required=False)
        padding = (0, 0) if padding is None else tuple(int(v) for v in padding)
        if len(padding) != 2:
            f.fail("padding", f"{len(padding)} entries; expected 2 (rows, columns)")
        op = QConv(name, "input", weight, bias.astype(np.int32), requant, (stride, stride), padding, groups)
        shape = None
    x_zp = f.number("input_zero_point", "iu", 0)
    f.within("input_zero_point", np.array(x_zp), -128, 127)
    x = f.get("input", weight.ndim - 1 if weight.ndim == 2 else 3, "iuf", required=False)
    if x is not None:
        if x.dtype.kind == "f":
            x = QuantParams(input_scale, x_zp).quantize(x)
        x = f.within("input", x, -128, 127).astype(np.int8)
        input_shape = x.shape
    else:
        given = f.get("input_shape", 1, "iu")
        input_shape = tuple(int(v) for v in given)
        if len(input_shape) != 3 or min(input_shape) < 1:
            f.fail("input_shape", f"{list(input_shape)}; expected (C, H, W), each >= 1")
        if shape is not None:
            input_shape = shape
    channels = input_shape[0]
    expected = weight.shape[1] if weight.ndim == 2 else weight.shape[1] * op.groups
    if channels != expected:
        f.fail("input" if x is not None else "input_shape",
               f"{channels} channels; expected {expected} (the weight's {'F' if weight.ndim == 2 else 'C'})")
    return MacArrayFile(op, x, x_zp, input_shape)


@dataclass(frozen=True)
class XnorFile:
    """A layer read from an xnor ``.npz``: the layer and its input bits (None: random of ``input_shape``)."""

    layer: object  # BinaryLayer
    x: np.ndarray | None
    input_shape: tuple[int, int, int]


def load_xnor(path: str | Path, name: str | None = None) -> XnorFile:
    """The binary layer in the xnor ``.npz`` at ``path`` (format: module docstring)."""
    from ..compress.binarize import Threshold
    from .xnor import BinaryLayer

    path = Path(path)
    f = _Fields(path)
    if str(f.get("format", 0, "U")) != "xnor":
        f.fail("format", f"{str(f.arrays['format'])!r}; expected 'xnor'")
    shape = f.get("weight_shape", 1, "iu")
    if len(shape) != 4 or shape.min() < 1 or shape[2] != shape[3]:
        f.fail("weight_shape", f"{shape.tolist()}; expected (K, C, R, R), each >= 1")
    k, c, r, _ = (int(v) for v in shape)
    bits = f.get("weight_bits", 2, "iu")
    if bits.shape != (k, -(-c * r * r // 8)) or bits.dtype != np.uint8:
        f.fail("weight_bits", f"{bits.dtype} of shape {bits.shape}; expected uint8 of shape {(k, -(-c * r * r // 8))}")
    weight = np.where(np.unpackbits(bits, axis=1, count=c * r * r), 1, -1).astype(np.int8).reshape(k, c, r, r)
    threshold = f.get("threshold", 1, "iu", required=False)
    if threshold is not None:
        if threshold.shape != (k,):
            f.fail("threshold", f"{threshold.shape[0]} entries; expected K = {k}")
        up = f.get("threshold_up", 1, "b", required=False)
        up = np.ones(k, bool) if up is None else up
        if up.shape != (k,):
            f.fail("threshold_up", f"{up.shape[0]} entries; expected K = {k}")
        threshold = Threshold(threshold.astype(np.int64), up)
    stride, pool = f.number("stride", "iu", 1, positive=True), f.number("pool", "iu", 1, positive=True)
    pad = f.number("pad", "iu", 0)
    pad_value = f.number("pad_value", "iu", -1)
    if pad_value not in (-1, 1):
        f.fail("pad_value", f"{pad_value}; expected +1 or -1")
    layer = BinaryLayer(name or path.stem, weight, threshold, stride=stride, pad=pad, pad_value=pad_value, pool=pool)
    x = f.get("input", 3, "b", required=False)
    input_shape = x.shape if x is not None else tuple(int(v) for v in f.get("input_shape", 1, "iu"))
    if len(input_shape) != 3 or min(input_shape) < 1 or input_shape[0] != c:
        f.fail("input" if x is not None else "input_shape",
               f"{list(input_shape)}; expected (C, H, W) with C = {c} (weight_shape), each >= 1")
    return XnorFile(layer, x, input_shape)


ALEXNET = {"conv1": (96, 3 * 11 * 11), "conv2": (256, 48 * 5 * 5), "conv3": (384, 256 * 3 * 3),
           "conv4": (384, 192 * 3 * 3), "conv5": (256, 192 * 3 * 3), "fc6": (4096, 9216), "fc7": (4096, 4096),
           "fc8": (1000, 4096)}
"""AlexNet's layers in ``AlexNet_compressed.net`` order, (outputs, inputs per output) each (BVLC AlexNet's
deploy.prototxt, as Deep-Compression-AlexNet's decode.py reads it; conv2, 4, 5 in two groups)."""


def load_deep_compression(path: str | Path, layer: str) -> EieFile:
    """Fully-connected layer ``layer`` (fc6, fc7, fc8) of the EIE authors' ``AlexNet_compressed.net`` at ``path``
    (format: module docstring) as an eie layer, its codebook rounded with the fraction bits that fit."""
    path = Path(path)
    if layer not in ALEXNET or not layer.startswith("fc"):
        raise UserError(f"{path}: layer {layer!r} is not allowed; expected one of fc6, fc7, fc8")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror})") from None
    offset = 4 * len(ALEXNET)
    if len(data) < offset:
        raise UserError(f"{path}: {len(data)} bytes; expected a header of {len(ALEXNET)} uint32 entry counts")
    counts = np.frombuffer(data, "<u4", len(ALEXNET))

    def take(what: str, dtype: str, count: int) -> np.ndarray:
        nonlocal offset
        size = np.dtype(dtype).itemsize * count
        if offset + size > len(data):
            raise UserError(f"{path}: layer '{name}': the file ({len(data)} bytes) ends inside its {what}")
        offset += size
        return np.frombuffer(data, dtype, count, offset - size)

    for name, (out, n_in), nz in zip(ALEXNET, ALEXNET.values(), counts.tolist()):
        bits = 4 if name.startswith("fc") else 8
        codebook = take("codebook", "<f4", 2**bits).astype(np.float64)
        bias = take("bias", "<f4", out).astype(np.float64)
        codes = take("codes", "u1", (nz - 1) // (8 // bits) + 1 if nz else 0)
        steps = take("indices", "u1", (nz - 1) // 2 + 1 if nz else 0)
        if name == layer:
            break
    code = np.stack([codes & 15, codes >> 4], axis=1).reshape(-1)[:nz]
    position = np.cumsum(np.stack([steps & 15, steps >> 4], axis=1).reshape(-1)[:nz].astype(np.int64) + 1) - 1
    if nz and position[-1] >= out * n_in:
        raise UserError(f"{path}: layer '{layer}': entry {nz - 1} lands at {position[-1]}, beyond its "
                        f"{out} × {n_in} weights")
    real = code != 0  # padding entries stand on a zero
    rows, cols = np.divmod(position[real], n_in)
    indices = sparse.csr_array((code[real].astype(np.uint8), (rows, cols)), shape=(out, n_in))
    if codebook[0] != 0:
        raise UserError(f"{path}: layer '{layer}': codebook[0] is {codebook[0]:.4g}; expected 0 (the pruned "
                        f"weights decode to it)")
    weight_frac = fraction_bits(codebook, MAX_WEIGHT_FRAC)
    if weight_frac < 0:
        raise UserError(f"{path}: layer '{layer}': codebook value {np.abs(codebook).max():.4g} exceeds int16")
    from .eie import nearest_entries

    fixed = np.round(codebook * 2.0**weight_frac).astype(np.int16)
    dense = SparseDense(indices, fixed, nearest_entries(bias, codebook), layer != "fc8", layer)
    return EieFile(dense, None, weight_frac, None)


def save_eie(path: str | Path, layer: SparseDense, weight_frac: int, x: np.ndarray | None = None,
             act_frac: int = 0) -> None:
    """Write ``layer`` (codebook with ``weight_frac`` fraction bits) and optionally its int16 input ``x``
    (``act_frac`` fraction bits) as an eie ``.npz`` in the CSC form, the values as floats."""
    csc = sparse.csc_array(layer.indices)
    csc.eliminate_zeros()
    csc.sort_indices()
    fields = dict(format="eie", shape=np.array(layer.shape), codebook=layer.codebook / 2.0**weight_frac,
                  indptr=csc.indptr, rows=csc.indices, codes=csc.data.astype(np.uint8), relu=np.bool_(layer.relu))
    if layer.bias is not None:
        fields["bias"] = layer.bias
    if x is not None:
        fields["input"] = np.asarray(x) / 2.0**act_frac
    np.savez(path, **fields)
