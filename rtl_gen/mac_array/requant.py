"""Post-processing (NVDLA's SDP): int32 accumulators to int8, bit-exact with accel.fixedpoint.requantize."""

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.mac_array import RAW_LATENCY, REQUANT_LATENCY as LATENCY

from ..lib.fixedpoint import multiplied, offset_and_clamp, saturating_shift
from ..lib.pipeline import registered


class Requantizer(wiring.Component):
    """Per lane: saturate ``acc << max(shift, 0)`` to int32; SaturatingRoundingDoublingHighMul by M0
    (round to nearest, ties toward +∞; M0 < 2**31 so it never saturates); RoundingDivideByPOT by
    ``max(−shift, 0)`` (ties away from zero); add the zero point; clamp to [lo, hi].

    Timing: :data:`LATENCY` pipeline stages (those of
    :func:`~rtl_gen.lib.fixedpoint.multiply_by_quantized_multiplier`, then those of
    :func:`~rtl_gen.lib.fixedpoint.offset_and_clamp`: the comparisons with the bounds, then the clamp), one
    vector per cycle. The pipeline advances while ``o`` is empty or accepted. ``m0``, ``shift``,
    ``zero_point``, ``lo`` and ``hi`` must be stable from two cycles before a vector enters until it leaves.

    Members
    -------
    i : ``In(stream.Signature({acc: ArrayLayout(signed(acc_width), lanes), final: 1}))``
    o : ``Out(stream.Signature({value: ArrayLayout(signed(8), lanes), final: 1}))``
    m0 : ``In(ArrayLayout(32, lanes))``; shift : ``In(ArrayLayout(signed(8), lanes))``
        Per-lane multiplier and shift (stable while vectors flow).
    zero_point, lo, hi : ``In(signed(8))``
    raw : ``Out(StructLayout({valid: 1, final: 1, acc: ArrayLayout(signed(32), lanes)}))``
        The vector accepted :data:`RAW_LATENCY` cycles ago (while the pipeline advances), its lanes
        ``acc << max(shift, 0)`` saturated to int32 (the first stages of the requantization): with
        ``shift`` <= 0, the accumulators as int32.
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
            "raw": Out(data.StructLayout({"valid": 1, "final": 1, "acc": data.ArrayLayout(signed(32), lanes)})),
        })

    def elaborate(self, platform):
        m = Module()
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)

        valid, final = self.i.valid, self.i.payload.final
        for n in range(LATENCY):
            valid = registered(m, advance, f"valid_{n}", 1, valid)
            final = registered(m, advance, f"final_{n}", 1, final)
            if n == RAW_LATENCY - 1:
                m.d.comb += [self.raw.valid.eq(valid), self.raw.final.eq(final)]
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.final.eq(final)]

        for lane in range(self.lanes):
            saturated = saturating_shift(m, advance, f"lane{lane}", self.i.payload.acc[lane], self.shift[lane])
            scaled = multiplied(m, advance, f"lane{lane}", saturated, self.m0[lane], self.shift[lane])
            m.d.comb += self.raw.acc[lane].eq(saturated)
            out = offset_and_clamp(m, advance, f"lane{lane}", scaled, self.zero_point, self.lo, self.hi)
            m.d.comb += self.o.payload.value[lane].eq(out)
        return m
