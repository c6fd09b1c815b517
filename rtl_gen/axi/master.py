"""AXI4 master for an engine's memory port: single-beat shell requests coalesced into INCR bursts.

Bursts (ARM IHI 0022E A3.4.1): INCR, at most 256 beats (``axlen`` 8 bits), never crossing a 4 KB boundary;
one ID (0), so read data and write responses come back in order.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.pipeline import staged
from ..lib.queue import Queue
from ..shell import ADDRESS_BITS, write_layout
from .ports import axi_master_members

MAX_BURST = 256
"""Beats of the longest burst (AXI4 INCR)."""
PAGE = 4096
"""Bursts never cross a 4 KB boundary (ARM IHI 0022E A3.4.1)."""
QUEUED_BURSTS = 4
"""Bursts formed but not yet issued, per direction."""
OUTSTANDING = 8
"""Bursts issued and not yet answered (read data or write response), per direction."""
SKID = 2
"""Entries of each skid buffer (:class:`rtl_gen.lib.queue.Queue`): on the shell's request streams and on the
AR, R, AW and W channels. A ``ready`` into a skid buffer is a register, so no path runs from the AXI ports
into the engine or into the burst queues, and a full buffer still passes one item per cycle."""
INCR, BURST_SIZE_OF = 0b01, {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 256: 5, 512: 6, 1024: 7}


def skid(m, name: str, valid, payload) -> Queue:
    """A :data:`SKID`-entry queue ``name`` that takes ``payload`` in the cycles ``valid`` is high and it has
    room (``w_rdy``); the caller connects its read side."""
    m.submodules[name] = queue = Queue(len(payload), SKID)
    m.d.comb += [queue.w_en.eq(valid), queue.w_data.eq(payload)]
    return queue


def burst_layout(address_bits: int) -> data.StructLayout:
    """A burst: its first byte address and its length in beats minus one (``axlen``)."""
    return data.StructLayout({"address": address_bits, "len": 8})


class BurstFormer(wiring.Component):
    """Coalesces a sequence of beat addresses into bursts.

    A beat is first registered (so the address compare starts from a flip-flop). A held beat extends the
    open burst if it is the next address, the burst has fewer than :data:`MAX_BURST` beats and the beat
    does not start a new 4 KB page; otherwise the open burst is emitted and the beat opens a new one. A
    cycle without a held beat emits the open burst, so a burst is emitted two cycles after its last beat was
    taken (or with the beat that breaks it) and no beat waits for a later one.

    Members
    -------
    push : ``In(1)``; address : ``In(address_bits)``; ready : ``Out(1)`` — a beat, taken when ``ready``.
    room : ``In(1)`` — a burst can be taken this cycle (``ready`` is low while a beat is held without room).
    emit : ``Out(1)``; burst : ``Out(burst_layout)`` — a burst is emitted this cycle (only with ``room``).
    busy : ``Out(1)`` — a beat is held or a burst is being formed.
    """

    def __init__(self, address_bits: int, beat_bytes: int):
        self.beat_bytes = beat_bytes
        super().__init__({"push": In(1), "address": In(address_bits), "ready": Out(1), "room": In(1),
                          "emit": Out(1), "burst": Out(burst_layout(address_bits)), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        page_bits = (PAGE - 1).bit_length()
        held, beat = Signal(), Signal.like(self.address)
        m.d.comb += self.ready.eq(~held | self.room)
        take = held & self.room
        with m.If(self.push & self.ready):
            m.d.sync += [held.eq(1), beat.eq(self.address)]
        with m.Elif(take):
            m.d.sync += held.eq(0)

        is_open, start, count = Signal(), Signal.like(self.address), Signal(8)
        following = Signal.like(self.address)
        extend = is_open & (beat == following) & (count != MAX_BURST - 1) & (beat[:page_bits] != 0)
        m.d.comb += [self.burst.address.eq(start), self.burst.len.eq(count), self.busy.eq(held | is_open)]
        with m.If(take):
            m.d.sync += following.eq(beat + self.beat_bytes)
            with m.If(extend):
                m.d.sync += count.eq(count + 1)
            with m.Else():
                m.d.comb += self.emit.eq(is_open)
                m.d.sync += [start.eq(beat), count.eq(0), is_open.eq(1)]
        with m.Elif(is_open & self.room):
            m.d.comb += self.emit.eq(1)
            m.d.sync += is_open.eq(0)
        return m


class AxiMaster(wiring.Component):
    """The engine's memory port (the shell's streams, flipped) as an AXI4 master.

    Members
    -------
    rd_req, rd_data, wr_req, wr_ack : the shell's memory-port streams (rtl_gen.shell), flipped.
    m_axi_* : the AXI4 master ports (:func:`rtl_gen.axi.ports.axi_master_members`), data ``port_bits`` wide.
    base : ``In(address_bits)`` — added to every engine address.
    stop : ``In(1)`` — issue no further read burst (but those already in AR's skid buffer) and drain read data
        (the engine is held in reset); the write bursts already formed complete.
    read_error, write_error : ``Out(1)`` — a read beat or write response with SLVERR/DECERR, this cycle.
    busy : ``Out(1)`` — a burst is being formed, queued, in flight, or write acknowledgements are owed.

    Timing: ``rd_req``, ``wr_req`` and the AR, R, AW and W channels pass through skid buffers (:func:`skid`), so
    ``rd_req.ready``, ``wr_req.ready``, ``rready`` and the AR, AW and W valids are registers; each buffer adds a
    cycle of latency and no lost throughput. A read request accepted in cycle t whose burst closes then is
    issued on AR from cycle t + 5 (buffered in t + 1, held in t + 2, the burst emitted into the queue in t + 3,
    into AR's skid buffer in t + 4); a read beat taken on R is on ``rd_data`` from the next cycle. Write data is
    buffered (a whole burst, :data:`MAX_BURST` beats, in a block RAM read through a register stage,
    :func:`rtl_gen.lib.pipeline.staged`) before its AW is issued, so W never waits for the engine; each write
    response acknowledges its burst's beats one per cycle on ``wr_ack``. Requests stall while
    :data:`QUEUED_BURSTS` bursts wait or the write buffer is full; issue stalls while :data:`OUTSTANDING` bursts
    are unanswered.
    """

    def __init__(self, port_bits: int, address_bits: int = 32):
        self.port_bits, self.address_bits = port_bits, address_bits
        super().__init__({
            "rd_req": In(stream.Signature(ADDRESS_BITS)), "rd_data": Out(stream.Signature(port_bits)),
            "wr_req": In(stream.Signature(write_layout(port_bits))), "wr_ack": Out(stream.Signature(1)),
            "base": In(address_bits), "stop": In(1), "read_error": Out(1), "write_error": Out(1), "busy": Out(1),
        } | axi_master_members(address_bits, port_bits))

    def elaborate(self, platform):
        m = Module()
        beat = self.port_bits // 8
        for channel in ("aw", "ar"):
            m.d.comb += [getattr(self, f"m_axi_{channel}size").eq(BURST_SIZE_OF[self.port_bits]),
                         getattr(self, f"m_axi_{channel}burst").eq(INCR),
                         getattr(self, f"m_axi_{channel}cache").eq(0b0011)]  # normal non-cacheable bufferable
        layout = burst_layout(self.address_bits)

        # Reads; on ``stop`` the queued requests are dropped.
        rd_buffer = skid(m, "rd_buffer", self.rd_req.valid & ~self.stop, self.rd_req.payload)
        m.submodules.read_bursts = read_bursts = BurstFormer(self.address_bits, beat)
        m.submodules.ar_queue = ar_queue = fifo.SyncFIFOBuffered(width=layout.size, depth=QUEUED_BURSTS)
        reads_out = Signal(range(OUTSTANDING + 1))  # counted from AR's skid buffer on
        ar_skid = skid(m, "ar_skid", ar_queue.r_rdy & ~self.stop & (reads_out != OUTSTANDING), ar_queue.r_data)
        issue_read = ar_skid.w_en & ar_skid.w_rdy
        ar = layout(ar_skid.r_data)
        r_skid = skid(m, "r_skid", self.m_axi_rvalid, self.m_axi_rdata)
        m.d.comb += [
            self.rd_req.ready.eq(rd_buffer.w_rdy & ~self.stop),
            rd_buffer.r_en.eq(read_bursts.ready | self.stop),
            read_bursts.push.eq(rd_buffer.r_rdy & ~self.stop),
            read_bursts.address.eq(rd_buffer.r_data + self.base),
            read_bursts.room.eq(ar_queue.w_rdy),
            ar_queue.w_en.eq(read_bursts.emit), ar_queue.w_data.eq(read_bursts.burst), ar_queue.r_en.eq(issue_read),
            self.m_axi_arvalid.eq(ar_skid.r_rdy), self.m_axi_araddr.eq(ar.address), self.m_axi_arlen.eq(ar.len),
            ar_skid.r_en.eq(self.m_axi_arready),
            self.m_axi_rready.eq(r_skid.w_rdy),
            self.rd_data.valid.eq(r_skid.r_rdy & ~self.stop), self.rd_data.payload.eq(r_skid.r_data),
            r_skid.r_en.eq(self.rd_data.ready | self.stop),
        ]
        read_beat = self.m_axi_rvalid & self.m_axi_rready
        m.d.sync += reads_out.eq(reads_out + issue_read - (read_beat & self.m_axi_rlast))
        m.d.comb += self.read_error.eq(read_beat & self.m_axi_rresp[1])

        # Writes: data buffered per burst; AW once the burst is complete; acknowledgements from B.
        request = write_layout(self.port_bits)
        wr_buffer = skid(m, "wr_buffer", self.wr_req.valid, self.wr_req.payload.as_value())
        queued = request(wr_buffer.r_data)
        m.submodules.write_bursts = write_bursts = BurstFormer(self.address_bits, beat)
        m.submodules.w_queue = w_queue = fifo.SyncFIFOBuffered(width=self.port_bits, depth=MAX_BURST)
        m.submodules.aw_queue = aw_queue = fifo.SyncFIFOBuffered(width=layout.size, depth=QUEUED_BURSTS)
        m.submodules.w_lengths = w_lengths = fifo.SyncFIFOBuffered(width=8, depth=QUEUED_BURSTS)
        m.submodules.b_lengths = b_lengths = fifo.SyncFIFOBuffered(width=8, depth=OUTSTANDING)
        write = wr_buffer.r_rdy & write_bursts.ready & w_queue.w_rdy
        m.d.comb += [
            self.wr_req.ready.eq(wr_buffer.w_rdy),
            wr_buffer.r_en.eq(write),
            write_bursts.room.eq(aw_queue.w_rdy & w_lengths.w_rdy),
            write_bursts.push.eq(write), write_bursts.address.eq(queued.address + self.base),
            w_queue.w_en.eq(write), w_queue.w_data.eq(queued.data),
            aw_queue.w_en.eq(write_bursts.emit), aw_queue.w_data.eq(write_bursts.burst),
            w_lengths.w_en.eq(write_bursts.emit), w_lengths.w_data.eq(write_bursts.burst.len),
        ]
        aw_skid = skid(m, "aw_skid", aw_queue.r_rdy & b_lengths.w_rdy, aw_queue.r_data)
        issue_write = aw_skid.w_en & aw_skid.w_rdy
        aw = layout(aw_skid.r_data)
        m.d.comb += [
            aw_queue.r_en.eq(issue_write),
            b_lengths.w_en.eq(issue_write), b_lengths.w_data.eq(layout(aw_queue.r_data).len),
            self.m_axi_awvalid.eq(aw_skid.r_rdy), self.m_axi_awaddr.eq(aw.address), self.m_axi_awlen.eq(aw.len),
            aw_skid.r_en.eq(self.m_axi_awready),
        ]
        # W: the write buffer's block RAM through a register stage (packed into its output register) into
        # W's skid buffer, beats taken while the burst's length is known (for ``wlast``).
        w_count = Signal(8)
        last = w_count == w_lengths.r_data
        room = Signal()
        w_valid, w_data = staged(m, "w_staged", w_queue, room)
        w_skid = skid(m, "w_skid", w_valid & w_lengths.r_rdy, Cat(w_data, last))
        send = w_skid.w_en & w_skid.w_rdy
        m.d.comb += [
            room.eq(w_skid.w_rdy & w_lengths.r_rdy), w_lengths.r_en.eq(send & last),
            self.m_axi_wvalid.eq(w_skid.r_rdy), Cat(self.m_axi_wdata, self.m_axi_wlast).eq(w_skid.r_data),
            self.m_axi_wstrb.eq(-1), w_skid.r_en.eq(self.m_axi_wready),
        ]
        with m.If(send):
            m.d.sync += w_count.eq(Mux(last, 0, w_count + 1))
        acks = Signal(range(OUTSTANDING * MAX_BURST + 1))
        response = self.m_axi_bvalid & self.m_axi_bready
        m.d.comb += [
            self.m_axi_bready.eq(b_lengths.r_rdy), b_lengths.r_en.eq(response),
            self.write_error.eq(response & self.m_axi_bresp[1]),
            self.wr_ack.valid.eq(acks != 0), self.wr_ack.payload.eq(1),
        ]
        m.d.sync += acks.eq(acks + Mux(response, b_lengths.r_data + 1, 0) - (self.wr_ack.valid & self.wr_ack.ready))
        m.d.comb += self.busy.eq(
            (rd_buffer.r_rdy | read_bursts.busy | ar_queue.r_rdy | r_skid.r_rdy) & ~self.stop | (reads_out != 0)
            | wr_buffer.r_rdy | write_bursts.busy | aw_queue.r_rdy | w_queue.r_rdy | w_valid | w_skid.r_rdy
            | b_lengths.r_rdy | (acks != 0) & ~self.stop)
        return m
