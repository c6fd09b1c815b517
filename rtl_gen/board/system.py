"""Everything of a board design inside the clock domain: the engine behind AXI, its image memory and the UART
bridge to the host, joined by the bridge's bus (address map in :mod:`accel.board`)."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accel.board import IMAGE_BASE, REGISTERS_BASE, REGISTERS_SPAN
from accel.spec import Spec

from ..axi.ports import axi_master_members, axil_slave_members
from ..axi.wrapper import AxiEngine
from .axil import AxiLiteMaster
from .bridge import UartBridge
from .bus import Decoder
from .memory import ImageMemory

LITE_ADDRESS_BITS = (REGISTERS_SPAN - 1).bit_length()


class BoardSystem(wiring.Component):
    """``spec``'s engine wrapped in AXI (:class:`rtl_gen.axi.wrapper.AxiEngine`), ``image_bytes`` of image memory
    on its AXI4 master, and a UART bridge (``divisor`` clock cycles per bit) that reaches the image memory and
    the register map.

    Members
    -------
    rx : ``In(1, init=1)``; tx : ``Out(1, init=1)``
        The host's serial lines (8N1).
    irq : ``Out(1)``
        The engine's interrupt (also readable over the bridge).
    """

    def __init__(self, spec: Spec, image_bytes: int, divisor: int):
        self.spec, self.image_bytes, self.divisor = spec, image_bytes, divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "irq": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = AxiEngine(self.spec, lite_address_bits=LITE_ADDRESS_BITS)
        m.submodules.memory = memory = ImageMemory(self.image_bytes, self.spec.port_bits)
        m.submodules.bridge = bridge = UartBridge(self.divisor)
        m.submodules.decoder = decoder = Decoder([(IMAGE_BASE, self.image_bytes), (REGISTERS_BASE, REGISTERS_SPAN)])
        m.submodules.registers = registers = AxiLiteMaster(LITE_ADDRESS_BITS)
        wiring.connect(m, bridge.bus, decoder.bus)
        wiring.connect(m, decoder.slave0, memory.bus)
        wiring.connect(m, decoder.slave1, registers.bus)
        joined = [(engine, "m_axi_", memory, "s_axi_", axi_master_members(32, self.spec.port_bits)),
                  (engine, "s_axil_", registers, "m_axil_", axil_slave_members(LITE_ADDRESS_BITS))]
        for a, a_prefix, b, b_prefix, members in joined:
            for name, member in members.items():
                port = name[len(a_prefix):]
                ours, theirs = getattr(a, name), getattr(b, b_prefix + port)
                m.d.comb += theirs.eq(ours) if member.flow == Out else ours.eq(theirs)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx), bridge.irq.eq(engine.irq),
                     self.irq.eq(engine.irq)]
        return m
