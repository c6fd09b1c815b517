"""Shared by the rtl_gen tests: running a design under an Amaranth testbench."""

import pytest
from amaranth.sim import Simulator


@pytest.fixture
def simulate():
    """``simulate(dut, testbench, clocked=True)``: run the async ``testbench`` against ``dut`` in Amaranth's
    simulator, with a 100 MHz clock unless ``clocked`` is false (purely combinational designs)."""

    def run(dut, testbench, clocked=True):
        sim = Simulator(dut)
        if clocked:
            sim.add_clock(1e-8)
        sim.add_testbench(testbench)
        sim.run()

    return run


@pytest.fixture
def through_stalls(simulate):
    """``through_stalls(dut, items, offer, rng)``: pass ``items`` through ``dut``'s ``i``/``o`` streams with
    random valid and ready (each high 70% of the cycles, from ``rng``), ``offer(ctx, item)`` setting an
    item's payload; returns the output payloads, one per item, in order of arrival."""

    def run(dut, items, offer, rng):
        received = []

        async def testbench(ctx):
            sent, offering = 0, False
            for _ in range(20 * len(items)):
                if not offering and sent < len(items) and rng.random() < 0.7:
                    offering = True
                    offer(ctx, items[sent])
                ctx.set(dut.i.valid, offering)
                ctx.set(dut.o.ready, rng.random() < 0.7)
                if offering and ctx.get(dut.i.ready):
                    sent, offering = sent + 1, False
                if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                    received.append(ctx.get(dut.o.payload))
                await ctx.tick()
                if len(received) == len(items):
                    return

        simulate(dut, testbench)
        return received

    return run
