"""Pooling (NVDLA's PDP): the max or the rounded average of a window of feature atoms, per lane."""

import math

from amaranth.hdl import Mux, Signal, Module, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.pipeline import registered

MAX_COUNT = 121  # 11 × 11 window
SUM_BITS = 16  # |sum| <= 121 · 128 = 15488
RECIPROCAL_SHIFT = 21
DIVIDE_STAGES = 7
"""The table read and the rounded magnitude; the chosen half of the table; the reciprocal's and the
magnitude's copies (the multipliers' input registers); the two partial products (the multipliers' output
registers); their copies in the fabric; their sum, the quotient; the signed quotient or the max."""
"""floor(n / d) == (n · ⌈2**21 / d⌉) >> 21 for every n < 2**14 and 1 <= d <= 121: the rounding error
e = ⌈2**21/d⌉·d − 2**21 is below d <= 127, so n·e < 2**21 (Granlund & Montgomery, PLDI 1994, §4).
The rounded numerator |sum| + d // 2 is at most 15488 + 60 < 2**14."""


def reciprocals() -> list[int]:
    return [0] + [math.ceil(2**RECIPROCAL_SHIFT / d) for d in range(1, MAX_COUNT + 1)]


class PoolReducer(wiring.Component):
    """Reduces the steps of one window per output pixel: a running max, or a sum and a count of the
    positions inside the map; then, for the average, divides by the count (half away from zero) with a
    reciprocal table.

    Timing: 1 cycle to take a step (a register of its own, so the route from the sender ends there), 1 to
    reduce, :data:`DIVIDE_STAGES` to divide (taken by max too); one step per cycle; advances while ``o``
    is empty or accepted.

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
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)
        taken = registered(m, advance, "taken", 1, self.i.valid)
        step = registered(m, advance, "step", self.i.payload.shape(), self.i.payload)

        # Reduce: per lane a running max (loaded with the atom where it is inside the map and either the
        # first found or greater) and a running sum; the count of the positions found inside the map. A
        # pixel's window is reduced with its last step, and the next cycle reads these registers.
        count = Signal(range(MAX_COUNT + 1))
        found = Signal()  # count != 0
        peak = [Signal(signed(8), name=f"peak_{lane}") for lane in range(self.lanes)]
        total = [Signal(signed(SUM_BITS), name=f"total_{lane}") for lane in range(self.lanes)]
        done = Signal(data.StructLayout({"valid": 1, "final": 1}))
        with m.If(advance):
            m.d.sync += [done.valid.eq(taken & step.last), done.final.eq(step.final)]
            with m.If(taken):
                m.d.sync += [count.eq(Mux(step.first, 0, count) + step.inside),
                             found.eq((found & ~step.first) | step.inside)]
                for lane in range(self.lanes):
                    x = step.atom[lane]
                    # x > peak as peak < x, offset to unsigned: the borrow of one carry chain (Yosys maps
                    # a > b to a - b and a test of its sum bits for 0, 3 LUT levels more)
                    greater = (peak[lane].as_unsigned() ^ 0x80) < (x.as_unsigned() ^ 0x80)
                    with m.If(step.inside & (step.first | ~found | greater)):
                        m.d.sync += peak[lane].eq(x)
                    m.d.sync += total[lane].eq(Mux(step.first, 0, total[lane]) + Mux(step.inside, x, 0))

        # Divide: look up ⌈2**21 / count⌉ (two tables in logic, registered, one per half of the counts, so
        # each is a function of 6 bits) and round the magnitude; choose the half; copy both (the multipliers'
        # input registers, a copy in each, so only a route precedes them); multiply the magnitude by the
        # reciprocal's two halves (registered in the multipliers) and copy the products into the fabric; add
        # them; restore the sign.
        half_counts = 1 << (len(count) - 1)
        lookups = []
        for n in range(2):
            table = memory.Memory(shape=RECIPROCAL_SHIFT + 1, depth=half_counts,
                                  init=reciprocals()[n * half_counts:(n + 1) * half_counts],
                                  attrs={"ram_style": "logic"})
            m.submodules[f"reciprocals_{n}"] = table
            lookups.append(table.read_port(transparent_for=()))
            m.d.comb += [lookups[n].addr.eq(count[:-1]), lookups[n].en.eq(advance)]
        upper = registered(m, advance, "upper", 1, count[-1])  # with the tables' reads
        valid, final = done.valid, done.final
        for n in range(DIVIDE_STAGES):
            valid = registered(m, advance, f"valid_{n}", 1, valid)
            final = registered(m, advance, f"final_{n}", 1, final)
        reciprocal = registered(m, advance, "reciprocal", RECIPROCAL_SHIFT + 1,
                                Mux(upper, lookups[1].data, lookups[0].data))
        reciprocal = registered(m, advance, "reciprocal_1", RECIPROCAL_SHIFT + 1, reciprocal)
        half = count >> 1
        for lane in range(self.lanes):
            sum_ = total[lane]  # |sum| + half: both signs' sums in parallel, then one is chosen
            magnitude = registered(m, advance, f"magnitude_{lane}", 15, Mux(sum_ < 0, half - sum_, sum_ + half))
            for n in (1, 2):
                magnitude = registered(m, advance, f"magnitude_{lane}_{n}", 15, magnitude)
            low = registered(m, advance, f"low_{lane}", 26, magnitude * reciprocal[:11])
            high = registered(m, advance, f"high_{lane}", 26, magnitude * reciprocal[11:])
            low = registered(m, advance, f"low_{lane}_1", 26, low)
            high = registered(m, advance, f"high_{lane}_1", 26, high)
            quotient = registered(m, advance, f"quotient_{lane}", 15, (low + (high << 11)) >> RECIPROCAL_SHIFT)
            held = Mux(self.average, sum_ >> (SUM_BITS - 1), Mux(found, peak[lane], -128))  # the sign, or the max
            for n in range(DIVIDE_STAGES - 1):
                held = registered(m, advance, f"held_{lane}_{n}", signed(8), held)
            result = Mux(self.average, Mux(held < 0, -quotient, quotient), held)
            out = registered(m, advance, f"out_{lane}", signed(8), result)
            m.d.comb += self.o.payload.value[lane].eq(out)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.final.eq(final)]
        return m
