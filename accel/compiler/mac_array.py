"""Lowering of one int8 convolution or dense layer onto the mac_array: tiling, loop order, Program.

The layer's input stays in DRAM in channel-group blocked layout ``(CG, H, W, atomic_c)``; its output is
written in the same layout with atomic_k channels per group. Tiling (for each way of splitting the
buffer's banks between features and weights):

- output-row *bands*: as many output rows as fit, with the input rows they need (halo included) for
  every channel group resident in feature space; with double buffering and all weights resident the
  bands may *ramp up* from one row, each as large as the last one's MACs can hide the load of, so the
  first MAC waits for one row's load instead of a full band's;
- weight *tiles*: consecutive kernel groups whose blocks fit in weight space together;
- a dense layer whose kernel group alone overflows weight space is split into input-channel *chunks*
  whose partial sums stay in the accumulators (``first``/``last``);
- *partial-sum mappings*, for a layer none of the above fits (one output row's input rows of every
  channel group overflow feature space, or one kernel group's weights weight space, or a kernel is larger
  than the Conv's MAX_KERNEL): each kernel group's channel groups (and a large kernel's rows and columns)
  are split into *passes*, each a weight piece that stays resident while every *tile* — a band of output
  rows × a *column tile* of output columns — streams through, loading just the input rectangle (halo
  included; reads beyond it fall outside the map) of the pass's channel groups and kernel rows and
  columns. Every pass but the last writes int32 partial sums (``psum_out``) to a partial-sum region of
  DRAM (one kernel group's output pixels, tile by tile); every pass but the first loads them next to its
  features and starts from them (``psum_in``); the last requantizes, one Conv per output row if its tile
  is narrower than the map; single- or double-buffered (tiles alternate feature halves, passes weight
  halves). Only hard limits are refused: stride, map size, padding (< kernel, <= MAX_PAD),
  ``max_reduction``.

Loop order (NVDLA's two reuse modes): *weight-reuse* keeps a weight tile resident while all bands
stream through; *data-reuse* keeps a band resident while all weight tiles stream through. With *double
buffering* the feature and weight spaces are halved and consecutive loads alternate halves, so the next
band or tile loads while the current one computes (NVDLA's CDMA prefetch); the ``wait`` flags order the
rest. The mapping with the fewest estimated cycles wins (then the least DRAM traffic); :class:`Mapping`
reports the choice. Partial-sum mappings are estimated with their pass overheads (PSUM_ATOMS steps per
pixel, the partial sums' DRAM traffic and loads) and chosen only when no other mapping exists, so a layer
that tiles without them keeps its mapping.
Grouped and depthwise convolutions read only the channel groups a kernel group needs; weights outside a
kernel's group are zero.
"""

import itertools
import math
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np

from ..compress.encode import block_features, unblock_features
from ..errors import UserError
from ..isa.mac_array import ADDR, PARAM_BLOCKS, PSUM_ATOMS, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool
from ..nn.qgraph import QAdd, QConv, QDense, QPool
from ..nn.topology import ConvLayerShape
from ..program import MemoryImage, Program
from ..spec import MacArraySpec
from . import check_memory

INT32 = (-(2**31), 2**31 - 1)
COMPUTE_DRAIN = 35  # about the cycles one computation spends in the compute pipeline beyond its MAC steps,
# besides the write acknowledgement's memory latency (an estimate for choosing mappings; the perf model counts)


@dataclass(frozen=True)
class ConvShape:
    """The geometry of one convolution (a dense layer is a 1×1 convolution of a 1×1 map)."""

    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    stride: int
    pad_h: int
    pad_w: int
    groups: int

    @property
    def out_h(self) -> int:
        return (self.h + 2 * self.pad_h - self.r) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.w + 2 * self.pad_w - self.s) // self.stride + 1

    @property
    def macs(self) -> int:
        return self.k * self.out_h * self.out_w * (self.c // self.groups) * self.r * self.s

    @staticmethod
    def dense(inputs: int, outputs: int) -> "ConvShape":
        """A dense layer: a 1×1 convolution of a 1×1 map of ``inputs`` channels to ``outputs``."""
        return ConvShape(inputs, 1, 1, outputs, 1, 1, 1, 0, 0, 1)

    @staticmethod
    def of_topology(layer: ConvLayerShape) -> "ConvShape":
        """A topology row (padding as :func:`accel.nn.load_topology` read it): a matrix multiply (``M`` rows of
        ``K`` inputs to ``N`` outputs, :attr:`ConvLayerShape.gemm`) as a 1×1 convolution of ``K`` channels to
        ``N`` over ``M`` pixels, laid out as the squarest map of exactly ``M`` pixels (a fully-connected row is
        the dense layer, ``M = 1``); any other row as the convolution it is."""
        if layer.gemm is not None:
            m, n, k = layer.gemm
            w = next(d for d in range(math.isqrt(m), 0, -1) if m % d == 0)
            return ConvShape(k, m // w, w, n, 1, 1, 1, 0, 0, 1)
        return ConvShape(layer.c, layer.h, layer.w, layer.k, layer.r, layer.s, layer.stride, layer.pad_h,
                         layer.pad_w, layer.groups)


@dataclass(frozen=True)
class Mapping:
    """The chosen tiling and loop order, with the DRAM traffic it implies."""

    mode: str  # "weight-reuse" or "data-reuse"
    feature_banks: int
    band_rows: int  # output rows per (full) band
    bands: int
    weight_tiles: int
    chunks: int  # input-channel chunks per kernel group (dense layers only)
    bytes_read: int
    bytes_written: int
    double: bool = False  # buffer halves alternate, so loads overlap the computation
    ramp: bool = False  # the first bands grow from one output row (see ramp_growth)
    cycles: int = 0  # the estimate the choice was made by
    passes: int = 1  # partial-sum passes per kernel group (input-channel and kernel passes; see _pass_mappings)
    pass_groups: int = 0  # channel groups per input-channel pass (0: no partial sums)
    pass_kernel: tuple[int, int] = (0, 0)  # kernel rows and columns per kernel pass
    col_tiles: int = 1  # column tiles per band
    tile_cols: int = 0  # output columns per (full) column tile

    @property
    def partial(self) -> bool:
        """Whether the layer runs in tiles with partial-sum passes (:func:`_schedule_passes`)."""
        return self.pass_groups > 0


def _group_range(shape: ConvShape, kg: int, ak: int, ac: int) -> tuple[int, int]:
    """Channel groups [lo, hi) holding the inputs of kernel group ``kg``."""
    k_lo, k_hi = kg * ak, min(shape.k, (kg + 1) * ak)
    per_in, per_out = shape.c // shape.groups, shape.k // shape.groups
    c_lo = (k_lo // per_out) * per_in
    c_hi = ((k_hi - 1) // per_out + 1) * per_in
    return c_lo // ac, -(-c_hi // ac)


MAX_PAD = 2**7 - 1
"""The largest padding: a Conv's y_off and x_off (8-bit signed) reach one padding row or column before the map."""


def shape_text(shape: ConvShape) -> str:
    """The layer's shape as refusals name it."""
    return (f"{shape.c}×{shape.h}×{shape.w} input, {shape.k} kernels of {shape.r}×{shape.s}, stride {shape.stride}, "
            f"padding ({shape.pad_h}, {shape.pad_w})")


def _check(shape: ConvShape, spec: MacArraySpec, name: str):
    where = f"layer '{name}' ({shape_text(shape)})"
    if shape.r < 1 or shape.s < 1:
        raise UserError(f"{where}: kernel {shape.r}×{shape.s} is not allowed; expected at least 1×1")
    if not 1 <= shape.stride <= spec.MAX_STRIDE:
        raise UserError(f"{where}: stride {shape.stride} is not allowed; expected 1..{spec.MAX_STRIDE} "
                        f"(mac_array MAX_STRIDE, the Conv command's stride field)")
    if shape.out_h < 1 or shape.out_w < 1:
        raise UserError(f"{where}: kernel {shape.r}×{shape.s} does not fit the {shape.h}×{shape.w} input with "
                        f"padding ({shape.pad_h}, {shape.pad_w}); expected kernel <= input + 2·padding per side")
    if max(shape.h, shape.w, shape.out_h, shape.out_w) > spec.MAX_DIM:
        raise UserError(f"{where}: feature map {shape.h}×{shape.w} is not allowed; expected at most "
                        f"{spec.MAX_DIM} per side (mac_array MAX_DIM, the Conv command's 12-bit sizes)")
    if not 0 <= shape.pad_h < shape.r or not 0 <= shape.pad_w < shape.s or max(shape.pad_h, shape.pad_w) > MAX_PAD:
        raise UserError(f"{where}: padding ({shape.pad_h}, {shape.pad_w}) is not allowed; expected "
                        f"0 <= padding < kernel and padding <= {MAX_PAD} (the Conv command's 8-bit offsets)")
    reduction = shape.c // shape.groups * shape.r * shape.s
    if reduction > spec.max_reduction:
        most = next(f.metadata["hi"] for f in fields(spec) if f.name == "max_reduction")
        lift = f"--set max_reduction={reduction} lifts it (wider accumulators)" if reduction <= most else \
            f"no setting lifts it (max_reduction <= {most})"
        raise UserError(f"{where}: reduction C/groups·R·S = {reduction} exceeds mac_array.max_reduction = "
                        f"{spec.max_reduction}; {lift}")


MODES = ("weight-reuse", "data-reuse")
"""The loop orders :func:`plan` chooses between (:attr:`Mapping.mode`)."""


def plan(spec: MacArraySpec, shape: ConvShape, name: str = "layer", *, mode: str | None = None,
         double: bool | None = None) -> Mapping:
    """The fastest mapping by estimate, or a :class:`UserError` if the layer cannot be tiled; ``mode`` (one
    of :data:`MODES`) and ``double`` restrict the choice to that loop order and buffering (``None``: any).
    Partial-sum mappings (:func:`_pass_mappings`) are the choice only for layers no other mapping takes."""
    _check(shape, spec, name)
    candidates = [] if max(shape.r, shape.s) > spec.MAX_KERNEL else \
        [m for fb in _feature_bank_choices(spec) for d in (True, False) for m in _mappings(spec, shape, fb, d)]
    candidates = candidates or list(_pass_mappings(spec, shape))
    chosen = [m for m in candidates if mode in (None, m.mode) and double in (None, m.double)]
    best = min(chosen, key=lambda m: (m.cycles, m.bytes_read), default=None)
    if best is None and candidates:
        chosen = ", ".join(f"{k}={v}" for k, v in (("mode", mode), ("double", double)) if v is not None)
        raise UserError(f"layer '{name}' ({shape_text(shape)}): no mapping on mac_array with {spec.banks} × "
                        f"{spec.bank_kib} KiB banks has {chosen}; expected the free choice (mode and double unset)")
    return best or _untileable(spec, shape, name)


def _capacities(spec: MacArraySpec, feature_banks: int, double: bool) -> tuple[int, int]:
    """Feature atoms and weight blocks one load may fill: all of each space, or half with double buffering."""
    share = 2 if double else 1
    weight_blocks = (spec.banks - feature_banks) // spec.atomic_k * spec.bank_entries
    return feature_banks * spec.bank_entries // share, weight_blocks // share


def _pow2(n: int) -> int:
    """The least power of two >= n."""
    return 1 << max(0, n - 1).bit_length()


def _untileable(spec, shape, name):
    raise UserError(f"layer '{name}' ({shape_text(shape)}): cannot be tiled on mac_array with {spec.banks} × "
                    f"{spec.bank_kib} KiB banks: one channel group of one output pixel's inputs for a kernel of at "
                    f"most {spec.MAX_KERNEL}×{spec.MAX_KERNEL}, its partial sums and its weights do not fit; "
                    f"--set bank_kib={2 * spec.bank_kib} lifts it")


def _feature_bank_choices(spec: MacArraySpec) -> range:
    """Feature banks come in sets of atomic_k, like weight banks, so weight lane k always lives in a bank
    congruent to k modulo atomic_k (the RTL's weight read multiplexers rely on it)."""
    return range(spec.atomic_k, spec.banks, spec.atomic_k)


def _kernel_group_blocks(spec, shape) -> list[int]:
    ak, ac = spec.atomic_k, spec.atomic_c
    kgs = -(-shape.k // ak)
    return [(hi - lo) * shape.r * shape.s for lo, hi in (_group_range(shape, kg, ak, ac) for kg in range(kgs))]


def _band_input_rows(shape: ConvShape, oy0: int, oy1: int) -> tuple[int, int]:
    lo = max(0, oy0 * shape.stride - shape.pad_h)
    hi = min(shape.h, (oy1 - 1) * shape.stride - shape.pad_h + shape.r)
    return lo, hi


def _band_rows(shape: ConvShape, feature_atoms: int, cgs: int) -> int:
    """Output rows per band: the most whose input rows ((rows − 1)·stride + R, halo included) fit in
    ``feature_atoms`` for all ``cgs`` channel groups; 0 if not even one output row fits."""
    rows_fitting = feature_atoms // (cgs * shape.w)
    if rows_fitting < min(shape.h, shape.r):
        return 0
    if rows_fitting >= shape.h:
        return shape.out_h
    return min(shape.out_h, (rows_fitting - shape.r) // shape.stride + 1)


def _load_band(shape: ConvShape, cgs: int, ac: int, address: int, base: int, a: int, b: int):
    """The load of the input rows that output rows [a, b) need, for every channel group, to feature atoms
    ``base + g·rows·W + y·W + x``; with the first input row loaded and the number of rows."""
    lo, hi = _band_input_rows(shape, a, b)
    rows, w = hi - lo, shape.w
    return LoadFeatures(address + lo * w * ac, base, rows * w, cgs, shape.h * w * ac, rows * w, wait=0), lo, rows


def steady_cycles(spec: MacArraySpec, command) -> int:
    """Steady-state cycles of a command: memory beats of a load, MAC or pooling steps of a computation."""
    if isinstance(command, LoadFeatures):
        return command.count * command.groups
    if isinstance(command, LoadWeights):
        return command.count * spec.atomic_k
    if isinstance(command, Conv):
        return command.out_h * command.out_w * command.ncg * command.kernel_h * command.kernel_w
    if isinstance(command, Pool):
        return command.out_h * command.out_w * command.kernel_h * command.kernel_w
    return command.count  # Eltwise


def _split(spec: MacArraySpec, load, parts: int) -> list:
    """``load`` as up to ``parts`` consecutive loads of nearly equal size: weights by blocks, features by
    channel-group runs."""
    if isinstance(load, LoadWeights):
        total, step = load.count, spec.atomic_k * spec.atomic_c  # bytes per block
        piece = lambda lo, n: replace(load, address=load.address + lo * step, block=load.block + lo, count=n)  # noqa: E731
    else:
        total = load.groups
        piece = lambda lo, n: replace(load, address=load.address + lo * load.src_stride,  # noqa: E731
                                      entry=load.entry + lo * load.dst_stride, groups=n)
    if parts == 1:
        return [load]
    bounds = [total * i // parts for i in range(parts + 1)]
    return [piece(lo, hi - lo) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def _waiting(command, wait: int):
    """``command`` with its ``wait`` flag set to ``wait`` (itself if it already is: replace is slow)."""
    return command if command.wait == wait else type(command)(**{**vars(command), "wait": wait})


def _emit(spec: MacArraySpec, first: Config, phases: list[tuple[list, list]], double: bool) -> list:
    """Commands of ``phases`` (each: the loads it needs, then its computations, all with ``wait`` 0) with
    their ``wait`` flags.

    Without double buffering everything waits: one command after another. With it, phase i + 1's loads
    are issued during phase i, after its first computation has started — by then every computation of
    phase i − 1, the last reader of the halves they overwrite, has finished — and the first computation of
    each phase waits for the loads before it. Issue is in order, so a load the busy load unit cannot take
    yet would hold back the computations behind it: each load goes after the first computation by whose
    (estimated) end the loads before it have finished.
    """
    commands = [first]
    for i, (loads, computes) in enumerate(phases):
        if i == 0 or not double:
            commands += [_waiting(load, 1) for load in loads]
        upcoming = list(phases[i + 1][0]) if double and i + 1 < len(phases) else []
        loaded = computed = 0
        for j, compute in enumerate(computes):
            commands.append(_waiting(compute, int(j == 0 or not double)))
            computed += steady_cycles(spec, compute)
            while upcoming and (loaded <= computed or j + 1 == len(computes)):
                loaded += steady_cycles(spec, upcoming[0])
                commands.append(upcoming.pop(0))
    return commands


def _bands(shape: ConvShape, rows: int, growth: float = 0) -> list[tuple[int, int]]:
    """[first, end) output rows of each band: ``rows`` each or, with a ``growth`` above 1, a ramp from one
    row, each band ``growth`` times the last (at least one row more) up to ``rows``."""
    bands, first, size = [], 0, 1 if growth > 1 else rows
    while first < shape.out_h:
        bands.append((first, min(first + size, shape.out_h)))
        first, size = first + size, min(rows, max(size + 1, int(size * growth)))
    return bands


def ramp_growth(spec: MacArraySpec, shape: ConvShape) -> float:
    """How much larger each band of a ramp can be than the last, so its load (input rows of all channel
    groups) takes no longer than the last band's MACs (all kernel groups): MAC steps per load beat."""
    cgs = -(-shape.c // spec.atomic_c)
    steps = shape.out_w * cgs * shape.r * shape.s * len(_kernel_group_blocks(spec, shape))
    return steps / (shape.stride * shape.w * cgs)


def _mappings(spec: MacArraySpec, shape: ConvShape, feature_banks: int, double: bool):
    ac = spec.atomic_c
    feature_atoms, weight_blocks = _capacities(spec, feature_banks, double)
    cgs = -(-shape.c // ac)
    blocks = _kernel_group_blocks(spec, shape)
    chunks = 1
    if max(blocks) + PARAM_BLOCKS > weight_blocks:
        if shape.out_h * shape.out_w != 1 or shape.r * shape.s != 1:
            return
        chunk = weight_blocks - PARAM_BLOCKS
        chunks = -(-max(blocks) // chunk)
    rows = _band_rows(shape, feature_atoms, cgs)
    if rows == 0:
        return
    # A ramp only at the layer's start: all weights stay resident, and each band's load hides behind the
    # last band's MACs.
    tiles = 1 if chunks > 1 else len(_weight_tiles(blocks, weight_blocks))
    ramp = double and rows > 1 and chunks == 1 and tiles == 1 and ramp_growth(spec, shape) > 1
    for ramped in (False, True) if ramp else (False,):
        yield from _estimates(spec, shape, feature_banks, double, blocks, tiles, chunks, rows, ramped)


def _resident_weights_cycles(spec: MacArraySpec, shape: ConvShape, blocks: list[int], bands: list) -> int:
    """Estimated cycles of a double-buffered layer whose weights all stay resident: the load unit reads
    the first band, the weights kernel group by kernel group, then each band once its half's last reader
    (two bands back) is done; each band's computations wait for their band (the first band's for their
    kernel group's weights too)."""
    cgs, ak = -(-shape.c // spec.atomic_c), spec.atomic_k
    overhead = spec.mem_latency + COMPUTE_DRAIN
    beats = [cgs * shape.w * (hi - lo) for lo, hi in (_band_input_rows(shape, a, b) for a, b in bands)]
    loaded = beats[0]
    done = 0
    for n in blocks:  # the first band, kernel group by kernel group
        loaded += (n + PARAM_BLOCKS) * ak
        done = max(done, loaded) + (bands[0][1] - bands[0][0]) * shape.out_w * n + overhead
    ends = [done]
    for band, (a, b) in enumerate(bands[1:], 1):
        loaded = max(loaded, ends[band - 2] if band >= 2 else 0) + beats[band]
        ends.append(max(ends[-1], loaded) + (b - a) * shape.out_w * sum(blocks) + len(blocks) * overhead)
    return ends[-1]


def _estimates(spec, shape, feature_banks, double, blocks, tiles, chunks, rows, ramp):
    """The two reuse modes' mappings of one tiling, with their DRAM traffic and estimated cycles (a ramp:
    the estimate without it, changed by what :func:`_resident_weights_cycles` says the ramp saves)."""
    ac, ak = spec.atomic_c, spec.atomic_k
    cgs = -(-shape.c // ac)
    bands = _bands(shape, rows, ramp_growth(spec, shape) if ramp else 0)
    band_bytes = sum(cgs * shape.w * ac * (hi - lo) for lo, hi in (_band_input_rows(shape, a, b) for a, b in bands))
    weight_bytes = (sum(blocks) + PARAM_BLOCKS * len(blocks) * chunks) * ak * ac
    written = -(-shape.k // ak) * shape.out_h * shape.out_w * ak
    common = dict(feature_banks=feature_banks, band_rows=rows, bands=len(bands), ramp=ramp, weight_tiles=tiles,
                  chunks=chunks, bytes_written=written, double=double)
    steps = shape.out_h * shape.out_w * sum(blocks)
    # Before the first MAC: the first band and (double-buffered) the first kernel group's weights.
    unramped = _bands(shape, rows) if ramp else bands
    lo, hi = _band_input_rows(shape, *unramped[0])
    fill = cgs * shape.w * (hi - lo) + (blocks[0] + PARAM_BLOCKS) * ak
    drains = len(unramped) * len(blocks) * chunks * (spec.mem_latency + COMPUTE_DRAIN)
    saved = 0
    if ramp:
        saved = (_resident_weights_cycles(spec, shape, blocks, unramped)
                 - _resident_weights_cycles(spec, shape, blocks, bands))
    for mode, read in zip(MODES, (weight_bytes + tiles * band_bytes,  # weight-reuse, then data-reuse
                                  band_bytes + (len(bands) if tiles > 1 else 1) * weight_bytes)):
        beats = read // ac
        cycles = drains + (fill + max(steps, beats - fill) if double else steps + beats) - saved
        yield Mapping(mode, bytes_read=read, cycles=cycles, **common)


def _weight_tiles(blocks: list[int], capacity: int) -> list[list[int]]:
    """Consecutive kernel groups packed while their blocks (with parameters) fit ``capacity``."""
    tiles, current, used = [], [], 0
    for kg, n in enumerate(blocks):
        if current and used + n + PARAM_BLOCKS > capacity:
            tiles.append(current)
            current, used = [], 0
        current.append(kg)
        used += n + PARAM_BLOCKS
    return tiles + [current]


def _parts(lo: int, hi: int, most: int) -> list[tuple[int, int]]:
    """[lo, hi) in the fewest nearly equal parts of at most ``most``."""
    n = -(-(hi - lo) // most)
    return [(lo + (hi - lo) * i // n, lo + (hi - lo) * (i + 1) // n) for i in range(n)]


def _span(size: int, pad: int, stride: int, o0: int, o1: int, k0: int, k1: int) -> tuple[int, int]:
    """Input rows (or columns) [lo, hi) of a map of ``size`` that outputs [o0, o1) read with kernel rows [k0,
    k1): those inside the map, or one row at the border the reads lie beyond if all of them are padding."""
    lo = min(max(0, o0 * stride - pad + k0), size - 1)
    return lo, max(lo + 1, min(size, (o1 - 1) * stride - pad + k1))


def _col_tiles(shape: ConvShape, cols: int) -> list[tuple[int, int]]:
    return [(c, min(c + cols, shape.out_w)) for c in range(0, shape.out_w, cols)]


def _kernel_pass(spec: MacArraySpec, shape: ConvShape, weight_blocks: int) -> tuple[int, int] | None:
    """Kernel rows and columns per kernel pass: all of them if the Conv's kernel fields (MAX_KERNEL) take them
    and one channel group's blocks fit ``weight_blocks``, else the fewest nearly equal parts that do."""
    kr, ks = (-(-n // -(-n // spec.MAX_KERNEL)) for n in (shape.r, shape.s))
    while PARAM_BLOCKS + kr * ks > weight_blocks:
        if kr * ks == 1:
            return None
        kr, ks = (_parts(0, shape.r, kr - 1)[0][1], ks) if kr >= ks else (kr, _parts(0, shape.s, ks - 1)[0][1])
    return kr, ks


def _largest(most: int, fits) -> int:
    """The largest n in 1..``most`` with ``fits(n)`` (monotone), 0 if none."""
    lo, hi = 0, most
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def _pass_mappings(spec: MacArraySpec, shape: ConvShape):
    """Mappings in tiles of output rows and columns, each kernel group's channel groups and kernel in passes
    that carry int32 partial sums through DRAM (weight-reuse: a pass's weights stay while every tile streams
    through). Per split of the banks, buffering and channel groups per pass: the tallest full-width band that
    fits, or else for bands of 1, 2, 4, … rows the widest column tile."""
    cg_max = max(_kernel_group_blocks(spec, shape)) // (shape.r * shape.s)
    s = shape.stride
    for fb, double in itertools.product(_feature_bank_choices(spec), (False, True)):
        feature_atoms, weight_blocks = _capacities(spec, fb, double)
        kernel = _kernel_pass(spec, shape, weight_blocks)
        if kernel is None:
            continue
        kr, ks = kernel
        kernel_passes = len(_parts(0, shape.r, kr)) * len(_parts(0, shape.s, ks))
        most = min(cg_max, (weight_blocks - PARAM_BLOCKS) // (kr * ks), 2**16 - 1)
        seen = set()
        for n in itertools.takewhile(lambda n: n <= 2 * cg_max, (-(-cg_max // most) << i for i in range(32))):
            groups = -(-cg_max // n)
            if groups in seen:
                continue
            seen.add(groups)
            psum = PSUM_ATOMS if n * kernel_passes > 1 else 0

            def fits(rows, cols):
                atoms = groups * min(shape.h, (rows - 1) * s + kr) * min(shape.w, (cols - 1) * s + ks)
                return atoms + psum * rows * cols <= feature_atoms

            tiles = [(rows, shape.out_w) for rows in [_largest(shape.out_h, lambda r: fits(r, shape.out_w))] if rows]
            if not tiles:
                tiles = [(rows, cols) for rows in itertools.takewhile(lambda r: r <= shape.out_h, (1 << i for i in range(12)))
                         for cols in [_largest(shape.out_w, lambda c: fits(rows, c))] if cols]
            for rows, cols in tiles:
                yield _pass_estimate(spec, shape, fb, double, groups, (kr, ks), rows, cols)


def _pass_estimate(spec: MacArraySpec, shape: ConvShape, feature_banks: int, double: bool, groups: int,
                   kernel: tuple[int, int], rows: int, cols: int) -> Mapping:
    """The mapping of :func:`_pass_mappings` with its DRAM traffic and estimated cycles: a load costs its
    beats and the memory latency, a convolution its MAC steps, its partial sums' steps (PSUM_ATOMS per
    pixel) and its drain; single-buffered they add up, double-buffered the loads after the first tile's
    hide behind the computations (or these behind them)."""
    ac, ak, s = spec.atomic_c, spec.atomic_k, shape.stride
    bands, col_tiles = _bands(shape, rows), _col_tiles(shape, cols)
    tiles, pixels = len(bands) * len(col_tiles), shape.out_h * shape.out_w
    row_parts, col_parts = _parts(0, shape.r, kernel[0]), _parts(0, shape.s, kernel[1])
    in_rows = {p: sum(hi - lo for lo, hi in (_span(shape.h, shape.pad_h, s, a, b, *p) for a, b in bands))
               for p in row_parts}
    in_cols = {p: sum(hi - lo for lo, hi in (_span(shape.w, shape.pad_w, s, a, b, *p) for a, b in col_tiles))
               for p in col_parts}
    sizes = {}  # kernel groups by their number of channel groups
    for kg in range(-(-shape.k // ak)):
        lo, hi = _group_range(shape, kg, ak, ac)
        sizes[hi - lo] = sizes.get(hi - lo, 0) + 1
    beats = loads = steps = convs = psum_read = psum_written = 0
    for size, count in sizes.items():
        parts = [(g1 - g0, r, c) for g0, g1 in _parts(0, size, groups) for r in row_parts for c in col_parts]
        psum = len(parts) > 1
        for n, (g, (r0, r1), (s0, s1)) in enumerate(parts):
            blocks = g * (r1 - r0) * (s1 - s0)
            beats += count * ((PARAM_BLOCKS + blocks) * ak + g * in_rows[r0, r1] * in_cols[s0, s1])
            per_tile = 1 if cols == shape.out_w else min(g, min(shape.h, (rows - 1) * s + r1 - r0))
            loads += count * (1 + tiles * per_tile + (tiles if n and psum else 0))
            steps += count * pixels * (blocks + (PSUM_ATOMS if psum else 0))
            per_row = n + 1 == len(parts) and cols < shape.out_w
            convs += count * (shape.out_h * len(col_tiles) if per_row else tiles)
            psum_read += count * pixels * PSUM_ATOMS * (n > 0)
            psum_written += count * pixels * PSUM_ATOMS * (n + 1 < len(parts))
    loading = beats + psum_read + loads * (spec.mem_latency + 3)
    computing = steps + convs * (spec.mem_latency + COMPUTE_DRAIN)
    first = (PARAM_BLOCKS + groups * kernel[0] * kernel[1]) * ak + spec.mem_latency + 3 + \
        groups * min(shape.h, (rows - 1) * s + kernel[0]) * min(shape.w, (cols - 1) * s + kernel[1])
    cycles = first + max(loading - first, computing) if double else loading + computing
    passes = max(len(_parts(0, size, groups)) for size in sizes) * len(row_parts) * len(col_parts)
    written = -(-shape.k // ak) * pixels * ak
    return Mapping("weight-reuse", feature_banks, rows, len(bands), -(-shape.k // ak), 1,
                   bytes_read=(beats + psum_read) * ac, bytes_written=written + psum_written * ac,
                   double=double, cycles=int(cycles), passes=passes, pass_groups=groups, pass_kernel=kernel,
                   col_tiles=len(col_tiles), tile_cols=cols)


@dataclass
class Lowered:
    """A layer lowered to a Program, with how it was mapped and how to read its result."""

    program: Program
    mapping: Mapping
    shape: ConvShape
    macs: int

    def output(self, memory: np.ndarray) -> np.ndarray:
        """The layer's int8 output (K, OH, OW) from a final memory image."""
        region = self.program.memory["output"]
        sh = self.shape
        blocked = memory[region.address:region.end].view(np.int8).reshape(-1, sh.out_h, sh.out_w,
                                                                          self.program.spec.atomic_k)
        return unblock_features(blocked, sh.k)


class Piece(NamedTuple):
    """A kernel group's weight piece: its channel groups [lo, hi), kernel rows and columns; ``first``: the
    kernel group's first piece (its computations start from the bias)."""

    kg: int
    first: bool
    lo: int
    hi: int
    rows: tuple[int, int]
    cols: tuple[int, int]

    @property
    def blocks(self) -> int:
        """Weight blocks with the parameter blocks."""
        return PARAM_BLOCKS + (self.hi - self.lo) * (self.rows[1] - self.rows[0]) * (self.cols[1] - self.cols[0])


@dataclass(frozen=True)
class Layout:
    """Where a convolution's data lives: DRAM regions in MemoryImage order (input, weights, output, partial
    sums, each 64-byte aligned) and the weight *pieces* — a kernel group's (chunk or pass of) blocks, with its
    parameters."""

    pieces: list[Piece]
    piece_blocks: list[int]
    input_address: int
    weights_address: int
    output_address: int
    output_size: int
    psum_address: int = 0
    psum_size: int = 0  # partial sums of every output pixel of one kernel group (partial-sum mappings)

    @staticmethod
    def of(spec: MacArraySpec, shape: ConvShape, mapping: Mapping) -> "Layout":
        ac, ak = spec.atomic_c, spec.atomic_k
        cgs, kgs = -(-shape.c // ac), -(-shape.k // ak)
        chunk_groups = _capacities(spec, mapping.feature_banks, mapping.double)[1] - PARAM_BLOCKS
        pieces = []
        for kg in range(kgs):
            lo, hi = _group_range(shape, kg, ak, ac)
            if mapping.partial:
                parts = [(g, r, c) for g in _parts(lo, hi, mapping.pass_groups)
                         for r in _parts(0, shape.r, mapping.pass_kernel[0])
                         for c in _parts(0, shape.s, mapping.pass_kernel[1])]
                pieces += [Piece(kg, n == 0, *g, r, c) for n, (g, r, c) in enumerate(parts)]
                continue
            step = chunk_groups if mapping.chunks > 1 else hi - lo
            pieces += [Piece(kg, chunk == lo, chunk, min(hi, chunk + step), (0, shape.r), (0, shape.s))
                       for chunk in range(lo, hi, step)]
        piece_blocks = [piece.blocks for piece in pieces]
        align = lambda n: -(-n // 64) * 64  # noqa: E731 — MemoryImage's placement
        weights_address = align(cgs * shape.h * shape.w * ac)
        output_address = align(weights_address + sum(piece_blocks) * ak * ac)
        output_size = kgs * shape.out_h * shape.out_w * ak
        psum_size = shape.out_h * shape.out_w * PSUM_ATOMS * ac if len(pieces) > kgs and mapping.partial else 0
        return Layout(pieces, piece_blocks, 0, weights_address, output_address, output_size,
                      align(output_address + output_size), psum_size)


def schedule(spec: MacArraySpec, shape: ConvShape, mapping: Mapping, layout: Layout, *, pad_value: int = 0,
             out_zp: int = 0, lo: int = -128, hi: int = 127, weights_half: int = 0) -> list:
    """The commands of a convolution in the mapping's loop order (no data needed: the perf model and the
    benchmarks use this directly); with double buffering the first weights go to half ``weights_half``."""
    if mapping.partial:
        return _schedule_passes(spec, shape, mapping, layout, dict(pad_value=pad_value, out_zp=out_zp, lo=lo, hi=hi))
    ac, ak, w = spec.atomic_c, spec.atomic_k, shape.w
    cgs = -(-shape.c // ac)
    pieces, piece_blocks = layout.pieces, layout.piece_blocks
    piece_offset = np.concatenate([[0], np.cumsum(piece_blocks)]) * ak * ac
    feature_half, weight_half = _capacities(spec, mapping.feature_banks, True)
    if mapping.chunks > 1:
        tiles = [[i] for i in range(len(pieces))]
    else:
        capacity = _capacities(spec, mapping.feature_banks, mapping.double)[1]
        tiles = _weight_tiles(_kernel_group_blocks(spec, shape), capacity)  # one piece per kernel group
    bands = _bands(shape, mapping.band_rows, ramp_growth(spec, shape) if mapping.ramp else 0)
    loaded = {"features": 0, "weights": weights_half}  # loads so far: their parity picks the half (double buffering)

    def base(kind, size):
        return (loaded[kind] - 1) % 2 * size if mapping.double else 0

    def load_tile(tile):
        loaded["weights"] += 1
        count = sum(piece_blocks[i] for i in tile)
        block = base("weights", weight_half)
        bases = itertools.accumulate((piece_blocks[i] for i in tile), initial=block)  # each piece's first block
        return LoadWeights(layout.weights_address + int(piece_offset[tile[0]]), block, count, wait=0), \
            dict(zip(tile, bases))

    def load_band(a, b):
        loaded["features"] += 1
        return _load_band(shape, cgs, ac, layout.input_address, base("features", feature_half), a, b)

    def convs(tile, bases, a, b, band):
        load, band_lo, rows = band
        return [Conv(
            fbase=load.entry + g_lo * rows * w, cg_stride=rows * w, ncg=g_hi - g_lo, in_h=rows, in_w=w,
            kernel_h=shape.r, kernel_w=shape.s, stride=shape.stride, y_off=a * shape.stride - shape.pad_h - band_lo,
            x_off=-shape.pad_w, out_h=b - a, out_w=shape.out_w, wbase=bases[i], pad_value=pad_value,
            out_zp=out_zp, lo=lo, hi=hi, out_address=layout.output_address + ((kg * shape.out_h + a) * shape.out_w) * ak,
            first=int(first), last=int(i + 1 == len(pieces) or pieces[i + 1][0] != kg), wait=0)
            for i in tile for kg, first, g_lo, g_hi, *_ in [pieces[i]]]

    phases = []  # [loads it needs: (load, space it fills, movable), computations, spaces it reads]

    def add(loads, computes, spaces, first):
        """A phase; with double buffering the layer's first one is split into one phase per computation,
        each loading just its own kernel group's weights, so the MACs start after the first group."""
        (band, band_space), (weights, weight_space) = loads
        if not (first and mapping.double and weights is not None):
            needed = [(band, band_space, True)] if band is not None else []
            needed += [(weights, weight_space, True)] if weights is not None else []
            phases.append([needed, computes, spaces])
            return
        for j, compute in enumerate(computes):
            end = computes[j + 1].wbase if j + 1 < len(computes) else weights.block + weights.count
            piece = replace(weights, address=weights.address + (compute.wbase - weights.block) * ak * ac,
                            block=compute.wbase, count=end - compute.wbase)
            needed = [(band, band_space, False)] if j == 0 and band is not None else []
            phases.append([needed + [(piece, weight_space, False)], [compute], spaces])

    def space(kind):  # the buffer half the last load of ``kind`` filled
        return kind, loaded[kind] % 2

    if mapping.mode == "weight-reuse":
        for t, tile in enumerate(tiles):
            weights, bases = load_tile(tile)
            for index, (a, b) in enumerate(bands):
                band = load_band(a, b)
                add([(band[0], space("features")), (weights if index == 0 else None, space("weights"))],
                    convs(tile, bases, a, b, band), {space("features"), space("weights")}, t == index == 0)
    else:
        for index, (a, b) in enumerate(bands):
            band = load_band(a, b)
            for t, tile in enumerate(tiles):
                weights = None
                if len(tiles) > 1 or index == 0:
                    weights, bases = load_tile(tile)
                add([(band[0] if t == 0 else None, space("features")), (weights, space("weights"))],
                    convs(tile, bases, a, b, band), {space("features"), space("weights")}, index == t == 0)
    return _emit(spec, Config(mapping.feature_banks), _place_loads(spec, phases, mapping.double), mapping.double)


def _schedule_passes(spec: MacArraySpec, shape: ConvShape, mapping: Mapping, layout: Layout, quant: dict) -> list:
    """The commands of a partial-sum mapping: per weight piece (kernel group by kernel group, pass by pass)
    its weights, then per tile (row band × column tile) the input rectangle its kernel rows and columns read,
    the partial sums so far (after the first pass), and its convolution — one per output row in the last
    pass of a column tile narrower than the map, whose output rows are apart in DRAM. Partial sums of a
    tile's pixels lie together, in tile order, in the partial-sum region. Double-buffered, tiles alternate
    feature halves and pieces weight halves (:func:`_emit`); a tile's partial sums, which the previous
    computation may still be writing if it is the only tile, are then loaded after it."""
    ac, ak, h, w, stride, double = spec.atomic_c, spec.atomic_k, shape.h, shape.w, shape.stride, mapping.double
    tiles = [(a, b, c0, c1) for a, b in _bands(shape, mapping.band_rows) for c0, c1 in _col_tiles(shape, mapping.tile_cols)]
    first_pixel = np.cumsum([0] + [(b - a) * (c1 - c0) for a, b, c0, c1 in tiles]).tolist()
    piece_address = layout.weights_address + np.cumsum([0] + layout.piece_blocks).astype(int) * ak * ac
    feature_half, weight_half = _capacities(spec, mapping.feature_banks, True)
    wait = int(not double)  # as _emit would set them: single-buffered, every command waits
    phases = []
    for i, (kg, first, g0, g1, (r0, r1), (s0, s1)) in enumerate(layout.pieces):
        last = i + 1 == len(layout.pieces) or layout.pieces[i + 1].kg != kg
        groups, wbase = g1 - g0, i % 2 * weight_half if double else 0
        weights = LoadWeights(int(piece_address[i]), wbase, layout.piece_blocks[i], wait=wait)
        for t, (a, b, c0, c1) in enumerate(tiles):
            y0, y1 = _span(h, shape.pad_h, stride, a, b, r0, r1)
            x0, x1 = _span(w, shape.pad_w, stride, c0, c1, s0, s1)
            rows, cols = y1 - y0, x1 - x0
            base = len(phases) % 2 * feature_half if double else 0
            loads = [weights] if t == 0 else []
            source = layout.input_address + ((g0 * h + y0) * w + x0) * ac
            if cols == w:
                loads.append(LoadFeatures(source, base, rows * w, groups, h * w * ac, rows * w, wait=wait))
            elif rows < groups:  # a load per row of every channel group, or per channel group of every row
                loads += [LoadFeatures(source + y * w * ac, base + y * cols, cols, groups, h * w * ac, rows * cols,
                                       wait=wait) for y in range(rows)]
            else:
                loads += [LoadFeatures(source + g * h * w * ac, base + g * rows * cols, cols, rows, w * ac, cols,
                                       wait=wait) for g in range(groups)]
            psum_entry = base + groups * rows * cols
            if not first:
                loads.append(LoadFeatures(layout.psum_address + first_pixel[t] * PSUM_ATOMS * ac, psum_entry,
                                          (b - a) * (c1 - c0) * PSUM_ATOMS, 1, 0, 0, wait=int(len(tiles) == 1 or wait)))
            per_row = last and c1 - c0 < shape.out_w
            convs = []
            for ra, rb in ([(y, y + 1) for y in range(a, b)] if per_row else [(a, b)]):
                top = ra * stride - shape.pad_h + r0 - y0  # the first input row read, in the rectangle
                start = min(max(top, 0), rows - 1)
                pixel = (ra - a) * (c1 - c0)
                out_address = (layout.output_address + ((kg * shape.out_h + ra) * shape.out_w + c0) * ak if last
                               else layout.psum_address + (first_pixel[t] + pixel) * PSUM_ATOMS * ac)
                convs.append(Conv(
                    fbase=base + start * cols, cg_stride=rows * cols, ncg=groups, in_h=rows - start, in_w=cols,
                    kernel_h=r1 - r0, kernel_w=s1 - s0, stride=stride, y_off=top - start,
                    x_off=c0 * stride - shape.pad_w + s0 - x0, out_h=rb - ra, out_w=c1 - c0, wbase=wbase,
                    out_address=out_address, first=1, last=1, wait=wait, psum_entry=psum_entry + pixel * PSUM_ATOMS,
                    psum_in=int(not first), psum_out=int(not last), **quant))
            phases.append((loads, convs))
    config = Config(mapping.feature_banks)
    if double:
        return _emit(spec, config, phases, True)
    return [config] + [command for loads, convs in phases for command in loads + convs]


def _place_loads(spec: MacArraySpec, phases: list, double: bool) -> list[tuple[list, list]]:
    """(loads, computations) per phase: with double buffering each movable load is spread over the phases
    after its buffer half's last reader began (a load attached to phase m is issued during phase m − 1),
    so a weight tile or band that is needed only every few phases loads during all of them."""
    attached = [[] for _ in phases]  # (phase needing it, load)
    last_reader = {}
    for i, (needed, _, spaces) in enumerate(phases):
        for load, target, movable in needed:
            lo = i
            if double and movable and i:
                lo = last_reader[target] + 2 if target in last_reader else 1
            assert lo <= i, "a load would overwrite a half the previous phase reads"
            for offset, piece in enumerate(_split(spec, load, i - lo + 1)):
                attached[lo + offset].append((i, piece))
        last_reader.update((target, i) for target in spaces)
    return [([load for _, load in sorted(loads, key=lambda x: x[0])], computes)
            for loads, (_, computes, _) in zip(attached, phases)]


def conv_geometry(op: QConv | QDense, in_shape: tuple[int, ...]) -> tuple[np.ndarray, ConvShape]:
    """The (K, C/groups, R, S) weights and the geometry of ``op`` on an input of ``in_shape`` ((C, H, W), or
    (F,) for a dense layer: a 1×1 convolution of a 1×1 map); a :class:`UserError` for unequal strides."""
    if isinstance(op, QDense):
        weight, (c, h, w) = op.weight[:, :, None, None], (int(np.prod(in_shape)), 1, 1)
        stride, padding, groups = (1, 1), (0, 0), 1
    else:
        weight, stride, padding, groups = op.weight, op.stride, op.padding, op.groups
        c, h, w = in_shape
    if stride[0] != stride[1]:
        raise UserError(f"layer '{op.name}': stride {stride} is not allowed; expected equal strides")
    k, _, r, s = weight.shape
    return weight, ConvShape(c, h, w, k, r, s, stride[0], padding[0], padding[1], groups)


def encode_weights(spec: MacArraySpec, op: QConv | QDense, weight: np.ndarray, shape: ConvShape, layout: "Layout",
                   x_zero_point: int) -> np.ndarray:
    """The DRAM bytes of ``op``'s weight pieces (``weight`` (K, C/groups, R, S) as :func:`conv_geometry` gives
    it, laid out as ``layout`` says): each piece's parameter blocks, then its (CG, R, S) weight blocks."""
    ac, ak = spec.atomic_c, spec.atomic_k
    c, k, r, s, groups = shape.c, shape.k, shape.r, shape.s, shape.groups
    cgs, kgs = -(-c // ac), -(-k // ak)
    # Weights as a dense (K, C) array (zero outside each kernel's group), the bias folded with the input
    # zero point, and the parameter blocks.
    if groups == 1 and (k, c) == (kgs * ak, cgs * ac):
        dense_w = weight  # already dense and of whole atoms: no copy
    else:
        dense_w = np.zeros((kgs * ak, cgs * ac, r, s), np.int8)
        per_in, per_out = c // groups, k // groups
        for g in range(groups):
            dense_w[g * per_out:(g + 1) * per_out, g * per_in:(g + 1) * per_in] = weight[g * per_out:(g + 1) * per_out]
    folded = op.bias.astype(np.int64) - x_zero_point * weight.sum(axis=(1, 2, 3), dtype=np.int64)
    if folded.min() < INT32[0] or folded.max() > INT32[1]:
        raise UserError(f"layer '{op.name}': the bias folded with the input zero point leaves int32; expected "
                        f"|bias − x_zp·Σw| < 2**31")
    params = np.zeros((3, kgs * ak), np.int64)
    params[0, :k], params[1, :k], params[2, :k] = folded, op.requant.m0, op.requant.shift
    param_blocks = np.zeros((3, kgs * ak, ac), np.uint8)
    param_blocks[:, :, :4] = params.astype("<i4").view(np.uint8).reshape(3, kgs * ak, 4)

    # Each piece: its parameter blocks, then its weight blocks (CG, R, S) of atomic_k atoms, written in place.
    weights = np.empty(sum(layout.piece_blocks) * ak * ac, np.uint8)
    offset = 0
    for (kg, _, lo, hi, (r0, r1), (s0, s1)), n in zip(layout.pieces, layout.piece_blocks):
        piece = weights[offset:offset + n * ak * ac]
        piece[:PARAM_BLOCKS * ak * ac] = param_blocks[:, kg * ak:(kg + 1) * ak].reshape(-1)
        blocks = dense_w[kg * ak:(kg + 1) * ak, lo * ac:hi * ac, r0:r1, s0:s1].reshape(ak, hi - lo, ac, r1 - r0,
                                                                                     s1 - s0)
        blocked = blocks.transpose(1, 3, 4, 0, 2).view(np.uint8)  # (CG, R, S, atomic_k, atomic_c)
        piece[PARAM_BLOCKS * ak * ac:].reshape(blocked.shape)[:] = blocked
        offset += n * ak * ac
    return weights


def lower(spec: MacArraySpec, op: QConv | QDense, x: np.ndarray, x_zero_point: int, *,
          double: bool | None = None) -> Lowered:
    """Lower int8 layer ``op`` applied to int8 input ``x`` ((C, H, W), or (F,) for dense) to a Program;
    ``double`` restricts the buffering as :func:`plan`'s does."""
    weight, shape = conv_geometry(op, x.shape)
    mapping = plan(spec, shape, op.name, double=double)
    layout = Layout.of(spec, shape, mapping)
    memory = MemoryImage(alignment=64)
    regions = (memory.add("input", block_features(x.reshape(shape.c, shape.h, shape.w), spec.atomic_c)),
               memory.add("weights", encode_weights(spec, op, weight, shape, layout, x_zero_point)),
               memory.reserve("output", layout.output_size))
    if layout.psum_size:
        regions += (memory.reserve("psum", layout.psum_size),)
    assert [region.address for region in regions] == [layout.input_address, layout.weights_address,
                                                      layout.output_address, layout.psum_address][:len(regions)]
    commands = schedule(spec, shape, mapping, layout, pad_value=x_zero_point, out_zp=op.requant.zero_point,
                        lo=op.requant.lo, hi=op.requant.hi)
    return Lowered(Program(spec, commands, memory), mapping, shape, shape.macs)


def _feature_only_config(spec: MacArraySpec) -> Config:
    """Pooling and element-wise layers need no weights: all banks but one weight set hold features."""
    return Config(spec.banks - spec.atomic_k)


def _pool_plan(spec: MacArraySpec, shape: ConvShape, name: str) -> tuple[Config, int, bool, int, int]:
    """A pooling's buffer split, half of its feature space, whether it is double-buffered, its output rows
    per band and the channel groups each band loads: all of them if their rows fit, else (pooling treats
    channel groups independently) as many as fit half the space; a :class:`UserError` if the layer is not
    allowed or cannot be tiled."""
    _check(shape, spec, name)
    if max(shape.r, shape.s) > spec.MAX_KERNEL:
        raise UserError(f"layer '{name}' ({shape_text(shape)}): kernel {shape.r}×{shape.s} is not allowed; expected "
                        f"1..{spec.MAX_KERNEL} (mac_array MAX_KERNEL, the Pool command's kernel fields)")
    cgs = -(-shape.c // spec.atomic_c)
    config = _feature_only_config(spec)
    half, whole = _capacities(spec, config.feature_banks, True)[0], _capacities(spec, config.feature_banks, False)[0]
    double = _band_rows(shape, half, cgs) > 0
    rows = _band_rows(shape, half if double else whole, cgs)
    groups = cgs
    if rows == 0:
        double, groups = True, half // (min(shape.h, shape.r) * shape.w)
        if groups == 0:
            need = min(shape.h, shape.r) * shape.w * spec.atomic_c
            raise UserError(f"layer '{name}' ({shape_text(shape)}): cannot be tiled on mac_array with {spec.banks} × "
                            f"{spec.bank_kib} KiB banks: a pooling band of {min(shape.h, shape.r)} rows × {shape.w} "
                            f"columns of one channel group ({need // spec.atomic_c} atoms) exceeds half the feature "
                            f"space ({half} atoms); --set bank_kib={_pow2(-(-2 * need // (config.feature_banks * 1024)))} lifts it")
        rows = _band_rows(shape, half, groups)
    return config, half, double, rows, min(groups, cgs)


def pool_shape(op: QPool, in_shape: tuple[int, int, int]) -> ConvShape:
    """The geometry of pooling ``op`` on a (C, H, W) input; a window covering the whole padded input (a
    global pooling) takes stride 1, the same single output pixel; a :class:`UserError` for unequal strides."""
    c, h, w = in_shape
    (r, s), (stride, stride_w), (pad_h, pad_w) = op.kernel, op.stride, op.padding
    if (h + 2 * pad_h, w + 2 * pad_w) == (r, s):
        stride = stride_w = 1
    if stride != stride_w:
        raise UserError(f"layer '{op.name}': stride {op.stride} is not allowed; expected equal strides")
    return ConvShape(c, h, w, c, r, s, stride, pad_h, pad_w, c)


def schedule_pool(spec: MacArraySpec, op: QPool, shape: ConvShape, input_address: int,
                  output_address: int) -> tuple[list, Mapping]:
    """The commands of pooling ``op`` (geometry ``shape``) from the blocked input at ``input_address`` to the
    output at ``output_address``: row bands (double-buffered when two fit), one Pool command per channel
    group; with the mapping."""
    config, half, double, rows, per_load = _pool_plan(spec, shape, op.name)
    ac, w, stride = spec.atomic_c, shape.w, shape.stride
    cgs = -(-shape.c // ac)
    phases = []
    for g0 in range(0, cgs, per_load):
        groups = range(g0, min(cgs, g0 + per_load))
        for a, b in _bands(shape, rows):
            base = len(phases) % 2 * half if double else 0
            load, band_lo, band_rows = _load_band(shape, len(groups), ac, input_address + g0 * shape.h * w * ac,
                                                  base, a, b)
            phases.append(([load], [Pool(
                fbase=load.entry + (g - g0) * band_rows * w, in_h=band_rows, in_w=w, kernel_h=shape.r,
                kernel_w=shape.s, stride=stride, y_off=a * stride - shape.pad_h - band_lo, x_off=-shape.pad_w,
                out_h=b - a, out_w=shape.out_w, average=int(op.kind == "avg"),
                out_address=output_address + ((g * shape.out_h + a) * shape.out_w) * ac, wait=0) for g in groups]))
    commands = _emit(spec, config, phases, double)
    mapping = Mapping("data-reuse", config.feature_banks, rows, len(phases), 0, 1,
                      sum(c.count * c.groups * ac for c in commands if isinstance(c, LoadFeatures)),
                      cgs * shape.out_h * shape.out_w * ac, double)
    return commands, mapping


def lower_pool(spec: MacArraySpec, op: QPool, x: np.ndarray) -> Lowered:
    """Lower int8 pooling ``op`` of input ``x`` (C, H, W) to a Program (see :func:`schedule_pool`)."""
    shape = pool_shape(op, x.shape)
    _pool_plan(spec, shape, op.name)  # a layer that cannot be tiled is refused before its memory is laid out
    memory = MemoryImage(alignment=64)
    source = memory.add("input", block_features(x, spec.atomic_c))
    output = memory.reserve("output", -(-shape.c // spec.atomic_c) * shape.out_h * shape.out_w * spec.atomic_c)
    commands, mapping = schedule_pool(spec, op, shape, source.address, output.address)
    return Lowered(Program(spec, commands, memory), mapping, shape, 0)


def schedule_add(spec: MacArraySpec, op: QAdd, shape: ConvShape, a_address: int, b_address: int,
                 output_address: int) -> tuple[list, Mapping]:
    """The commands of residual addition ``op`` of two blocked (C, H, W) maps (``shape``'s c, h, w) at
    ``a_address`` and ``b_address`` into ``output_address``: both loaded in chunks (a quarter of the feature
    space each, double-buffered), one Eltwise command per chunk; with the mapping."""
    ac = spec.atomic_c
    config = _feature_only_config(spec)
    half = _capacities(spec, config.feature_banks, True)[0]
    atoms, chunk = -(-shape.c // ac) * shape.h * shape.w, half // 2
    q = op.requant
    phases = []
    for n, first in enumerate(range(0, atoms, chunk)):
        count, base = min(chunk, atoms - first), n % 2 * half
        phases.append((
            [LoadFeatures(a_address + first * ac, base, count, 1, 0, 0, wait=0),
             LoadFeatures(b_address + first * ac, base + chunk, count, 1, 0, 0, wait=0)],
            [Eltwise(base, base + chunk, count, q.a_zero_point, q.a_m0, q.a_shift, q.b_zero_point, q.b_m0,
                     q.b_shift, q.out_m0, q.out_shift, q.zero_point, q.lo, q.hi, output_address + first * ac,
                     wait=0)]))
    mapping = Mapping("data-reuse", config.feature_banks, shape.h, len(phases), 0, 1, 2 * atoms * ac, atoms * ac,
                      True)
    return _emit(spec, config, phases, True), mapping


def lower_add(spec: MacArraySpec, op: QAdd, a: np.ndarray, b: np.ndarray) -> Lowered:
    """Lower int8 residual addition ``op`` of ``a`` and ``b`` (C, H, W) to a Program (see :func:`schedule_add`)."""
    if a.shape != b.shape:
        raise UserError(f"layer '{op.name}': input shapes {a.shape} and {b.shape} differ")
    c, h, w = a.shape
    memory = MemoryImage(alignment=64)
    region_a = memory.add("input", block_features(a, spec.atomic_c))
    region_b = memory.add("input_b", block_features(b, spec.atomic_c))
    output = memory.reserve("output", region_a.size)
    shape = ConvShape(c, h, w, c, 1, 1, 1, 0, 0, c)
    commands, mapping = schedule_add(spec, op, shape, region_a.address, region_b.address, output.address)
    return Lowered(Program(spec, commands, memory), mapping, shape, 0)


LAYER_KINDS = {
    "conv": dict(h=16, w=16, c=16, k=16, r=3, s=0, stride=1, pad=1, groups=1, activation="none"),
    "dense": {"in": 256, "out": 64, "activation": "none"},
    "depthwise": dict(h=16, w=16, c=16, r=3, stride=1, pad=1, activation="none"),
    "pool": dict(h=16, w=16, c=16, r=2, stride=2, pad=0, kind="max"),
    "add": dict(h=16, w=16, c=16),
}
"""``accel simulate --layer`` kinds for the mac_array and their default sizes (``s=0``: square kernel)."""


def case_shape(kind: str, p: dict) -> ConvShape:
    """The geometry of an ``accel simulate`` layer of ``kind`` with parameters ``p`` (:data:`LAYER_KINDS`)."""
    if kind == "dense":
        return ConvShape.dense(p["in"], p["out"])
    if kind == "add":
        return ConvShape(p["c"], p["h"], p["w"], p["c"], 1, 1, 1, 0, 0, p["c"])
    k, groups = (p["k"], p["groups"]) if kind == "conv" else (p["c"], p["c"])
    return ConvShape(p["c"], p["h"], p["w"], k, p["r"], p.get("s") or p["r"], p["stride"], p["pad"], p["pad"], groups)


def image_bytes(spec: MacArraySpec, kind: str, shape: ConvShape) -> int:
    """Bytes of DRAM the layer's Program needs at least: its input(s), weights (with each kernel group's
    parameter blocks) and output in blocked layout."""
    ac = spec.atomic_c
    cgs, kgs = -(-shape.c // ac), -(-shape.k // ac)
    features = cgs * shape.h * shape.w * ac
    if kind == "add":
        return 3 * features
    output = kgs * shape.out_h * shape.out_w * ac
    if kind == "pool":
        return features + output
    weights = kgs * PARAM_BLOCKS * ac * ac + shape.k * (shape.c // shape.groups) * shape.r * shape.s
    return features + weights + output


def check_params(kind: str, p: dict) -> ConvShape:
    """The geometry of layer ``kind`` with parameters ``p`` after the checks that need no spec (sizes,
    words, groups): a :class:`UserError` naming the first parameter it breaks."""
    from ..int8 import ACTIVATIONS

    for key, value in p.items():
        least = 0 if key in ("pad", "s") else 1
        if isinstance(value, int) and value < least:
            raise UserError(f"--layer {kind}: {key}={value} is not allowed; expected >= {least}")
    for key, allowed in (("activation", ACTIVATIONS), ("kind", ("max", "avg"))):
        if key in p and p[key] not in allowed:
            raise UserError(f"--layer {kind}: {key}={p[key]!r} is not one of {', '.join(allowed)}")
    shape = case_shape(kind, p)
    if shape.c % shape.groups or shape.k % shape.groups:
        raise UserError(f"--layer {kind}: groups={shape.groups} must divide c={shape.c} and k={shape.k}")
    return shape


def check_case(spec: MacArraySpec, kind: str, p: dict) -> ConvShape:
    """The geometry of layer ``kind`` with parameters ``p``, after every check that needs no data: a
    :class:`UserError` naming the first parameter or limit it breaks."""
    shape = check_params(kind, p)
    if kind != "add":
        _check(shape, spec, kind)
    check_memory(f"--layer {kind}", image_bytes(spec, kind, shape), ADDR)
    if kind == "pool":
        _pool_plan(spec, shape, kind)
    elif kind != "add":
        plan(spec, shape, kind)
    return shape


def file_case(spec: MacArraySpec, path, seed: int = 0) -> "Case":
    """The int8 layer in the mac_array ``.npz`` at ``path`` (:mod:`accel.compiler.layer_files`) on its input or
    a random one (``seed``), lowered, with its reference result from :mod:`accel.int8`."""
    from . import Case
    from .layer_files import load_mac_array

    read = load_mac_array(path)
    op, x_zp = read.op, read.x_zero_point
    x = read.x if read.x is not None else \
        np.random.default_rng(seed).integers(-128, 128, read.input_shape, dtype=np.int8)
    lowered = lower(spec, op, x, x_zp)
    m = lowered.mapping
    info = dict(weights=str(path), input="file" if read.x is not None else "random", mode=m.mode,
                feature_banks=m.feature_banks, bands=m.bands, weight_tiles=m.weight_tiles, chunks=m.chunks,
                col_tiles=m.col_tiles, passes=m.passes,
                split=m.bands * m.weight_tiles * m.chunks * m.col_tiles * m.passes > 1)
    return Case(lowered.program, lowered.output, lambda: _reference(op, x, x_zp), lowered.macs, info)


def _reference(op: QConv | QDense, x: np.ndarray, x_zp: int) -> np.ndarray:
    """The int8 result of ``op`` on ``x`` by :mod:`accel.int8` (a dense layer's as a K×1×1 map)."""
    from .. import int8

    if isinstance(op, QDense):
        return int8.dense(x[None], x_zp, op.weight, op.bias, op.requant)[0][:, None, None]
    return int8.conv2d(x[None], x_zp, op.weight, op.bias, op.requant, stride=op.stride, padding=op.padding,
                       groups=op.groups)[0]


def random_case(spec: MacArraySpec, kind: str, p: dict, rng: np.random.Generator) -> "Case":
    """A random int8 layer of ``kind`` with sizes ``p`` (see :data:`LAYER_KINDS`), lowered, with its
    reference result from :mod:`accel.int8` (computed when first asked for); every parameter is checked
    (:func:`check_case`) before any data is drawn."""
    from . import Case
    from .. import int8
    from ..int8 import AddRequant, QuantParams
    from ..nn.random_layers import random_layer

    shape = check_case(spec, kind, p)
    if kind in ("conv", "depthwise", "dense"):
        if kind == "dense":
            op, x, x_zp = random_layer(rng, c=shape.c, k=shape.k, dense=True, activation=p["activation"])
        else:
            op, x, x_zp = random_layer(rng, c=shape.c, h=shape.h, w=shape.w, k=shape.k, r=shape.r, s=shape.s,
                                       stride=shape.stride, pad=shape.pad_h, groups=shape.groups,
                                       activation=p["activation"])
        lowered = lower(spec, op, x, x_zp)

        def reference():
            return _reference(op, x, x_zp)
    elif kind == "pool":
        x = rng.integers(-128, 128, (shape.c, shape.h, shape.w), dtype=np.int8)
        op = QPool("pool", "input", p["kind"], (shape.r, shape.r), (shape.stride,) * 2, (shape.pad_h,) * 2)
        lowered = lower_pool(spec, op, x)

        def reference():
            pool = int8.max_pool if op.kind == "max" else int8.avg_pool
            return pool(x[None], op.kernel, op.stride, op.padding)[0]
    else:
        a, b = (rng.integers(-128, 128, (shape.c, shape.h, shape.w), dtype=np.int8) for _ in range(2))
        params = [QuantParams(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128))) for _ in range(3)]
        op = QAdd("add", "input", "input_b", AddRequant.from_params(*params))
        lowered = lower_add(spec, op, a, b)

        def reference():
            return op.requant.apply(a, b)
    m = lowered.mapping
    info = dict(mode=m.mode, feature_banks=m.feature_banks, bands=m.bands, weight_tiles=m.weight_tiles,
                chunks=m.chunks, col_tiles=m.col_tiles, passes=m.passes)
    return Case(lowered.program, lowered.output, reference, lowered.macs, info)
