"""cocotb tests of the int8 dot-product unit (rtl_gen.lib.dot_product) against numpy.

Parameters (from sim.rtl.runner.tb_params): ``spec`` (DotProductSpec), ``vectors`` (random vectors on
top of the directed extremes).
"""

import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from sim.rtl.runner import tb_params
from sim.rtl.streams import StreamSink, StreamSource, always, bursts, randomly, reset, run_cycles


def operand_vectors(lanes: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Directed extremes (-128 × -128 in every lane, -128 × 127, 127 × 127, zeros) then random int8."""
    extremes = [(-128, -128), (-128, 127), (127, -128), (127, 127), (0, 0), (-1, 1)]
    a = np.array([[x] * lanes for x, _ in extremes] + rng.integers(-128, 128, (count, lanes)).tolist())
    b = np.array([[y] * lanes for _, y in extremes] + rng.integers(-128, 128, (count, lanes)).tolist())
    return a.astype(np.int64), b.astype(np.int64)


def pack(a: np.ndarray, b: np.ndarray) -> list[int]:
    """Payload words of operand_layout: a's lanes in the low bits (lane 0 lowest), then b's."""
    lanes = a.shape[1]
    words = []
    for row_a, row_b in zip(a, b):
        word = 0
        for lane, value in enumerate(list(row_a) + list(row_b)):
            word |= (int(value) & 0xFF) << (8 * lane)
        words.append(word)
    assert all(w < 2 ** (16 * lanes) for w in words)
    return words


async def check(dut, source_pattern, sink_pattern, vectors: int, seed: int) -> int:
    """Push vectors through under the given patterns; assert the results; the cycles taken."""
    spec = tb_params()["spec"]
    a, b = operand_vectors(spec.lanes, vectors, np.random.default_rng(seed))
    expected = (a * b).sum(axis=1).tolist()

    Clock(dut.clk, 10, unit="ns").start()
    source = StreamSource(dut, "i", source_pattern)
    sink = StreamSink(dut, "o", sink_pattern, signed=True)
    await reset(dut.clk, dut.rst)
    source.send(pack(a, b))
    cycles = await run_cycles(dut.clk, [source, sink], lambda: len(sink.received) == len(expected),
                              limit=50 * len(expected) + 100)
    assert sink.received == expected, next(
        f"vector {k}: got {got}, expected {want}" for k, (got, want) in enumerate(zip(sink.received, expected))
        if got != want)
    return cycles


@cocotb.test()
async def random_vectors_with_stalls(dut):
    """Random valid and ready patterns on both sides: results bit-exact and in order."""
    params = tb_params()
    rng = random.Random(params["seed"])
    await check(dut, randomly(rng, 0.6), randomly(rng, 0.6), params["vectors"], params["seed"])


@cocotb.test()
async def bursts_and_long_stalls(dut):
    """Long bursts and long stalls on both sides, including the pipeline held full for many cycles."""
    params = tb_params()
    rng = random.Random(params["seed"] + 1)
    await check(dut, bursts(rng), bursts(rng, max_run=40), params["vectors"] // 4, params["seed"] + 1)


@cocotb.test()
async def full_throughput(dut):
    """With no stalls, n vectors take exactly n + latency cycles: one result per cycle."""
    params = tb_params()
    spec = params["spec"]
    n = params["vectors"] // 4
    cycles = await check(dut, always(), always(), n, params["seed"] + 2)
    total = n + 6  # the six directed extremes come first
    assert cycles == total + spec.latency, f"{cycles} cycles for {total} vectors, latency {spec.latency}"
    await RisingEdge(dut.clk)
