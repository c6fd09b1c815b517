"""The load unit (the DMA's read half): memory beats into convolution-buffer atoms."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import MacArraySpec

from ..shell import ADDRESS_BITS
from .cbuf import ENTRY_BITS


class LoadUnit(wiring.Component):
    """Copies ``groups`` runs of ``count`` beats from byte ``address + g·src_stride`` into the convolution
    buffer: feature atoms from ``index + g·dst_stride``, or (``weight``) consecutive lanes of weight blocks
    from block ``index`` (one run of blocks · atomic_k beats).

    Timing: the cycle after ``start`` it issues one read request per cycle (while ``rd_req`` is ready)
    and writes each beat to the buffer in the cycle it arrives (``rd_data`` is always ready). ``busy``
    is high from ``start`` until the cycle after the last beat has been written.

    Members
    -------
    start : ``In(1)``
        Begin a load with the inputs below (a one-cycle pulse).
    weight, address, index, count, groups, src_stride, dst_stride : ``In``
        Weights (blocks) or features (atoms), source byte address, first destination, beats per run,
        runs, and the distances between runs in DRAM (bytes) and in the buffer (atoms).
    empty, one_beat, one_run : ``In(1)``
        ``count`` or ``groups`` is 0; ``count`` is 1; ``groups`` is 1. Registers beside the others (the
        engine decodes them as the command enters its queue), so that ``start`` meets no compare.
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
            "count": In(ENTRY_BITS + (spec.atomic_k - 1).bit_length()),
            "groups": In(16),
            "src_stride": In(ADDRESS_BITS),
            "dst_stride": In(ENTRY_BITS),
            "empty": In(1),
            "one_beat": In(1),
            "one_run": In(1),
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
        last_beat, single = Signal.like(self.count), Signal()  # count − 1; count == 1
        src_stride, dst_stride = Signal.like(self.src_stride), Signal.like(self.dst_stride)
        weight = Signal()
        # Request side: beats left in the run after this one, runs left, the addresses of this beat and run.
        request_left, request_runs = Signal.like(self.count), Signal(16)
        request_address, request_run = Signal(ADDRESS_BITS), Signal(ADDRESS_BITS)
        # Receive side: the same for the destination.
        receive_left, receive_runs = Signal.like(self.count), Signal(16)
        index, run_index = Signal(ENTRY_BITS), Signal(ENTRY_BITS)
        lane = Signal(range(spec.atomic_k))
        # Whether the request (receive) beat is the run's last: flags kept beside the down-counters (the next
        # flag compares the counter with 1, no carry chain), so the port's handshake only enables registers
        # and meets no comparison.
        request_last, receive_last = Signal(), Signal()
        # Likewise whether any request is left and whether this run is the last (request_runs != 0 and == 1).
        requesting, request_final = Signal(), Signal()

        with m.If(self.start):
            runs = Mux(self.empty, 0, self.groups)
            m.d.sync += [
                last_beat.eq(self.count - 1), single.eq(self.one_beat),
                src_stride.eq(self.src_stride), dst_stride.eq(self.dst_stride),
                weight.eq(self.weight),
                request_left.eq(self.count - 1), request_runs.eq(runs), request_last.eq(self.one_beat),
                requesting.eq(~self.empty), request_final.eq(~self.empty & self.one_run),
                request_address.eq(self.address), request_run.eq(self.address),
                receive_left.eq(self.count - 1), receive_runs.eq(runs), receive_last.eq(self.one_beat),
                index.eq(self.index), run_index.eq(self.index), lane.eq(0),
            ]

        m.d.comb += [
            self.rd_req.valid.eq(requesting),
            self.rd_req.payload.eq(request_address),
            self.rd_data.ready.eq(1),
            self.busy.eq(self.start | (receive_runs != 0)),
        ]
        with m.If(self.rd_req.valid & self.rd_req.ready):
            with m.If(request_last):
                m.d.sync += [request_left.eq(last_beat), request_runs.eq(request_runs - 1), request_last.eq(single),
                             requesting.eq(~request_final), request_final.eq(request_runs == 2),
                             request_run.eq(request_run + src_stride), request_address.eq(request_run + src_stride)]
            with m.Else():
                m.d.sync += [request_left.eq(request_left - 1), request_last.eq(request_left == 1),
                             request_address.eq(request_address + spec.beat_bytes)]

        m.d.comb += [
            self.write_en.eq(self.rd_data.valid),
            self.write_weight.eq(weight),
            self.write_index.eq(index),
            self.write_lane.eq(lane),
            self.write_data.eq(self.rd_data.payload),
        ]
        with m.If(self.rd_data.valid):
            with m.If(receive_last):
                m.d.sync += [receive_left.eq(last_beat), receive_runs.eq(receive_runs - 1), receive_last.eq(single)]
            with m.Else():
                m.d.sync += [receive_left.eq(receive_left - 1), receive_last.eq(receive_left == 1)]
            with m.If(weight):
                m.d.sync += lane.eq(lane + 1)
                with m.If(lane == spec.atomic_k - 1):
                    m.d.sync += [index.eq(index + 1), lane.eq(0)]
            with m.Elif(receive_last):
                m.d.sync += [run_index.eq(run_index + dst_stride), index.eq(run_index + dst_stride)]
            with m.Else():
                m.d.sync += index.eq(index + 1)
        return m
