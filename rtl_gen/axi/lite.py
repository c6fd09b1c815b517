"""AXI4-Lite slave in front of a :class:`~rtl_gen.axi.registers.RegisterBlock`.

Members
-------
s_axil_* : the AXI4-Lite slave ports (:func:`rtl_gen.axi.ports.axil_slave_members`), 32-bit data.
addr, hit, write, wdata, read, rdata : the register bus, driving a RegisterBlock (same names, flipped).

One transaction at a time; a write (AW and W both valid, taken in the same cycle) wins over a read. A write
is answered in the cycle after its address and data are taken, a read in the cycle after its address is
taken (the block's registered ``rdata``); each response waits for its ready. An address without a register
answers SLVERR (reads return 0). Byte strobes are ignored: registers are written as whole words.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .ports import axil_slave_members

OKAY, SLVERR = 0b00, 0b10


class AxiLiteSlave(wiring.Component):
    def __init__(self, address_bits: int, words: int):
        self.address_bits = address_bits
        super().__init__(axil_slave_members(address_bits) | {
            "addr": Out(range(words)), "hit": In(1), "write": Out(1), "wdata": Out(32), "read": Out(1),
            "rdata": In(32)})

    def elaborate(self, platform):
        m = Module()
        word_bits = len(self.addr)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.s_axil_awvalid & self.s_axil_wvalid):
                    m.d.comb += [
                        self.s_axil_awready.eq(1), self.s_axil_wready.eq(1),
                        self.addr.eq(self.s_axil_awaddr[2:2 + word_bits]), self.wdata.eq(self.s_axil_wdata),
                        self.write.eq(self.in_range(self.s_axil_awaddr) & self.hit),
                    ]
                    m.d.sync += self.s_axil_bresp.eq(self.response(self.s_axil_awaddr))
                    m.next = "WRITE_RESPONSE"
                with m.Elif(self.s_axil_arvalid):
                    m.d.comb += [
                        self.s_axil_arready.eq(1), self.addr.eq(self.s_axil_araddr[2:2 + word_bits]),
                        self.read.eq(self.in_range(self.s_axil_araddr) & self.hit),
                    ]
                    m.d.sync += self.s_axil_rresp.eq(self.response(self.s_axil_araddr))
                    m.next = "READ_RESPONSE"
            with m.State("WRITE_RESPONSE"):
                m.d.comb += self.s_axil_bvalid.eq(1)
                with m.If(self.s_axil_bready):
                    m.next = "IDLE"
            with m.State("READ_RESPONSE"):
                m.d.comb += [self.s_axil_rvalid.eq(1),
                             self.s_axil_rdata.eq(Mux(self.s_axil_rresp == OKAY, self.rdata, 0))]
                with m.If(self.s_axil_rready):
                    m.next = "IDLE"
        return m

    def in_range(self, address):
        """``address`` is inside the register block (above it the word address would alias)."""
        top = 2 + len(self.addr)
        return address[top:] == 0 if top < self.address_bits else 1

    def response(self, address):
        """OKAY for a register at ``address`` (on ``addr`` this cycle), SLVERR otherwise."""
        return Mux(self.in_range(address) & self.hit, OKAY, SLVERR)
