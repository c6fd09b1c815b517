"""Post-training int8 quantization: TFLite's parameter rules, per-op and end-to-end agreement with float."""

import json
from dataclasses import astuple

import numpy as np
import pytest

from accel.cli import main
from accel.compress.quantize import calibration_range, choose_qparams, quantize, quantize_weights
from accel.errors import UserError
from accel.nn import digits, models
from accel.nn import (Add, ArgMax, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Graph, MaxPool2d,
                      ReLU, ReLU6, Softmax, fold_batchnorm)
from accel.nn.qgraph import QAdd, QConv, QDense, QFlatten, QPool

FUSED = {"conv1": "relu1", "add": "relu6", "fc1": "relu_fc"}  # operation -> the activation fused into it


def residual_net(rng) -> Graph:
    """Every quantizable layer type: conv+BN+ReLU, grouped conv, Add+ReLU6, pools, GAP, Dense+ReLU, softmax."""
    g = Graph("residual", (2, 8, 8))
    g.add("conv1", Conv2d(4, 3, padding=1, bias=False), weight=rng.normal(0, 0.3, (4, 2, 3, 3)))
    g.add("bn1", BatchNorm(), gamma=rng.uniform(0.5, 1.5, 4), beta=rng.normal(0, 0.1, 4),
          mean=rng.normal(0, 0.1, 4), var=rng.uniform(0.5, 1.5, 4))
    g.add("relu1", ReLU())
    g.add("conv2", Conv2d(4, 3, padding=1, groups=2), weight=rng.normal(0, 0.3, (4, 2, 3, 3)),
          bias=rng.normal(0, 0.1, 4))
    g.add("add", Add(), ["conv2", "relu1"])
    g.add("relu6", ReLU6())
    g.add("max", MaxPool2d(2))
    g.add("avg", AvgPool2d(3, 1, 1))
    g.add("gap", GlobalAvgPool())
    g.add("flat", Flatten())
    g.add("fc1", Dense(6), weight=rng.normal(0, 0.5, (6, 4)), bias=rng.normal(0, 0.1, 6))
    g.add("relu_fc", ReLU())
    g.add("fc2", Dense(5), weight=rng.normal(0, 0.5, (5, 6)), bias=rng.normal(0, 0.1, 5))
    g.add("softmax", Softmax())
    return g


def test_choose_qparams_follows_tflite():
    def params(lo, hi):
        return astuple(choose_qparams(lo, hi))

    assert params(0.0, 1.0) == pytest.approx((1 / 255, -128))
    assert params(-1.0, 1.0) == pytest.approx((2 / 255, -1))  # zero point -0.5 rounds away from zero
    assert params(2.0, 5.0) == pytest.approx((5 / 255, -128))  # the range is widened to include 0
    assert params(-3.0, -1.0) == pytest.approx((3 / 255, 127))
    assert params(-1.0, 3.0) == pytest.approx((4 / 255, -64))  # zero point -64.25 rounds to -64
    assert params(0.0, 0.0) == (1.0, 0)
    rng = np.random.default_rng(0)
    for lo, hi in zip(-rng.exponential(1, 50), rng.exponential(1, 50)):
        qp = choose_qparams(lo, hi)
        assert isinstance(qp.zero_point, int) and -128 <= qp.zero_point <= 127
        assert qp.dequantize(qp.quantize(0.0)) == 0.0  # zero is exact
        assert abs(qp.dequantize(-128) - lo) <= qp.scale / 2 + 1e-12
        assert abs(qp.dequantize(127) - hi) <= qp.scale / 2 + 1e-12


def test_weights_are_symmetric_per_channel():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (5, 3, 3, 3)) * np.array([1, 10, 0.1, 0, 3])[:, None, None, None]
    q, scales = quantize_weights(w)
    assert q.dtype == np.int8 and q.min() >= -127
    assert np.allclose(scales[[0, 1, 2, 4]], np.abs(w[[0, 1, 2, 4]]).reshape(4, -1).max(axis=1) / 127)
    assert scales[3] == 1.0 and not q[3].any()
    assert np.all(np.abs(q[[0, 1, 2, 4]]).reshape(4, -1).max(axis=1) == 127)
    assert np.all(np.abs(q * scales[:, None, None, None] - w) <= scales[:, None, None, None] / 2 + 1e-12)


def test_a_channel_with_tiny_weights_keeps_its_folded_bias_in_int32():
    """A mostly pruned channel (one weight of 1e-9) with a bias of 1: at scale max|w|/127 its int32 bias would
    saturate; the coarser scale keeps it, folded with the input zero point, in int32, and the output exact."""
    from accel.compiler.mac_array import lower
    from accel.compress.quantize import BIAS_LIMIT
    from accel.spec import MacArraySpec

    rng = np.random.default_rng(4)
    weight = rng.normal(0, 0.3, (4, 64))
    weight[1] = 0
    weight[1, 5] = 1e-9
    g = Graph("tiny", (64,))
    g.add("fc", Dense(4), weight=weight, bias=np.array([0.1, 1.0, -0.2, 0.3]))
    x = rng.uniform(0, 1, (50, 64))
    qg = quantize(g, x)
    (op,) = qg.ops
    assert np.abs(op.bias).max() <= BIAS_LIMIT
    folded = op.bias.astype(np.int64) - qg.tensors["input"].zero_point * op.weight.sum(axis=1, dtype=np.int64)
    assert np.abs(folded).max() < 2**31
    lower(MacArraySpec(), op, qg.quantize_input(x)[0], qg.tensors["input"].zero_point)  # no UserError
    got = qg.dequantize_output(qg.run(qg.quantize_input(x)))
    assert np.abs(got[:, 1] - 1.0).max() <= qg.tensors["fc"].scale


def test_percentile_calibration_ignores_outliers():
    x = np.concatenate([np.random.default_rng(2).uniform(-1, 1, 100_000), [50.0]])
    assert calibration_range(x, "minmax")[1] == 50.0
    lo, hi = calibration_range(x, "percentile", 99.99)
    assert -1 <= lo < -0.99 and 0.99 < hi <= 1


def test_structure_fuses_activations_and_drops_the_softmax():
    rng = np.random.default_rng(3)
    g = residual_net(rng)
    qg = quantize(g, rng.normal(0, 1, (64, 2, 8, 8)))
    assert [(type(op), op.name) for op in qg.ops] == [
        (QConv, "conv1"), (QConv, "conv2"), (QAdd, "add"), (QPool, "max"), (QPool, "avg"), (QPool, "gap"),
        (QFlatten, "flat"), (QDense, "fc1"), (QDense, "fc2")]
    conv1, conv2, add, _, _, gap, _, fc1, fc2 = qg.ops
    assert (conv2.input, add.a, add.b, fc2.input) == ("conv1", "conv2", "conv1", "fc1")  # aliases of fused ReLUs
    assert (gap.kind, gap.kernel, gap.stride) == ("avg", (4, 4), (4, 4))
    assert qg.tensors["conv1"].zero_point == qg.tensors["fc1"].zero_point == -128  # ReLU ranges start at 0
    assert conv1.requant.lo == -128 and fc2.requant.lo == -128 and fc2.requant.hi == 127
    relu6 = qg.tensors["add"]
    assert add.requant.hi == relu6.zero_point + round(6 / relu6.scale) <= 127
    assert qg.tensors["max"] == qg.tensors["gap"] == qg.tensors["flat"] == relu6
    folded = fold_batchnorm(g).nodes["conv1"].params
    weight, w_scales = quantize_weights(folded["weight"])
    assert np.array_equal(conv1.weight, weight)
    assert np.array_equal(conv1.bias, np.round(folded["bias"] / (qg.tensors["input"].scale * w_scales)))


def float_op(g: Graph, qg, name: str, xq: np.ndarray) -> np.ndarray:
    """Float layer ``name`` (and its fused activation) applied to the dequantized int8 inputs the QGraph gave it."""
    node = g.nodes[name]
    source = {activation: op for op, activation in FUSED.items()}
    inputs = [qg.tensors[source.get(s, s)].dequantize(qg.run(xq, until=source.get(s, s)) if s != "input" else xq)
              for s in node.inputs]
    y = node.op.forward(inputs, node.params)
    return g.nodes[FUSED[name]].op.forward([y], {}) if name in FUSED else y


@pytest.mark.parametrize("seed", range(3))
def test_each_op_matches_float_on_its_int8_inputs(seed):
    """Given the same (dequantized) inputs, each op is within half an LSB of float, plus the weight rounding."""
    rng = np.random.default_rng(seed)
    g = fold_batchnorm(residual_net(rng))
    x = rng.normal(0, 1, (100, 2, 8, 8))
    qg = quantize(g, x)
    xq = qg.quantize_input(x)
    for op in qg.ops:
        out = qg.tensors[op.name]
        expected = np.clip(float_op(g, qg, op.name, xq), out.dequantize(-128), out.dequantize(127))
        error = np.abs(out.dequantize(qg.run(xq, until=op.name)) - expected).max() / out.scale
        assert error <= (2.0 if isinstance(op, (QConv, QDense)) else 0.5 + 1e-6), op.name


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_network_logits_within_a_few_lsb_of_float(method):
    rng = np.random.default_rng(4)
    g = residual_net(rng)
    x = rng.normal(0, 1, (200, 2, 8, 8))
    qg = quantize(g, x, method=method)
    logits = qg.dequantize_output(qg.run(qg.quantize_input(x)))
    error = np.abs(logits - g.run(x, until="fc2")) / qg.tensors["fc2"].scale
    assert error.max() <= (4 if method == "minmax" else 6) and error.mean() < 1
    assert np.mean(logits.argmax(axis=1) == g.run(x).argmax(axis=1)) >= 0.95


def test_dense_network_and_argmax_output():
    rng = np.random.default_rng(5)
    g = Graph("mlp", (12,))
    g.add("fc1", Dense(16), weight=rng.normal(0, 0.4, (16, 12)), bias=rng.normal(0, 0.1, 16))
    g.add("relu", ReLU())
    g.add("fc2", Dense(3, bias=False), weight=rng.normal(0, 0.4, (3, 16)))
    g.add("argmax", ArgMax())
    x = rng.uniform(-1, 1, (300, 12))
    qg = quantize(g, x)
    assert qg.output == "fc2" and not qg.ops[1].bias.any()
    logits = qg.dequantize_output(qg.run(qg.quantize_input(x)))
    assert np.abs(logits - g.run(x, until="fc2")).max() <= 3 * qg.tensors["fc2"].scale


def unsupported(kind):
    g = Graph("bad", (2, 4, 4))
    rng = np.random.default_rng(0)
    if kind == "relu":
        g.add("pool", MaxPool2d(2))
        g.add("relu", ReLU())
    elif kind == "softmax":
        g.add("flat", Flatten())
        g.add("softmax", Softmax())
        g.add("fc", Dense(2, bias=False), weight=np.ones((2, 32)))
    elif kind == "batchnorm":
        g.add("pool", MaxPool2d(2))
        g.add("bn", BatchNorm(), gamma=np.ones(2), beta=np.zeros(2), mean=np.zeros(2), var=np.ones(2))
    elif kind == "dilation":
        g.add("conv", Conv2d(2, 3, padding=2, dilation=2), weight=rng.normal(0, 1, (2, 2, 3, 3)),
              bias=np.zeros(2))
    return g


@pytest.mark.parametrize("kind,match", [("relu", r"layer 'relu' \(ReLU\) cannot be quantized"),
                                        ("softmax", r"layer 'softmax' \(Softmax\) cannot be quantized"),
                                        ("batchnorm", r"layer 'bn' \(BatchNorm\) cannot be quantized"),
                                        ("dilation", r"layer 'conv' \(Conv2d\): dilation \(2, 2\)")])
def test_unsupported_layers_are_user_errors(kind, match):
    with pytest.raises(UserError, match=match):
        quantize(unsupported(kind), np.zeros((1, 2, 4, 4)))


def test_bad_arguments_are_user_errors():
    g = unsupported("dilation")
    with pytest.raises(UserError, match="method 'kl'"):
        quantize(g, np.zeros((1, 2, 4, 4)), method="kl")
    with pytest.raises(UserError, match="percentile 100.5"):
        quantize(g, np.zeros((1, 2, 4, 4)), method="percentile", percentile=100.5)
    with pytest.raises(UserError, match="input batch has shape"):
        quantize(g, np.zeros((1, 3, 4, 4)))


@pytest.mark.parametrize("method", ["minmax", "percentile"])
@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_digits_int8_accuracy_within_half_a_point_of_float(name, method):
    graph = models.model(name)
    train, test = digits.load()
    qg = quantize(graph, models.inputs(graph, train), method=method)
    x = models.inputs(graph, test)
    float_accuracy = digits.accuracy(graph.run(x), test.labels)
    assert abs(digits.accuracy(qg.run(qg.quantize_input(x)), test.labels) - float_accuracy) <= 0.005


def test_compress_cli_reports_int8(capsys):
    assert main(["compress", "digits-mlp", "--quantize", "int8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [step["step"] for step in report["steps"]] == ["float", "int8"]
    assert report["bits_per_weight"] == 8 and report["compression_ratio"] == 4
    assert abs(report["accuracy"] - report["float_accuracy"]) <= 0.005
    assert main(["compress", "digits-mlp", "--quantize", "int8", "--share", "4"]) == 2
    assert "--quantize int8: cannot be combined" in capsys.readouterr().err
