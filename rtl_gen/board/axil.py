"""A word-bus slave that performs each access as an AXI4-Lite master (``m_axil_*``), e.g. on an engine's
register map."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..axi.ports import axil_slave_members
from .bus import bus_signature

RESP_OKAY = 0b00


def axil_master_members(address_bits: int) -> dict:
    """An AXI4-Lite master's ports, prefix ``m_axil_``: the wrapper's ``s_axil_*`` slave ports, flipped."""
    return {f"m_axil_{name.removeprefix('s_axil_')}": member.flip()
            for name, member in axil_slave_members(address_bits).items()}


class AxiLiteMaster(wiring.Component):
    """Bus accesses as AXI4-Lite transactions, one at a time.

    Members
    -------
    bus : ``In(bus_signature())``
        A write becomes AW and W (offered together, ``wstrb`` all ones), answered by B; a read becomes AR,
        answered by R. A response other than OKAY sets ``error``.
    m_axil_* : AXI4-Lite master (:func:`axil_master_members`), ``prot`` 0 (unprivileged, secure, data).

    Timing: one cycle to present the request, then as long as the slave takes; the response is passed on
    combinationally.
    """

    def __init__(self, address_bits: int):
        self.address_bits = address_bits
        super().__init__({"bus": In(bus_signature()), **axil_master_members(address_bits)})

    def elaborate(self, platform):
        m = Module()
        req, resp = self.bus.req, self.bus.resp
        address = req.payload.address[:self.address_bits]
        aw_done, w_done = Signal(), Signal()
        m.d.comb += [
            self.m_axil_awaddr.eq(address), self.m_axil_araddr.eq(address),
            self.m_axil_wdata.eq(req.payload.data), self.m_axil_wstrb.eq(0xF),
            self.m_axil_awprot.eq(0), self.m_axil_arprot.eq(0),
        ]
        with m.FSM():
            with m.State("idle"):
                with m.If(req.valid):
                    m.d.sync += [aw_done.eq(0), w_done.eq(0)]
                    m.next = "request"
            with m.State("request"):
                with m.If(req.payload.write):
                    m.d.comb += [self.m_axil_awvalid.eq(~aw_done), self.m_axil_wvalid.eq(~w_done)]
                    with m.If(self.m_axil_awvalid & self.m_axil_awready):
                        m.d.sync += aw_done.eq(1)
                    with m.If(self.m_axil_wvalid & self.m_axil_wready):
                        m.d.sync += w_done.eq(1)
                    with m.If((aw_done | self.m_axil_awready) & (w_done | self.m_axil_wready)):
                        m.d.comb += req.ready.eq(1)
                        m.next = "write_response"
                with m.Else():
                    m.d.comb += self.m_axil_arvalid.eq(1)
                    with m.If(self.m_axil_arready):
                        m.d.comb += req.ready.eq(1)
                        m.next = "read_response"
            with m.State("write_response"):
                m.d.comb += [self.m_axil_bready.eq(resp.ready), resp.valid.eq(self.m_axil_bvalid),
                             resp.payload.error.eq(self.m_axil_bresp != RESP_OKAY)]
                with m.If(resp.valid & resp.ready):
                    m.next = "idle"
            with m.State("read_response"):
                m.d.comb += [self.m_axil_rready.eq(resp.ready), resp.valid.eq(self.m_axil_rvalid),
                             resp.payload.data.eq(self.m_axil_rdata),
                             resp.payload.error.eq(self.m_axil_rresp != RESP_OKAY)]
                with m.If(resp.valid & resp.ready):
                    m.next = "idle"
        return m
