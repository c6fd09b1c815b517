"""Binarized networks: export, BatchNorm + sign as integer thresholds, integer-only inference bit-exact."""

import copy

import numpy as np
import pytest

from accel.compress.binarize import export, fold_threshold, integer_forward, thresholds, xnor_popcount
from accel.errors import UserError
from accel.nn import BatchNorm, Conv2d, Dense, Flatten, Graph, MaxPool2d, digits, models
from accel.nn.train import Sign, init_params, sign, xnor_alpha


def test_xnor_popcount_is_the_dot_product_of_the_signs():
    rng = np.random.default_rng(0)
    for n in (1, 8, 13, 64, 300):
        a, w = rng.random((5, n)) < 0.5, rng.random((7, n)) < 0.5
        expected = np.where(a, 1, -1) @ np.where(w, 1, -1).T
        np.testing.assert_array_equal(xnor_popcount(a, w), expected)


def bn_node(gamma, beta, mean, var=None, eps=1e-5):
    k = len(gamma)
    g = Graph("bn", (k,))
    g.add("bn", BatchNorm(eps), gamma=np.array(gamma, float), beta=np.array(beta, float),
          mean=np.array(mean, float), var=np.ones(k) if var is None else np.array(var, float))
    return g["bn"]


def test_threshold_direction_follows_the_sign_of_gamma_and_extremes_leave_the_range():
    # channels: rising at 2, falling at 2 (gamma < 0), always +1, never +1, gamma 0 with beta 0 (BN = 0: +1),
    # and a BN exactly 0 at d = -3 (sign(0) = +1 is on the >= side).
    norm = bn_node(gamma=[1, -1, 1, 1, 0, 2], beta=[0, 0, 100, -100, 0, 0], mean=[2, 2, 0, 0, 0, -3], eps=0)
    threshold = fold_threshold(norm, scale=1.0, reach=7)
    np.testing.assert_array_equal(threshold.t, [2, 2, -7, 8, -7, -3])
    np.testing.assert_array_equal(threshold.up, [True, False, True, True, True, True])


def hidden_layer_graph(gamma, beta, mean, var, n=7, seed=0):
    """Integer input → ±1 Dense → BN → Sign → ±1 Dense (n inputs) → BN(gamma, beta, mean, var) → Sign → out."""
    rng = np.random.default_rng(seed)
    k = len(gamma)
    g = Graph("hidden", (4,))
    g.add("fc1", Dense(n, bias=False), weight=sign(rng.normal(size=(n, 4))))
    g.add("bn1", BatchNorm(), gamma=np.ones(n), beta=np.zeros(n), mean=rng.normal(size=n), var=np.ones(n))
    g.add("sign1", Sign())
    g.add("fc2", Dense(k, bias=False), weight=sign(rng.normal(size=(k, n))))
    g.add("bn2", BatchNorm(), gamma=np.array(gamma, float), beta=np.array(beta, float),
          mean=np.array(mean, float), var=np.array(var, float))
    g.add("sign2", Sign())
    g.add("out", Dense(3, bias=False), weight=sign(rng.normal(size=(3, k))))
    return g


def test_thresholds_are_bit_identical_to_the_float_forward_on_every_reachable_dot():
    rng = np.random.default_rng(1)
    k = 64
    gamma = rng.normal(size=k) * np.where(np.arange(k) % 3 == 0, -1, 1)  # a third negative
    gamma[:4] = 0  # constant channels
    beta = rng.normal(size=k) * 2
    beta[4:8] = [50, -50, 1e6, -1e6]  # thresholds beyond the reachable dots
    mean = rng.integers(-7, 8, size=k) + rng.choice([0, 0.5, 1e-12], size=k)  # on, between and just off dots
    var = rng.random(k) * 3
    g = hidden_layer_graph(gamma, beta, mean, var)
    pixels = rng.integers(0, 17, size=(4000, 4))
    x = pixels / 16
    for layer in ("fc2", "sign2", "out"):
        float_value = g.run(x, until=layer)
        integer = integer_forward(g, pixels, 1 / 16, 16, until=layer)
        np.testing.assert_array_equal(np.where(integer, 1, -1) if integer.dtype == bool else integer, float_value)
    dots = integer_forward(g, pixels, 1 / 16, 16, until="fc2")
    assert set(np.unique(dots)) == set(range(-7, 8, 2))  # every reachable dot was exercised
    folded = thresholds(g, 1 / 16, 16)["bn2"]
    assert np.all(folded.up[gamma > 0]) and np.any(~folded.up)  # falling where gamma < 0 unless constant
    assert np.any(folded.t == 8) and np.any(folded.t == -7)  # never +1, always +1


def test_first_layer_thresholds_are_in_units_of_the_integer_input():
    g = hidden_layer_graph([1.0], [0.0], [0.0], [1.0])  # bn1: gamma 1, beta 0, var 1: +1 iff (pixels/16)·w >= mean
    folded = thresholds(g, 1 / 16, 16)["bn1"]
    assert np.all(folded.up)
    np.testing.assert_array_equal(folded.t, np.ceil(16 * g["bn1"].params["mean"]))


def test_export_folds_alpha_into_batchnorm():
    rng = np.random.default_rng(2)
    g = Graph("latent", (1, 6, 6))
    g.add("conv", Conv2d(4, 3, bias=False))
    g.add("bn", BatchNorm())
    g.add("sign", Sign())
    g.add("pool", MaxPool2d(2))
    g.add("flat", Flatten())
    g.add("fc", Dense(3, bias=False))
    init_params(g, 0)
    g["bn"].params.update(gamma=rng.normal(size=4), beta=rng.normal(size=4), mean=rng.normal(size=4),
                          var=rng.random(4) + 0.5)
    scaled = copy.deepcopy(g)  # what the binarized trainer computes: alpha · sign(W)
    for node in scaled.layers():
        if "weight" in node.params:
            node.params["weight"] = sign(node.params["weight"]) * xnor_alpha(node.params["weight"]).reshape(
                -1, *(1,) * (node.params["weight"].ndim - 1))
    exported = export(g)
    assert all(np.all(np.abs(node.params["weight"]) == 1) for node in exported.layers() if "weight" in node.params)
    x = rng.normal(size=(10, 1, 6, 6))
    np.testing.assert_allclose(exported.run(x, until="bn"), scaled.run(x, until="bn"), atol=1e-9)
    assert np.all(g["conv"].params["weight"] != exported["conv"].params["weight"])  # the input is not changed


@pytest.fixture(scope="module", params=["digits-bnn-mlp", "digits-bnn-cnn"])
def bnn(request):
    return request.param, models.model(request.param)


def test_integer_inference_equals_the_float_forward_on_the_digits_test_set(bnn):
    name, graph = bnn
    _, test = digits.load()
    x = models.inputs(graph, test)
    pixels = test.pixels.reshape(x.shape)
    for node in graph.layers():
        integer = integer_forward(graph, pixels, 1 / digits.PIXEL_MAX, digits.PIXEL_MAX, until=node.name)
        if node.name == graph.output or isinstance(node.op, (Sign, MaxPool2d, Flatten)) and integer.dtype == bool:
            expected = graph.run(x, until=node.name)
            np.testing.assert_array_equal(np.where(integer, 1, -1) if integer.dtype == bool else integer, expected,
                                          err_msg=f"{name}: {node.name}")
    assert integer.dtype == np.int64


def test_binarized_accuracy(bnn):
    name, graph = bnn
    _, test = digits.load()
    pixels = test.pixels.reshape(models.inputs(graph, test).shape)
    scores = integer_forward(graph, pixels, 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)
    assert digits.accuracy(scores, test.labels) >= {"digits-bnn-mlp": 0.90, "digits-bnn-cnn": 0.90}[name]


def test_unsupported_binary_graphs_are_user_errors():
    padded = Graph("padded", (1, 6, 6))
    padded.add("conv1", Conv2d(2, 3, bias=False), weight=np.ones((2, 1, 3, 3)))
    padded.add("sign1", Sign())
    padded.add("conv2", Conv2d(2, 3, padding=1, bias=False), weight=np.ones((2, 2, 3, 3)))
    with pytest.raises(UserError, match=r"layer 'conv2' \(Conv2d\): padding \(1, 1\) on ±1 inputs"):
        integer_forward(padded, np.ones((1, 1, 6, 6), dtype=int), 1.0, 1)
    real = Graph("real", (3,))
    real.add("fc", Dense(2, bias=False), weight=np.full((2, 3), 0.5))
    with pytest.raises(UserError, match="layer 'fc' \\(Dense\\): weights are not ±1; export"):
        integer_forward(real, np.ones((1, 3), dtype=int), 1.0, 1)
    with pytest.raises(UserError, match="input: integer_forward takes integers 0 to 1, got float64 values"):
        integer_forward(real, np.full((1, 3), 0.5), 1.0, 1)
    biased = Graph("biased", (3,))
    biased.add("fc", Dense(2), weight=np.ones((2, 3)), bias=np.zeros(2))
    with pytest.raises(UserError, match="layer 'fc' \\(Dense\\): a binary layer has no bias"):
        export(biased)
    unsigned = hidden_layer_graph([1.0], [0.0], [0.0], [1.0])
    del unsigned.nodes["sign2"], unsigned.nodes["out"]
    with pytest.raises(UserError, match="layer 'bn2' \\(BatchNorm\\): in a binarized network it follows"):
        thresholds(unsigned, 1.0, 1)
