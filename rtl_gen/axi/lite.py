"""AXI4-Lite slave in front of a :class:`~rtl_gen.axi.registers.RegisterBlock`.

Members
-------
s_axil_* : the AXI4-Lite slave ports (:func:`rtl_gen.axi.ports.axil_slave_members`), 32-bit data.
addr, hit, write, wdata, read, rdata : the register bus, driving a RegisterBlock (same names, flipped).

One transaction at a time; a write (AW and W both valid, taken in the same cycle) wins over a read. The
address and data taken are registered, and the register bus is driven from those registers in the next
cycle (so no path runs from the AXI4-Lite ports, or from this block's state, through the register
decode into the core). A write taken in cycle t is written on the bus in t + 1 and answered from t + 2; a
read taken in t is read in t + 1 and answered from t + 2 (the block's registered ``rdata``); each
response waits for its ready. An address without a register answers SLVERR (reads return 0). Byte strobes
are ignored: registers are written as whole words.
"""

from amaranth.hdl import Module, Mux, Signal
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
        address, wdata = Signal(self.address_bits), Signal(32)
        present = self.in_range(address) & self.hit
        m.d.comb += [self.addr.eq(address[2:2 + len(self.addr)]), self.wdata.eq(wdata)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.s_axil_awvalid & self.s_axil_wvalid):
                    m.d.comb += [self.s_axil_awready.eq(1), self.s_axil_wready.eq(1)]
                    m.d.sync += [address.eq(self.s_axil_awaddr), wdata.eq(self.s_axil_wdata)]
                    m.next = "WRITE"
                with m.Elif(self.s_axil_arvalid):
                    m.d.comb += self.s_axil_arready.eq(1)
                    m.d.sync += address.eq(self.s_axil_araddr)
                    m.next = "READ"
            with m.State("WRITE"):
                m.d.comb += self.write.eq(present)
                m.d.sync += self.s_axil_bresp.eq(Mux(present, OKAY, SLVERR))
                m.next = "WRITE_RESPONSE"
            with m.State("READ"):
                m.d.comb += self.read.eq(present)
                m.d.sync += self.s_axil_rresp.eq(Mux(present, OKAY, SLVERR))
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
