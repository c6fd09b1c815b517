"""The first-word-fall-through queue in Amaranth's simulator: a FIFO of exactly ``depth`` items."""

import random

import pytest

from rtl_gen.lib.queue import Queue


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
def test_queue_is_a_fifo_with_exact_depth(depth, simulate):
    dut = Queue(8, depth)
    rng = random.Random(depth)

    async def testbench(ctx):
        model, written = [], 0
        for _ in range(500):
            write, read = rng.random() < 0.6, rng.random() < 0.5
            ctx.set(dut.w_en, write)
            ctx.set(dut.w_data, written & 0xFF)
            ctx.set(dut.r_en, read)
            assert ctx.get(dut.w_rdy) == (len(model) < depth)
            assert ctx.get(dut.r_rdy) == bool(model)
            if model:
                assert ctx.get(dut.r_data) == model[0]
            popped = read and bool(model)
            if write and len(model) < depth:
                model.append(written & 0xFF)
                written += 1
            if popped:
                model.pop(0)
            await ctx.tick()

    simulate(dut, testbench)
