"""The network IR: layer forwards against naive loops, shape inference, one-line errors, MAC counts."""

import numpy as np
import pytest

from accel.errors import UserError
from accel.nn import (Add, ArgMax, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Graph, MaxPool2d,
                      ReLU, ReLU6, Softmax)


def naive_conv(x, weight, bias, stride, padding, dilation, groups):
    """By definition: y[k, i, j] = b[k] + Σ_{c of k's group, u, v} x[c, i·sh + u·dh, j·sw + v·dw] · w[k, c, u, v]."""
    n, c, h, w = x.shape
    k, cg, r, s = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - dh * (r - 1) - 1) // sh + 1, (w + 2 * pw - dw * (s - 1) - 1) // sw + 1
    y = np.zeros((n, k, oh, ow))
    for o in range(k):
        group = o // (k // groups)
        for i in range(oh):
            for j in range(ow):
                acc = np.full(n, 0.0 if bias is None else bias[o])
                for ci in range(cg):
                    for u in range(r):
                        for v in range(s):
                            acc += xp[:, group * cg + ci, i * sh + u * dh, j * sw + v * dw] * weight[o, ci, u, v]
                y[:, o, i, j] = acc
    return y


def naive_pool(x, kernel, stride, padding, reduce):
    """``reduce`` over each window's elements that lie inside the input (padding never wins or counts)."""
    n, c, h, w = x.shape
    (r, s), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = (h + 2 * ph - r) // sh + 1, (w + 2 * pw - s) // sw + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * sh - ph, j * sw - pw
            window = x[:, :, max(top, 0):top + r, max(left, 0):left + s]
            y[:, :, i, j] = reduce(window, axis=(2, 3))
    return y


CONVS = {  # name: (C, H, W, Conv2d)
    "plain": (3, 6, 6, Conv2d(4, 3)),
    "stride-pad": (3, 7, 7, Conv2d(4, 3, stride=2, padding=1)),
    "rectangular": (2, 7, 6, Conv2d(3, (3, 2), stride=(2, 1), padding=(1, 0))),
    "dilation": (2, 7, 7, Conv2d(3, 3, padding=2, dilation=2)),
    "groups": (4, 5, 5, Conv2d(6, 3, padding=1, groups=2)),
    "depthwise": (4, 6, 6, Conv2d(4, 3, stride=2, padding=1, groups=4)),
    "depthwise-multiplier": (3, 5, 5, Conv2d(6, 3, groups=3, bias=False)),
    "pointwise": (5, 4, 4, Conv2d(3, 1)),
}


@pytest.mark.parametrize("case", CONVS)
def test_conv2d_matches_naive_loops(case):
    c, h, w, op = CONVS[case]
    rng = np.random.default_rng(0)
    g = Graph(case, (c, h, w))
    params = {key: rng.normal(size=shape) for key, shape in op.param_shapes([(c, h, w)]).items()}
    g.add("conv", op, **params)
    x = rng.normal(size=(2, c, h, w))
    expected = naive_conv(x, params["weight"], params.get("bias"), op.stride, op.padding, op.dilation, op.groups)
    assert g["conv"].shape == expected.shape[1:]
    np.testing.assert_allclose(g.run(x), expected, rtol=1e-12, atol=1e-12)


POOLS = {  # name: (pool, numpy reduction)
    "max": (MaxPool2d(2), np.max),
    "max-overlap-pad": (MaxPool2d(3, 2, padding=1), np.max),
    "avg": (AvgPool2d(2), np.mean),
    "avg-pad-excluded": (AvgPool2d(3, 2, padding=1), np.mean),
    "avg-rect": (AvgPool2d((3, 2), (1, 2)), np.mean),
}


@pytest.mark.parametrize("case", POOLS)
def test_pools_match_naive_loops(case):
    op, reduce = POOLS[case]
    x = np.random.default_rng(1).normal(size=(2, 3, 7, 6))
    g = Graph(case, (3, 7, 6))
    g.add("pool", op)
    expected = naive_pool(x, op.kernel, op.stride, op.padding, reduce)
    assert g["pool"].shape == expected.shape[1:]
    np.testing.assert_allclose(g.run(x), expected, rtol=1e-12)


def test_max_pool_padding_never_wins_over_negative_inputs():
    g = Graph("neg", (1, 2, 2))
    g.add("pool", MaxPool2d(3, 1, padding=1))
    assert (g.run(-np.ones((1, 1, 2, 2))) == -1).all()


def test_elementwise_and_vector_layers():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 2, 2))
    g = Graph("misc", (4, 2, 2))
    gamma, beta, mean, var = rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4), rng.uniform(0.5, 2, 4)
    g.add("bn", BatchNorm(eps=1e-3), gamma=gamma, beta=beta, mean=mean, var=var)
    g.add("relu6", ReLU6())
    g.add("gap", GlobalAvgPool())
    g.add("flat", Flatten())
    w, b = rng.normal(size=(5, 4)), rng.normal(size=5)
    g.add("fc", Dense(5), weight=w, bias=b)
    g.add("relu", ReLU())
    g.add("softmax", Softmax())
    g.add("argmax", ArgMax())
    bn = gamma[:, None, None] * (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3) + beta[:, None, None]
    np.testing.assert_allclose(g.run(x, until="bn"), bn, rtol=1e-12)
    fc = np.clip(bn, 0, 6).mean(axis=(2, 3)) @ w.T + b
    np.testing.assert_allclose(g.run(x, until="fc"), fc, rtol=1e-12)
    e = np.exp(np.maximum(fc, 0))
    np.testing.assert_allclose(g.run(x, until="softmax"), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    assert (g.run(x) == fc.argmax(axis=1)).all()
    assert [g[n].shape for n in ("gap", "flat", "softmax", "argmax")] == [(4, 1, 1), (4,), (5,), ()]


def test_add_sums_equal_shapes_and_rejects_different_ones():
    g = Graph("res", (2, 4, 4))
    g.add("conv", Conv2d(2, 3, padding=1), weight=np.ones((2, 2, 3, 3)), bias=np.zeros(2))
    g.add("add", Add(), ["conv", "input"])
    x = np.ones((1, 2, 4, 4))
    np.testing.assert_allclose(g.run(x), g.run(x, until="conv") + x)
    g.add("down", Conv2d(2, 3), "input")
    with pytest.raises(UserError, match=r"^layer 'bad' \(Add\): input shapes \(2, 2, 2\) and \(2, 4, 4\) differ$"):
        g.add("bad", Add(), ["down", "input"])


IMPOSSIBLE = {  # name: (input shape, layer, what the message says)
    "kernel-too-big": ((3, 4, 4), Conv2d(2, 5), "kernel 5 (dilation 1) does not fit an input of 4 with padding 0"),
    "dilated-too-big": ((3, 5, 5), Conv2d(2, 3, dilation=3), "kernel 3 (dilation 3) does not fit"),
    "groups": ((3, 8, 8), Conv2d(4, 3, groups=2), "groups 2 must divide input channels 3 and output channels 4"),
    "conv-on-vector": ((10,), Conv2d(2, 3), "input shape (10,) is not a (C, H, W) feature map"),
    "no-channels": ((3, 8, 8), Conv2d(0, 3), "out_channels 0 must be >= 1"),
    "conv-stride-0": ((3, 8, 8), Conv2d(2, 3, stride=0), "kernel, stride and dilation must be >= 1"),
    "dense-on-map": ((3, 8, 8), Dense(4), "is not a vector; add a Flatten first"),
    "dense-0": ((8,), Dense(0), "out_features 0 must be >= 1"),
    "pool-kernel-0": ((3, 8, 8), MaxPool2d(0), "kernel (0, 0) and stride (0, 0) must be >= 1"),
    "pool-stride-0": ((3, 8, 8), AvgPool2d(2, stride=0), "stride (0, 0) must be >= 1"),
    "pool-padding": ((3, 8, 8), MaxPool2d(2, padding=2), "padding (2, 2) must be at most half the kernel"),
    "pool-too-big": ((3, 2, 2), MaxPool2d(3), "kernel 3 (dilation 1) does not fit an input of 2"),
    "softmax-on-map": ((3, 8, 8), Softmax(), "is not a vector"),
    "gap-on-vector": ((8,), GlobalAvgPool(), "is not a (C, H, W) feature map"),
}


@pytest.mark.parametrize("case", IMPOSSIBLE)
def test_impossible_shapes_are_one_line_user_errors_naming_the_layer(case):
    shape, op, message = IMPOSSIBLE[case]
    g = Graph(case, shape)
    with pytest.raises(UserError, match=rf"^layer 'bad' \({type(op).__name__}\): ") as error:
        g.add("bad", op)
    assert message in str(error.value)
    assert list(g.nodes) == ["input"]  # nothing was added


def test_graph_usage_errors_are_user_errors():
    g = Graph("g", (2, 4, 4))
    g.add("conv", Conv2d(2, 3))
    cases = {
        "layer 'conv': the name is already used in graph 'g'": lambda: g.add("conv", ReLU()),
        "layer 'r': input 'nope' is not a layer of graph 'g'": lambda: g.add("r", ReLU(), "nope"),
        "layer 'a' (Add): takes 2 input(s), got 1": lambda: g.add("a", Add()),
        "layer 'c2' (Conv2d): unexpected parameter 'scale'; expected weight, bias":
            lambda: g.add("c2", Conv2d(2, 1), scale=np.ones(2)),
        "layer 'c3' (Conv2d): parameter 'weight' has shape (2, 2), expected (2, 2, 1, 1)":
            lambda: g.add("c3", Conv2d(2, 1), weight=np.ones((2, 2))),
        "graph 'g' has no layer 'nope'": lambda: g["nope"],
        "graph 'g': input batch has shape (2, 5, 5), expected (2, 4, 4)": lambda: g.run(np.ones((1, 2, 5, 5))),
        "layer 'conv': parameter 'weight' is not set (shape-only graph)": lambda: g.run(np.ones((1, 2, 4, 4))),
    }
    for message, call in cases.items():
        with pytest.raises(UserError) as error:
            call()
        assert str(error.value) == message


def test_run_needs_every_parameter_and_a_known_until():
    g = Graph("g", (2, 4, 4))
    g.add("conv", Conv2d(2, 1), weight=np.ones((2, 2, 1, 1)))
    with pytest.raises(UserError, match="^layer 'conv': parameter 'bias' is not set"):
        g.run(np.ones((1, 2, 4, 4)))
    g = Graph("g", (2, 4, 4))
    g.add("conv", Conv2d(2, 1, bias=False), weight=np.ones((2, 2, 1, 1)))
    g.add("relu", ReLU())
    with pytest.raises(UserError, match="^graph 'g' has no layer 'nope'$"):
        g.run(np.ones((1, 2, 4, 4)), until="nope")
    np.testing.assert_allclose(g.run(-np.ones((1, 2, 4, 4)), until="conv"), np.full((1, 2, 4, 4), -2.0))


def test_mac_counts():
    g = Graph("macs", (6, 10, 10))
    g.add("conv", Conv2d(8, 3, stride=2, padding=1))            # 8·5·5 outputs × 6·3·3
    g.add("dw", Conv2d(8, 3, padding=1, groups=8))             # 8·5·5 outputs × 1·3·3
    g.add("gconv", Conv2d(4, (1, 3), groups=2, dilation=2))    # 4·5·1 outputs × 4·1·3
    g.add("pool", MaxPool2d((1, 1)))
    g.add("relu", ReLU())
    g.add("flat", Flatten())
    g.add("fc", Dense(7))                                      # 20 × 7
    expected = {"conv": 8 * 25 * 54, "dw": 8 * 25 * 9, "gconv": 4 * 5 * 12, "pool": 0, "relu": 0, "flat": 0,
                "fc": 20 * 7}
    assert {n.name: n.op.macs(g.in_shapes(n)) for n in g.layers()} == expected
    assert g.macs() == sum(expected.values())
    assert "total 12,980 MACs" in g.summary()
