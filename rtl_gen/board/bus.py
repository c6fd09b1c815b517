"""The board's word bus: 32-bit reads and writes, one request and one response each, and its address decoder.

A master holds :func:`bus_signature` as ``Out``: it sends a request on ``req`` and receives exactly one
response on ``resp`` for it, in order. The UART bridge is the master; the image memory and the AXI4-Lite
register map (through :class:`rtl_gen.board.axil.AxiLiteMaster`) are slaves behind a :class:`Decoder`.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

REQUEST = data.StructLayout({"address": 32, "write": 1, "data": 32})
RESPONSE = data.StructLayout({"data": 32, "error": 1})


def bus_signature() -> wiring.Signature:
    """A master's view: ``req`` out (address is a byte address; its two low bits are ignored), ``resp`` in."""
    return wiring.Signature({"req": Out(stream.Signature(REQUEST)), "resp": In(stream.Signature(RESPONSE))})


class Decoder(wiring.Component):
    """Routes each request of ``bus`` to the slave whose window holds its address; one request at a time.

    ``windows`` is a list of ``(base, size)`` (size a power of two, base a multiple of it); slave ``n`` sees
    the address minus its base. A request outside every window is answered at once with ``error`` set and
    data 0.

    Members
    -------
    bus : ``In(bus_signature())``
        From the master.
    slave{n} : ``Out(bus_signature())``
        To slave ``n``, one per window.

    Timing: the request reaches the slave in the cycle it arrives (combinational); the next request is
    accepted after the previous response was taken.
    """

    def __init__(self, windows: list[tuple[int, int]]):
        for base, size in windows:
            assert size & (size - 1) == 0 and base % size == 0, (base, size)
        self.windows = windows
        super().__init__({"bus": In(bus_signature()),
                          **{f"slave{n}": Out(bus_signature()) for n in range(len(windows))}})

    def elaborate(self, platform):
        m = Module()
        req = self.bus.req
        pending = Signal()  # a request was passed on; waiting for its response
        target = Signal(range(len(self.windows) + 1))  # the slave holding it, or len(windows): unmapped
        hit = [(req.payload.address & ~(size - 1)) == base for base, size in self.windows]
        unmapped = Signal()
        m.d.comb += unmapped.eq(~pending & req.valid & ~Cat(*hit).any())
        for n, ((base, size), hit_n) in enumerate(zip(self.windows, hit)):
            slave = getattr(self, f"slave{n}")
            m.d.comb += [
                slave.req.valid.eq(~pending & req.valid & hit_n),
                slave.req.payload.eq(req.payload),
                slave.req.payload.address.eq(req.payload.address & (size - 1)),
                slave.resp.ready.eq(pending & (target == n) & self.bus.resp.ready),
            ]
            with m.If(slave.req.valid & slave.req.ready):
                m.d.comb += req.ready.eq(1)
                m.d.sync += [pending.eq(1), target.eq(n)]
            with m.If(pending & (target == n)):
                m.d.comb += [self.bus.resp.valid.eq(slave.resp.valid), self.bus.resp.payload.eq(slave.resp.payload)]
        with m.If(unmapped):
            m.d.comb += req.ready.eq(1)
            m.d.sync += [pending.eq(1), target.eq(len(self.windows))]
        with m.If(pending & (target == len(self.windows))):
            m.d.comb += [self.bus.resp.valid.eq(1), self.bus.resp.payload.error.eq(1)]
        with m.If(self.bus.resp.valid & self.bus.resp.ready):
            m.d.sync += pending.eq(0)
        return m

