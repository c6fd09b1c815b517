"""Post-training int8 quantization: a float :class:`~accel.nn.graph.Graph` to a :class:`~accel.nn.qgraph.QGraph`.

Follows TFLite's int8 quantization spec and Jacob et al., "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference" (CVPR 2018):

- weights: symmetric per output channel, int8 in [-127, 127], ``scale[k] = max|w_k| / 127``;
- activations: asymmetric per tensor, the range observed on calibration data widened to include 0, the
  zero point nudged to an integer (:func:`choose_qparams`);
- biases: int32 with scale ``input_scale · weight_scale[k]``;
- requantization: :meth:`accel.int8.Requant.from_scales` (Q31 multiplier and shift), ADD by
  :meth:`accel.int8.AddRequant.from_params`.

BatchNorm is folded first (:func:`accel.nn.passes.fold_batchnorm`). A ReLU or ReLU6 that is the only
consumer of a Conv2d, Dense or Add becomes that operation's int8 clamp; its tensor's range is the one after
the activation. A Concat is a copy: its inputs and output share one scale and zero point, those of the union
of their calibrated ranges (so an input must be computed by a Conv2d, Dense, Add or Concat, whose output
quantization the quantizer chooses). Max/average pools and Flatten keep their input's scale and zero point;
GlobalAvgPool is an average pool over the whole H×W. Softmax and ArgMax at the end of the graph are not quantized: the QGraph
stops at the logits (argmax of int8 logits is argmax of their dequantized values, the scale being positive).
Anything else is a :class:`UserError` naming the layer.

:func:`int8_report` is the ``int8`` step of ``accel compress MODEL --quantize int8``.
"""

import numpy as np

from ..errors import UserError
from ..fixedpoint import INT32_MAX, INT32_MIN
from ..int8 import AddRequant, QuantParams, Requant, round_half_away
from ..nn import digits
from ..nn.graph import INPUT, Graph, Node
from ..nn.layers import (Add, ArgMax, AvgPool2d, Concat, Conv2d, Dense, Flatten, GlobalAvgPool, MaxPool2d, ReLU,
                         ReLU6, Softmax)
from ..nn.models import inputs, model
from ..nn.passes import fold_batchnorm
from ..nn.qgraph import QAdd, QConcat, QConv, QDense, QFlatten, QGraph, QPool
from .report import LayerSize, Report, Step

METHODS = ("minmax", "percentile")
BIAS_LIMIT = 2**30
"""int32 biases stay below this in magnitude, so the bias folded with the input zero point (x_zp · Σw, at
most 128 · 127 · 65,536 < 2**30 over the largest reduction the engines allow) still fits int32."""
ACTIVATION_NAMES = {ReLU: "relu", ReLU6: "relu6"}


def choose_qparams(lo: float, hi: float) -> QuantParams:
    """int8 scale and zero point for real values in [lo, hi], widened to include 0 so that 0 is exact.

    TFLite's ChooseQuantizationParams (gemmlowp's doc/quantization_example.cc): ``scale = (hi − lo) / 255``;
    of the zero points that map ``lo`` to −128 and ``hi`` to 127, take the one with the smaller rounding
    error and round it (half away from zero) — the "nudge". An empty range (all zeros) gets scale 1.
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi == lo:
        return QuantParams(1.0, 0)
    scale = (hi - lo) / 255
    from_min, from_max = -128 - lo / scale, 127 - hi / scale
    zero_point = from_min if 128 + abs(lo / scale) < 127 + abs(hi / scale) else from_max
    return QuantParams(scale, int(np.clip(round_half_away(zero_point), -128, 127)))


def quantize_weights(weight: np.ndarray, min_scales: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 weights in [-127, 127] and their scales ``max|w_k| / 127``
    (an all-zero channel gets scale 1), raised to ``min_scales`` where given."""
    peak = np.abs(weight).reshape(weight.shape[0], -1).max(axis=1).astype(np.float64)
    scales = np.where(peak > 0, peak / 127, 1.0)
    if min_scales is not None:
        scales = np.maximum(scales, min_scales)
    q = np.clip(np.round(weight / scales.reshape(-1, *[1] * (weight.ndim - 1))), -127, 127)
    return q.astype(np.int8), scales


def quantize_bias(bias: np.ndarray | None, input_scale: float, weight_scales: np.ndarray) -> np.ndarray:
    """int32 biases with scale ``input_scale · weight_scale[k]`` (zeros when the layer has none)."""
    if bias is None:
        return np.zeros(len(weight_scales), dtype=np.int32)
    return np.clip(np.round(bias / (input_scale * weight_scales)), INT32_MIN, INT32_MAX).astype(np.int32)


def calibration_range(x: np.ndarray, method: str = "minmax", percentile: float = 99.99) -> tuple[float, float]:
    """The real range of a tensor over calibration data.

    ``"minmax"``: its minimum and maximum. ``"percentile"``: its ``(100 − percentile)``-th and
    ``percentile``-th percentiles (99.99 by default), which ignores rare outliers on both sides.
    """
    if method == "minmax":
        return float(x.min()), float(x.max())
    return float(np.percentile(x, 100 - percentile)), float(np.percentile(x, percentile))


def quantize(graph: Graph, calibration: np.ndarray, method: str = "minmax", percentile: float = 99.99) -> QGraph:
    """The int8 :class:`QGraph` of float ``graph``, activation ranges calibrated on the batch ``calibration``
    (N, *input shape) with ``method`` (see :func:`calibration_range`)."""
    if method not in METHODS:
        raise UserError(f"quantize: method '{method}' is not one of {', '.join(METHODS)}")
    if not 50 < percentile <= 100:
        raise UserError(f"quantize: percentile {percentile} must be in (50, 100]")
    graph, calibration = fold_batchnorm(graph), np.asarray(calibration)
    graph.run(calibration[:1])  # the input shape and parameters are checked there
    layers = graph.layers()
    while layers and isinstance(layers[-1].op, (Softmax, ArgMax)):
        layers.pop()
    consumers: dict[str, list[Node]] = {}
    for node in layers:
        for source in node.inputs:
            consumers.setdefault(source, []).append(node)

    values = {INPUT: calibration.astype(np.float64)}
    for node in layers:
        values[node.name] = node.op.forward([values[s] for s in node.inputs], node.params)
    ranges = _shared_ranges(layers, {name: calibration_range(value, method, percentile)
                                     for name, value in values.items()})
    tensors = {INPUT: choose_qparams(*ranges[INPUT])}
    alias: dict[str, str] = {}  # a fused activation's name -> the operation it is fused into
    ops = []
    for node in layers:
        if node.name in alias:
            continue  # computed and calibrated with the operation it is fused into
        inputs = [alias.get(s, s) for s in node.inputs]
        if isinstance(node.op, Concat):
            ops.append(QConcat(node.name, tuple(inputs)))
            tensors[node.name] = choose_qparams(*ranges[node.name])
            for source, given in zip(node.inputs, inputs):
                if tensors[given] != tensors[node.name]:
                    raise UserError(f"layer '{node.name}' (Concat): input '{source}' keeps the quantization of its "
                                    f"own input; expected inputs computed by Conv2d, Dense, Add or Concat")
            continue
        if not isinstance(node.op, (Conv2d, Dense, Add)):
            ops.append(_pass_through_op(graph, node, inputs))
            tensors[node.name] = tensors[inputs[0]]
            continue
        activation, output = "none", node.name
        followers = consumers.get(node.name, [])
        if len(followers) == 1 and type(followers[0].op) in ACTIVATION_NAMES:
            activation, output = ACTIVATION_NAMES[type(followers[0].op)], followers[0].name
            alias[output] = node.name
        tensors[node.name] = choose_qparams(*ranges[output])
        ops.append(_arithmetic_op(node, [tensors[s] for s in inputs], inputs, tensors[node.name], activation))
    if not ops:
        raise UserError(f"graph '{graph.name}': nothing to quantize (no layer before its Softmax/ArgMax)")
    return QGraph(graph.name, graph.nodes[INPUT].shape, tensors, ops)


def _shared_ranges(layers: list[Node], ranges: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """``ranges`` with each Concat's inputs and output (transitively, through nested concats) given the
    union of their ranges: the one quantization they share."""
    group = {name: {name} for name in ranges}
    for node in layers:
        if isinstance(node.op, Concat):
            members = set().union(*(group[name] for name in [*node.inputs, node.name]))
            for name in members:
                group[name] = members
    return {name: (min(ranges[m][0] for m in members), max(ranges[m][1] for m in members))
            for name, members in group.items()}


def _arithmetic_op(node: Node, qin: list[QuantParams], inputs: list[str], out: QuantParams, activation: str):
    """The QConv, QDense or QAdd of ``node`` reading ``inputs`` quantized as ``qin``."""
    op = node.op
    if isinstance(op, Add):
        return QAdd(node.name, *inputs, AddRequant.from_params(*qin, out, activation))
    if isinstance(op, Conv2d) and op.dilation != (1, 1):
        raise UserError(f"layer '{node.name}' (Conv2d): dilation {op.dilation} cannot be quantized; allowed is (1, 1)")
    # A channel whose weights are tiny next to its bias (most of them pruned) gets a coarser weight scale, so
    # that its bias stays within BIAS_LIMIT.
    bias = node.params.get("bias")
    least = None if bias is None else np.abs(bias) / (qin[0].scale * BIAS_LIMIT)
    weight, scales = quantize_weights(node.params["weight"], least)
    bias = quantize_bias(bias, qin[0].scale, scales)
    requant = Requant.from_scales(qin[0].scale, scales, out, activation)
    if isinstance(op, Dense):
        return QDense(node.name, inputs[0], weight, bias, requant)
    return QConv(node.name, inputs[0], weight, bias, requant, op.stride, op.padding, op.groups)


def _pass_through_op(graph: Graph, node: Node, inputs: list[str]):
    """The QPool or QFlatten of ``node``: no arithmetic on the scale, output quantized as its input."""
    op = node.op
    if isinstance(op, (MaxPool2d, AvgPool2d)):
        kind = "max" if isinstance(op, MaxPool2d) else "avg"
        return QPool(node.name, inputs[0], kind, op.kernel, op.stride, op.padding)
    if isinstance(op, GlobalAvgPool):
        window = graph.nodes[node.inputs[0]].shape[1:]
        return QPool(node.name, inputs[0], "avg", window, window)
    if isinstance(op, Flatten):
        return QFlatten(node.name, inputs[0])
    raise UserError(f"layer '{node.name}' ({type(op).__name__}) cannot be quantized; allowed are Conv2d, Dense, Add, "
                    f"a ReLU/ReLU6 as the only consumer of one of them, MaxPool2d, AvgPool2d, GlobalAvgPool, "
                    f"Flatten, Concat, and Softmax/ArgMax at the end")


def int8_report(name: str, seed: int = 0, method: str = "minmax") -> Report:
    """The compression report (:mod:`accel.compress.report`) of trained digits model ``name``: the float step
    and the ``int8`` step — quantized with ``method``, calibrated on the training images, its accuracy that of
    integer-only inference (:meth:`QGraph.run`) on the test images, 8 bits per weight."""
    graph = model(name, seed)
    train, test = digits.load()
    qgraph = quantize(graph, inputs(graph, train), method)
    x = inputs(graph, test)
    weighted = [node for node in graph.layers() if isinstance(node.op, (Conv2d, Dense))]
    quantized = {op.name: op.weight for op in qgraph.ops if isinstance(op, (QConv, QDense))}

    def sizes(weights: dict[str, np.ndarray], bits: int) -> list[LayerSize]:
        return [LayerSize(node.name, type(node.op).__name__, weights[node.name].shape, weights[node.name].size,
                          int(np.count_nonzero(weights[node.name])), bits * weights[node.name].size)
                for node in weighted]

    steps = [Step("float", digits.accuracy(graph.run(x), test.labels),
                  sizes({node.name: node.params["weight"] for node in weighted}, 32)),
             Step("int8", digits.accuracy(qgraph.run(qgraph.quantize_input(x)), test.labels), sizes(quantized, 8))]
    return Report(name, seed, sum(node.params["bias"].size for node in weighted if node.op.bias), steps)
