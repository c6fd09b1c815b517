"""The first-word-fall-through queue and the write-acknowledgement tracker in Amaranth's simulator."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl_gen.lib.pipeline import registered
from rtl_gen.lib.queue import Queue, acknowledged


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


class _Acknowledged(wiring.Component):
    """:func:`acknowledged` behind a registered write: ``write`` and ``ack`` in, ``all_acked`` out."""

    write: In(1)
    ack: In(1)
    all_acked: Out(1)

    def elaborate(self, platform):
        m = Module()
        wrote = registered(m, 1, "wrote", 1, self.write)
        m.d.comb += self.all_acked.eq(acknowledged(m, "writes", range(16), wrote, self.ack))
        return m


@pytest.mark.parametrize("seed", range(3))
def test_acknowledged_is_high_when_every_earlier_write_is_acknowledged(seed, simulate):
    """Writes at random, each acknowledged 1–6 cycles later (several in flight, out of step): the flag is
    high in exactly the cycles in which the writes so far equal the acknowledgements so far."""
    dut = _Acknowledged()
    rng = random.Random(seed)

    async def testbench(ctx):
        due, writes, acks, high = [], 0, 0, 0
        for cycle in range(600):
            write = cycle < 550 and rng.random() < 0.4
            ack = bool(due) and due[0] <= cycle
            ctx.set(dut.write, write)
            ctx.set(dut.ack, ack)
            assert ctx.get(dut.all_acked) == (writes == acks), cycle
            high += writes == acks
            if ack:
                due.pop(0)
                acks += 1
            if write:
                due.append(max([cycle + rng.randint(1, 6)] + due[-1:]))
                writes += 1
            await ctx.tick()
        assert writes > 100 and 0 < high < 600 and not due

    simulate(dut, testbench)
