"""The numpy trainer: every backward pass against finite differences, masks, codebooks, binarized mode."""

import numpy as np
import pytest

from accel.errors import UserError
from accel.nn import BatchNorm, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, Softmax
from accel.nn.train import (Sign, TrainConfig, cross_entropy, im2col, init_params, loss_and_grads, sign, train,
                            xnor_alpha)


def numeric_grad(graph, x, labels, layer, param, eps=1e-6):
    """Central finite differences of the loss with respect to every element of ``graph[layer].params[param]``."""
    value = graph[layer].params[param]
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        saved = value[index]
        value[index] = saved + eps
        plus, _ = loss_and_grads(graph, x, labels)
        value[index] = saved - eps
        minus, _ = loss_and_grads(graph, x, labels)
        value[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(graph, x, labels):
    _, grads = loss_and_grads(graph, x, labels)
    for layer, params in grads.items():
        for param, grad in params.items():
            expected = numeric_grad(graph, x, labels, layer, param)
            np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-8, err_msg=f"{layer}.{param}")


def random_graph(graph, seed=0):
    init_params(graph, seed)
    rng = np.random.default_rng(seed + 1)
    for node in graph.layers():  # non-trivial biases and BatchNorm affine terms
        for key in ("bias", "beta", "gamma"):
            if key in node.params:
                node.params[key] = node.params[key] + rng.normal(0, 0.5, node.params[key].shape)
    return graph


def test_cross_entropy_gradient():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    loss, grad = cross_entropy(logits, labels)
    expected_loss = -np.mean(np.log(Softmax().forward([logits], {})[np.arange(5), labels]))
    assert loss == pytest.approx(expected_loss)
    eps, numeric = 1e-6, np.zeros_like(logits)
    for index in np.ndindex(logits.shape):
        shifted = logits.copy()
        shifted[index] += eps
        numeric[index] = (cross_entropy(shifted, labels)[0] - loss) / eps
    np.testing.assert_allclose(grad, numeric, atol=1e-5)


def test_dense_relu_gradients():
    g = Graph("mlp", (6,))
    g.add("fc1", Dense(5))
    g.add("relu", ReLU())
    g.add("fc2", Dense(3))
    random_graph(g)
    rng = np.random.default_rng(2)
    check_gradients(g, rng.normal(size=(4, 6)), rng.integers(0, 3, 4))


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), ((2, 1), (0, 2))])
def test_conv_maxpool_flatten_gradients(stride, padding):
    g = Graph("cnn", (2, 7, 6))
    g.add("conv", Conv2d(3, (3, 2), stride=stride, padding=padding))
    g.add("relu", ReLU())
    g.add("pool", MaxPool2d(2, stride=1, padding=1))
    g.add("flat", Flatten())
    g.add("fc", Dense(4))
    random_graph(g)
    rng = np.random.default_rng(3)
    check_gradients(g, rng.normal(size=(3, 2, 7, 6)), rng.integers(0, 4, 3))


@pytest.mark.parametrize("input_shape", [(5,), (3, 4, 4)])
def test_batchnorm_gradients(input_shape):
    g = Graph("bn", input_shape)
    if len(input_shape) == 3:
        g.add("conv", Conv2d(4, 3, padding=1, bias=False))
        g.add("bn", BatchNorm())
        g.add("flat", Flatten())
    else:
        g.add("fc0", Dense(4, bias=False))
        g.add("bn", BatchNorm())
    g.add("fc", Dense(3))
    random_graph(g)
    rng = np.random.default_rng(4)
    check_gradients(g, rng.normal(size=(6, *input_shape)), rng.integers(0, 3, 6))


def test_im2col_convolution_matches_the_layer_forward():
    rng = np.random.default_rng(5)
    op = Conv2d(4, (3, 2), stride=(2, 1), padding=(1, 2), bias=False)
    x, w = rng.normal(size=(2, 3, 7, 5)), rng.normal(size=(4, 3, 3, 2))
    _, oh, ow = op.out_shape("", [x.shape[1:]])
    y = (im2col(x, op) @ w.reshape(4, -1).T).reshape(2, oh, ow, 4).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, op.forward([x], {"weight": w}), atol=1e-12)


def test_sign_and_straight_through_estimator():
    np.testing.assert_array_equal(sign(np.array([-2.0, -0.0, 0.0, 0.5])), [-1, 1, 1, 1])
    g = Graph("ste", (3,))
    g.add("fc0", Dense(3, bias=False), weight=np.eye(3))
    g.add("sign", Sign())
    g.add("fc", Dense(2, bias=False), weight=np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    x = np.array([[0.5, -2.0, 1.0]])
    _, grads = loss_and_grads(g, x, np.array([1]))
    _, dlogits = cross_entropy(g.run(x), np.array([1]))
    # d loss / d sign-input = (dlogits @ W_fc) where |x| <= 1 (hardtanh), else 0; fc0 is the identity.
    expected = (dlogits @ g["fc"].params["weight"]) * (np.abs(x) <= 1)
    np.testing.assert_allclose(grads["fc0"]["weight"], expected.T @ x)


def test_binarized_forward_uses_scaled_signs_and_clips_latent_weights():
    w = np.array([[0.5, -0.25, 1.5, 0.0], [-0.1, 0.1, -0.1, 0.1]])
    np.testing.assert_allclose(xnor_alpha(w), [0.5625, 0.1])
    g = Graph("bnn", (4,))
    g.add("fc", Dense(2, bias=False), weight=w)
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    _, grads = loss_and_grads(g, x, np.array([0]), binarized=True)
    _, dlogits = cross_entropy(x @ (sign(w) * xnor_alpha(w)[:, None]).T, np.array([0]))
    np.testing.assert_allclose(grads["fc"]["weight"], dlogits.T @ x)
    train(g, x, np.array([0]), TrainConfig(epochs=50, lr=0.5, binarized=True))
    assert np.abs(g["fc"].params["weight"]).max() <= 1


def separable(seed=0, n=64):
    """Points labelled by the largest of three fixed linear functions: learnable by a small MLP."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    return x, np.argmax(x @ rng.normal(size=(8, 3)), axis=1)


def small_mlp(seed=0):
    g = Graph("small", (8,))
    g.add("fc1", Dense(16))
    g.add("relu", ReLU())
    g.add("fc2", Dense(3))
    init_params(g, seed)
    return g


def test_training_lowers_the_loss_and_is_deterministic():
    x, y = separable()
    a, b = small_mlp(), small_mlp()
    history = train(a, x, y, TrainConfig(epochs=20, lr=1e-2, seed=3))
    train(b, x, y, TrainConfig(epochs=20, lr=1e-2, seed=3))
    assert history[-1] < history[0] / 2
    for node in a.layers():
        for key, value in node.params.items():
            np.testing.assert_array_equal(value, b[node.name].params[key])


def test_masked_weights_stay_zero():
    x, y = separable()
    g = small_mlp()
    mask = np.random.default_rng(1).random((16, 8)) < 0.3
    train(g, x, y, TrainConfig(epochs=5), masks={"fc1": mask})
    weight = g["fc1"].params["weight"]
    assert np.all(weight[~mask] == 0) and np.all(weight[mask] != 0)


def test_codebook_training_keeps_the_shared_values_and_zero():
    x, y = separable()
    g = small_mlp()
    codebook = np.array([0.0, -0.5, 0.2, 0.6])
    indices = np.random.default_rng(2).integers(0, 4, (16, 8)).astype(np.uint8)
    train(g, x, y, TrainConfig(epochs=5, lr=1e-2), codebooks={"fc1": (codebook, indices)})
    assert codebook[0] == 0 and not np.allclose(codebook, [0.0, -0.5, 0.2, 0.6])
    np.testing.assert_array_equal(g["fc1"].params["weight"], codebook[indices])


def test_batchnorm_statistics_are_those_of_the_training_set():
    x, y = separable()
    g = Graph("bn", (8,))
    g.add("fc", Dense(4, bias=False))
    g.add("bn", BatchNorm())
    g.add("out", Dense(3))
    init_params(g, 0)
    train(g, x, y, TrainConfig(epochs=2))
    pre = x @ g["fc"].params["weight"].T
    np.testing.assert_allclose(g["bn"].params["mean"], pre.mean(axis=0))
    np.testing.assert_allclose(g["bn"].params["var"], pre.var(axis=0))


def test_unsupported_layers_are_user_errors():
    g = Graph("soft", (4,))
    g.add("fc", Dense(3))
    g.add("softmax", Softmax())
    init_params(g, 0)
    with pytest.raises(UserError, match="layer 'softmax' \\(Softmax\\): the trainer supports Dense"):
        train(g, np.zeros((2, 4)), np.zeros(2, dtype=int), TrainConfig(epochs=1))
    g = Graph("depthwise", (4, 5, 5))
    g.add("dw", Conv2d(4, 3, groups=4))
    init_params(g, 0)
    with pytest.raises(UserError, match="layer 'dw' \\(Conv2d\\): the trainer supports groups 1"):
        train(g, np.zeros((2, 4, 5, 5)), np.zeros(2, dtype=int), TrainConfig(epochs=1))
