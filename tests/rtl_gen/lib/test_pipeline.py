"""The register stage after a block-RAM FIFO (rtl_gen.lib.pipeline.staged) in Amaranth's simulator."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from rtl_gen.lib.pipeline import staged
from rtl_gen.lib.queue import Queue


class _Staged(wiring.Component):
    """A SyncFIFOBuffered, :func:`staged`, and a 2-entry Queue (the wrapper's command path)."""

    w_en: In(1)
    w_data: In(8)
    w_rdy: Out(1)
    r_en: In(1)
    r_data: Out(8)
    r_rdy: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = buffer = fifo.SyncFIFOBuffered(width=8, depth=16)
        m.submodules.queue = queue = Queue(8, 2)
        valid, data = staged(m, "stage", buffer, queue.w_rdy)
        m.d.comb += [buffer.w_en.eq(self.w_en), buffer.w_data.eq(self.w_data), self.w_rdy.eq(buffer.w_rdy),
                     queue.w_en.eq(valid), queue.w_data.eq(data), queue.r_en.eq(self.r_en),
                     self.r_data.eq(queue.r_data), self.r_rdy.eq(queue.r_rdy)]
        return m


@pytest.mark.parametrize("busy", [False, True])
def test_staged_keeps_order_and_passes_an_item_per_cycle(busy, simulate):
    """Random writes and reads (``busy``) keep every item in order; with both sides always willing, the
    items come out one per cycle once the first has arrived."""
    dut = _Staged()
    rng = random.Random(7)
    items = [n % 256 for n in range(200)]
    received, read_cycles = [], []

    async def testbench(ctx):
        sent, cycle = 0, 0
        while len(received) < len(items):
            write = sent < len(items) and (not busy or rng.random() < 0.6)
            read = not busy or rng.random() < 0.5
            ctx.set(dut.w_en, write)
            ctx.set(dut.w_data, items[sent] if write else 0)
            ctx.set(dut.r_en, read)
            if write and ctx.get(dut.w_rdy):
                sent += 1
            if read and ctx.get(dut.r_rdy):
                received.append(ctx.get(dut.r_data))
                read_cycles.append(cycle)
            await ctx.tick()
            cycle += 1
            assert cycle < 20 * len(items)

    simulate(dut, testbench)
    assert received == items
    if not busy:
        assert read_cycles == list(range(read_cycles[0], read_cycles[0] + len(items)))
