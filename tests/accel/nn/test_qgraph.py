"""The int8 network executor: ops run in order on int8 tensors and match the int8 kernels."""

import numpy as np
import pytest

from accel import int8
from accel.errors import UserError
from accel.int8 import AddRequant, QuantParams, Requant
from accel.nn.qgraph import QAdd, QConv, QDense, QFlatten, QGraph, QPool


def small_net(rng):
    qp = {"input": QuantParams(0.05, -2), "c1": QuantParams(0.1, -128), "res": QuantParams(0.12, -100),
          "p": QuantParams(0.12, -100), "f": QuantParams(0.12, -100), "fc": QuantParams(0.3, 4)}
    w1 = rng.integers(-127, 128, (2, 2, 3, 3)).astype(np.int8)
    c1 = QConv("c1", "input", w1, rng.integers(-500, 500, 2).astype(np.int32),
               Requant.from_scales(0.05, np.array([0.01, 0.02]), qp["c1"], "relu"), padding=(1, 1))
    add = QAdd("res", "c1", "input", AddRequant.from_params(qp["c1"], qp["input"], qp["res"]))
    pool = QPool("p", "res", "avg", (2, 2), (2, 2))
    flat = QFlatten("f", "p")
    wfc = rng.integers(-127, 128, (3, 8)).astype(np.int8)
    fc = QDense("fc", "f", wfc, np.zeros(3, np.int32), Requant.from_scales(0.12, np.full(3, 0.01), qp["fc"]))
    return QGraph("small", (2, 4, 4), qp, [c1, add, pool, flat, fc])


def test_runs_ops_in_order_with_their_kernels():
    rng = np.random.default_rng(0)
    g = small_net(rng)
    x = rng.integers(-128, 128, (5, 2, 4, 4)).astype(np.int8)
    y1 = int8.conv2d(x, -2, g.ops[0].weight, g.ops[0].bias, g.ops[0].requant, padding=(1, 1))
    assert np.array_equal(g.run(x, until="c1"), y1)
    y2 = g.ops[1].requant.apply(y1, x)
    y3 = int8.avg_pool(y2, 2, 2).reshape(5, -1)
    expected = int8.dense(y3, -100, g.ops[4].weight, g.ops[4].bias, g.ops[4].requant)
    out = g.run(x)
    assert out.dtype == np.int8 and np.array_equal(out, expected)


def test_rejects_wrong_input():
    g = small_net(np.random.default_rng(0))
    with pytest.raises(UserError, match="input must be int8"):
        g.run(np.zeros((1, 2, 4, 4), dtype=np.float32))
