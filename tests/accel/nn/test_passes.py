"""fold_batchnorm against the float reference: what folds, what stays, and the graph it leaves."""

import numpy as np
import pytest

from accel.nn import (Add, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Graph, ReLU, build, fold_batchnorm,
                      param_count)
from accel.nn.zoo import init_random


def randomise_biases(graph: Graph, seed: int) -> None:
    """init_random zeroes biases; give them values so folding them is tested too."""
    rng = np.random.default_rng(seed)
    for node in graph.layers():
        if "bias" in node.params:
            node.params["bias"] = rng.standard_normal(node.params["bias"].shape, dtype=np.float32)


def assert_same_function(graph: Graph, folded: Graph, seed: int = 0) -> None:
    x = np.random.default_rng(seed).standard_normal((2, *graph.nodes["input"].shape), dtype=np.float32)
    expected = graph.run(x)
    np.testing.assert_allclose(folded.run(x), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def small_resnet() -> Graph:
    """A ResNet-18-like graph with every case: foldable BNs (with and without a bias, depthwise, placed after
    other nodes) and BNs that must stay (after an Add, after a conv with two consumers, on the input)."""
    g = Graph("small-resnet", (3, 12, 12))
    g.add("bn_in", BatchNorm())                                             # stays: reads the input
    g.add("stem", Conv2d(8, 3, stride=2, padding=1, bias=False))
    g.add("stem_bn", BatchNorm())
    g.add("stem_relu", ReLU())
    g.add("b1a", Conv2d(8, 3, padding=1), "stem_relu")                       # has a bias
    g.add("b1a_bn", BatchNorm())
    g.add("b1a_relu", ReLU())
    g.add("b1b", Conv2d(8, 3, padding=1, groups=8, bias=False))              # depthwise
    g.add("b1b_bn", BatchNorm())
    g.add("b1_add", Add(), ["b1b_bn", "stem_relu"])
    g.add("b1_relu", ReLU())
    g.add("b2a", Conv2d(16, 3, stride=2, padding=1, bias=False))
    g.add("b2_proj", Conv2d(16, 1, stride=2, bias=False), "b1_relu")         # added before b2a's BN
    g.add("b2a_bn", BatchNorm(eps=1e-3), "b2a")
    g.add("b2a_relu", ReLU())
    g.add("b2_proj_bn", BatchNorm(), "b2_proj")
    g.add("b2_add", Add(), ["b2a_relu", "b2_proj_bn"])
    g.add("b2_add_bn", BatchNorm())                                         # stays: reads an Add
    g.add("shared", Conv2d(16, 1, bias=False))
    g.add("shared_bn", BatchNorm())                                         # stays: "shared" has two consumers
    g.add("side", ReLU(), "shared")
    g.add("merge", Add(), ["shared_bn", "side"])
    g.add("pool", GlobalAvgPool())
    g.add("flatten", Flatten())
    g.add("fc", Dense(5))
    return g


def test_small_resnet_folds_what_it_can_and_computes_the_same():
    g = small_resnet()
    init_random(g, seed=1)
    randomise_biases(g, seed=2)
    before = {node.name: {k: v.copy() for k, v in node.params.items()} for node in g.layers()}
    folded = fold_batchnorm(g)
    assert_same_function(g, folded)
    assert [n.name for n in folded.layers() if isinstance(n.op, BatchNorm)] == ["bn_in", "b2_add_bn", "shared_bn"]
    order = [n.name for n in folded.layers()]
    assert order.index("b2a") < order.index("b2a_relu") < order.index("b2_proj") < order.index("b2_add")
    assert folded["b2_add"].inputs == ["b2a_relu", "b2_proj"] and folded["b1_add"].inputs == ["b1b", "stem_relu"]
    for name in ("stem", "b1a", "b1b", "b2a", "b2_proj"):
        assert folded[name].op.bias and folded[name].params["bias"].dtype == np.float32
    assert folded.macs() == g.macs() and folded.output == g.output
    assert all(np.array_equal(before[n.name][k], v) for n in g.layers() for k, v in n.params.items())  # untouched


def test_dense_batchnorm_mlp():
    g = Graph("mlp", (20,))
    g.add("fc1", Dense(16, bias=False))
    g.add("fc1_bn", BatchNorm())
    g.add("fc1_relu", ReLU())
    g.add("fc2", Dense(4))
    g.add("fc2_bn", BatchNorm(eps=1e-2))                                     # the graph output
    init_random(g, seed=3)
    randomise_biases(g, seed=4)
    folded = fold_batchnorm(g)
    assert_same_function(g, folded)
    assert [n.name for n in folded.layers()] == ["fc1", "fc1_relu", "fc2"] and folded.output == "fc2"


@pytest.mark.parametrize("name", ["resnet18", "mobilenet-v1"])
def test_zoo_networks_fold_completely(name):
    g = build(name, "random", seed=5)
    folded = fold_batchnorm(g)
    assert not any(isinstance(n.op, BatchNorm) for n in folded.layers())
    assert_same_function(g, folded)


def test_shape_only_graphs_fold_structurally():
    g = build("resnet18")
    folded = fold_batchnorm(g)
    bn_channels = sum(n.shape[0] for n in g.layers() if isinstance(n.op, BatchNorm))
    assert not any(isinstance(n.op, BatchNorm) for n in folded.layers())
    assert param_count(folded) == param_count(g) - bn_channels  # gamma and beta become one bias
    assert folded.macs() == g.macs() and folded[folded.output].shape == (1000,)


def test_a_batchnorm_without_parameters_after_a_layer_with_them_stays():
    g = Graph("mixed", (2, 4, 4))
    g.add("conv", Conv2d(2, 1), weight=np.ones((2, 2, 1, 1), np.float32), bias=np.zeros(2, np.float32))
    g.add("bn", BatchNorm())
    assert [n.name for n in fold_batchnorm(g).layers()] == ["conv", "bn"]
