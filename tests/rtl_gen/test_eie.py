"""eie RTL blocks in Amaranth's simulator (LNZD quadtree, leading-one detector) and the
engine's Verilog lint over corner configurations (1 and 2 PEs, queue depth 1, odd depths)."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accel.spec import EieSpec
from rtl_gen.eie.lnzd import Lnzd, leading_one
from rtl_gen.export import export, lint


async def step(ctx, clocked):
    if clocked:
        await ctx.tick()
    else:
        await ctx.delay(1e-8)


@pytest.mark.parametrize("n_pe", [1, 2, 3, 4, 8, 16, 64])
def test_lnzd_picks_the_smallest_local_then_pe(n_pe, simulate):
    dut = Lnzd(n_pe, 6)
    rng = random.Random(n_pe)

    async def testbench(ctx):
        for _ in range(300):
            valid = [rng.random() < 0.4 for _ in range(n_pe)]
            local = [rng.randrange(64) if rng.random() < 0.7 else rng.randrange(3) for _ in range(n_pe)]
            ctx.set(dut.valid, sum(v << p for p, v in enumerate(valid)))
            for p in range(n_pe):
                ctx.set(dut.local[p], local[p])
            candidates = [(local[p], p) for p in range(n_pe) if valid[p]]
            assert ctx.get(dut.found) == bool(candidates)
            if candidates:
                best_local, best_pe = min(candidates)
                assert (ctx.get(dut.index), ctx.get(dut.pe)) == (best_local, best_pe)
            assert ctx.get(dut.winner) == (1 << min(candidates)[1] if candidates else 0)
            await step(ctx, False)

    simulate(dut, testbench, clocked=False)


class LeadingOne(wiring.Component):
    bits: In(37)
    any: Out(1)
    index: Out(6)

    def elaborate(self, platform):
        m = Module()
        found, index = leading_one(self.bits)
        m.d.comb += [self.any.eq(found), self.index.eq(index)]
        return m


def test_leading_one_detector(simulate):
    dut = LeadingOne()
    rng = random.Random(1)

    async def testbench(ctx):
        values = [0, 1, 2**36, 3, 2**36 + 2**35, 2**36 + 1] + [rng.getrandbits(37) & rng.getrandbits(37)
                                                               for _ in range(300)]
        for value in values:
            ctx.set(dut.bits, value)
            ones = [i for i in range(37) if value >> i & 1]
            assert ctx.get(dut.any) == bool(ones)
            if ones:
                assert ctx.get(dut.index) == ones[0]
            await step(ctx, False)

    simulate(dut, testbench, clocked=False)


@pytest.mark.parametrize("params", [
    dict(n_pe=1, queue_depth=1, act_regs=4, ptr_entries=4, spmat_lines=2),
    dict(n_pe=2, queue_depth=3, act_regs=8, ptr_entries=16, spmat_lines=2, weight_frac=0, act_frac=0),
    dict(n_pe=4, queue_depth=8, act_regs=16, ptr_entries=64, spmat_lines=64, max_cols=2**20),
])
def test_verilog_lints_clean(params, tmp_path):
    lint(export(EieSpec(**params), tmp_path))
