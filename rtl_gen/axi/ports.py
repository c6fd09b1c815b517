"""AXI4 and AXI4-Lite port members with the names Vivado and LiteX infer (``s_axil_*``, ``m_axi_*``).

The members are flat (one port per signal, no nested interface) so that the Verilog port names are exactly
the AXI names. Amba AXI and ACE Protocol Specification (ARM IHI 0022E): channel signals of A2.2–A2.6
(AXI4), B1.1 (AXI4-Lite). ``*prot``, ``*cache``, ``*lock`` are driven with constants (data, non-secure,
unprivileged; normal non-cacheable bufferable; normal access); the ID is one bit, always 0.
"""

from amaranth.lib.wiring import In, Out

ID_BITS = 1


def axil_slave_members(address_bits: int) -> dict:
    """An AXI4-Lite slave's ports (32-bit data), prefix ``s_axil_``."""
    ports = {
        "awaddr": In(address_bits), "awprot": In(3), "awvalid": In(1), "awready": Out(1),
        "wdata": In(32), "wstrb": In(4), "wvalid": In(1), "wready": Out(1),
        "bresp": Out(2), "bvalid": Out(1), "bready": In(1),
        "araddr": In(address_bits), "arprot": In(3), "arvalid": In(1), "arready": Out(1),
        "rdata": Out(32), "rresp": Out(2), "rvalid": Out(1), "rready": In(1),
    }
    return {f"s_axil_{name}": member for name, member in ports.items()}


def axi_master_members(address_bits: int, data_bits: int) -> dict:
    """An AXI4 master's ports, prefix ``m_axi_``."""
    ports = {}
    for channel in ("aw", "ar"):
        ports |= {f"{channel}id": Out(ID_BITS), f"{channel}addr": Out(address_bits), f"{channel}len": Out(8),
                  f"{channel}size": Out(3), f"{channel}burst": Out(2), f"{channel}lock": Out(1),
                  f"{channel}cache": Out(4), f"{channel}prot": Out(3), f"{channel}valid": Out(1),
                  f"{channel}ready": In(1)}
    ports |= {
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1), "wvalid": Out(1), "wready": In(1),
        "bid": In(ID_BITS), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "rid": In(ID_BITS), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
        "rready": Out(1),
    }
    return {f"m_axi_{name}": member for name, member in ports.items()}


def pass_through(m, outer, inner, members: dict) -> None:
    """Connect ``inner``'s flat ports named in ``members`` to the same-named ports of ``outer``."""
    for name, member in members.items():
        a, b = getattr(outer, name), getattr(inner, name)
        m.d.comb += b.eq(a) if member.flow == In else a.eq(b)
