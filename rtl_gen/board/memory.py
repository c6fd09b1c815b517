"""The board's image memory: block RAM holding a Program's memory image, an AXI4 slave for the engine's memory
master and a word-bus slave for the UART bridge."""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, memory, wiring
from amaranth.lib.wiring import In, Out

from ..axi.ports import ID_BITS, axi_master_members
from .bus import bus_signature

RESP_OKAY = 0b00
RESP_SLVERR = 0b10
READ_QUEUE = 3


def axi4_slave_members(data_bits: int, address_bits: int = 32) -> dict:
    """The ``s_axi_*`` members of an AXI4 slave: the wrapper's ``m_axi_*`` master ports, flipped."""
    return {f"s_axi_{name.removeprefix('m_axi_')}": member.flip()
            for name, member in axi_master_members(address_bits, data_bits).items()}


class ImageMemory(wiring.Component):
    """``size`` bytes of block RAM, ``data_bits`` wide, behind two ports.

    Members
    -------
    s_axi_* : AXI4 slave (:func:`axi4_slave_members`; ``lock``, ``cache`` and ``prot`` are ignored)
        INCR bursts of full-width beats (``awsize``/``arsize`` and ``*burst`` are taken as that); several
        bursts may follow each other, one at a time per direction. A beat outside the memory is not
        written, reads as 0, and makes its burst's response SLVERR.
    bus : ``In(bus_signature())``
        32-bit word reads and writes (the UART bridge); answered two cycles after the RAM port is free (the
        AXI side has priority). An address outside the memory is answered with ``error``.

    Timing, AXI side: a read burst accepted in cycle t gives its first beat in cycle t + 3, then one beat per
    cycle while ``rready`` is high; a write burst takes one beat per cycle after its address, and its response
    comes the cycle after its last beat.
    """

    def __init__(self, size: int, data_bits: int):
        self.size, self.data_bits = size, data_bits
        self.beat = data_bits // 8
        assert size % self.beat == 0 and size & (size - 1) == 0
        super().__init__({**axi4_slave_members(data_bits), "bus": In(bus_signature())})

    def elaborate(self, platform):
        m = Module()
        words = self.size // self.beat
        shift = (self.beat - 1).bit_length()
        m.submodules.ram = ram = memory.Memory(shape=self.data_bits, depth=words, init=[])
        read, write = ram.read_port(), ram.write_port(granularity=8)

        # AXI reads: a burst's beats are read one per cycle into a queue that rready drains. A beat is read only
        # if the queue has room for it and for the beat read the cycle before (the RAM's read takes a cycle):
        # 3 places, so that a beat a cycle flows while one waits and one is being read.
        ids = ID_BITS
        beat_layout = data.StructLayout({"data": self.data_bits, "last": 1, "error": 1, "id": ids})
        m.submodules.r_queue = r_queue = fifo.SyncFIFO(width=beat_layout.size, depth=READ_QUEUE)
        r_active, r_address, r_left, r_id = Signal(), Signal(32), Signal(8), Signal(ids)
        issued, issued_last, issued_error = Signal(), Signal(), Signal()
        room = Signal()
        m.d.comb += room.eq(r_queue.level + issued < READ_QUEUE)
        r_issue = Signal()
        m.d.comb += [
            self.s_axi_arready.eq(~r_active),
            r_issue.eq(r_active & room),
        ]
        with m.If(self.s_axi_arvalid & self.s_axi_arready):
            m.d.sync += [r_active.eq(1), r_address.eq(self.s_axi_araddr), r_left.eq(self.s_axi_arlen),
                         r_id.eq(self.s_axi_arid)]
        in_range = r_address < self.size
        with m.If(r_issue):
            m.d.comb += [read.addr.eq(r_address >> shift), read.en.eq(1)]
            m.d.sync += [r_address.eq(r_address + self.beat), r_left.eq(r_left - 1)]
            with m.If(r_left == 0):
                m.d.sync += r_active.eq(0)
        m.d.sync += [issued.eq(r_issue), issued_last.eq(r_left == 0), issued_error.eq(~in_range)]
        r_in = beat_layout(r_queue.w_data)
        r_out = beat_layout(r_queue.r_data)
        m.d.comb += [
            r_queue.w_en.eq(issued),
            r_in.data.eq(Mux(issued_error, 0, read.data)),
            r_in.last.eq(issued_last), r_in.error.eq(issued_error), r_in.id.eq(r_id),
            self.s_axi_rvalid.eq(r_queue.r_rdy),
            self.s_axi_rdata.eq(r_out.data), self.s_axi_rlast.eq(r_out.last), self.s_axi_rid.eq(r_out.id),
            self.s_axi_rresp.eq(r_out.error * RESP_SLVERR),
            r_queue.r_en.eq(self.s_axi_rready),
        ]

        # AXI writes: one beat per cycle once the burst's address is in, then the response.
        w_address, w_id, w_error = Signal(32), Signal(ids), Signal()
        w_beat = Signal()
        with m.FSM(name="axi_write"):
            with m.State("address"):
                m.d.comb += self.s_axi_awready.eq(1)
                with m.If(self.s_axi_awvalid):
                    m.d.sync += [w_address.eq(self.s_axi_awaddr), w_id.eq(self.s_axi_awid), w_error.eq(0)]
                    m.next = "data"
            with m.State("data"):
                m.d.comb += [self.s_axi_wready.eq(1), w_beat.eq(self.s_axi_wvalid)]
                with m.If(self.s_axi_wvalid):
                    m.d.sync += w_address.eq(w_address + self.beat)
                    with m.If(w_address >= self.size):
                        m.d.sync += w_error.eq(1)
                    with m.If(self.s_axi_wlast):
                        m.next = "response"
            with m.State("response"):
                m.d.comb += [self.s_axi_bvalid.eq(1), self.s_axi_bid.eq(w_id),
                             self.s_axi_bresp.eq(w_error * RESP_SLVERR)]
                with m.If(self.s_axi_bready):
                    m.next = "address"
        with m.If(w_beat):
            m.d.comb += [write.addr.eq(w_address >> shift), write.data.eq(self.s_axi_wdata),
                         write.en.eq(Mux(w_address < self.size, self.s_axi_wstrb, 0))]

        # The bridge's word accesses, in cycles the AXI side leaves the RAM port free.
        req, resp = self.bus.req, self.bus.resp
        lanes = self.data_bits // 32
        lane = req.payload.address[2:2 + (lanes - 1).bit_length()] if lanes > 1 else 0
        bus_error = req.payload.address >= self.size
        fetched, answered, answer_lane, answer_error = Signal(), Signal(), Signal(range(lanes)), Signal()
        answer = Signal(32)
        m.d.comb += req.ready.eq(~fetched & ~answered & Mux(req.payload.write, ~w_beat, ~r_issue))
        with m.If(req.valid & req.ready):
            m.d.sync += [fetched.eq(1), answer_lane.eq(lane), answer_error.eq(bus_error)]
            with m.If(req.payload.write):
                m.d.comb += [write.addr.eq(req.payload.address >> shift),
                             write.data.eq(req.payload.data.replicate(lanes)),
                             write.en.eq(Mux(bus_error, 0, Const(0xF, 4) << (4 * lane)))]
            with m.Else():
                m.d.comb += [read.addr.eq(req.payload.address >> shift), read.en.eq(1)]
        with m.If(fetched):  # the RAM's read data of the cycle before
            m.d.sync += [fetched.eq(0), answered.eq(1),
                         answer.eq(Mux(answer_error, 0, Array(read.data.word_select(n, 32) for n in range(lanes))[answer_lane]))]
        m.d.comb += [resp.valid.eq(answered), resp.payload.error.eq(answer_error), resp.payload.data.eq(answer)]
        with m.If(resp.valid & resp.ready):
            m.d.sync += answered.eq(0)
        return m
