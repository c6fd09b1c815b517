"""ONNX import: float models to a :class:`~accel.nn.graph.Graph`, int8 models to a :class:`~accel.nn.qgraph.QGraph`.

::

    g = import_float("mlp.onnx")            # Conv, Gemm, MatMul(+Add), pools, Add, BatchNorm, ... → Graph
    qg = import_quantized("mlp.int8.onnx")  # onnxruntime's quantize_static output, QDQ or QOperator → QGraph

Both read an ONNX file (or a ``ModelProto``) with one float input whose first dimension is the batch
(left free). Layer parameters keep ONNX's layout, which the IR uses. Each node's attributes are read by one
function per operator, shared by the two importers; what the IR cannot express (asymmetric pads,
``count_include_pad=1``, ``alpha != 1`` …) is a :class:`UserError` naming the node (name and operator), as is
an unsupported operator and a node that breaks its operator's contract (a missing input, weight, output or
attribute, a Constant without exactly one value, shapes that do not fit).

int8 models come in two formats. QDQ: float operators between ``DequantizeLinear`` (of an int8 tensor or of
an int8/int32 initializer) and ``QuantizeLinear`` (of their output). QOperator: ``QLinearConv``,
``QLinearMatMul`` and com.microsoft's ``QGemm``, ``QLinearAdd``, ``QLinearAveragePool`` and
``QLinearGlobalAveragePool``, with ``MaxPool``/``Flatten``/``Reshape`` applied to int8 tensors directly. Both
map to the same QGraph:

- weights: int8, symmetric (zero point 0), one scale per output channel or one per tensor;
- biases: int32 with scale ``input_scale · weight_scale[k]`` as onnxruntime writes them (checked). A float
  bias (QDQ) is quantized as onnxruntime's quantizer does it: ``round(bias / (input_scale · weight_scale))``
  in float64, the scale product in float32, rounding half to even (numpy's ``round``), clipped to int32;
- a ReLU that onnxruntime removed needs nothing: it calibrated the output range to ``[0, max]``, so the zero
  point is -128 and int8 saturation is the ReLU. A Relu/Clip that stays (QDQ) with its input's scale and zero
  point becomes the clamp of the operation before it;
- average pooling that keeps its input's scale is a :class:`QPool`; one that rescales (QOperator's
  QLinearAveragePool, any GlobalAveragePool) is, without padding, the depthwise :class:`QConv` it equals
  (see :data:`_ONE`).

A MatMul followed by an Add of a constant bias quantizes, unfused, to two requantizations that a QGraph
cannot express; onnxruntime's ``quant_pre_process`` fuses them into a Gemm before quantization.

onnxruntime requantizes in float and rounds half to even, :mod:`accel.int8` in fixed point as TFLite: each
imported operation agrees with onnxruntime's within 1 LSB on the same int8 inputs (tests/accel/nn/test_onnx.py).
"""

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ..errors import UserError
from ..int8 import AddRequant, QuantParams, Requant, activation_range
from .graph import INPUT, Graph
from .layers import (Add, ArgMax, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Layer, MaxPool2d,
                     ReLU, ReLU6, Softmax)
from .qgraph import QAdd, QConv, QDense, QFlatten, QGraph, QPool


def _name(node: onnx.NodeProto) -> str:
    """The node's name, else its first output's."""
    return node.name or next(iter(node.output), "")


def _fail(node: onnx.NodeProto, message: str) -> UserError:
    return UserError(f"onnx: node '{_name(node)}' ({node.op_type}): {message}")


def _unsupported(node: onnx.NodeProto, supported, kind: str = "") -> UserError:
    return UserError(f"onnx: operator '{node.op_type}' (node '{_name(node)}') is not supported{kind}; "
                     f"supported: {', '.join(sorted(supported))}")


@contextmanager
def _reading(node: onnx.NodeProto):
    """Check that ``node`` has an output, and name it in the :class:`UserError` s raised while it is read (a
    layer's own errors, about its shapes, know the layer but not the ONNX node)."""
    if not node.output or not node.output[0]:
        raise _fail(node, "has no output; allowed: one output tensor")
    try:
        yield
    except UserError as error:
        if str(error).startswith("onnx: "):
            raise
        raise _fail(node, str(error)) from None


def _inputs(node: onnx.NodeProto, count: int) -> list[str]:
    """The names of ``node``'s first ``count`` inputs, which must be given."""
    for index in range(count):
        if index >= len(node.input) or not node.input[index]:
            raise _fail(node, f"input {index} is missing; allowed: {count} input(s)")
    return list(node.input[:count])


_CONSTANT_VALUES = ("value", "value_float", "value_floats", "value_int", "value_ints")


def read_model(path_or_model) -> onnx.ModelProto:
    """The ONNX model at ``path_or_model`` (a path, or an ``onnx.ModelProto`` returned as it is); a
    :class:`UserError` if the file cannot be read, is not ONNX or holds no graph."""
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    try:
        model = onnx.load(path_or_model)
    except OSError as error:
        raise UserError(f"onnx: cannot read model file '{path_or_model}' ({error.strerror})") from None
    except DecodeError:
        raise UserError(f"onnx: model file '{path_or_model}' is not an ONNX model") from None
    if not model.graph.node:
        raise UserError(f"onnx: model file '{path_or_model}' holds no graph")
    return model


INT8_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QLinearAdd", "QGemm",
                      "QLinearAveragePool", "QLinearGlobalAveragePool"})
"""Operators that make a model an int8 one (:func:`import_quantized`; any other: :func:`import_float`)."""


def is_quantized(model: onnx.ModelProto) -> bool:
    """Whether ``model`` is an int8 model (QDQ or QOperator)."""
    return any(node.op_type in INT8_OPS for node in model.graph.node)


class _Model:
    """A loaded ONNX graph: constants (initializers and Constant nodes), readers of each tensor, attributes."""

    def __init__(self, path_or_model):
        model = read_model(path_or_model)
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.constants = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        self.readers = defaultdict(list)
        for node in self.graph.node:
            for name in node.input:
                self.readers[name].append(node)

    def input(self) -> tuple[str, tuple[int, ...]]:
        """The one non-constant graph input and its shape without the batch dimension."""
        inputs = [v for v in self.graph.input if v.name not in self.constants]
        if len(inputs) != 1:
            raise UserError(f"onnx: the model has {len(inputs)} inputs {[v.name for v in inputs]}; allowed: one")
        dims = inputs[0].type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims[1:])
        if not dims or None in shape or 0 in shape:
            raise UserError(f"onnx: input '{inputs[0].name}' has shape "
                            f"{['N', *(d.dim_param or d.dim_value for d in dims[1:])]}; allowed: a free batch "
                            f"dimension followed by fixed sizes")
        return inputs[0].name, shape

    def output(self) -> str:
        if len(self.graph.output) != 1:
            raise UserError(f"onnx: the model has {len(self.graph.output)} outputs; allowed: one")
        return self.graph.output[0].name

    def constant(self, node: onnx.NodeProto) -> None:
        """Keep the value of a Constant node with the initializers."""
        names = sorted(a.name for a in node.attribute)
        allowed = f"allowed: one of {', '.join(_CONSTANT_VALUES)}"
        if len(names) != 1:
            raise _fail(node, f"has {len(names)} value attributes ({', '.join(names)}); {allowed}" if names else
                        f"has no value attribute; {allowed}")
        if names[0] not in _CONSTANT_VALUES:
            raise _fail(node, f"value attribute '{names[0]}' is not supported; {allowed}")
        (attribute,) = node.attribute
        value = onnx.helper.get_attribute_value(attribute)
        self.constants[node.output[0]] = numpy_helper.to_array(value) if attribute.name == "value" else np.array(value)

    def const(self, node: onnx.NodeProto, index: int, what: str, required: bool = False) -> np.ndarray | None:
        """Input ``index`` of ``node``, which must be a constant (None when absent and not ``required``)."""
        if index >= len(node.input) or not node.input[index]:
            if required:
                raise _fail(node, f"{what} (input {index}) is missing; allowed: a constant (an initializer)")
            return None
        if node.input[index] not in self.constants:
            raise _fail(node, f"{what} '{node.input[index]}' must be a constant (an initializer)")
        return self.constants[node.input[index]]


def _few(values) -> str:
    """The first values of an array, on one line."""
    flat = np.asarray(values).reshape(-1)
    return "[" + ", ".join(f"{v:.6g}" for v in flat[:4]) + (", …]" if flat.size > 4 else "]")


def _positive(node: onnx.NodeProto, what: str, scales: np.ndarray) -> None:
    """A :class:`UserError` unless every one of ``scales`` is a finite number above 0."""
    scales = np.asarray(scales, np.float64)
    if not np.all(np.isfinite(scales) & (scales > 0)):
        raise _fail(node, f"{what} {_few(scales)} is not allowed; allowed: finite numbers > 0")


def _attrs(node: onnx.NodeProto) -> dict:
    """The node's attributes by name; one of another type than the operator's ONNX schema gives it is a
    :class:`UserError` (operators without a schema in onnx, com.microsoft's, are taken as they are)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, node.domain).attributes
    except onnx.defs.SchemaError:
        schema = {}
    for a in node.attribute:
        if a.name in schema and a.type != schema[a.name].type:
            kind = onnx.AttributeProto.AttributeType.Name
            raise _fail(node, f"attribute '{a.name}' is of type {kind(a.type)}; allowed: {kind(schema[a.name].type)}")
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# ---- Attributes → layers: one parser per operator, shared by both importers ----

def _pair(node, attrs, key: str) -> tuple[int, int]:
    """The 2-D attribute ``key`` (strides, dilations), (1, 1) when absent."""
    value = list(attrs.get(key, (1, 1)))
    if len(value) != 2:
        raise _fail(node, f"{key} {value} are not supported; allowed: 2 values (a 2-D operation)")
    return tuple(value)


def _padding(node, attrs) -> tuple[int, int]:
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad not in ("NOTSET", "VALID"):
        raise _fail(node, f"auto_pad '{auto_pad}' is not supported; allowed: NOTSET with explicit pads, VALID")
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(pads) != 4 or pads[:2] != pads[2:]:
        raise _fail(node, f"pads {pads} are not supported; allowed: symmetric 2-D pads [top, left, top, left]")
    return pads[0], pads[1]


def _conv(node, attrs, weight_shape, bias: bool) -> Conv2d:
    if len(weight_shape) != 4:
        raise _fail(node, f"weight shape {tuple(weight_shape)} is not supported; allowed: 2-D convolutions "
                          f"(K, C/groups, R, S)")
    kernel = tuple(weight_shape[2:])
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != kernel:
        raise _fail(node, f"kernel_shape {list(attrs['kernel_shape'])} is not the weight's {kernel}")
    return Conv2d(weight_shape[0], kernel=kernel, stride=_pair(node, attrs, "strides"), padding=_padding(node, attrs),
                  dilation=_pair(node, attrs, "dilations"), groups=attrs.get("group", 1), bias=bias)


def _dense_weight(node, attrs, weight: np.ndarray) -> np.ndarray:
    """The constant operand B of a Gemm or MatMul as the Dense weight ``(out, in)``."""
    if weight.ndim != 2:
        raise _fail(node, f"weight shape {weight.shape} is not supported; allowed: a 2-D matrix")
    if node.op_type not in ("Gemm", "QGemm"):
        return weight.T
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise _fail(node, f"transA={attrs.get('transA', 0)}, alpha={attrs.get('alpha', 1.0)}, "
                          f"beta={attrs.get('beta', 1.0)} are not supported; allowed: 0, 1, 1")
    return weight if attrs.get("transB", 0) else weight.T


def _pool(m, node, attrs, in_shape) -> MaxPool2d | AvgPool2d:
    if "kernel_shape" not in attrs:
        raise _fail(node, "kernel_shape is missing; allowed: 2 sizes (a 2-D window)")
    kernel = tuple(attrs["kernel_shape"])
    if len(kernel) != 2 or attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", (1, 1))):
        raise _fail(node, f"kernel {kernel}, ceil_mode {attrs.get('ceil_mode', 0)}, dilations "
                          f"{attrs.get('dilations', [1, 1])} are not supported; allowed: 2-D, 0, 1")
    if attrs.get("count_include_pad", 0):
        raise _fail(node, "count_include_pad 1 is not supported; allowed: 0 (padding is not averaged)")
    if attrs.get("channels_last", 0):
        raise _fail(node, "channels_last 1 is not supported; allowed: 0 (NCHW)")
    kind = MaxPool2d if node.op_type == "MaxPool" else AvgPool2d
    return kind(kernel, _pair(node, attrs, "strides"), _padding(node, attrs))


def _clip(m, node, attrs, in_shape) -> ReLU6:
    if m.opset < 11:
        low, high = attrs.get("min"), attrs.get("max")
    else:
        low, high = (m.const(node, i, "bound") for i in (1, 2))
    if low is None or high is None or (float(low), float(high)) != (0.0, 6.0):
        raise _fail(node, f"Clip({low}, {high}) is not supported; allowed: Clip(0, 6), i.e. ReLU6")
    return ReLU6()


def _flatten(m, node, attrs, in_shape) -> Flatten:
    if attrs.get("axis", 1) != 1:
        raise _fail(node, f"axis {attrs['axis']} is not supported; allowed: 1")
    return Flatten()


def _reshape(m, node, attrs, in_shape) -> Flatten:
    """A Reshape to ``(N, C·H·W)`` is a Flatten."""
    shape = m.const(node, 1, "shape", required=True)
    target = shape.reshape(-1).tolist()
    features = int(np.prod(in_shape))
    if shape.dtype.kind not in "iu" or len(target) != 2 or target[1] not in (features, -1) or \
            (target[1] == -1 and target[0] != 0):
        raise _fail(node, f"shape {target} is not supported; allowed: a flatten to (N, {features}), "
                          f"e.g. [-1, {features}] or [0, -1]")
    return Flatten()


def _feature_axis(node, attrs, default: int) -> None:
    if attrs.get("axis", default) not in (1, -1):
        raise _fail(node, f"axis {attrs.get('axis', default)} is not supported; allowed: 1 (the feature axis)")


def _softmax(m, node, attrs, in_shape) -> Softmax:
    _feature_axis(node, attrs, 1 if m.opset < 13 else -1)
    return Softmax()


def _argmax(m, node, attrs, in_shape) -> ArgMax:
    """Indices ``(N,)`` whatever ``keepdims``."""
    _feature_axis(node, attrs, 0)
    if attrs.get("select_last_index", 0):
        raise _fail(node, "select_last_index 1 is not supported; allowed: 0")
    return ArgMax()


_LAYERS = {  # operators without parameters: (model, node, attributes, input shape) → layer
    "ArgMax": _argmax, "AveragePool": _pool, "Clip": _clip, "Flatten": _flatten,
    "GlobalAveragePool": lambda *_: GlobalAvgPool(), "MaxPool": _pool, "Relu": lambda *_: ReLU(),
    "Reshape": _reshape, "Softmax": _softmax,
}


# ---- Float models ----

FLOAT_OPS = ("Add", "BatchNormalization", "Constant", "Conv", "Gemm", "MatMul", *_LAYERS)


def import_float(path_or_model) -> Graph:
    """The float ONNX model at ``path_or_model`` (a path or ``onnx.ModelProto``) as a :class:`Graph`."""
    m = _Model(path_or_model)
    source, shape = m.input()
    g = Graph(m.graph.name or "onnx", shape)
    names = {source: INPUT}  # ONNX tensor → graph node
    fused = set()  # Adds folded into the MatMul before them as its bias
    for node in m.graph.node:
        with _reading(node):
            if node.op_type == "Constant":
                m.constant(node)
                continue
            if node.op_type not in FLOAT_OPS:
                raise _unsupported(node, FLOAT_OPS)
            if _name(node) in fused:
                continue
            inputs = _float_inputs(m, node, names)
            layer, params = _float_layer(m, node, g.nodes[inputs[0]].shape)
            names[node.output[0]] = g.add(_name(node), layer, inputs, **params)
            if node.op_type == "MatMul" and layer.bias:
                (add,) = m.readers[node.output[0]]
                fused.add(_name(add))
                names[add.output[0]] = names[node.output[0]]
    if names.get(m.output()) != g.output:
        raise UserError(f"onnx: the model output '{m.output()}' is not the output of its last supported node")
    return g


def _float_inputs(m: _Model, node, names: dict[str, str]) -> list[str]:
    """The graph nodes that ``node`` reads (its tensor inputs; the others must be constants)."""
    inputs = _inputs(node, 2 if node.op_type == "Add" else 1)
    for name in inputs:
        if name in m.constants and node.op_type == "Add":
            raise _fail(node, f"adding constant '{name}' is not supported; allowed: a residual Add of two tensors, "
                              f"or the bias of the MatMul before it")
        if name not in names:
            raise _fail(node, f"input '{name}' is not the model input or a supported operator's output")
    return [names[name] for name in inputs]


def _float_layer(m: _Model, node, in_shape) -> tuple[Layer, dict[str, np.ndarray]]:
    """The layer of float node ``node`` and its parameters."""
    attrs, op = _attrs(node), node.op_type
    if op == "Conv":
        weight, bias = m.const(node, 1, "weight", required=True), m.const(node, 2, "bias")
        return _conv(node, attrs, weight.shape, bias is not None), _present(weight=weight, bias=bias)
    if op in ("Gemm", "MatMul"):
        weight = _dense_weight(node, attrs, m.const(node, 1, "weight", required=True))
        bias = m.const(node, 2, "bias") if op == "Gemm" else _matmul_bias(m, node)
        if bias is not None and bias.size != weight.shape[0]:
            raise _fail(node, f"bias shape {bias.shape} is not supported; allowed: ({weight.shape[0]},)")
        return (Dense(weight.shape[0], bias=bias is not None),
                _present(weight=weight, bias=None if bias is None else bias.reshape(-1)))
    if op == "Add":
        return Add(), {}
    if op == "BatchNormalization":
        if attrs.get("training_mode", 0):
            raise _fail(node, "training_mode 1 is not supported; allowed: 0 (inference)")
        values = [m.const(node, i, what, required=True)
                  for i, what in enumerate(("scale", "bias", "mean", "variance"), 1)]
        return BatchNorm(attrs.get("epsilon", 1e-5)), dict(zip(("gamma", "beta", "mean", "var"), values))
    return _LAYERS[op](m, node, attrs, in_shape), {}


def _present(**params) -> dict[str, np.ndarray]:
    return {key: value for key, value in params.items() if value is not None}


def _matmul_bias(m: _Model, node) -> np.ndarray | None:
    """The constant that the only reader of a MatMul's output adds to it (its bias), if it is an Add."""
    readers = m.readers[node.output[0]]
    if len(readers) != 1 or readers[0].op_type != "Add" or node.output[0] == m.output():
        return None
    add = readers[0]
    return m.constants.get(add.input[1] if add.input[0] == node.output[0] else add.input[0])


# ---- int8 models ----

_QLINEAR = {  # operator → (float operator, (value, scale, zero point) input indices, output scale/zp, bias)
    "QLinearConv": ("Conv", ((0, 1, 2), (3, 4, 5)), (6, 7), 8),
    "QLinearMatMul": ("MatMul", ((0, 1, 2), (3, 4, 5)), (6, 7), None),
    "QGemm": ("Gemm", ((0, 1, 2), (3, 4, 5)), (7, 8), 6),
    "QLinearAdd": ("Add", ((0, 1, 2), (3, 4, 5)), (6, 7), None),
    "QLinearAveragePool": ("AveragePool", ((0, 1, 2),), (3, 4), None),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", ((0, 1, 2),), (3, 4), None),
}
_QDQ = ("Add", "AveragePool", "Clip", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "MatMul", "MaxPool", "Relu",
        "Reshape")
_INT8 = ("MaxPool", "Flatten", "Reshape")  # applied to int8 tensors directly (QOperator format)
QUANTIZED_OPS = (*_QLINEAR, *_QDQ, "Constant", "DequantizeLinear", "QuantizeLinear")


@dataclass(frozen=True)
class _QConst:
    """A quantized constant: integer values with scale and zero point (per tensor, or per index along axis)."""

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None  # None: implied by the operator (QOperator)


_Operand = str | _QConst | np.ndarray | None  # a QGraph tensor, a quantized constant, a plain constant, absent

_ONE = 64
"""The int8 weight of an average as a depthwise QConv, with scale ``1 / (64 · window)``: 64 rather than 1 moves
the requantization's right shift up by 6 bits, so the double rounding of its fixed-point multiply (TFLite's
MultiplyByQuantizedMultiplier) errs by at most 2**-7 LSB instead of up to 1/2 (measured against onnxruntime's
float QLinearAveragePool: 23 % of outputs 1 LSB off with weight 1, none with 64)."""


def import_quantized(path_or_model) -> QGraph:
    """The int8 ONNX model at ``path_or_model`` (QDQ or QOperator, as onnxruntime's ``quantize_static`` writes
    them with int8 activations and weights) as a :class:`QGraph`."""
    return _QuantizedImporter(_Model(path_or_model)).run()


class _QuantizedImporter:
    def __init__(self, m: _Model):
        self.m = m
        self.source, shape = m.input()
        self.qg = QGraph(m.graph.name or "onnx", shape, {})
        self.names: dict[str, str] = {}  # ONNX int8 tensor, or DequantizeLinear output of one → QGraph tensor
        self.floats: set[str] = set()  # the DequantizeLinear outputs among them
        self.qconsts: dict[str, _QConst] = {}  # DequantizeLinear outputs of initializers
        self.shapes = {INPUT: shape}

    def run(self) -> QGraph:
        for node in self.m.graph.node:
            with _reading(node):
                if node.op_type == "Constant":
                    self.m.constant(node)
                elif node.op_type == "QuantizeLinear":
                    self._quantize(node)
                elif node.op_type == "DequantizeLinear":
                    self._dequantize(node)
                elif node.op_type in _QLINEAR or node.op_type in _QDQ:
                    self._operator(node)
                else:
                    raise _unsupported(node, QUANTIZED_OPS, " in int8 models")
        output = self.m.output()
        if not self.qg.ops or self.names.get(output) != self.qg.output:
            raise UserError(f"onnx: the model output '{output}' is not the int8 output of its last supported node")
        return self.qg

    # -- tensors

    def _params(self, node, scale: int, zero_point: int) -> QuantParams:
        """The per-tensor int8 quantization of an activation given by inputs ``scale`` and ``zero_point``."""
        s, zp = self.m.const(node, scale, "scale", required=True), self.m.const(node, zero_point, "zero point")
        if zp is None or zp.dtype != np.int8 or s.size != 1 or zp.size != 1:
            raise _fail(node, f"activations {'uint8' if zp is None else zp.dtype} with {s.size} scale(s) and "
                              f"{1 if zp is None else zp.size} zero point(s) are not supported; allowed: int8 "
                              f"(QuantType.QInt8), one scale and zero point per tensor")
        _positive(node, "scale", s)
        return QuantParams(float(s.reshape(())), int(zp.reshape(())))

    def _quantize(self, node) -> None:
        (x,) = _inputs(node, 1)
        if node.output[0] in self.names:  # an operator's output quantization, taken when it was built
            return
        if x in self.m.constants:
            raise _fail(node, f"quantizing constant '{x}' is not supported; allowed: constants stored quantized "
                              f"(onnxruntime's quantize_static without AddQDQPairToWeight)")
        if x != self.source:
            raise _fail(node, f"quantizing '{x}' is not supported; allowed: the model input, and the output of a "
                              f"supported operator")
        params = self._params(node, 1, 2)
        if self.qg.tensors.setdefault(INPUT, params) != params:
            raise _fail(node, f"the model input is quantized as {params} here, as {self.qg.tensors[INPUT]} before")
        self.names[node.output[0]] = INPUT

    def _dequantize(self, node) -> None:
        (x,), y = _inputs(node, 1), node.output[0]
        if x in self.names:
            self.names[y] = self.names[x]
            self.floats.add(y)
        elif x in self.m.constants:
            zero_point = self.m.const(node, 2, "zero point")
            self.qconsts[y] = _QConst(self.m.constants[x], self.m.const(node, 1, "scale", required=True),
                                      np.zeros(1, np.int8) if zero_point is None else zero_point,
                                      _attrs(node).get("axis", 1))
        else:
            raise _fail(node, f"input '{x}' is neither a quantized tensor nor a constant")

    def _operand(self, node, index: int) -> _Operand:
        name = node.input[index]
        for table in (self.names, self.qconsts, self.m.constants):
            if name in table:
                return table[name]
        if name:
            raise _fail(node, f"input '{name}' is neither a quantized tensor nor a constant")
        return None

    def _qlinear_operands(self, node) -> list[_Operand]:
        """The operands of a QOperator-format operator, their quantization checked against their writers'."""
        _, inputs, _, bias = _QLINEAR[node.op_type]
        operands = []
        for value, scale, zero_point in inputs:
            name = _inputs(node, value + 1)[value]
            if name in self.names:
                params, written = self._params(node, scale, zero_point), self.qg.tensors[self.names[name]]
                if params != written:
                    raise _fail(node, f"input '{name}' is read as {params} but was written as {written}")
                operands.append(self.names[name])
            else:
                operands.append(_QConst(*(self.m.const(node, i, what, required=True) for i, what in
                                          ((value, "operand"), (scale, "scale"), (zero_point, "zero point"))), None))
        return operands + ([self.m.const(node, bias, "bias")] if bias is not None else [])

    def _output(self, node) -> tuple[QuantParams, list[str]]:
        """The quantization of ``node``'s output and the int8 tensors that hold it."""
        if node.op_type in _QLINEAR:
            _, _, (scale, zero_point), _ = _QLINEAR[node.op_type]
            if len(node.input) <= zero_point:
                raise _fail(node, "a float output is not supported; allowed: int8 (output scale and zero point)")
            return self._params(node, scale, zero_point), [node.output[0]]
        if node.input[0] not in self.floats:  # QOperator: an int8 operator keeps its input's quantization
            if node.op_type not in _INT8:
                raise _fail(node, f"applying it to int8 tensors is not supported; allowed: {', '.join(_INT8)}")
            return self.qg.tensors[self.names[node.input[0]]], [node.output[0]]
        readers = self.m.readers[node.output[0]]
        params = {self._params(r, 1, 2) for r in readers if r.op_type == "QuantizeLinear"}
        if len(params) != 1 or any(r.op_type != "QuantizeLinear" for r in readers):
            raise _fail(node, "its output is not quantized (alike) by the QuantizeLinear nodes reading it; allowed: "
                              "int8 operators only")
        return params.pop(), [r.output[0] for r in readers]

    # -- operators

    def _operator(self, node) -> None:
        qlinear = node.op_type in _QLINEAR
        op = _QLINEAR[node.op_type][0] if qlinear else node.op_type
        if not qlinear:
            _inputs(node, 2 if op in ("Add", "Conv", "Gemm", "MatMul") else 1)
        operands = self._qlinear_operands(node) if qlinear else [self._operand(node, i) for i in range(len(node.input))]
        tensors = operands[:2] if op == "Add" else operands[:1]
        if op == "Add" and any(isinstance(t, _QConst) for t in tensors):
            raise _fail(node, "adding a constant is not supported; allowed: a residual Add of two tensors (a MatMul's "
                              "bias: fuse MatMul and Add into a Gemm before quantizing, with onnxruntime's "
                              "quant_pre_process)")
        if not all(isinstance(t, str) for t in tensors):
            raise _fail(node, f"input '{node.input[0]}' is not a quantized tensor")
        out, outputs = self._output(node)
        x, name = operands[0], _name(node)
        if op in ("Relu", "Clip"):
            x = self._activation(node, x, _LAYERS[op](self.m, node, _attrs(node), None), out)
            self.names.update(dict.fromkeys(outputs, x))
            return
        layer, qop = self._layer(op, node, operands, out)
        in_shapes = [self.shapes[t] for t in tensors]
        shape = layer.out_shape(name, in_shapes)  # checks the layer (groups, kernel, stride) first
        expected = layer.param_shapes(in_shapes).get("weight")
        if expected is not None and expected != qop.weight.shape:
            raise _fail(node, f"weight shape {qop.weight.shape} does not fit input shape {in_shapes[0]}; "
                              f"expected {expected}")
        self.shapes[name] = shape
        self.qg.tensors[name] = out
        self.qg.ops.append(qop)
        self.names.update(dict.fromkeys(outputs, name))

    def _layer(self, op, node, operands, out: QuantParams) -> tuple[Layer, QConv | QDense | QAdd | QPool | QFlatten]:
        """The float layer (for shapes) and the int8 operation of ``node``."""
        attrs, name, x = _attrs(node), _name(node), operands[0]
        bias = operands[2] if len(operands) > 2 else None
        if op in ("Conv", "Gemm", "MatMul") and not isinstance(operands[1], _QConst):
            weight = node.input[_QLINEAR[node.op_type][1][1][0] if node.op_type in _QLINEAR else 1]
            raise _fail(node, f"weight '{weight}' is not supported; allowed: a quantized (int8) constant")
        if op == "Conv":
            layer = _conv(node, attrs, operands[1].values.shape, True)
            if layer.dilation != (1, 1):
                raise _fail(node, f"dilations {layer.dilation} are not supported in int8 models; allowed: 1")
            scales = self._weight_scales(node, operands[1], 0, layer.out_channels)
            return layer, QConv(name, x, operands[1].values, self._bias(node, bias, x, scales),
                                Requant.from_scales(self.qg.tensors[x].scale, scales, out), layer.stride,
                                layer.padding, layer.groups)
        if op in ("Gemm", "MatMul"):
            weight = _dense_weight(node, attrs, operands[1].values)
            axis = 0 if op == "Gemm" and attrs.get("transB", 0) else 1
            scales = self._weight_scales(node, operands[1], axis, weight.shape[0])
            return Dense(weight.shape[0]), QDense(name, x, weight, self._bias(node, bias, x, scales),
                                                  Requant.from_scales(self.qg.tensors[x].scale, scales, out))
        if op == "Add":
            a, b = self.qg.tensors[x], self.qg.tensors[operands[1]]
            return Add(), QAdd(name, x, operands[1], AddRequant.from_params(a, b, out))
        layer = _LAYERS[op](self.m, node, attrs, self.shapes[x])
        same = out == self.qg.tensors[x]
        if isinstance(layer, Flatten):
            if not same:
                raise _fail(node, f"output {out} is not supported; allowed: its input's {self.qg.tensors[x]}")
            return layer, QFlatten(name, x)
        return layer, self._pool(node, x, layer, same, out)

    def _weight_scales(self, node, w: _QConst, axis: int, channels: int) -> np.ndarray:
        """The per-output-channel scales of symmetric int8 weights ``w`` (``channels`` along ``axis``)."""
        if w.values.dtype != np.int8 or np.any(w.zero_point != 0) or w.scale.size not in (1, channels) or \
                (w.scale.size > 1 and w.axis is not None and w.axis % w.values.ndim != axis):
            raise _fail(node, f"weights {w.values.dtype} with zero points {_few(np.unique(w.zero_point))} and "
                              f"{w.scale.size} scale(s) along axis {w.axis} are not supported; allowed: int8, zero "
                              f"point 0, one scale or one per output channel ({channels} along axis {axis})")
        _positive(node, "weight scale", w.scale)
        return np.broadcast_to(w.scale.astype(np.float32).reshape(-1), (channels,))

    def _bias(self, node, bias: _Operand, x: str, weight_scales: np.ndarray) -> np.ndarray:
        """int32 bias with scale ``input_scale · weight_scale[k]`` (as onnxruntime quantizes a float one)."""
        scales = np.float32(self.qg.tensors[x].scale) * weight_scales
        if bias is None:
            return np.zeros(scales.size, np.int32)
        if isinstance(bias, _QConst):
            if bias.values.dtype != np.int32 or np.any(bias.zero_point != 0) or \
                    not np.allclose(bias.scale, scales, rtol=1e-6, atol=0):
                raise _fail(node, f"bias {bias.values.dtype} with scales {_few(bias.scale)} is not supported; "
                                  f"allowed: int32, zero point 0, scales input_scale·weight_scale {_few(scales)}")
            bias = bias.values
        if bias.size != scales.size:
            raise _fail(node, f"bias shape {bias.shape} is not supported; allowed: ({scales.size},)")
        if bias.dtype == np.int32:
            return bias.reshape(-1)
        quantized = np.round(bias.astype(np.float64).reshape(-1) / scales.astype(np.float64))
        return np.clip(quantized, np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(np.int32)

    def _pool(self, node, x: str, layer, same: bool, out: QuantParams) -> QPool | QConv:
        """Pooling that keeps its input's quantization, or an average that rescales as a depthwise QConv."""
        if isinstance(layer, GlobalAvgPool):
            layer = AvgPool2d(self.shapes[x][1:], self.shapes[x][1:])
        if same:
            kind = "max" if isinstance(layer, MaxPool2d) else "avg"
            return QPool(_name(node), x, kind, layer.kernel, layer.stride, layer.padding)
        if isinstance(layer, MaxPool2d) or layer.padding != (0, 0):
            raise _fail(node, f"output {out} is not supported; allowed: its input's {self.qg.tensors[x]}, or any "
                              f"for an average without padding")
        channels, window = self.shapes[x][0], layer.kernel[0] * layer.kernel[1]
        requant = Requant.from_scales(self.qg.tensors[x].scale, np.full(channels, 1 / (_ONE * window)), out)
        return QConv(_name(node), x, np.full((channels, 1, *layer.kernel), _ONE, np.int8),
                     np.zeros(channels, np.int32), requant, layer.stride, (0, 0), channels)

    def _activation(self, node, x: str, layer: ReLU | ReLU6, out: QuantParams) -> str:
        """A Relu/Clip that keeps its input's quantization, as the clamp of the operation just before that
        wrote ``x``; the tensor that then holds its output."""
        producer = self.qg.ops[-1] if self.qg.ops else None
        dq = next(n for n in self.m.graph.node if node.input[0] in n.output)
        readers = [r for d in self.m.readers[dq.input[0]]
                   for r in (self.m.readers[d.output[0]] if d.op_type == "DequantizeLinear" else [d])]
        if out != self.qg.tensors[x] or not isinstance(producer, (QConv, QDense, QAdd)) or producer.name != x or \
                len(readers) != 1:
            raise _fail(node, f"output {out} of input {self.qg.tensors[x]} is not supported; allowed: the input's "
                              f"quantization, the input written only for it by the Conv, Gemm, MatMul or Add before")
        lo, hi = activation_range("relu" if isinstance(layer, ReLU) else "relu6", out)
        requant = replace(producer.requant, lo=max(lo, producer.requant.lo), hi=min(hi, producer.requant.hi))
        self.qg.ops[-1] = replace(producer, requant=requant)
        return x
