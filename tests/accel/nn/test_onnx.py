"""ONNX import, checked against onnxruntime: float models within 1e-4, int8 models (onnxruntime's own
quantize_static, QDQ and QOperator) within 1 LSB per operation.

The int8 comparisons hold on any x86-64 CPU. On x86-64 onnxruntime runs int8 activations as uint8 (its
QDQS8ToU8Transformer) against int8 weights, and without VNNI its U8S8 kernels use VPMADDUBSW, which saturates
each sum of two uint8 x int8 products to int16 (onnxruntime's quantization docs, "When and why do I need to try
U8U8?": try reduce_range or U8U8; "There is no such issue on other CPU architectures (x64 with VNNI and ARM)").
Our activations must stay int8, so the test models' weights are 7-bit instead: quantize_static's reduce_range
(docs, "When to use reduce-range": "designed for the U8S8 format on AVX2 and AVX512 (non-VNNI) machines to
mitigate saturation issues"), and the hand-written model draws its weights in the same range. A pair then sums
to at most 2 x 255 x 64 = 32,640 < 2**15, so the AVX2, AVX512 and VNNI kernels all compute the exact int32
accumulator and onnxruntime's result no longer depends on the CPU.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from accel import int8
from accel.errors import UserError
from accel.int8 import QuantParams, Requant
from accel.nn.onnx_import import import_float, import_quantized
from accel.nn.qgraph import QAdd, QConv

# The largest int8 weight magnitude whose products with uint8 activations sum in pairs within int16 (2 x 255 x 64
# <= 32,767): what reduce_range gives, [-64, 64]; no onnxruntime kernel saturates then (module docstring).
WEIGHT_LIMIT = 64


# ---- Test models, built with onnx.helper from a seeded RNG ----

def _model(name, nodes, input_shape, output, params, output_type=TensorProto.FLOAT):
    """An opset-17 model reading float ``x`` (N, *input_shape); float64 parameters are stored as float32."""
    initializers = [numpy_helper.from_array(value.astype(np.float32) if value.dtype == np.float64 else value, key)
                    for key, value in params.items()]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *input_shape])
    graph = helper.make_graph(nodes, name, [x], [helper.make_tensor_value_info(output, output_type, None)],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weights(rng, *shape):
    fan_in = int(np.prod(shape[1:]))
    return rng.normal(0, 1.5 / np.sqrt(fan_in), shape)


def mlp(rng):
    """Gemm (transB=1) → Relu → MatMul + Add → Relu → Gemm (transB=0)."""
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
             helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
             helper.make_node("MatMul", ["r1", "w2"], ["m2"], name="fc2"),
             helper.make_node("Add", ["m2", "b2"], ["h2"], name="fc2_bias"),
             helper.make_node("Relu", ["h2"], ["r2"], name="relu2"),
             helper.make_node("Gemm", ["r2", "w3", "b3"], ["y"], name="fc3")]
    params = {"w1": _weights(rng, 24, 16), "b1": rng.normal(0, 0.1, 24), "w2": _weights(rng, 16, 24).T,
              "b2": rng.normal(0, 0.1, 16), "w3": _weights(rng, 10, 16).T, "b3": rng.normal(0, 0.1, 10)}
    return _model("mlp", nodes, (16,), "y", params)


def cnn(rng):
    """Conv → Relu → MaxPool → Conv (stride 2, pad 1) → Relu → depthwise Conv → Relu → AveragePool → Flatten →
    Gemm."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], name="dw", pads=[1, 1, 1, 1], group=16),
             helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),
             helper.make_node("AveragePool", ["r3"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p2"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w4", "b4"], ["y"], name="fc", transB=1)]
    params = {"w1": _weights(rng, 8, 3, 3, 3), "b1": rng.normal(0, 0.1, 8),
              "w2": _weights(rng, 16, 8, 3, 3), "b2": rng.normal(0, 0.1, 16),
              "w3": _weights(rng, 16, 1, 3, 3), "b3": rng.normal(0, 0.1, 16),
              "w4": _weights(rng, 10, 64), "b4": rng.normal(0, 0.1, 10)}
    return _model("cnn", nodes, (3, 16, 16), "y", params)


def residual(rng):
    """Conv → Relu → Conv → Add (the block input) → Relu, then GlobalAveragePool → Flatten → Gemm."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "x"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1)]
    params = {"w1": _weights(rng, 8, 8, 3, 3), "b1": rng.normal(0, 0.1, 8),
              "w2": _weights(rng, 8, 8, 3, 3), "b2": rng.normal(0, 0.1, 8),
              "w3": _weights(rng, 5, 8), "b3": rng.normal(0, 0.1, 5)}
    return _model("residual", nodes, (8, 8, 8), "y", params)


def head(rng, last="Softmax"):
    """The other float operators: dilated Conv → BatchNormalization → Clip(0, 6) → Reshape (shape from a
    Constant) → MatMul → Softmax or ArgMax."""
    shape = helper.make_node("Constant", [], ["shape"], name="shape",
                             value=numpy_helper.from_array(np.array([0, -1], np.int64)))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[2, 2, 2, 2], dilations=[2, 2]),
             helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["b1"], name="bn",
                              epsilon=1e-3),
             helper.make_node("Clip", ["b1", "lo", "hi"], ["r1"], name="relu6"), shape,
             helper.make_node("Reshape", ["r1", "shape"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "w2"], ["m"], name="fc"),
             helper.make_node(last, ["m"], ["y"], name="out", axis=1)]
    params = {"w1": _weights(rng, 4, 2, 3, 3), "gamma": rng.uniform(0.5, 2, 4), "beta": rng.normal(0, 1, 4),
              "mean": rng.normal(0, 0.5, 4), "var": rng.uniform(0.5, 2, 4), "lo": np.array(0.0), "hi": np.array(6.0),
              "w2": _weights(rng, 6, 4 * 36).T}
    output_type = TensorProto.INT64 if last == "ArgMax" else TensorProto.FLOAT
    return _model("head", nodes, (2, 6, 6), "y", params, output_type)


MODELS = {"mlp": mlp, "cnn": cnn, "residual": residual}


def _inputs(model, rng, n):
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    return rng.normal(0, 1, (n, *shape)).astype(np.float32)


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


# ---- Float ----

@pytest.mark.parametrize("build", [mlp, cnn, residual, head], ids=lambda f: f.__name__)
def test_float_import_matches_onnxruntime(build):
    rng = np.random.default_rng(1)
    model = build(rng)
    x = _inputs(model, rng, 8)
    expected = _session(model).run(None, {"x": x})[0]
    got = import_float(model).run(x)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_float_import_argmax_and_layers():
    rng = np.random.default_rng(2)
    model = head(rng, last="ArgMax")
    x = _inputs(model, rng, 16)
    g = import_float(model)
    assert [type(node.op).__name__ for node in g.layers()] == ["Conv2d", "BatchNorm", "ReLU6", "Flatten", "Dense",
                                                               "ArgMax"]
    assert g["conv1"].op.dilation == (2, 2) and g["bn"].op.eps == pytest.approx(1e-3)
    assert np.array_equal(g.run(x), _session(model).run(None, {"x": x})[0].reshape(-1))


def test_float_import_fuses_matmul_bias_and_reads_files(tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp(np.random.default_rng(3)), path)
    g = import_float(path)
    assert [(node.name, type(node.op).__name__) for node in g.layers()] == [
        ("fc1", "Dense"), ("relu1", "ReLU"), ("fc2", "Dense"), ("relu2", "ReLU"), ("fc3", "Dense")]
    assert g["fc2"].op.bias and g["fc2"].params["weight"].shape == (16, 24)


# ---- int8: onnxruntime quantizes, we import and compare ----

class _Calibration(CalibrationDataReader):
    def __init__(self, x):
        self.batches = iter([{"x": sample[None]} for sample in x])

    def get_next(self):
        return next(self.batches, None)


def _quantized(tmp_path, name, quant_format, per_channel=True, activation_type=QuantType.QInt8, **extra_options):
    """``name`` quantized by onnxruntime's quantize_static with 7-bit weights (reduce_range, so that no onnxruntime
    kernel saturates: module docstring), calibrated on 32 random inputs."""
    rng = np.random.default_rng(4)
    model = MODELS[name](rng)
    source = tmp_path / f"{name}.onnx"
    onnx.save(model, source)
    # The recommended pre-processing; it fuses MatMul + Add into Gemm.
    quant_pre_process(source, source, skip_symbolic_shape=True)
    target = tmp_path / f"{name}.{quant_format.name}.onnx"
    quantize_static(source, target, _Calibration(_inputs(model, rng, 32)), quant_format=quant_format,
                    activation_type=activation_type, weight_type=QuantType.QInt8, per_channel=per_channel,
                    reduce_range=True, extra_options=extra_options)
    quantized = onnx.load(target)
    weights = [w for t in quantized.graph.initializer  # (the int32 biases are "_quantized" too)
               if t.name.endswith("_quantized") and (w := numpy_helper.to_array(t)).dtype == np.int8]
    assert weights and max(np.abs(w.astype(np.int64)).max() for w in weights) <= WEIGHT_LIMIT
    return quantized


def _int8_tensors(model, qg):
    """The ONNX int8 tensor behind each QGraph tensor. An operation is named after its node and writes the tensor
    that quantizes the node's output, or the output of a Relu reading that tensor (the Relu folded into it)."""
    readers = {name: node for node in model.graph.node for name in node.input}

    def follow(name, *op_types):
        reader = readers.get(name)
        return reader.output[0] if reader is not None and reader.op_type in op_types else name

    tensors = {"input": follow("x", "QuantizeLinear")}
    for node in model.graph.node:
        if node.name in {op.name for op in qg.ops}:
            tensor = follow(node.output[0], "QuantizeLinear")
            dequantized = follow(tensor, "DequantizeLinear")
            relu = follow(dequantized, "Relu")
            tensors[node.name] = tensor if relu == dequantized else follow(relu, "QuantizeLinear")
    return tensors


def _run_onnxruntime_op(model, qg, tensors, op, values):
    """onnxruntime's int8 output of QGraph operation ``op`` from the int8 ``values`` of its inputs: the nodes of
    ``model`` between them, entered through QuantizeLinear and left through DequantizeLinear as in the whole
    model (onnxruntime fuses an operator into its QLinear kernel only then)."""
    producers = {name: node for node in model.graph.node for name in node.output}
    entries = {tensors[s] for s in values}
    nodes, pending = [], [tensors[op.name]]
    while pending:
        name = pending.pop()
        if name in producers and name not in entries and producers[name] not in nodes:
            nodes.append(producers[name])
            pending.extend(producers[name].input)
    nodes = [node for node in model.graph.node if node in nodes]
    params = {s: qg.tensors[s] for s in (*values, op.name)}
    constants = [numpy_helper.from_array(np.array(v, dtype), f"{s}.{k}") for s, p in params.items()
                 for k, v, dtype in (("scale", p.scale, np.float32), ("zero_point", p.zero_point, np.int8))]
    enter = [helper.make_node("QuantizeLinear", [s, f"{s}.scale", f"{s}.zero_point"], [tensors[s]]) for s in values]
    leave = helper.make_node("DequantizeLinear", [tensors[op.name], f"{op.name}.scale", f"{op.name}.zero_point"],
                             ["out"])
    used = {name for node in nodes for name in node.input}
    graph = helper.make_graph(enter + nodes + [leave], "op",
                              [helper.make_tensor_value_info(s, TensorProto.FLOAT, ["N", *v.shape[1:]])
                               for s, v in values.items()],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                              [t for t in model.graph.initializer if t.name in used] + constants)
    floats = {s: params[s].dequantize(v).astype(np.float32) for s, v in values.items()}
    y = _session(helper.make_model(graph, opset_imports=model.opset_import)).run(None, floats)[0]
    return np.round(y / params[op.name].scale).astype(np.int64) + params[op.name].zero_point


QUANTIZATIONS = {  # onnxruntime's quantize_static options
    "QDQ-per_channel": dict(quant_format=QuantFormat.QDQ),
    "QDQ-per_tensor": dict(quant_format=QuantFormat.QDQ, per_channel=False),
    "QOperator-per_channel": dict(quant_format=QuantFormat.QOperator),
    "QOperator-per_tensor": dict(quant_format=QuantFormat.QOperator, per_channel=False),
    # Relu nodes stay, with their input's quantization: folded into the clamp of the operation before.
    "QDQ-symmetric_activations": dict(quant_format=QuantFormat.QDQ, ActivationSymmetric=True),
}


@pytest.mark.parametrize("options", QUANTIZATIONS.values(), ids=QUANTIZATIONS)
@pytest.mark.parametrize("name", MODELS)
def test_quantized_import_matches_onnxruntime(tmp_path, name, options):
    """Every operation agrees with onnxruntime's on the same int8 inputs within 1 LSB on every element:
    onnxruntime requantizes in float and rounds half to even, accel.int8 in fixed point as TFLite. (Through a
    whole network the differences propagate and can grow, so the comparison is per operation.)"""
    model = _quantized(tmp_path, name, **options)
    qg = import_quantized(model)
    tensors = _int8_tensors(model, qg)
    assert list(tensors) == ["input", *(op.name for op in qg.ops)]
    q = qg.quantize_input(_inputs(model, np.random.default_rng(5), 32))
    for op in qg.ops:
        sources = [op.a, op.b] if isinstance(op, QAdd) else [op.input]
        values = {source: qg.run(q, until=source) if source != "input" else q for source in sources}
        theirs = _run_onnxruntime_op(model, qg, tensors, op, values)
        ours = op.run(values[op.input], qg, values) if isinstance(op, QAdd) else op.run(values[op.input], qg)
        delta = np.abs(ours.astype(np.int64) - theirs)
        assert delta.max() <= 1, f"{op.name}: {delta.max()} LSB"


def test_quantized_import_maps_onnx_tensors_to_int8_kernels(tmp_path):
    """The imported QConv holds onnxruntime's int8 weights and int32 bias, and QGraph.run is the int8 kernel."""
    model = _quantized(tmp_path, "cnn", QuantFormat.QOperator)
    qg = import_quantized(model)
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    conv = qg.ops[0]
    assert isinstance(conv, QConv) and conv.name == "conv1_quant"
    assert np.array_equal(conv.weight, constants["w1_quantized"])
    assert np.array_equal(conv.bias, constants["b1_quantized"])
    x_params = QuantParams(float(constants["x_scale"]), int(constants["x_zero_point"]))
    out = QuantParams(float(constants["c1_scale"]), int(constants["c1_zero_point"]))
    assert qg.tensors["input"] == x_params and qg.tensors["conv1_quant"] == out and out.zero_point == -128  # fused ReLU
    requant = Requant.from_scales(x_params.scale, constants["w1_scale"], out, "relu")
    x = np.random.default_rng(6).integers(-128, 128, (4, 3, 16, 16)).astype(np.int8)
    expected = int8.conv2d(x, x_params.zero_point, constants["w1_quantized"], constants["b1_quantized"], requant,
                           padding=(1, 1))
    assert np.array_equal(qg.run(x, until="conv1_quant"), expected)


def _qdq_conv_relu(relu_scale):
    """A hand-written QDQ Conv with a float bias, then a Relu quantized with ``relu_scale`` (the Conv's: 0.03);
    its weights are within +-WEIGHT_LIMIT, as reduce_range's."""
    rng = np.random.default_rng(7)
    weight = rng.integers(-WEIGHT_LIMIT, WEIGHT_LIMIT + 1, (4, 2, 3, 3), np.int8)
    constants = {"x_s": np.float32(0.02), "x_zp": np.int8(3), "w": weight,
                 "w_s": np.float32(0.01), "w_zp": np.int8(0), "b": rng.normal(0, 0.05, 4).astype(np.float32),
                 "c_s": np.float32(0.03), "c_zp": np.int8(-10), "r_s": np.float32(relu_scale)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_s", "x_zp"], ["xq"], name="xq"),
             helper.make_node("DequantizeLinear", ["xq", "x_s", "x_zp"], ["xd"], name="xd"),
             helper.make_node("DequantizeLinear", ["w", "w_s", "w_zp"], ["wd"], name="wd"),
             helper.make_node("Conv", ["xd", "wd", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "c_s", "c_zp"], ["cq"], name="cq"),
             helper.make_node("DequantizeLinear", ["cq", "c_s", "c_zp"], ["cd"], name="cd"),
             helper.make_node("Relu", ["cd"], ["r"], name="relu"),
             helper.make_node("QuantizeLinear", ["r", "r_s", "c_zp"], ["rq"], name="rq"),
             helper.make_node("DequantizeLinear", ["rq", "r_s", "c_zp"], ["y"], name="y")]
    return _model("qdq", nodes, (2, 5, 5), "y", {k: np.asarray(v) for k, v in constants.items()}), constants


def test_qdq_float_bias_and_kept_relu():
    """A float bias is quantized as onnxruntime's quantizer does (float64 division by the float32 scale product,
    half to even); a Relu that keeps its input's quantization becomes the Conv's clamp."""
    model, constants = _qdq_conv_relu(0.03)
    qg = import_quantized(model)
    (conv,) = qg.ops
    bias_scale = np.float64(constants["x_s"] * constants["w_s"])
    assert np.array_equal(conv.bias, np.round(constants["b"].astype(np.float64) / bias_scale))
    assert (conv.requant.lo, conv.requant.hi) == (-10, 127)
    q = np.random.default_rng(8).integers(-128, 128, (8, 2, 5, 5)).astype(np.int8)
    x = qg.tensors["input"].dequantize(q).astype(np.float32)
    theirs = np.round(_session(model).run(None, {"x": x})[0] / 0.03) - 10
    assert np.abs(qg.run(q).astype(np.int64) - theirs).max() <= 1


def test_qdq_relu_that_requantizes_is_rejected():
    with pytest.raises(UserError, match=r"^onnx: node 'relu' \(Relu\): output QuantParams\(scale=0.0399.* is not "
                                        r"supported; allowed: the input's quantization"):
        import_quantized(_qdq_conv_relu(0.04)[0])


# ---- Errors ----

def test_unsupported_operator_names_op_and_node():
    model = _model("sin", [helper.make_node("Sin", ["x"], ["y"], name="sine_1")], (4,), "y", {})
    with pytest.raises(UserError, match=r"^onnx: operator 'Sin' \(node 'sine_1'\) is not supported; supported: "
                                        r"Add, ArgMax, AveragePool, BatchNormalization, "):
        import_float(model)
    with pytest.raises(UserError, match=r"operator 'Sin' \(node 'sine_1'\) is not supported in int8 models"):
        import_quantized(model)


def _single(op, attrs, params, input_shape=(2, 6, 6), inputs=("x", "w")):
    return _model("one", [helper.make_node(op, list(inputs), ["y"], name="n1", **attrs)], input_shape, "y", params)


@pytest.mark.parametrize("model, message", [
    (lambda: _single("Conv", {"pads": [1, 0, 0, 1]}, {"w": np.ones((2, 2, 3, 3))}),
     r"node 'n1' \(Conv\): pads \[1, 0, 0, 1\] are not supported; allowed: symmetric"),
    (lambda: _single("AveragePool", {"kernel_shape": [2, 2], "count_include_pad": 1}, {}, inputs=["x"]),
     r"node 'n1' \(AveragePool\): count_include_pad 1 is not supported; allowed: 0"),
    (lambda: _single("Gemm", {"alpha": 2.0}, {"w": np.ones((4, 3))}, (4,)),
     r"node 'n1' \(Gemm\): transA=0, alpha=2.0, beta=1.0 are not supported; allowed: 0, 1, 1"),
    (lambda: _single("Clip", {}, {"lo": np.array(0.0), "hi": np.array(1.0)}, inputs=["x", "lo", "hi"]),
     r"node 'n1' \(Clip\): Clip\(0.0, 1.0\) is not supported; allowed: Clip\(0, 6\)"),
    (lambda: _single("Conv", {}, {}, inputs=["x", "x"]), r"node 'n1' \(Conv\): weight 'x' must be a constant"),
], ids=["asymmetric-pads", "count-include-pad", "gemm-alpha", "clip", "weight-not-constant"])
def test_float_import_rejects_what_the_ir_cannot_express(model, message):
    with pytest.raises(UserError, match=message):
        import_float(model())


def test_unreadable_model_file_is_named(tmp_path):
    with pytest.raises(UserError, match=r"onnx: cannot read model file '.*missing.onnx' \(No such file"):
        import_float(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\xff\xfe not a protobuf")
    with pytest.raises(UserError, match=r"onnx: model file '.*junk.onnx' is not an ONNX model"):
        import_quantized(tmp_path / "junk.onnx")


def test_quantized_import_rejects_unfused_matmul_bias(tmp_path):
    rng = np.random.default_rng(10)
    model = mlp(rng)
    quantize_static(model, tmp_path / "q.onnx", _Calibration(_inputs(model, rng, 4)), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    with pytest.raises(UserError, match=r"node 'fc2_bias' \(Add\): adding a constant is not supported; .*"
                                        r"quant_pre_process"):
        import_quantized(tmp_path / "q.onnx")


def test_quantized_import_rejects_uint8_activations(tmp_path):
    model = _quantized(tmp_path, "mlp", QuantFormat.QDQ, activation_type=QuantType.QUInt8)
    with pytest.raises(UserError, match=r"node 'x_QuantizeLinear' \(QuantizeLinear\): activations uint8 .* allowed: "
                                        r"int8"):
        import_quantized(model)
