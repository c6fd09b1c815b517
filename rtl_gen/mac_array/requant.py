"""Post-processing (NVDLA's SDP): int32 accumulators to int8, bit-exact with accel.fixedpoint.requantize."""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def clamp(value, lo, hi):
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


class Requantizer(wiring.Component):
    """Per lane: saturate ``acc << max(shift, 0)`` to int32; SaturatingRoundingDoublingHighMul by M0
    (round to nearest, ties toward +∞; M0 < 2**31 so it never saturates); RoundingDivideByPOT by
    ``max(−shift, 0)`` (ties away from zero); add the zero point; clamp to [lo, hi].

    Timing: five pipeline stages (shift, multiply, high half, divide, offset and clamp); latency 5,
    one vector per cycle. The pipeline advances while ``o`` is empty or accepted.

    Members
    -------
    i : ``In(stream.Signature({acc: ArrayLayout(signed(acc_width), lanes), final: 1}))``
    o : ``Out(stream.Signature({value: ArrayLayout(signed(8), lanes), final: 1}))``
    m0 : ``In(ArrayLayout(32, lanes))``; shift : ``In(ArrayLayout(signed(8), lanes))``
        Per-lane multiplier and shift (stable while vectors flow).
    zero_point, lo, hi : ``In(signed(8))``
    """

    def __init__(self, lanes: int, acc_width: int):
        self.lanes = lanes
        self.acc_width = acc_width
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "acc": data.ArrayLayout(signed(acc_width), lanes), "final": 1}))),
            "o": Out(stream.Signature(data.StructLayout({
                "value": data.ArrayLayout(signed(8), lanes), "final": 1}))),
            "m0": In(data.ArrayLayout(32, lanes)),
            "shift": In(data.ArrayLayout(signed(8), lanes)),
            "zero_point": In(signed(8)),
            "lo": In(signed(8)),
            "hi": In(signed(8)),
        })

    def elaborate(self, platform):
        m = Module()
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)

        def stage(name, shape, value):
            reg = Signal(shape, name=name)
            with m.If(advance):
                m.d.sync += reg.eq(value)
            return reg

        valid, final = self.i.valid, self.i.payload.final
        for n in range(5):
            valid = stage(f"valid_{n}", 1, valid)
            final = stage(f"final_{n}", 1, final)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.final.eq(final)]

        for lane in range(self.lanes):
            shift = self.shift[lane]
            left = Mux(shift > 0, shift, 0)[:5]
            right = Mux(shift < 0, -shift, 0)[:5]
            shifted = stage(f"shifted_{lane}", signed(32),
                            clamp(self.i.payload.acc[lane] << left, INT32_MIN, INT32_MAX))
            product = stage(f"product_{lane}", signed(64), shifted * self.m0[lane])
            nudged = product + Mux(product >= 0, 1 << 30, 1 - (1 << 30))
            high = stage(f"high_{lane}", signed(32),
                         (nudged + Mux(nudged < 0, (1 << 31) - 1, 0)) >> 31)
            mask = (Const(1, 32) << right) - 1
            remainder = (high & mask).as_unsigned()
            threshold = (mask >> 1) + (high < 0)
            divided = stage(f"divided_{lane}", signed(32), (high >> right) + (remainder > threshold))
            out = stage(f"out_{lane}", signed(8),
                        clamp(divided + self.zero_point, self.lo, self.hi))
            m.d.comb += self.o.payload.value[lane].eq(out)
        return m
