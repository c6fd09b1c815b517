"""A whole int8 network on the mac_array as one Program (:func:`compile_network`).

Every operation of a :class:`~accel.nn.qgraph.QGraph` is lowered by the per-layer compiler
(:mod:`accel.compiler.mac_array`) at addresses of one shared memory image:

- ``<layer>.weights``: each convolution's and dense layer's weight pieces in the engine's encoding;
- ``input.<n>``: image n, channel-group blocked ``(CG, H, W, atomic_c)``;
- ``act.<i>``: activation buffers, reused by liveness: a buffer is free again once the last layer reading
  any tensor in it has run (a residual branch's input stays alive until its addition), and a layer never
  writes a buffer it reads;
- ``output.<n>``: image n's result, read back by the network's :class:`~accel.compiler.network.Readout`
  (group-major, as every tensor is stored; channel-major flattened, as ``QGraph.run``'s output reshaped);
- ``psum``: the int32 partial sums of the layers mapped in partial-sum passes, one layer at a time.

Images run one after another, layer by layer. A layer starts with its ``Config``, which waits until the
previous layer has finished (its last write acknowledged), so a layer reads DRAM its producers wrote; a
convolution or dense layer whose buffer split is already set instead starts with its first weight loads,
which run while the previous layer's last computation does (NVDLA's CDMA prefetch across layers), into
the weight blocks that computation does not read; its feature loads still wait for it. Outputs always go
to DRAM: none stays in the convolution buffer as the next layer's input.

Tensors live in DRAM as *physical* channel groups: a tensor's logical channel c is lane ``channels[c]`` of
its blocked layout. Convolution and dense outputs are dense (channel c in lane c; the lanes past K of the
last group hold the output zero point); pooling and addition keep their input's lanes.

- Flatten is free: the vector is the blocked buffer read as a 1×1 map, its element (c, y, x) at byte
  ``((lane(c) // ac · H + y) · W + x) · ac + lane(c) % ac``; the dense layer after it reads its weights
  permuted to that order (zero for padding lanes), not the data.
- Concat is free: each input is written at its channel-group offset in the concat's buffer (branches start
  on whole channel groups, so a branch of C channels takes ceil(C / ac) groups and the lanes past C are
  padding); the consumer's weights are scattered to those lanes (zeros elsewhere). A grouped or depthwise
  convolution reading such a tensor is lowered as a dense one (its weights zero outside each group).
- Global average pooling is an average pool whose window is the whole map; the Pool command's kernel
  fields (4 bits, :attr:`~accel.spec.MacArraySpec.MAX_KERNEL` = 11) refuse maps larger than 11×11.
"""

from dataclasses import dataclass, replace

import numpy as np

from ..compress.encode import block_features
from ..errors import UserError
from ..isa.mac_array import ADDR, PARAM_BLOCKS, Config, Conv, LoadFeatures, LoadWeights
from ..nn.qgraph import QAdd, QConcat, QConv, QDense, QFlatten, QGraph, QPool, sources
from ..program import MemoryImage, Program
from ..spec import MacArraySpec
from . import LayerRecord, Network, Readout, check_memory
from .mac_array import (ConvShape, Layout, Mapping, conv_geometry, encode_weights, plan, pool_shape, schedule,
                        schedule_add, schedule_pool)


@dataclass(frozen=True)
class Tensor:
    """A tensor in DRAM: ``groups`` channel groups of ``h × w`` atoms; logical channel c (or element c of a
    vector) is lane ``channels[c]``; ``shape`` is its logical shape ((C, H, W) or (F,))."""

    shape: tuple[int, ...]
    groups: int
    h: int
    w: int
    channels: np.ndarray

    @staticmethod
    def dense(shape: tuple[int, ...], ac: int) -> "Tensor":
        c, h, w = shape if len(shape) == 3 else (shape[0], 1, 1)
        return Tensor(tuple(shape), -(-c // ac), h, w, np.arange(c))

    def nbytes(self, ac: int) -> int:
        return self.groups * self.h * self.w * ac

    def offsets(self, ac: int) -> np.ndarray:
        """The byte of each logical element (C-major order) in the blocked buffer."""
        y, x = np.arange(self.h)[:, None], np.arange(self.w)[None, :]
        lane = self.channels[:, None, None]
        return (((lane // ac * self.h + y) * self.w + x) * ac + lane % ac).reshape(-1)

    @property
    def is_dense(self) -> bool:
        return np.array_equal(self.channels, np.arange(len(self.channels)))


@dataclass
class _Layer:
    """One operation's lowering, before addresses are known."""

    op: object
    kind: str
    text: str
    macs: int
    mapping: str = ""
    shape: ConvShape | None = None
    plan: Mapping | None = None
    layout: Layout | None = None
    weights: np.ndarray | None = None


def _tensors(spec: MacArraySpec, qgraph: QGraph) -> dict[str, Tensor]:
    """Every tensor's DRAM geometry."""
    ac = spec.atomic_c
    tensors = {"input": Tensor.dense(tuple(qgraph.input_shape), ac)}
    for op in qgraph.ops:
        source = tensors[op.input]
        if isinstance(op, (QConv, QDense)):
            if len(source.shape) != (3 if isinstance(op, QConv) else 1):
                raise UserError(f"layer '{op.name}': input shape {source.shape} is not "
                                f"{'a (C, H, W) feature map' if isinstance(op, QConv) else 'a vector; add a flatten'}")
            _, shape = conv_geometry(op, source.shape)
            out = (shape.k, shape.out_h, shape.out_w) if isinstance(op, QConv) else (shape.k,)
            tensors[op.name] = Tensor.dense(out, ac)
        elif isinstance(op, QPool):
            shape = pool_shape(op, source.shape)
            tensors[op.name] = replace(source, shape=(shape.c, shape.out_h, shape.out_w), h=shape.out_h,
                                       w=shape.out_w)
        elif isinstance(op, QAdd):
            other = tensors[op.b]
            if source.shape != other.shape or not np.array_equal(source.channels, other.channels):
                raise UserError(f"layer '{op.name}': inputs '{op.a}' {source.shape} and '{op.b}' {other.shape} are "
                                f"not laid out alike; expected equal shapes, channel for channel")
            tensors[op.name] = source
        elif isinstance(op, QFlatten):
            size = int(np.prod(source.shape))
            tensors[op.name] = Tensor((size,), source.groups * source.h * source.w, 1, 1, source.offsets(ac))
        elif isinstance(op, QConcat):
            parts = [tensors[name] for name in op.inputs]
            if any(len(p.shape) != 3 or p.shape[1:] != source.shape[1:] for p in parts):
                raise UserError(f"layer '{op.name}': inputs {[p.shape for p in parts]} are not feature maps of one "
                                f"H×W")
            firsts = np.cumsum([0] + [p.groups for p in parts])
            channels = np.concatenate([p.channels + first * ac for p, first in zip(parts, firsts)])
            shape = (sum(p.shape[0] for p in parts), *source.shape[1:])
            tensors[op.name] = Tensor(shape, int(firsts[-1]), source.h, source.w, channels)
        else:
            raise UserError(f"layer '{op.name}': {type(op).__name__} is not an operation the mac_array compiles")
    return tensors


def _physical_weights(op: QConv | QDense, source: Tensor, ac: int) -> QConv | QDense:
    """``op`` reading ``source``'s lanes: its weights scattered to them (zeros for padding lanes), a grouped
    convolution made dense; ``op`` itself if ``source`` is dense."""
    if source.is_dense:
        return op
    lanes = source.groups * ac * (source.h * source.w if isinstance(op, QDense) else 1)
    if isinstance(op, QDense):
        weight = np.zeros((op.weight.shape[0], lanes), np.int8)
        weight[:, source.channels] = op.weight
        return replace(op, weight=weight)
    k, per_in, r, s = op.weight.shape
    weight = np.zeros((k, lanes, r, s), np.int8)
    per_out = k // op.groups
    for g in range(op.groups):
        lanes_in = source.channels[g * per_in:(g + 1) * per_in]
        weight[g * per_out:(g + 1) * per_out, lanes_in] = op.weight[g * per_out:(g + 1) * per_out]
    return replace(op, weight=weight, groups=1)


def _mapping_text(spec: MacArraySpec, m: Mapping) -> str:
    tiles = f", {m.weight_tiles} weight tiles" if m.weight_tiles else ""
    chunks = f", {m.chunks} chunks" if m.chunks > 1 else ""
    cols = f" × {m.col_tiles} column tiles of {m.tile_cols}" if m.col_tiles > 1 else ""
    passes = f", {m.passes} partial-sum passes" if m.passes > 1 else ""
    return (f"{m.mode}, {m.bands} bands of {m.band_rows} rows{cols}{tiles}{chunks}{passes}, features {m.feature_banks}/"
            f"{spec.banks} banks, {'double' if m.double else 'single'}-buffered")


def _lower(spec: MacArraySpec, qgraph: QGraph, tensors: dict[str, Tensor]) -> list[_Layer]:
    """Each operation planned, its weights encoded (no addresses yet)."""
    ac = spec.atomic_c
    layers = []
    for op in qgraph.ops:
        source, out = tensors[op.input], tensors[op.name]
        text = f"{'x'.join(map(str, source.shape))} -> {'x'.join(map(str, out.shape))}"
        if isinstance(op, (QConv, QDense)):
            physical = _physical_weights(op, source, ac)
            lanes = source.shape[0] if source.is_dense else source.groups * ac
            weight, shape = conv_geometry(physical, (lanes, source.h, source.w) if isinstance(op, QConv) else
                                          physical.weight.shape[1:])
            mapping = plan(spec, shape, op.name)
            layout = Layout.of(spec, shape, mapping)
            x_zp = qgraph.tensors[op.input].zero_point
            kind = "dense" if isinstance(op, QDense) else "depthwise" if op.groups == source.shape[0] > 1 else "conv"
            if isinstance(op, QConv):
                text += f" k{shape.r} s{shape.stride} p{shape.pad_h}" + (f" g{op.groups}" if op.groups > 1 else "")
            layers.append(_Layer(op, kind, text, _macs(op, source), _mapping_text(spec, mapping), shape, mapping,
                                 layout, encode_weights(spec, physical, weight, shape, layout, x_zp)))
        elif isinstance(op, QPool):
            shape = pool_shape(op, (source.groups * ac, source.h, source.w))
            gap = shape.out_h == shape.out_w == 1 and (shape.h + 2 * shape.pad_h, shape.w + 2 * shape.pad_w) == \
                (shape.r, shape.s)
            if gap and max(shape.r, shape.s) > spec.MAX_KERNEL:
                raise UserError(f"layer '{op.name}': a global average pool over {shape.h}×{shape.w} needs a "
                                f"{shape.r}×{shape.s} window; the Pool command's kernel fields allow "
                                f"1..{spec.MAX_KERNEL} (mac_array MAX_KERNEL)")
            _, mapping = schedule_pool(spec, op, shape, 0, 0)  # checks the layer and gives its mapping
            layers.append(_Layer(op, "gap" if gap else "pool", text + f" {op.kind} k{shape.r} s{shape.stride}", 0,
                                 _mapping_text(spec, mapping), shape))
        elif isinstance(op, QAdd):
            shape = ConvShape(source.groups * ac, source.h, source.w, source.groups * ac, 1, 1, 1, 0, 0,
                              source.groups * ac)
            layers.append(_Layer(op, "add", text, 0, "element-wise, double-buffered chunks", shape))
        else:
            kind = "flatten" if isinstance(op, QFlatten) else "concat"
            layers.append(_Layer(op, kind, text, 0, "free: a view of its input's buffer" if kind == "flatten" else
                                 "free: its inputs write at their channel-group offsets"))
    return layers


def _macs(op: QConv | QDense, source: Tensor) -> int:
    """Useful MACs of one image (logical channels only)."""
    if isinstance(op, QDense):
        return op.weight.size
    _, shape = conv_geometry(op, source.shape)
    return shape.macs


def _placement(qgraph: QGraph, tensors: dict[str, Tensor], ac: int) -> dict[str, tuple[str, int]]:
    """Each tensor's buffer (named by the tensor that owns it) and byte offset in it: a concat's inputs lie
    in the concat's buffer, a flatten is its input's buffer."""
    place = {name: (name, 0) for name in tensors}
    for op in reversed(qgraph.ops):  # a concat's own place is final before its inputs are placed
        if isinstance(op, QConcat):
            buffer, offset = place[op.name]
            claimed = set()
            for name in op.inputs:
                producer = next((o for o in qgraph.ops if o.name == name), None)
                if producer is None or isinstance(producer, QFlatten) or name in claimed or place[name] != (name, 0):
                    raise UserError(f"layer '{op.name}': input '{name}' cannot be written in place; expected each "
                                    f"input computed by a layer of the graph and concatenated once")
                claimed.add(name)
                place[name] = (buffer, offset)
                offset += tensors[name].nbytes(ac)
    for op in qgraph.ops:
        if isinstance(op, QFlatten):
            place[op.name] = place[op.input]
    return place


def _allocate(qgraph: QGraph, place: dict[str, tuple[str, int]], sizes: dict[str, int]) -> tuple[dict[str, int], list]:
    """Activation buffers (every buffer but the input's and the output's) to slots by liveness: a buffer is
    given a slot when the first layer writing it runs and frees it after the last layer reading it. Returns
    each buffer's slot and the slots' sizes."""
    ops = qgraph.ops
    final = place[qgraph.output][0]
    first, last = {}, {}
    for i, op in enumerate(ops):
        buffer = place[op.name][0]
        if not isinstance(op, (QFlatten, QConcat)):
            first.setdefault(buffer, i)
        for source in sources(op):
            last[place[source][0]] = i
    slot_of, slot_sizes, free, live = {}, [], [], {}
    for i, op in enumerate(ops):
        for slot, buffer in list(live.items()):  # free what no layer from i on reads
            if last.get(buffer, first[buffer]) < i:
                del live[slot]
                free.append(slot)
        buffer = place[op.name][0]
        if first.get(buffer) != i or buffer == final:
            continue
        need = sizes[buffer]
        fitting = [s for s in free if slot_sizes[s] >= need]
        slot = min(fitting, key=lambda s: slot_sizes[s]) if fitting else max(free, key=lambda s: slot_sizes[s],
                                                                             default=None)
        if slot is None:
            slot = len(slot_sizes)
            slot_sizes.append(0)
        else:
            free.remove(slot)
        slot_sizes[slot] = max(slot_sizes[slot], need)
        slot_of[buffer], live[slot] = slot, buffer
    return slot_of, slot_sizes


def _prefetching(before: list, make, double: bool) -> list:
    """A convolution's commands (``make(weights_half)``, each starting with its ``Config``) to follow the
    commands ``before``, its first weights loading while the computation before it runs (NVDLA's CDMA
    prefetch across layers): if the buffer split is the one already set and the first weight loads
    (trying either half) miss the weight blocks the last computation reads, the ``Config`` is dropped and
    those loads go first, without ``wait``; the feature loads after them still wait for the computation
    (they read its output from DRAM). Otherwise the commands as they are."""
    commands = make(0)
    configs = (c for c in reversed(before) if isinstance(c, Config))
    if not before or next(configs, None) != commands[0]:
        return commands
    last = before[-1]
    reads = range(last.wbase, last.wbase + PARAM_BLOCKS + last.ncg * last.kernel_h * last.kernel_w) \
        if isinstance(last, Conv) else range(0)
    for half in (0, 1) if double else (0,):
        commands = make(half) if half else commands
        lead = next(i for i, c in enumerate(commands) if not isinstance(c, (Config, LoadFeatures, LoadWeights)))
        weights = [c for c in commands[1:lead] if isinstance(c, LoadWeights)]
        if weights and all(w.block >= reads.stop or w.block + w.count <= reads.start for w in weights):
            features = [replace(c, wait=1) for c in commands[1:lead] if isinstance(c, LoadFeatures)]
            return [replace(w, wait=0) for w in weights] + features + commands[lead:]
    return make(0)


def compile_network(spec: MacArraySpec, qgraph: QGraph, inputs: np.ndarray, *, overlap: bool = True) -> Network:
    """``qgraph`` on the mac_array for the int8 images ``inputs`` (N, *qgraph.input_shape), as one Program.

    With ``overlap`` a convolution's first weights load while the layer before it computes
    (:func:`_prefetching`); without, every layer starts from an idle engine with its own ``Config``, as
    separate per-layer Programs would. A :class:`UserError` names the first layer the engine cannot run and
    the limit it breaks."""
    if not isinstance(spec, MacArraySpec):
        raise UserError(f"compile_network: spec {spec.name!r} is not a mac_array spec")
    inputs = np.asarray(inputs)
    if inputs.dtype != np.int8 or inputs.ndim != len(qgraph.input_shape) + 1 or \
            tuple(inputs.shape[1:]) != tuple(qgraph.input_shape) or not len(inputs):
        raise UserError(f"network '{qgraph.name}': inputs must be int8 of shape (N >= 1, "
                        f"{', '.join(map(str, qgraph.input_shape))}), got {inputs.dtype} {inputs.shape}")
    if not qgraph.ops:
        raise UserError(f"network '{qgraph.name}': has no layers")
    ac = spec.atomic_c
    tensors = _tensors(spec, qgraph)
    layers = _lower(spec, qgraph, tensors)
    place = _placement(qgraph, tensors, ac)
    final = place[qgraph.output][0]
    if final == "input":
        raise UserError(f"network '{qgraph.name}': its output is a view of its input; expected a layer that computes")
    sizes = {}
    for name, (buffer, _) in place.items():
        sizes[buffer] = max(sizes.get(buffer, 0), place[name][1] + tensors[name].nbytes(ac))
    slot_of, slot_sizes = _allocate(qgraph, place, sizes)

    memory = MemoryImage(alignment=64)
    for layer in layers:
        if layer.weights is not None:
            region = memory.add(f"{layer.op.name}.weights", layer.weights)
            layer.layout = replace(layer.layout, weights_address=region.address)
    images = [memory.add(f"input.{n}", block_features(x.reshape(tensors["input"].shape if x.ndim == 3 else
                                                                 (x.size, 1, 1)), ac)) for n, x in enumerate(inputs)]
    slots = [memory.reserve(f"act.{i}", size) for i, size in enumerate(slot_sizes)]
    outputs = [memory.reserve(f"output.{n}", sizes[final]) for n in range(len(inputs))]
    psum_size = max((layer.layout.psum_size for layer in layers if layer.layout is not None), default=0)
    if psum_size:
        psum = memory.reserve("psum", psum_size)
        for layer in layers:
            if layer.layout is not None and layer.layout.psum_size:
                layer.layout = replace(layer.layout, psum_address=psum.address)
    check_memory(f"network '{qgraph.name}'", memory.size, ADDR)

    def address(name: str, n: int) -> int:
        buffer, offset = place[name]
        base = images[n] if buffer == "input" else outputs[n] if buffer == final else slots[slot_of[buffer]]
        return base.address + offset

    commands, ranges = [], [[] for _ in layers]
    for n in range(len(inputs)):
        for layer, spans in zip(layers, ranges):
            op, start = layer.op, len(commands)
            if layer.plan is not None:
                layout = replace(layer.layout, input_address=address(op.input, n), output_address=address(op.name, n))

                def make(half, layer=layer, op=op, layout=layout):
                    return schedule(spec, layer.shape, layer.plan, layout, pad_value=qgraph.tensors[op.input].zero_point,
                                    out_zp=op.requant.zero_point, lo=op.requant.lo, hi=op.requant.hi, weights_half=half)

                commands += _prefetching(commands, make, layer.plan.double) if overlap else make(0)
            elif layer.kind in ("pool", "gap"):
                commands += schedule_pool(spec, op, layer.shape, address(op.input, n), address(op.name, n))[0]
            elif layer.kind == "add":
                commands += schedule_add(spec, op, layer.shape, address(op.a, n), address(op.b, n),
                                         address(op.name, n))[0]
            if len(commands) > start:
                spans.append((start, len(commands)))
    records = [LayerRecord(layer.op.name, layer.kind, layer.text, layer.mapping, layer.macs * len(inputs),
                           tuple(spans)) for layer, spans in zip(layers, ranges)]
    out, offset = tensors[qgraph.output], place[qgraph.output][1]
    readout = Readout(tuple(region.address + offset for region in outputs), "<i1", out.h * out.w, out.groups, ac, ac,
                      len(out.channels), order="groups", channel_lanes=() if out.is_dense else
                      tuple(int(lane) for lane in out.channels))
    info = dict(activation_bytes=sum(slot_sizes), activation_slots=len(slot_sizes),
                output_quant=qgraph.tensors[qgraph.output],
                weight_bytes=sum(layer.weights.size for layer in layers if layer.weights is not None))
    return Network(Program(spec, commands, memory), records, readout,
                   lambda: qgraph.run(inputs).reshape(len(inputs), -1), len(inputs), info)
