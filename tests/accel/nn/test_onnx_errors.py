"""ONNX import of graphs that break an operator's contract: one UserError line naming the node (its name and
operator) and what is wrong, never another exception. The bad graphs are built here with onnx.helper."""

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from accel.errors import UserError
from accel.nn.onnx_import import import_float, import_quantized


def model(nodes, params=None, input_shape=(2, 6, 6), output=None) -> onnx.ModelProto:
    """An opset-17 model reading float ``x`` (N, *input_shape); ``output`` defaults to the last node's."""
    initializers = [numpy_helper.from_array(np.asarray(value), key) for key, value in (params or {}).items()]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *input_shape])
    y = helper.make_tensor_value_info(output or nodes[-1].output[0], TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph(nodes, "bad", [x], [y], initializers),
                             opset_imports=[helper.make_opsetid("", 17)])


def node(op, inputs, name, outputs=None, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, outputs if outputs is not None else [f"{name}_out"], name=name, **attrs)


W = np.ones((3, 2, 3, 3), np.float32)  # a Conv weight for the 2-channel input
SHAPE = np.array([-1, 72], np.int64)  # a Reshape to (N, 2·6·6)


def conv(**attrs):
    return model([node("Conv", ["x", "w"], "conv", **attrs)], {"w": W})


def pool(op="MaxPool", **attrs):
    return model([node(op, ["x"], "pool", **attrs)])


def constant(**attrs):
    return model([node("Constant", [], "shape", ["s"], **attrs), node("Reshape", ["x", "s"], "flat")])


FLOAT_GRAPHS = {  # name: (model, the node's name and operator, what the message says)
    "Constant without a value": (constant(), "shape", "Constant", r"has no value attribute; allowed: one of value, "),
    "Constant of two values": (constant(value_ints=[-1, 72], value_float=1.0), "shape", "Constant",
                               r"has 2 value attributes \(value_float, value_ints\); allowed: one of "),
    "Constant of a sparse value": (constant(sparse_value=helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0], np.float32), "v"), numpy_helper.from_array(np.array([0]), "i"), [2])),
        "shape", "Constant", "value attribute 'sparse_value' is not supported"),
    "Conv without weight": (model([node("Conv", ["x"], "conv")]), "conv", "Conv",
                            r"weight \(input 1\) is missing; allowed: a constant"),
    "Conv of an empty weight name": (model([node("Conv", ["x", ""], "conv")]), "conv", "Conv", r"weight \(input 1\) is missing"),
    "Conv weight not constant": (model([node("Conv", ["x", "x"], "conv")]), "conv", "Conv",
                                 r"weight 'x' must be a constant \(an initializer\)"),
    "Conv weight of rank 3": (model([node("Conv", ["x", "w"], "conv")], {"w": W[0]}), "conv", "Conv",
                              r"weight shape \(2, 3, 3\) is not supported; allowed: 2-D convolutions"),
    "Conv weight of wrong channels": (model([node("Conv", ["x", "w"], "conv")], {"w": np.ones((3, 5, 3, 3), np.float32)}),
                                      "conv", "Conv", r"parameter 'weight' has shape \(3, 5, 3, 3\), expected "
                                                      r"\(3, 2, 3, 3\)"),
    "Conv kernel_shape not the weight's": (conv(kernel_shape=[5, 5]), "conv", "Conv",
                                           r"kernel_shape \[5, 5\] is not the weight's \(3, 3\)"),
    "Conv of 3 strides": (conv(strides=[1, 1, 1]), "conv", "Conv", r"strides \[1, 1, 1\] are not supported; allowed: 2"),
    "Conv of 1 dilation": (conv(dilations=[2]), "conv", "Conv", r"dilations \[2\] are not supported; allowed: 2"),
    "Conv strides of one int": (conv(strides=2), "conv", "Conv", r"attribute 'strides' is of type INT; allowed: INTS"),
    "MaxPool auto_pad of an int": (pool(kernel_shape=[2, 2], auto_pad=1), "pool", "MaxPool",
                                   r"attribute 'auto_pad' is of type INT; allowed: STRING"),
    "Conv of stride 0": (conv(strides=[0, 0]), "conv", "Conv", r"kernel, stride and dilation must be >= 1"),
    "Conv of groups 0": (conv(group=0), "conv", "Conv", r"groups 0 must divide"),
    "Conv auto_pad SAME_UPPER": (conv(auto_pad="SAME_UPPER"), "conv", "Conv", r"auto_pad 'SAME_UPPER' is not supported"),
    "Conv of 6 pads": (conv(pads=[1] * 6), "conv", "Conv", r"pads \[1, 1, 1, 1, 1, 1\] are not supported"),
    "Conv kernel larger than the input": (model([node("Conv", ["x", "w"], "conv")], {"w": np.ones((3, 2, 7, 7), np.float32)}),
                                          "conv", "Conv", r"kernel 7 \(dilation 1\) does not fit an input of 6"),
    "Gemm without weight": (model([node("Flatten", ["x"], "flat"), node("Gemm", ["flat_out"], "fc")]), "fc", "Gemm",
                            r"weight \(input 1\) is missing"),
    "Gemm weight of rank 3": (model([node("Flatten", ["x"], "flat"), node("Gemm", ["flat_out", "w"], "fc")],
                                    {"w": np.ones((72, 4, 1), np.float32)}), "fc", "Gemm",
                              r"weight shape \(72, 4, 1\) is not supported; allowed: a 2-D matrix"),
    "Gemm transA": (model([node("Flatten", ["x"], "flat"), node("Gemm", ["flat_out", "w"], "fc", transA=1)],
                          {"w": np.ones((72, 4), np.float32)}), "fc", "Gemm", r"transA=1, alpha=1.0, beta=1.0 are not "),
    "Gemm weight of wrong size": (model([node("Flatten", ["x"], "flat"), node("Gemm", ["flat_out", "w"], "fc")],
                                        {"w": np.ones((70, 4), np.float32)}), "fc", "Gemm",
                                  r"parameter 'weight' has shape \(4, 70\), expected \(4, 72\)"),
    "MatMul without weight": (model([node("Flatten", ["x"], "flat"), node("MatMul", ["flat_out"], "fc")]), "fc",
                              "MatMul", r"weight \(input 1\) is missing"),
    "MatMul weight of rank 1": (model([node("Flatten", ["x"], "flat"), node("MatMul", ["flat_out", "w"], "fc")],
                                      {"w": np.ones(72, np.float32)}), "fc", "MatMul", r"weight shape \(72,\) is not "),
    "MaxPool without kernel_shape": (pool(), "pool", "MaxPool", r"kernel_shape is missing; allowed: 2 sizes"),
    "AveragePool without kernel_shape": (pool("AveragePool"), "pool", "AveragePool", r"kernel_shape is missing"),
    "MaxPool of a 3-D kernel": (pool(kernel_shape=[2, 2, 2]), "pool", "MaxPool", r"kernel \(2, 2, 2\), ceil_mode 0"),
    "MaxPool ceil_mode": (pool(kernel_shape=[2, 2], ceil_mode=1), "pool", "MaxPool", r"ceil_mode 1, "),
    "MaxPool dilations": (pool(kernel_shape=[2, 2], dilations=[2, 2]), "pool", "MaxPool", r"dilations \[2, 2\] are"),
    "MaxPool auto_pad SAME_LOWER": (pool(kernel_shape=[2, 2], auto_pad="SAME_LOWER"), "pool", "MaxPool",
                                    r"auto_pad 'SAME_LOWER' is not supported"),
    "MaxPool of 1 stride": (pool(kernel_shape=[2, 2], strides=[2]), "pool", "MaxPool", r"strides \[2\] are not "),
    "AveragePool count_include_pad": (pool("AveragePool", kernel_shape=[2, 2], count_include_pad=1), "pool",
                                      "AveragePool", r"count_include_pad 1 is not supported"),
    "Relu without input": (model([node("Relu", [], "relu")]), "relu", "Relu", r"input 0 is missing"),
    "Relu of an empty input name": (model([node("Relu", [""], "relu")]), "relu", "Relu", r"input 0 is missing"),
    "Relu of an unknown input": (model([node("Relu", ["nosuch"], "relu")]), "relu", "Relu",
                                 r"input 'nosuch' is not the model input or a supported operator's output"),
    "Relu without output": (model([node("Relu", ["x"], "relu", [])], output="y"), "relu", "Relu",
                            r"has no output; allowed: one output tensor"),
    "Add of one input": (model([node("Relu", ["x"], "relu"), node("Add", ["relu_out"], "add")]), "add", "Add",
                         r"input 1 is missing"),
    "BatchNormalization without mean": (model([node("BatchNormalization", ["x", "g", "b"], "bn")],
                                              {"g": np.ones(2, np.float32), "b": np.ones(2, np.float32)}),
                                        "bn", "BatchNormalization", r"mean \(input 3\) is missing"),
    "Reshape without shape": (model([node("Reshape", ["x"], "flat")]), "flat", "Reshape", r"shape \(input 1\) is missing"),
    "Reshape of a float shape": (model([node("Reshape", ["x", "s"], "flat")], {"s": np.array([0.5, 72])}), "flat",
                                 "Reshape", r"shape \[0.5, 72.0\] is not supported"),
    "Clip without bounds": (model([node("Clip", ["x"], "clip")]), "clip", "Clip", r"Clip\(None, None\) is not "),
    "Flatten axis 2": (model([node("Flatten", ["x"], "flat", axis=2)]), "flat", "Flatten", r"axis 2 is not supported"),
    "Sin": (model([node("Sin", ["x"], "sine")]), "sine", "Sin", r"is not supported; supported: "),
}


# ---- int8 models (QDQ and QOperator) ----

ZP = np.array(0, np.int8)
SCALE = np.array(0.1, np.float32)
QPARAMS = {"s": SCALE, "zp": ZP, "wq": np.ones((3, 2, 3, 3), np.int8), "ws": SCALE, "wzp": ZP}


def quantized(nodes, params=None):
    """x → QuantizeLinear → nodes; the last node's output is the model output."""
    return model([node("QuantizeLinear", ["x", "s", "zp"], "q", ["xq"]), *nodes], QPARAMS | (params or {}))


INT8_GRAPHS = {
    "Constant of two values": (quantized([node("Constant", [], "k", ["kv"], value_int=1, value_float=1.0),
                                          node("MaxPool", ["xq"], "pool", kernel_shape=[2, 2])]), "k", "Constant",
                               r"has 2 value attributes"),
    "QuantizeLinear without scale": (quantized([node("QuantizeLinear", ["x"], "q2", ["xq2"])]), "q2", "QuantizeLinear",
                                     r"scale \(input 1\) is missing"),
    "QuantizeLinear of a float zero point": (quantized([node("QuantizeLinear", ["x", "s", "s"], "q2", ["xq2"])]), "q2",
                                             "QuantizeLinear", r"activations float32 with 1 scale\(s\) and 1 zero "
                                                                               r"point\(s\) are not "),
    "DequantizeLinear without input": (quantized([node("DequantizeLinear", [], "dq", ["d"])]), "dq", "DequantizeLinear",
                                       r"input 0 is missing"),
    "QLinearConv of 3 inputs": (quantized([node("QLinearConv", ["xq", "s", "zp"], "conv")]), "conv", "QLinearConv",
                                r"input 3 is missing"),
    "QLinearConv without output quantization": (quantized([node("QLinearConv", ["xq", "s", "zp", "wq", "ws", "wzp"],
                                                                "conv")]), "conv", "QLinearConv",
                                                r"a float output is not supported"),
    "QLinearConv weight not constant": (quantized([node("QLinearConv", ["xq", "s", "zp", "xq", "s", "zp", "s", "zp"],
                                                        "conv")]), "conv", "QLinearConv",
                                        r"weight 'xq' is not supported; allowed: a quantized \(int8\) constant"),
    "QLinearConv weight of rank 2": (quantized([node("QLinearConv", ["xq", "s", "zp", "w2", "ws", "wzp", "s", "zp"],
                                                     "conv")], {"w2": np.ones((3, 2), np.int8)}), "conv", "QLinearConv",
                                     r"weight shape \(3, 2\) is not supported"),
    **{f"{what} {value}": (quantized([node("QLinearConv", ["xq", "s", "zp", "wq", "ws", "wzp", "s2", "zp"], "conv")],
                                       {"s2": SCALE, key: np.array(value, np.float32)}), "q" if key == "s" else "conv",
                           "QuantizeLinear" if key == "s" else "QLinearConv",
                           rf"{what} \[{value:.6g}\] is not allowed; allowed: finite numbers > 0")
       for key, what in (("s", "scale"), ("ws", "weight scale")) for value in (0.0, -0.1, np.nan, np.inf)},
    "int8 MaxPool without kernel_shape": (quantized([node("MaxPool", ["xq"], "pool")]), "pool", "MaxPool",
                                          r"kernel_shape is missing"),
    "int8 Relu of an unknown input": (quantized([node("Relu", ["nosuch"], "relu")]), "relu", "Relu",
                                      r"input 'nosuch' is neither a quantized tensor nor a constant"),
    "int8 Sin": (quantized([node("Sin", ["xq"], "sine")]), "sine", "Sin", r"is not supported in int8 models"),
}


@pytest.mark.parametrize("load,graphs,case", [(import_float, FLOAT_GRAPHS, case) for case in FLOAT_GRAPHS] +
                         [(import_quantized, INT8_GRAPHS, case) for case in INT8_GRAPHS])
def test_import_names_the_node(load, graphs, case):
    graph, name, op, message = graphs[case]
    with pytest.raises(UserError, match=rf"^onnx: (node '{name}' \({op}\)|operator '{op}' \(node '{name}'\)).*{message}"):
        load(graph)


def test_files_that_are_not_onnx_models(tmp_path):
    good = model([node("Relu", ["x"], "relu")]).SerializeToString()
    files = {"text.onnx": b"hello, I am not a model\n", "cut.onnx": good[:len(good) // 2], "empty.onnx": b"",
             "png.onnx": b"\x89PNG\r\n\x1a\n" + bytes(range(256))}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        for load in (import_float, import_quantized):
            with pytest.raises(UserError, match=rf"^onnx: model file '.*{name}' (is not an ONNX model|holds no graph)"):
                load(tmp_path / name)
    with pytest.raises(UserError, match=r"^onnx: cannot read model file '.*' \(Is a directory\)"):
        import_float(tmp_path)


# ---- Any small change to a valid model gives a graph or a UserError ----

def cnn() -> onnx.ModelProto:
    """Conv → Relu → MaxPool → Flatten → Gemm, float."""
    return model([node("Conv", ["x", "w", "b"], "conv", pads=[1, 1, 1, 1]), node("Relu", ["conv_out"], "relu"),
                  node("MaxPool", ["relu_out"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
                  node("Flatten", ["pool_out"], "flat"), node("Gemm", ["flat_out", "g"], "fc", transB=1)],
                 {"w": W, "b": np.zeros(3, np.float32), "g": np.ones((4, 27), np.float32)})


def qcnn() -> onnx.ModelProto:
    """QuantizeLinear → QLinearConv → MaxPool → Flatten, int8 (QOperator)."""
    return quantized([node("QLinearConv", ["xq", "s", "zp", "wq", "ws", "wzp", "s2", "zp", "bq"], "conv",
                           pads=[1, 1, 1, 1]),
                      node("MaxPool", ["conv_out"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
                      node("Flatten", ["pool_out"], "flat")], {"s2": SCALE * 2, "bq": np.zeros(3, np.int32)})


ATTRIBUTES = ("strides", "pads", "dilations", "kernel_shape", "group", "auto_pad", "ceil_mode", "axis", "transA",
              "transB", "alpha", "count_include_pad", "storage_order")
attribute_values = st.one_of(st.integers(-3, 8), st.lists(st.integers(-2, 8), min_size=1, max_size=5),
                             st.sampled_from(["NOTSET", "VALID", "SAME_UPPER", ""]), st.floats(-2, 2))
CHANGES = {  # importer: (valid model, operators and input names to swap in)
    "float": (import_float, cnn, ["Conv", "Relu", "MaxPool", "AveragePool", "Flatten", "Gemm", "MatMul", "Add",
                                  "Reshape", "Softmax", "BatchNormalization"], ["x", "w", "nosuch"]),
    "int8": (import_quantized, qcnn, ["QLinearConv", "QuantizeLinear", "DequantizeLinear", "MaxPool", "Flatten",
                                      "QLinearMatMul", "Relu", "Conv", "Reshape"], ["x", "xq", "wq", "s", "nosuch"]),
}


@pytest.mark.parametrize("kind", CHANGES)
@settings(max_examples=300)
@given(data=st.data())
def test_changed_models_give_a_graph_or_a_user_error(kind, data):
    load, valid, ops, names = CHANGES[kind]
    graph = valid()
    load(graph)
    target = graph.graph.node[data.draw(st.integers(0, len(graph.graph.node) - 1))]
    change = data.draw(st.sampled_from(["set attribute", "drop attribute", "drop input", "rename input", "op"]))
    if change == "set attribute":
        name = data.draw(st.sampled_from(ATTRIBUTES))
        kept = [a for a in target.attribute if a.name != name]
        del target.attribute[:]
        target.attribute.extend([*kept, helper.make_attribute(name, data.draw(attribute_values))])
    elif change == "drop attribute" and target.attribute:
        del target.attribute[data.draw(st.integers(0, len(target.attribute) - 1))]
    elif change == "drop input" and target.input:
        del target.input[data.draw(st.integers(0, len(target.input) - 1))]
    elif change == "rename input" and target.input:
        target.input[data.draw(st.integers(0, len(target.input) - 1))] = data.draw(st.sampled_from(names))
    elif change == "op":
        target.op_type = data.draw(st.sampled_from(ops))
    try:
        load(graph)
    except UserError as error:
        assert str(error).startswith("onnx: ")
