"""The load unit (the DMA's read half): memory beats into convolution-buffer atoms."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import MacArraySpec

from ..shell import ADDRESS_BITS
from .cbuf import ENTRY_BITS


class LoadUnit(wiring.Component):
    """Copies ``count`` feature atoms, or ``count`` weight blocks (count · atomic_k beats, lanes in order),
    from byte ``address`` into the convolution buffer from ``index`` on.

    Timing: the cycle after ``start`` it issues one read request per cycle (while ``rd_req`` is ready)
    and writes each beat to the buffer in the cycle it arrives (``rd_data`` is always ready). ``busy``
    is high from ``start`` until the cycle after the last beat has been written.

    Members
    -------
    start : ``In(1)``
        Begin a load with the inputs below (a one-cycle pulse).
    weight, address, index, count : ``In``
        Weights (blocks) or features (atoms), source byte address, first destination, amount.
    busy : ``Out(1)``
    rd_req : ``Out(stream.Signature(32))``; rd_data : ``In(stream.Signature(8·atomic_c))``
        The engine's memory read port.
    write_en, write_weight, write_index, write_lane, write_data : ``Out``
        The convolution buffer's write port.
    """

    def __init__(self, spec: MacArraySpec):
        self.spec = spec
        super().__init__({
            "start": In(1),
            "weight": In(1),
            "address": In(ADDRESS_BITS),
            "index": In(ENTRY_BITS),
            "count": In(ENTRY_BITS),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(ADDRESS_BITS)),
            "rd_data": In(stream.Signature(8 * spec.atomic_c)),
            "write_en": Out(1),
            "write_weight": Out(1),
            "write_index": Out(ENTRY_BITS),
            "write_lane": Out(range(spec.atomic_k)),
            "write_data": Out(8 * spec.atomic_c),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        lane_bits = (spec.atomic_k - 1).bit_length()
        to_request = Signal(ENTRY_BITS + lane_bits)
        to_receive = Signal(ENTRY_BITS + lane_bits)
        request_address = Signal(ADDRESS_BITS)
        weight = Signal()
        index = Signal(ENTRY_BITS)
        lane = Signal(range(spec.atomic_k))

        with m.If(self.start):
            beats = Mux(self.weight, self.count << lane_bits, self.count)
            m.d.sync += [
                to_request.eq(beats),
                to_receive.eq(beats),
                request_address.eq(self.address),
                weight.eq(self.weight),
                index.eq(self.index),
                lane.eq(0),
            ]

        m.d.comb += [
            self.rd_req.valid.eq(to_request != 0),
            self.rd_req.payload.eq(request_address),
            self.rd_data.ready.eq(1),
            self.busy.eq(self.start | (to_receive != 0)),
        ]
        with m.If(self.rd_req.valid & self.rd_req.ready):
            m.d.sync += [
                to_request.eq(to_request - 1),
                request_address.eq(request_address + spec.beat_bytes),
            ]

        m.d.comb += [
            self.write_en.eq(self.rd_data.valid),
            self.write_weight.eq(weight),
            self.write_index.eq(index),
            self.write_lane.eq(lane),
            self.write_data.eq(self.rd_data.payload),
        ]
        with m.If(self.rd_data.valid):
            m.d.sync += to_receive.eq(to_receive - 1)
            with m.If(~weight | (lane == spec.atomic_k - 1)):
                m.d.sync += [index.eq(index + 1), lane.eq(0)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)
        return m
