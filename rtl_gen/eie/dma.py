"""The eie DMA: memory beats into on-chip memories (loads) and source activations out to memory (stores)."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.eie import SLOTS, act_pace

from ..shell import ADDRESS_BITS, write_layout

BEAT_BITS = 64
COUNT_BITS = 24  # beats of one command: at most 65536 pointers · 256 PEs / 4


class LoadUnit(wiring.Component):
    """Reads ``beats`` consecutive beats from byte ``address`` and hands each out as ``pace`` chunks.

    A chunk is ``SLOTS / pace`` 16-bit elements of the beat (``pace`` is 1, 2 or 4: how many cycles the
    target needs to store one beat). Chunk ``phase`` φ of beat ``beat`` holds the beat's elements
    φ·(4/pace) … (φ+1)·(4/pace) − 1; ``data`` is always the whole beat.

    Timing: the cycle after ``start`` it requests the first beat, then one every ``pace`` cycles (while
    ``rd_req`` is ready); a beat's first chunk comes out in the cycle it arrives, the others in the
    following cycles (``rd_data`` is not ready meanwhile). ``busy`` is high from ``start`` until the last
    chunk is out.

    Members
    -------
    start : ``In(1)``; address : ``In(32)``; beats : ``In(24)``; pace : ``In(range(5))``
        Begin a load (a one-cycle pulse with its parameters).
    busy : ``Out(1)``
    rd_req : ``Out(stream.Signature(32))``; rd_data : ``In(stream.Signature(64))``
        The engine's memory read port.
    chunk_valid : ``Out(1)``; data : ``Out(64)``; beat : ``Out(24)``; phase : ``Out(2)``
        The chunk handed out this cycle.
    """

    def __init__(self):
        super().__init__({
            "start": In(1), "address": In(ADDRESS_BITS), "beats": In(COUNT_BITS), "pace": In(range(SLOTS + 1)),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(ADDRESS_BITS)), "rd_data": In(stream.Signature(BEAT_BITS)),
            "chunk_valid": Out(1), "data": Out(BEAT_BITS), "beat": Out(COUNT_BITS), "phase": Out(2),
        })

    def elaborate(self, platform):
        m = Module()
        to_request = Signal(COUNT_BITS)
        to_receive = Signal(COUNT_BITS)
        request_address = Signal(ADDRESS_BITS)
        pace = Signal(range(SLOTS + 1))
        wait = Signal(2)  # cycles until the next request may go
        held = Signal(BEAT_BITS)
        phase = Signal(2)
        more = Signal()  # chunks of the held beat still to hand out
        received = Signal(COUNT_BITS)

        with m.If(self.start):
            m.d.sync += [to_request.eq(self.beats), to_receive.eq(self.beats), request_address.eq(self.address),
                         pace.eq(self.pace), wait.eq(0), received.eq(0), more.eq(0)]

        m.d.comb += [
            self.rd_req.valid.eq((to_request != 0) & (wait == 0)),
            self.rd_req.payload.eq(request_address),
            self.rd_data.ready.eq(~more),
            self.busy.eq(self.start | (to_receive != 0) | more),
        ]
        with m.If(self.rd_req.valid & self.rd_req.ready):
            m.d.sync += [to_request.eq(to_request - 1), request_address.eq(request_address + BEAT_BITS // 8),
                         wait.eq(pace - 1)]
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)

        arrived = self.rd_data.valid & self.rd_data.ready
        with m.If(arrived):
            m.d.sync += [to_receive.eq(to_receive - 1), held.eq(self.rd_data.payload)]
            with m.If(pace != 1):
                m.d.sync += [more.eq(1), phase.eq(1)]
            with m.Else():
                m.d.sync += received.eq(received + 1)
        with m.Elif(more):
            m.d.sync += phase.eq(phase + 1)
            with m.If(phase == pace - 1):
                m.d.sync += [more.eq(0), received.eq(received + 1)]
        m.d.comb += [
            self.chunk_valid.eq(arrived | more),
            self.data.eq(Mux(more, held, self.rd_data.payload)),
            self.beat.eq(received),
            self.phase.eq(Mux(more, phase, 0)),
        ]
        return m


class StoreUnit(wiring.Component):
    """Writes ``beats`` beats of source activations to byte ``address`` and waits for their acknowledgements.

    Chunk c (``pace`` per beat, ``lanes`` = 4/pace elements each) is elements c·lanes … c·lanes + lanes − 1:
    the unit asks every PE to read local entry ``read_local`` (``read_en``), and the cycle after picks
    lane s from PE ``group·lanes + s`` (``read_data``). Elements at or beyond ``count`` are written as 0.

    Timing: reads one chunk per cycle from the cycle after ``start``; a beat is offered on ``wr_req`` the
    second cycle after its last chunk's read; reading pauses while a finished beat cannot move into the
    write register. ``busy`` is high from ``start`` until every write is acknowledged.

    Members
    -------
    start : ``In(1)``; address : ``In(32)``; beats : ``In(24)``; count : ``In(24)``
        Begin a store (a one-cycle pulse with its parameters).
    busy : ``Out(1)``
    read_en : ``Out(1)``; read_local : ``Out(range(act_regs))``
        Read request to every PE's source file.
    read_data : ``In(ArrayLayout(16, n_pe))``
        Every PE's source-file read data (one cycle after ``read_en``, held while it is low).
    wr_req : ``Out(stream.Signature(write_layout(64)))``; wr_ack : ``In(stream.Signature(1))``
        The engine's memory write port.
    """

    def __init__(self, n_pe: int, act_regs: int):
        from amaranth.lib import data

        self.n_pe, self.act_regs = n_pe, act_regs
        self.pace = act_pace(n_pe)
        self.lanes = SLOTS // self.pace
        super().__init__({
            "start": In(1), "address": In(ADDRESS_BITS), "beats": In(COUNT_BITS), "count": In(COUNT_BITS),
            "busy": Out(1),
            "read_en": Out(1), "read_local": Out(range(act_regs)),
            "read_data": In(data.ArrayLayout(16, n_pe)),
            "wr_req": Out(stream.Signature(write_layout(BEAT_BITS))), "wr_ack": In(stream.Signature(1)),
        })

    def elaborate(self, platform):
        m = Module()
        n, lanes, pace = self.n_pe, self.lanes, self.pace
        pe_bits, lane_bits = (n - 1).bit_length(), (lanes - 1).bit_length()
        chunk_bits = COUNT_BITS + 2
        chunks = Signal(chunk_bits)
        next_chunk = Signal(chunk_bits)
        count = Signal(COUNT_BITS)
        address = Signal(ADDRESS_BITS)
        to_ack = Signal(COUNT_BITS)
        r1_valid, r1_chunk = Signal(), Signal(chunk_bits)
        assembly = Signal(BEAT_BITS)
        out_valid, out_data, out_address = Signal(), Signal(BEAT_BITS), Signal(ADDRESS_BITS)

        with m.If(self.start):
            m.d.sync += [chunks.eq(self.beats * pace), next_chunk.eq(0), count.eq(self.count),
                         address.eq(self.address), to_ack.eq(self.beats), assembly.eq(0)]

        r1_phase = r1_chunk[:pace.bit_length() - 1] if pace > 1 else Const(0, 1)
        r1_final = r1_phase == pace - 1
        advance = ~r1_valid | ~r1_final | ~out_valid | self.wr_req.ready
        more = Signal()  # next_chunk < chunks, registered: the compare stays off the read-enable path
        issue = advance & more & ~self.start
        first_element = next_chunk * lanes
        m.d.comb += [self.read_en.eq(issue), self.read_local.eq(first_element >> pe_bits)]
        with m.If(advance):
            m.d.sync += [r1_valid.eq(issue), r1_chunk.eq(next_chunk)]
        with m.If(self.start):
            m.d.sync += more.eq(self.beats != 0)
        with m.Elif(issue):
            m.d.sync += [next_chunk.eq(next_chunk + 1), more.eq(next_chunk + 1 < chunks)]

        # The chunk read last cycle: lane s from PE group·lanes + s, zero past the last element.
        base = r1_chunk * lanes
        group = (base[:pe_bits] >> lane_bits) if n > lanes else Const(0, 1)
        values = []
        for s in range(lanes):
            column = Array(self.read_data[g * lanes + s] for g in range(n // lanes))
            value = Mux(base + s < count, column[group], 0)
            values.append(value)
        chunk = Cat(*values)
        placed = Signal(BEAT_BITS)
        if pace == 1:
            m.d.comb += placed.eq(chunk)
        else:
            with m.Switch(r1_phase):
                for phase in range(pace):
                    with m.Case(phase):
                        m.d.comb += placed.eq(chunk << (16 * lanes * phase))
        with m.If(self.wr_req.valid & self.wr_req.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(r1_valid & advance):
            with m.If(r1_final):
                m.d.sync += [out_valid.eq(1), out_data.eq(assembly | placed), assembly.eq(0),
                             out_address.eq(address + (r1_chunk >> (pace.bit_length() - 1)) * (BEAT_BITS // 8))]
            with m.Else():
                m.d.sync += assembly.eq(assembly | placed)

        m.d.comb += [
            self.wr_req.valid.eq(out_valid),
            self.wr_req.payload.address.eq(out_address),
            self.wr_req.payload.data.eq(out_data),
            self.wr_ack.ready.eq(1),
            self.busy.eq(self.start | (to_ack != 0)),
        ]
        with m.If(self.wr_ack.valid):
            m.d.sync += to_ack.eq(to_ack - 1)
        return m
