"""Pooling (NVDLA's PDP): the max or the rounded average of a window of feature atoms, per lane."""

import math

from amaranth.hdl import Mux, Signal, Module, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.pipeline import registered

MAX_COUNT = 121  # 11 × 11 window
SUM_BITS = 16  # |sum| <= 121 · 128 = 15488
RECIPROCAL_SHIFT = 21
DIVIDE_STAGES = 5
"""The table read and the rounded magnitude; the reciprocal registered; the two partial products; their
sum, the quotient; the signed quotient or the max."""
"""floor(n / d) == (n · ⌈2**21 / d⌉) >> 21 for every n < 2**14 and 1 <= d <= 121: the rounding error
e = ⌈2**21/d⌉·d − 2**21 is below d <= 127, so n·e < 2**21 (Granlund & Montgomery, PLDI 1994, §4).
The rounded numerator |sum| + d // 2 is at most 15488 + 60 < 2**14."""


def reciprocals() -> list[int]:
    return [0] + [math.ceil(2**RECIPROCAL_SHIFT / d) for d in range(1, MAX_COUNT + 1)]


class PoolReducer(wiring.Component):
    """Reduces the steps of one window per output pixel: a running max, or a sum and a count of the
    positions inside the map; then, for the average, divides by the count (half away from zero) with a
    reciprocal table.

    Timing: 1 cycle to reduce, :data:`DIVIDE_STAGES` to divide (taken by max too); one step per cycle;
    advances while ``o`` is empty or accepted.

    Members
    -------
    i : ``In(stream.Signature({atom: ArrayLayout(signed(8), lanes), inside, first, last, final}))``
    average : ``In(1)``
    o : ``Out(stream.Signature({value: ArrayLayout(signed(8), lanes), final: 1}))``
    """

    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "atom": data.ArrayLayout(signed(8), lanes), "inside": 1, "first": 1, "last": 1, "final": 1}))),
            "average": In(1),
            "o": Out(stream.Signature(data.StructLayout({
                "value": data.ArrayLayout(signed(8), lanes), "final": 1}))),
        })

    def elaborate(self, platform):
        m = Module()
        step = self.i.payload
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)

        # Reduce: running values per lane; a pixel's result leaves with its last step.
        count = Signal(range(MAX_COUNT + 1))
        acc = [Signal(signed(SUM_BITS), name=f"acc_{lane}") for lane in range(self.lanes)]
        done = Signal(data.StructLayout({"valid": 1, "final": 1}))
        done_count = Signal.like(count)
        done_acc = [Signal(signed(SUM_BITS), name=f"done_{lane}") for lane in range(self.lanes)]
        with m.If(advance):
            m.d.sync += [done.valid.eq(self.i.valid & step.last), done.final.eq(step.final)]
            with m.If(self.i.valid):
                new_count = Mux(step.first, 0, count) + step.inside
                m.d.sync += [count.eq(new_count), done_count.eq(new_count)]
                for lane in range(self.lanes):
                    x = step.atom[lane]
                    empty = Mux(self.average, 0, -128)
                    previous = Mux(step.first, empty, acc[lane])
                    combined = Mux(self.average, previous + x, Mux(x > previous, x, previous))
                    new = Mux(step.inside, combined, previous)
                    m.d.sync += [acc[lane].eq(new), done_acc[lane].eq(new)]

        # Divide: look up ⌈2**21 / count⌉ (the table's read, then a register, so that no logic follows the
        # SRAM), multiply the rounded magnitude by its two halves, add them, restore the sign.
        table = memory.Memory(shape=RECIPROCAL_SHIFT + 1, depth=MAX_COUNT + 1, init=reciprocals())
        m.submodules.reciprocals = table
        lookup = table.read_port(transparent_for=())
        m.d.comb += [lookup.addr.eq(done_count), lookup.en.eq(advance)]
        valid, final = done.valid, done.final
        for n in range(DIVIDE_STAGES):
            valid = registered(m, advance, f"valid_{n}", 1, valid)
            final = registered(m, advance, f"final_{n}", 1, final)
        reciprocal = registered(m, advance, "reciprocal", RECIPROCAL_SHIFT + 1, lookup.data)
        for lane in range(self.lanes):
            total = done_acc[lane]
            magnitude = registered(m, advance, f"magnitude_{lane}", 15,
                                   Mux(total < 0, -total, total) + (done_count >> 1))
            magnitude = registered(m, advance, f"magnitude_{lane}_1", 15, magnitude)
            low = registered(m, advance, f"low_{lane}", 26, magnitude * reciprocal[:11])
            high = registered(m, advance, f"high_{lane}", 26, magnitude * reciprocal[11:])
            quotient = registered(m, advance, f"quotient_{lane}", 15, (low + (high << 11)) >> RECIPROCAL_SHIFT)
            held = total  # the max, or the sum's sign
            for n in range(DIVIDE_STAGES - 1):
                held = registered(m, advance, f"held_{lane}_{n}", signed(SUM_BITS), held)
            result = Mux(self.average, Mux(held < 0, -quotient, quotient), held)
            out = registered(m, advance, f"out_{lane}", signed(8), result)
            m.d.comb += self.o.payload.value[lane].eq(out)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.final.eq(final)]
        return m
