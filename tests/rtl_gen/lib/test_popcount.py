"""The pipelined popcount tree: exact counts in order under random valid/ready, latency ⌈log2 width⌉."""

import random

import pytest

from rtl_gen.lib.popcount import Popcount, levels


@pytest.mark.parametrize("width", [1, 2, 3, 8, 13, 64])
def test_counts_under_stalls(width, through_stalls):
    dut = Popcount(width)
    rng = random.Random(width)
    vectors = [rng.getrandbits(width) for _ in range(150)] + [0, 2**width - 1]
    expected = [bin(v).count("1") for v in vectors]
    assert through_stalls(dut, vectors, lambda ctx, v: ctx.set(dut.i.payload, v), rng) == expected


@pytest.mark.parametrize("width", [1, 2, 5, 32])
def test_latency(width, simulate):
    dut = Popcount(width)
    seen = []

    async def testbench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.payload, 2**width - 1)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for cycle in range(1, 10):
            if ctx.get(dut.o.valid):
                seen.append((cycle, ctx.get(dut.o.payload)))
            await ctx.tick()

    simulate(dut, testbench)
    assert seen == [(levels(width), width)]
