"""Lowering of binarized layers and networks onto the xnor engine: folding, thresholds, layouts, Program.

A :class:`BinaryLayer` is a convolution (a dense layer is a 1×1 convolution of a 1×1 map) with ±1 weights,
followed by either a per-channel :class:`~accel.compress.binarize.Threshold` (BatchNorm + sign folded, as
:func:`accel.compress.binarize.thresholds` computes it; +1 iff dot >= t, or dot <= t where not ``up``),
optionally a max-pool of the resulting bits, or nothing (an integer output: the raw dot products of the
last layer). Its input is a binary map (bool, True for +1) or
an unsigned integer map of ``planes`` bits (the first layer: computed bit-serially, plane by plane).

Folding (FINN's, Umuroglu et al. 2017): the engine's PE and SIMD are fixed by the spec; a layer of K
output channels and N = R·S·C inputs per output runs as NF neuron folds of PE channels and SF synapse
folds of SIMD bits. Channels are padded so a pixel's output bits fill whole input words of the next layer:
a binary output has ``cp = ⌈K / max(pe, simd)⌉ · max(pe, simd)`` bits per pixel: NF = ⌈K / PE⌉ chunks of
PE bits, then the packer's zero chunks. Each channel fold of a pixel is ``cf = cp / simd`` words. All weights of
a layer stay on chip (like FINN's MVTU); a layer whose weights, thresholds or input map do not fit the
spec's memories is a :class:`UserError` naming the memory, and :func:`fit_spec` picks the memory depths
that hold every layer of a network.

The hardware accumulates counts of agreeing bits, ``acc = (dot + bias) / scale`` per channel (scale 2 for
±1 inputs, where a·w = 2·agree − length; padding bits agree and count; bit-serial planes add every zero
weight bit once per weight of the plane), so each threshold is moved into that domain and clamped into the
reachable range, and an integer output is decoded back to the dot product (see :func:`acc_thresholds`).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..compress.binarize import Threshold
from ..errors import UserError
from ..isa.xnor import TARGETS, Load, Mvtu
from ..nn.graph import Graph
from ..nn.layers import BatchNorm, Conv2d, Dense, Flatten, MaxPool2d
from ..program import MemoryImage, Program
from ..spec import XnorSpec
from . import LayerRecord, Network, Readout


@dataclass(frozen=True)
class BinaryLayer:
    """One layer as the engine computes it.

    ``weight`` is ±1, (K, C, R, R) (square kernels); ``threshold`` None means an integer output (no pool);
    ``pad_value`` (+1 or −1) fills the padding of a binary input (an integer input pads with 0);
    ``pool`` is a non-overlapping max-pool (kernel = stride = pool) of the output bits.
    """

    name: str
    weight: np.ndarray
    threshold: Threshold | None
    stride: int = 1
    pad: int = 0
    pad_value: int = -1
    pool: int = 1
    channel_mask: np.ndarray | None = None
    """Which input channels are real (None: all); the others hold padding bits (0) and have no weights."""

    @property
    def k(self) -> int:
        return self.weight.shape[0]

    @property
    def c(self) -> int:
        return self.weight.shape[1]

    @property
    def r(self) -> int:
        return self.weight.shape[2] if self.weight.ndim == 4 else 1


@dataclass(frozen=True)
class MapLayout:
    """A feature map in the engine's layout: h × w pixels, each ``planes × cf`` words of simd bits."""

    c: int
    h: int
    w: int
    planes: int
    cf: int

    @property
    def words(self) -> int:
        return self.h * self.w * self.planes * self.cf


def output_bits_per_pixel(spec: XnorSpec, k: int) -> int:
    """Bits a binary output pixel of k channels occupies: whole words of the next layer and whole PE chunks."""
    q = max(spec.pe, spec.simd)
    return -(-k // q) * q


def input_layout(spec: XnorSpec, c: int, h: int, w: int, planes: int = 1) -> MapLayout:
    return MapLayout(c, h, w, planes, -(-c // spec.simd))


def encode_map(spec: XnorSpec, x: np.ndarray, planes: int = 1) -> np.ndarray:
    """A (C, H, W) map — bool (True for +1), or unsigned integers below 2**planes — as layout bits
    (H·W·planes·cf, simd), most significant plane first."""
    c, h, w = x.shape
    layout = input_layout(spec, c, h, w, planes)
    bits = np.zeros((h, w, planes, layout.cf * spec.simd), np.uint8)
    values = x.transpose(1, 2, 0).astype(np.int64)
    for j in range(planes):
        bits[:, :, j, :c] = (values >> (planes - 1 - j)) & 1 if planes > 1 else values
    return bits.reshape(-1, spec.simd)


def decode_map(spec: XnorSpec, bits: np.ndarray, c: int, h: int, w: int) -> np.ndarray:
    """Inverse of :func:`encode_map` for a binary map stored with ``output_bits_per_pixel`` bits per pixel."""
    cp = output_bits_per_pixel(spec, c)
    return bits[:h * w * cp].reshape(h, w, cp)[:, :, :c].transpose(2, 0, 1).astype(bool)


def pack_entries(bits: np.ndarray, port_bits: int) -> np.ndarray:
    """Rows of bits (entries) as one little-endian bit stream, zero-padded to whole beats (uint8)."""
    flat = bits.astype(np.uint8).reshape(-1)
    padded = np.zeros(-(-max(flat.size, 1) // port_bits) * port_bits, np.uint8)
    padded[:flat.size] = flat
    return np.packbits(padded, bitorder="little")


@dataclass(frozen=True)
class Folding:
    """How a layer maps onto the MVTU, and FINN's ideal cycles for it."""

    nf: int
    sf: int  # synapse folds per plane: kernel² · cf
    planes: int
    out_h: int  # after pooling
    out_w: int
    conv_h: int
    conv_w: int
    cp: int  # output bits per pixel (binary output) or 0
    pool: int
    pixel_chunks: int  # output chunks of pe bits per pixel: nf, then zero chunks up to cp

    @property
    def steps(self) -> int:
        """Datapath cycles of the Mvtu: one per (pixel, neuron fold, pool position, plane, synapse fold)."""
        return self.out_h * self.out_w * self.nf * self.pool * self.pool * self.planes * self.sf


def _check_layer(spec: XnorSpec, layer: BinaryLayer, layout: MapLayout) -> tuple[int, int]:
    name = layer.name
    w = layer.weight
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise UserError(f"layer '{name}': weight shape {w.shape} is not allowed; expected (K, C, R, R)")
    if not np.all(np.abs(w) == 1):
        raise UserError(f"layer '{name}': weights are not ±1")
    if w.shape[1] != layout.c:
        raise UserError(f"layer '{name}': {w.shape[1]} input channels do not match the input's {layout.c}")
    return _check_geometry(spec, name, layer.r, layer.stride, layer.pad, layer.pool, layer.threshold is None,
                           layer.pad_value, layout)


def _check_geometry(spec: XnorSpec, name: str, r: int, stride: int, pad: int, pool: int, integer_out: bool,
                    pad_value: int, layout: MapLayout) -> tuple[int, int]:
    """The convolution's output rows and columns (before pooling); a :class:`UserError` naming what the
    engine does not allow."""
    if not 1 <= r <= spec.MAX_KERNEL:
        raise UserError(f"layer '{name}': kernel {r} is not allowed; expected 1..{spec.MAX_KERNEL}")
    if not 1 <= stride <= spec.MAX_STRIDE:
        raise UserError(f"layer '{name}': stride {stride} is not allowed; expected 1..{spec.MAX_STRIDE}")
    if not 0 <= pad < r:
        raise UserError(f"layer '{name}': padding {pad} is not allowed; expected 0 <= padding < kernel")
    if not 1 <= pool <= spec.MAX_POOL:
        raise UserError(f"layer '{name}': pool {pool} is not allowed; expected 1..{spec.MAX_POOL}")
    if integer_out and pool != 1:
        raise UserError(f"layer '{name}': pool {pool} is not allowed on an integer output; expected 1")
    if pad_value not in (-1, 1):
        raise UserError(f"layer '{name}': pad value {pad_value} is not allowed; expected +1 or -1")
    if max(layout.h, layout.w) > spec.MAX_DIM:
        raise UserError(f"layer '{name}': map {layout.h}×{layout.w} is not allowed; expected at most "
                        f"{spec.MAX_DIM} per side")
    conv_h = (layout.h + 2 * pad - r) // stride + 1
    conv_w = (layout.w + 2 * pad - r) // stride + 1
    if conv_h < pool or conv_w < pool:
        raise UserError(f"layer '{name}': a {layout.h}×{layout.w} input gives no output with kernel {r}, "
                        f"stride {stride}, padding {pad} and pool {pool}")
    return conv_h, conv_w


def _folding(spec: XnorSpec, k: int, r: int, pool: int, binary_out: bool, layout: MapLayout, conv_h: int,
             conv_w: int) -> Folding:
    cp = output_bits_per_pixel(spec, k) if binary_out else 0
    nf = -(-k // spec.pe)
    return Folding(nf, r * r * layout.cf, layout.planes, conv_h // pool, conv_w // pool, conv_h, conv_w, cp, pool,
                   cp // spec.pe if binary_out else nf)


def fold(spec: XnorSpec, layer: BinaryLayer, layout: MapLayout) -> Folding:
    """The layer's folding on ``spec`` (checks the layer's shape, not the memories)."""
    conv_h, conv_w = _check_layer(spec, layer, layout)
    return _folding(spec, layer.k, layer.r, layer.pool, layer.threshold is not None, layout, conv_h, conv_w)


def finn_ideal_cycles(spec: XnorSpec, layer: BinaryLayer, layout: MapLayout) -> int:
    """FINN's model: (outputs / PE) · (inputs / SIMD) cycles per output pixel of the convolution, with one
    pass per input plane: ⌈K/PE⌉ · ⌈R·R·C/SIMD⌉ · planes · conv pixels."""
    f = fold(spec, layer, layout)
    c = layer.c if layer.channel_mask is None else int(np.count_nonzero(layer.channel_mask))
    return -(-layer.k // spec.pe) * -(-layer.r * layer.r * c // spec.simd) * layout.planes * f.conv_h * f.conv_w


def weight_bits(spec: XnorSpec, layer: BinaryLayer, layout: MapLayout, nf: int) -> tuple[np.ndarray, np.ndarray]:
    """The weight memory image, (nf·sf, pe·simd) bits, and the real (non-padding) positions of a channel's
    reduction, (r·r·cf·simd,) bool, in step order (r, s, f, bit)."""
    k, c, r = layer.k, layer.c, layer.r
    cpad = layout.cf * spec.simd
    full = np.zeros((nf * spec.pe, r, r, cpad), np.uint8)
    mask = np.ones(c, bool) if layer.channel_mask is None else np.asarray(layer.channel_mask, bool)
    full[:k, :, :, :c] = (layer.weight > 0).transpose(0, 2, 3, 1) & mask
    real = np.zeros((r, r, cpad), bool)
    real[:, :, :c] = mask
    words = full.reshape(nf, spec.pe, r * r * layout.cf, spec.simd).transpose(0, 2, 1, 3)
    return words.reshape(nf * r * r * layout.cf, spec.pe * spec.simd), real.reshape(-1)


def acc_thresholds(spec: XnorSpec, layer: BinaryLayer, layout: MapLayout, nf: int,
                   wbits: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Threshold-memory slots (nf, pe) as uint32 — the threshold T in the accumulator's domain and ``up`` —
    and the decoding (scale, residue) of an integer output d: the dot product is scale·d + residue.

    With L = r·r·cf·simd bits per channel, the accumulator (a count of agreeing bits, see
    :class:`accel.isa.xnor.Mvtu`) is ``acc = (dot + bias) / scale``: for ±1 inputs scale = 2 and
    bias = 2·L − (real bits) (every padding bit agrees and counts; a·w = 2·agree − length); for P planes of
    integer inputs scale = 1 and Σ_j 2^(P−1−j)·agree_j = dot + (2^P − 1)·zeros, zeros the channel's 0 weight
    bits (padding included). ``dot >= t`` is ``acc − ⌈(t + bias) / scale⌉ >= 0``; ``dot <= t`` is
    ``acc − (⌊(t + bias) / scale⌋ + 1) < 0``; an integer output uses T = ⌈bias / scale⌉, so
    dot = scale·d + (scale·T − bias), the residue the same for every channel. T is clamped into
    [acc_min, acc_max + 1], where the comparison is unchanged. Padding channels never fire.
    """
    length = real.size
    channels = nf * spec.pe
    planes = layout.planes
    if planes == 1:
        scale, bias = 2, np.full(channels, 2 * length - int(real.sum()), np.int64)
        hi = length
    else:
        per_channel = wbits.reshape(nf, -1, spec.pe, spec.simd).transpose(0, 2, 1, 3).reshape(channels, -1)
        zeros = length - per_channel.sum(axis=1).astype(np.int64)
        scale, bias = 1, (2**planes - 1) * zeros
        hi = (2**planes - 1) * length
    t = np.full(channels, hi + 1, np.int64)
    up = np.ones(channels, bool)
    residue = 0
    if layer.threshold is None:
        t[:layer.k] = -(-bias[:layer.k] // scale)
        residue = scale * int(t[0]) - int(bias[0])
    else:
        th_t = np.asarray(layer.threshold.t, np.int64) + bias[:layer.k]
        th_up = np.asarray(layer.threshold.up, bool)
        up[:layer.k] = th_up
        t[:layer.k] = np.where(th_up, -(-th_t // scale), th_t // scale + 1)
        t = np.clip(t, 0, hi + 1)
    slots = t.astype(np.uint64) | (up.astype(np.uint64) << np.uint64(31))
    return slots.astype(np.uint32).reshape(nf, spec.pe), scale, residue


def slot_bits(slots: np.ndarray) -> np.ndarray:
    """Threshold slots (nf, pe) uint32 as threshold-memory entries of pe·32 bits."""
    return np.unpackbits(slots.astype("<u4").view(np.uint8), bitorder="little").reshape(len(slots), -1)


@dataclass
class LayerPlan:
    """A layer lowered against a given input layout: its memory images and its Mvtu command (addresses
    to be filled in)."""

    layer: BinaryLayer
    layout: MapLayout
    folding: Folding
    weights: np.ndarray  # bits (nf·sf, pe·simd)
    thresholds: np.ndarray  # bits (nf, pe·32)
    output: MapLayout | None  # None for an integer output
    ideal_cycles: int
    int_scale: int = 1  # an integer output d is the dot product int_scale·d + int_residue
    int_residue: int = 0

    def output_bytes(self, spec: XnorSpec) -> int:
        f = self.folding
        pixels = f.out_h * f.out_w
        if self.output is None:
            return pixels * f.nf * -(-spec.pe * spec.OUTPUT_INT_BITS // spec.port_bits) * spec.beat_bytes
        return -(-pixels * f.cp // spec.port_bits) * spec.beat_bytes

    def mvtu(self, out_address: int) -> Mvtu:
        lay, f, layer = self.layout, self.folding, self.layer
        cs = lay.planes * lay.cf
        rs = lay.w * cs
        return Mvtu(
            origin=-layer.pad * (rs + cs), row_stride=rs, col_stride=cs, row_step=layer.stride * rs,
            col_step=layer.stride * cs, pool_row_step=layer.pool * layer.stride * rs,
            pool_col_step=layer.pool * layer.stride * cs, pad_base=lay.words, cf=lay.cf, planes=lay.planes,
            in_h=lay.h, in_w=lay.w, stride=layer.stride, pad=layer.pad, kernel=layer.r, pool=layer.pool,
            out_h=f.out_h, out_w=f.out_w, nf=f.nf, sf=f.sf, wbase=0, tbase=0,
            dot=int(layer.threshold is None), pixel_chunks=f.pixel_chunks,
            out_address=out_address)

    def pad_pixel(self, spec: XnorSpec) -> np.ndarray:
        """The stored pad pixel's words: the pad value in real channels (0 for integer inputs)."""
        lay = self.layout
        bits = np.zeros((lay.planes * lay.cf, spec.simd), np.uint8)
        if lay.planes == 1 and self.layer.pad_value == 1:
            bits.reshape(-1)[:lay.c] = 1
        return bits


def _check_fit(spec: XnorSpec, name: str, f: Folding, layout: MapLayout) -> None:
    """A :class:`UserError` if a layer of folding ``f`` on input ``layout`` exceeds the reduction or a memory."""
    length = f.sf * spec.simd
    if length > spec.max_reduction:
        raise UserError(f"layer '{name}': padded reduction {length} bits exceeds xnor.max_reduction = "
                        f"{spec.max_reduction}")
    needs = {"weight_depth": (f.nf * f.sf, "weight entries"), "threshold_depth": (f.nf, "threshold entries"),
             "input_depth": (layout.words + layout.planes * layout.cf, "input words (map and pad pixel)")}
    for field, (count, what) in needs.items():
        if count > getattr(spec, field):
            raise UserError(f"layer '{name}': needs {count} {what}; xnor.{field} = {getattr(spec, field)} "
                            f"is too small (weights stay on chip)")


def plan_layer(spec: XnorSpec, layer: BinaryLayer, layout: MapLayout, check: bool = True) -> LayerPlan:
    """Fold ``layer`` on ``spec`` and (with ``check``) check that its weights, thresholds and input fit the
    memories."""
    f = fold(spec, layer, layout)
    if check:
        _check_fit(spec, layer.name, f, layout)
    wbits, real = weight_bits(spec, layer, layout, f.nf)
    slots, scale, residue = acc_thresholds(spec, layer, layout, f.nf, wbits, real)
    output = None
    if layer.threshold is not None:
        output = MapLayout(layer.k, f.out_h, f.out_w, 1, f.cp // spec.simd)
    return LayerPlan(layer, layout, f, wbits, slot_bits(slots), output, finn_ideal_cycles(spec, layer, layout),
                     scale, residue)


def memory_needs(plans: list[LayerPlan], simd: int) -> dict[str, int]:
    """The largest weight, threshold and input-buffer use and padded reduction among ``plans`` (spec field →
    entries or bits)."""
    return {"max_reduction": max(p.folding.sf * simd for p in plans),
            "weight_depth": max(len(p.weights) for p in plans),
            "threshold_depth": max(len(p.thresholds) for p in plans),
            "input_depth": max(p.layout.words + p.layout.planes * p.layout.cf for p in plans)}


def fit_spec(spec: XnorSpec, layers: list[BinaryLayer], shape: tuple[int, int, int], planes: int = 1) -> XnorSpec:
    """``spec`` with each memory depth enlarged, where needed, to the smallest power of two that holds every
    layer of the network ``layers`` on inputs of ``shape`` (C, H, W), and ``max_reduction`` to its largest
    padded reduction: the fold is kept, the memories and widths fit it."""
    if layers and layers[0].weight.ndim == 4 and im2col_pays(spec, layers[0].r, shape[0]):
        c, h, w = shape
        first = layers[0]
        oh, ow = ((n + 2 * first.pad - first.r) // first.stride + 1 for n in (h, w))
        layers, shape = [im2col_layer(first)] + list(layers[1:]), (first.r * first.r * c, oh, ow)
    plans = _plan_all(spec, layers, input_layout(spec, *shape, planes), check=False)
    needs = memory_needs(plans, spec.simd)
    fitted = {field: max(getattr(spec, field), n if field == "max_reduction" else 1 << max(n - 1, 0).bit_length())
              for field, n in needs.items()}
    return dataclasses.replace(spec, **fitted)


def _plan_all(spec: XnorSpec, layers: list[BinaryLayer], layout: MapLayout, check: bool = True) -> list[LayerPlan]:
    plans = []
    for layer in layers:
        if layout is None:
            raise UserError(f"layer '{plans[-1].layer.name}': an integer output must be the last layer")
        if layer.weight.ndim == 2:  # dense
            if (layout.h, layout.w) == (1, 1):
                layer = dataclasses.replace(layer, weight=layer.weight[:, :, None, None])
            else:
                layer, layout = dense_on_map(spec, layer.name, layer.weight, layout, layer.threshold)
        plan = plan_layer(spec, layer, layout, check)
        plans.append(plan)
        layout = plan.output
    return plans


@dataclass
class Lowered:
    """A network (or one layer) lowered to a Program, with how to read its outputs."""

    program: Program
    plans: list[LayerPlan]
    images: int
    ranges: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    """Per layer, the [first, end) range of its commands (its loads, then every image's Mvtu)."""

    @property
    def ideal_cycles(self) -> int:
        """FINN's ideal cycles of all layers and images (weights and inputs already on chip)."""
        return self.images * sum(p.ideal_cycles for p in self.plans)

    def output(self, memory: np.ndarray, image: int = 0) -> np.ndarray:
        """The last layer's output of ``image``: bool (K, H, W) bits, or int64 (K, H, W) dot products."""
        spec = self.program.spec
        plan = self.plans[-1]
        region = self.program.memory[f"out{len(self.plans) - 1}_{image}"]
        raw = memory[region.address:region.end]
        f, k = plan.folding, plan.layer.k
        if plan.output is None:
            per_chunk = -(-spec.pe * spec.OUTPUT_INT_BITS // spec.port_bits) * spec.port_bits // 32
            ints = raw.view("<i4").reshape(f.out_h, f.out_w, f.nf, per_chunk)[..., :spec.pe]
            ints = ints.reshape(f.out_h, f.out_w, -1)[:, :, :k].transpose(2, 0, 1).astype(np.int64)
            return plan.int_scale * ints + plan.int_residue
        bits = np.unpackbits(raw, bitorder="little")
        return decode_map(spec, bits, k, f.out_h, f.out_w)


def lower(spec: XnorSpec, layers: list[BinaryLayer], inputs: list[np.ndarray], planes: int = 1,
          im2col: bool = True) -> Lowered:
    """Lower ``layers`` (applied in order) to one Program running every map of ``inputs`` ((C, H, W) bool,
    or unsigned integers of ``planes`` bits) through them: per layer, its weights and thresholds are
    loaded once, then per image the input map and pad pixel are loaded and the Mvtu runs. Layer i's output
    for image n is region ``out{i}_{n}``; a dense layer after a map is given as (K, C·H·W) weights over the
    flattened (c, y, x) map (see :func:`dense_on_map`). With ``im2col``, a first convolution whose channels
    fill a small part of a SIMD word (:func:`im2col_pays`) reads host-expanded windows instead
    (:func:`im2col_map`)."""
    layers_in = layers
    memory = MemoryImage(alignment=64)
    c, h, w = inputs[0].shape
    if not (planes == 1 or 2 <= planes <= spec.input_bits):
        raise UserError(f"input: {planes}-bit integer inputs are not allowed; expected at most "
                        f"xnor.input_bits = {spec.input_bits} bits (or ±1 inputs)")
    for x in inputs:
        if x.shape != (c, h, w) or (planes > 1 and (x.min() < 0 or x.max() >= 2**planes)):
            raise UserError(f"input: every map must be {c}×{h}×{w}" + (f" with values in 0..{2**planes - 1}"
                                                                        if planes > 1 else " of bits"))
    if im2col and layers and layers[0].weight.ndim == 4 and im2col_pays(spec, layers[0].r, c):
        _check_layer(spec, layers[0], input_layout(spec, c, h, w, planes))  # before its windows are taken
        layers = [im2col_layer(layers[0])] + list(layers[1:])
        inputs = [im2col_map(layers_in[0], x, planes) for x in inputs]
        c, h, w = inputs[0].shape
    plans = _plan_all(spec, layers, input_layout(spec, c, h, w, planes))
    for n, x in enumerate(inputs):
        memory.add(f"input_{n}", pack_entries(encode_map(spec, x, planes), spec.port_bits))
    commands, ranges = [], []
    for i, plan in enumerate(plans):
        first = len(commands)
        weights = memory.add(f"weights{i}", pack_entries(plan.weights, spec.port_bits))
        thresholds = memory.add(f"thresholds{i}", pack_entries(plan.thresholds, spec.port_bits))
        pad = memory.add(f"pad{i}", pack_entries(plan.pad_pixel(spec), spec.port_bits))
        commands += [Load(TARGETS.index("weights"), weights.address, 0, len(plan.weights)),
                     Load(TARGETS.index("thresholds"), thresholds.address, 0, len(plan.thresholds))]
        for n in range(len(inputs)):
            source = memory[f"input_{n}"] if i == 0 else memory[f"out{i - 1}_{n}"]
            out = memory.reserve(f"out{i}_{n}", plan.output_bytes(spec))
            commands += [Load(TARGETS.index("input"), source.address, 0, plan.layout.words),
                         Load(TARGETS.index("input"), pad.address, plan.layout.words, len(plan.pad_pixel(spec))),
                         plan.mvtu(out.address)]
        ranges.append((first, len(commands)))
    return Lowered(Program(spec, commands, memory), plans, len(inputs), ranges)


def dense_on_map(spec: XnorSpec, name: str, weight: np.ndarray, map_layout: MapLayout,
                 threshold: Threshold | None) -> tuple[BinaryLayer, MapLayout]:
    """A dense layer over a stored (C, H, W) binary map — ``weight`` (K, C·H·W) in flatten order (c, y, x) —
    as a 1×1 convolution of a 1×1 map whose channels are the map's stored bits (y, x, padded channel), the
    padding channels masked. Returns the layer and the layout to read the map as."""
    k = weight.shape[0]
    c, h, w = map_layout.c, map_layout.h, map_layout.w
    cpad = map_layout.cf * spec.simd
    if weight.shape[1] != c * h * w:
        raise UserError(f"layer '{name}': {weight.shape[1]} inputs do not match the {c}×{h}×{w} input")
    stored = np.ones((k, h, w, cpad), np.int8)
    stored[:, :, :, :c] = weight.reshape(k, c, h, w).transpose(0, 2, 3, 1)
    mask = np.zeros((h, w, cpad), bool)
    mask[:, :, :c] = True
    layer = BinaryLayer(name, stored.reshape(k, -1, 1, 1), threshold, channel_mask=mask.reshape(-1))
    return layer, MapLayout(h * w * cpad, 1, 1, 1, h * w * map_layout.cf)


def reference(layers: list[BinaryLayer], x: np.ndarray, planes: int = 1) -> np.ndarray:
    """The layers' output for one input map in float ±1 arithmetic (independent of the popcount path):
    ±1 (or integer) inputs, zero-free padding with the pad value (integer inputs pad with 0), dot products
    as float sums, thresholds, max-pool, flatten (c, y, x) before a dense layer on a map."""
    value = np.where(x, 1.0, -1.0) if planes == 1 else x.astype(np.float64)
    for layer in layers:
        if layer.weight.ndim == 2:
            value = value.reshape(-1, 1, 1)
            weight = layer.weight.astype(np.float64)[:, :, None, None]
        else:
            weight = layer.weight.astype(np.float64)
        pad_value = 0.0 if planes > 1 else float(layer.pad_value)
        c, h, w = value.shape
        p, r, st = layer.pad, layer.r, layer.stride
        padded = np.full((c, h + 2 * p, w + 2 * p), pad_value)
        padded[:, p:p + h, p:p + w] = value
        oh, ow = (h + 2 * p - r) // st + 1, (w + 2 * p - r) // st + 1
        dot = np.zeros((layer.k, oh, ow))
        for i in range(r):
            for j in range(r):
                patch = padded[:, i:i + st * (oh - 1) + 1:st, j:j + st * (ow - 1) + 1:st]
                dot += np.einsum("kc,cyx->kyx", weight[:, :, i, j], patch)
        if layer.threshold is None:
            return np.rint(dot).astype(np.int64)
        t = np.asarray(layer.threshold.t, np.float64)[:, None, None]
        up = np.asarray(layer.threshold.up, bool)[:, None, None]
        bits = np.where(up, dot >= t, dot <= t)
        q = layer.pool
        bits = bits[:, :oh // q * q, :ow // q * q].reshape(layer.k, oh // q, q, ow // q, q).max(axis=(2, 4))
        value, planes = np.where(bits, 1.0, -1.0), 1
    return value > 0


def graph_layers(graph: Graph, input_scale: float, input_max: int) -> tuple[list[BinaryLayer], int]:
    """The :class:`BinaryLayer` s of a ±1 graph (:func:`accel.compress.binarize.export`'s form: Dense/Conv2d
    without bias, each followed by BatchNorm + Sign and optionally a max-pool of the signs, the last one by
    nothing), with thresholds folded by :func:`accel.compress.binarize.thresholds` for integer inputs of
    ``input_scale`` up to ``input_max``; and the input planes (bits of ``input_max``)."""
    from ..compress.binarize import thresholds
    from ..nn.train import Sign

    folded = thresholds(graph, input_scale, input_max)
    layers, current = [], None
    for node in graph.layers():
        op, where = node.op, f"layer '{node.name}' ({type(node.op).__name__})"
        if isinstance(op, (Dense, Conv2d)):
            if current is not None:
                layers.append(current)
            weight = np.asarray(node.params["weight"])
            if not np.all(np.abs(weight) == 1):
                raise UserError(f"{where}: weights are not ±1; export the trained graph first")
            weight = weight.astype(np.int8)
            if isinstance(op, Dense):
                current = BinaryLayer(node.name, weight, None)
            else:
                if (op.kernel[0] != op.kernel[1] or op.stride[0] != op.stride[1] or op.padding[0] != op.padding[1]
                        or op.groups != 1 or op.dilation != (1, 1)):
                    raise UserError(f"{where}: the xnor engine runs square kernels, equal strides and paddings, "
                                    f"groups 1 and dilation 1")
                current = BinaryLayer(node.name, weight, None, stride=op.stride[0], pad=op.padding[0])
        elif isinstance(op, BatchNorm):
            current = dataclasses.replace(current, threshold=folded[node.name])
        elif isinstance(op, MaxPool2d):
            if current is None or current.threshold is None:
                raise UserError(f"{where}: max-pooling runs on the bits after BatchNorm + Sign")
            if op.kernel[0] != op.kernel[1] or op.stride != op.kernel or op.padding != (0, 0):
                raise UserError(f"{where}: kernel {op.kernel}, stride {op.stride}, padding {op.padding} is not "
                                f"allowed; expected a square pool with stride = kernel and no padding")
            current = dataclasses.replace(current, pool=op.kernel[0])
        elif not isinstance(op, (Sign, Flatten)):
            raise UserError(f"{where}: the xnor engine runs Dense, Conv2d, BatchNorm + Sign, MaxPool2d and Flatten")
    return layers + [current], max(2, int(input_max).bit_length())  # 1 plane would mean ±1 inputs


def im2col_pays(spec: XnorSpec, r: int, c: int) -> bool:
    """Whether expanding the input's windows on the host (R·R·C bits per output pixel, packed; kernel R = ``r``,
    C = ``c`` channels) takes fewer synapse folds than reading R·R pixels of ⌈C/SIMD⌉ words each: FINN's SWU
    packs a window into SIMD words; this engine's window unit reads whole words per pixel, so a first layer
    of few channels (an image) would leave most lanes idle."""
    return r > 1 and -(-r * r * c // spec.simd) < r * r * -(-c // spec.simd)


def im2col_layer(layer: BinaryLayer) -> BinaryLayer:
    """``layer`` as a 1×1 convolution over its input's windows (channel (r·R + s)·C + c)."""
    k, c, r, _ = layer.weight.shape
    weight = layer.weight.transpose(0, 2, 3, 1).reshape(k, r * r * c, 1, 1)
    return dataclasses.replace(layer, weight=weight, stride=1, pad=0)


def im2col_map(layer: BinaryLayer, x: np.ndarray, planes: int) -> np.ndarray:
    """The windows of ``layer`` over ``x`` (C, H, W) as a (R·R·C, OH, OW) map, padding included (the pad
    value for a binary map, 0 for integers)."""
    c, h, w = x.shape
    p, r, st = layer.pad, layer.r, layer.stride
    fill = (layer.pad_value > 0) if planes == 1 else 0
    padded = np.full((c, h + 2 * p, w + 2 * p), fill, x.dtype)
    padded[:, p:p + h, p:p + w] = x
    oh, ow = (h + 2 * p - r) // st + 1, (w + 2 * p - r) // st + 1
    cols = [padded[:, i:i + st * (oh - 1) + 1:st, j:j + st * (ow - 1) + 1:st] for i in range(r) for j in range(r)]
    return np.concatenate(cols, axis=0)


LAYER_KINDS = {
    "dense": {"in": 256, "out": 64, "input": "binary", "output": "bits"},
    "conv": dict(h=8, w=8, c=16, k=16, r=3, stride=1, pad=1, pad_value=-1, pool=1, input="binary", output="bits"),
}
"""``accel simulate --layer`` kinds for the xnor engine and their defaults: ``input`` binary (±1) or int8
(8 bit planes, bit-serial), ``output`` bits (random thresholds, some falling) or dot (integer dot products)."""


def check_case(spec: XnorSpec, kind: str, p: dict) -> None:
    """Every check of layer ``kind`` with parameters ``p`` that needs no data (its geometry, its input planes,
    its fit in the memories, as :func:`lower` will map it): a :class:`UserError` naming the first parameter
    or limit it breaks."""
    for key, value in p.items():
        if isinstance(value, int) and key not in ("pad", "pad_value") and value < 1:
            raise UserError(f"--layer {kind}: {key}={value} is not allowed; expected >= 1")
    if p["input"] not in ("binary", "int8"):
        raise UserError(f"--layer {kind}: input={p['input']!r} is not one of binary, int8")
    if p["output"] not in ("bits", "dot"):
        raise UserError(f"--layer {kind}: output={p['output']!r} is not one of bits, dot")
    planes = 1 if p["input"] == "binary" else 8
    if planes > spec.input_bits:
        raise UserError(f"--layer {kind}: input=int8 is not allowed with xnor.input_bits = {spec.input_bits}; "
                        f"expected input=binary or input_bits = 8")
    c, h, w, k, r, stride, pad, pad_value, pool = _case_geometry(kind, p)
    layout = input_layout(spec, c, h, w, planes)
    conv_h, conv_w = _check_geometry(spec, kind, r, stride, pad, pool, p["output"] == "dot", pad_value, layout)
    if im2col_pays(spec, r, c):  # lower reads host-expanded windows: a 1×1 layer over them
        layout, r = input_layout(spec, r * r * c, conv_h, conv_w, planes), 1
    _check_fit(spec, kind, _folding(spec, k, r, pool, p["output"] == "bits", layout, conv_h, conv_w), layout)


def _case_geometry(kind: str, p: dict) -> tuple[int, ...]:
    """c, h, w, k, r, stride, pad, pad_value and pool of an ``accel simulate`` layer."""
    if kind == "dense":
        return p["in"], 1, 1, p["out"], 1, 1, 0, -1, 1
    return p["c"], p["h"], p["w"], p["k"], p["r"], p["stride"], p["pad"], p["pad_value"], p["pool"]


def random_layer(rng: np.random.Generator, kind: str, p: dict) -> tuple[BinaryLayer, np.ndarray, int]:
    """A random layer of ``kind`` with sizes ``p`` (:data:`LAYER_KINDS`, checked by :func:`check_case`), its
    input and input planes."""
    planes = 1 if p["input"] == "binary" else 8
    c, h, w, k, r, stride, pad, pad_value, pool = _case_geometry(kind, p)
    x = rng.random((c, h, w)) < 0.5 if planes == 1 else rng.integers(0, 256, (c, h, w))
    weight = rng.choice(np.array([-1, 1], np.int8), (k, c, r, r))
    threshold = None
    if p["output"] == "bits":
        reach = r * r * c * (255 if planes > 1 else 1)
        spread = max(1, int(np.sqrt(r * r * c)) * (64 if planes > 1 else 1))
        t = rng.integers(-spread, spread + 1, k) + (127 * weight.reshape(k, -1).sum(axis=1) if planes > 1 else 0)
        extreme = rng.random(k) < 0.1
        t = np.where(extreme, rng.choice([-reach - 5, reach + 5], k), t)
        threshold = Threshold(t.astype(np.int64), rng.random(k) < 0.7)
    layer = BinaryLayer(kind, weight, threshold, stride=stride, pad=pad, pad_value=pad_value, pool=pool)
    return layer, x, planes


def random_case(spec: XnorSpec, kind: str, p: dict, rng: np.random.Generator):
    """A random binary layer of ``kind`` with sizes ``p`` (see :data:`LAYER_KINDS`), lowered, with its
    reference result from :func:`reference` (float ±1 arithmetic, computed when first asked for); every
    parameter is checked (:func:`check_case`) before any data is drawn."""
    from . import Case

    check_case(spec, kind, p)
    layer, x, planes = random_layer(rng, kind, p)
    lowered = lower(spec, [layer], [x], planes)
    plan = lowered.plans[0]
    f = plan.folding
    macs = layer.k * layer.r * layer.r * layer.c * f.conv_h * f.conv_w
    info = dict(nf=f.nf, sf=f.sf, planes=f.planes, im2col=plan.layer.r != layer.r,
                finn_ideal_cycles=lowered.ideal_cycles, steps=f.steps)
    return Case(lowered.program, lowered.output, lambda: reference([layer], x, planes), macs, info)


def file_case(spec: XnorSpec, path, seed: int = 0):
    """The binary layer in the xnor ``.npz`` at ``path`` (:mod:`accel.compiler.layer_files`) on its input bits
    or random ones (``seed``), lowered, with its reference result from :func:`reference`."""
    from . import Case
    from .layer_files import load_xnor

    read = load_xnor(path)
    layer = read.layer
    x = read.x if read.x is not None else np.random.default_rng(seed).random(read.input_shape) < 0.5
    lowered = lower(spec, [layer], [x], 1)
    f = lowered.plans[0].folding
    macs = layer.k * layer.r * layer.r * layer.c * f.conv_h * f.conv_w
    info = dict(weights=str(path), input="file" if read.x is not None else "random", nf=f.nf, sf=f.sf,
                finn_ideal_cycles=lowered.ideal_cycles, split=False)
    return Case(lowered.program, lowered.output, lambda: reference([layer], x, 1), macs, info)


MODELS = {"digits-bnn-mlp": (64, 1, 1), "digits-bnn-cnn": (1, 8, 8)}
"""Trained binarized networks ``accel simulate --model`` runs (accel.nn.models), with their input shapes."""


def model_case(spec: XnorSpec, name: str, images: int = 8, seed: int = 0):
    """``images`` digits test images through the trained binarized network ``name`` (a key of :data:`MODELS`),
    lowered onto ``spec`` with its memories enlarged to fit (:func:`fit_spec`); the reference is the
    integer-only forward of :func:`accel.compress.binarize.integer_forward`. The output is the scores
    (images, classes)."""
    from . import Case
    from ..compress.binarize import integer_forward
    from ..nn import digits, models

    if name not in MODELS:
        raise UserError(f"--model: {name!r} is not a binarized model the xnor engine runs; "
                        f"expected one of {', '.join(MODELS)}")
    graph = models.model(name)
    layers, planes = graph_layers(graph, 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)
    shape = MODELS[name]
    _, test = digits.load()
    pick = np.random.default_rng(seed).choice(len(test.labels), size=min(images, len(test.labels)), replace=False)
    pixels = test.pixels[pick].astype(np.int64)
    fitted = fit_spec(spec, layers, shape, planes)
    lowered = lower(fitted, layers, [p.reshape(shape) for p in pixels], planes)

    def output(memory: np.ndarray) -> np.ndarray:
        return np.stack([lowered.output(memory, n).reshape(-1) for n in range(len(pixels))])

    expected = integer_forward(graph, pixels.reshape(-1, *graph.nodes["input"].shape), 1 / digits.PIXEL_MAX,
                               digits.PIXEL_MAX)
    macs = len(pixels) * sum(p.layer.k * p.layer.r * p.layer.r * p.layer.c * p.folding.conv_h * p.folding.conv_w
                             for p in lowered.plans)
    info = dict(model=name, images=len(pixels), labels=test.labels[pick].tolist(),
                accuracy=float(np.mean(expected.argmax(axis=1) == test.labels[pick])),
                finn_ideal_cycles=lowered.ideal_cycles,
                fitted_spec={k: getattr(fitted, k) for k in ("weight_depth", "threshold_depth", "input_depth")})
    return Case(lowered.program, output, lambda: expected, macs, info)


def compile_network(spec: XnorSpec, graph: Graph, images: np.ndarray, input_scale: float, input_max: int):
    """The ±1 ``graph`` (:func:`accel.compress.binarize.export`'s form) on the unsigned integer ``images``
    (N, *input shape; real value = integer · ``input_scale``, at most ``input_max``) as one network Program on
    :func:`fit_spec` of ``spec``; the output is each image's integer scores, the reference
    :func:`accel.compress.binarize.integer_forward`."""
    from ..compress.binarize import integer_forward
    layers, planes = graph_layers(graph, input_scale, input_max)
    images = np.asarray(images, np.int64)
    maps = [x.reshape(-1, 1, 1) if x.ndim == 1 else x for x in images]
    fitted = fit_spec(spec, layers, maps[0].shape, planes)
    lowered = lower(fitted, layers, maps, planes)
    plan = lowered.plans[-1]
    if plan.output is not None:
        raise UserError(f"layer '{plan.layer.name}': the last layer of a network on xnor gives integer scores; "
                        f"expected no BatchNorm + Sign after it")
    f = plan.folding
    per_chunk = -(-fitted.pe * fitted.OUTPUT_INT_BITS // fitted.port_bits) * fitted.port_bits // 32
    last = len(lowered.plans) - 1
    readout = Readout(tuple(lowered.program.memory[f"out{last}_{n}"].address for n in range(len(maps))), "<i4",
                      f.out_h * f.out_w, f.nf, per_chunk, fitted.pe, plan.layer.k, plan.int_scale, plan.int_residue)
    records = []
    for source, plan, ranges in zip(layers, lowered.plans, lowered.ranges):
        f, layer = plan.folding, plan.layer
        op = "dense" if source.weight.ndim == 2 else "conv"
        c, h, w = maps[0].shape if layer.r != source.r else (plan.layout.c, plan.layout.h, plan.layout.w)
        shape = (f"{c}x{h}x{w} -> {layer.k}x{f.out_h}x{f.out_w} k{source.r} s{source.stride} "
                 f"p{source.pad}" + (f" pool{layer.pool}" if layer.pool > 1 else "")
                 if op == "conv" else f"{source.weight.shape[1]} -> {layer.k}")
        mapping = (f"NF {f.nf} x SF {f.sf}" + (f" x {f.planes} planes" if f.planes > 1 else "")
                   + (" (im2col)" if layer.r != source.r else ""))
        macs = len(maps) * layer.k * layer.r * layer.r * layer.c * f.conv_h * f.conv_w
        records.append(LayerRecord(source.name, op, shape, mapping, macs, (ranges,)))
    return Network(lowered.program, records, readout,
                   lambda: integer_forward(graph, images, input_scale, input_max), len(maps),
                   {"finn_ideal_cycles": lowered.ideal_cycles,
                    "fitted_spec": {k: getattr(fitted, k) for k in ("weight_depth", "threshold_depth", "input_depth",
                                                                    "max_reduction")}})
