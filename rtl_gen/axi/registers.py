"""The register block of an :class:`accel.regmap.RegisterMap`: every field a port, on a simple register bus.

Members (from the map; ``<reg>`` is the register's name in lower case, ``<reg>_<field>`` when it has more
than one field)
-----------------------------------------------------------------------------------------------------------
addr : ``In(range(words))``; hit : ``Out(1)``
    Word address (byte offset / 4); whether a register is there (combinational).
write : ``In(1)``; wdata : ``In(32)``
    Write ``wdata`` to ``addr`` at this clock edge.
read : ``In(1)``; rdata : ``Out(32)``
    Read ``addr``: ``rdata`` holds its value from the next cycle until the next read.
``ro`` field ``<name>`` : ``In(width)``
``rw`` field ``<name>`` : ``Out(width)`` — the register, reset to the field's reset value.
``w1p`` field ``<name>`` : ``Out(1)`` — high in the cycle after a 1 is written.
``w1c`` field ``<name>`` : ``Out(1)``, ``<name>_set`` : ``In(1)`` — set by ``_set``, cleared by writing 1
    (a set in the same cycle wins).
``wo`` register ``<reg>`` : ``Out(32)``, ``<reg>_write`` : ``Out(1)`` — the data and strobe of each write, in
    the cycle after it.
The ``w1p`` pulses and the ``wo`` data and strobes are registers, so their users see no address decode.
``<reg>_read`` : ``Out(1)`` for registers with ``read_strobe`` — high in the cycle of each read.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accel.regmap import Register, RegisterMap


def port_name(register: Register, field) -> str:
    return register.name.lower() if len(register.fields) == 1 else f"{register.name.lower()}_{field.name}"


class RegisterBlock(wiring.Component):
    def __init__(self, regmap: RegisterMap):
        self.regmap = regmap
        members = {"addr": In(range(regmap.size // 4)), "hit": Out(1), "write": In(1), "wdata": In(32),
                   "read": In(1), "rdata": Out(32)}
        for register in regmap.registers:
            for f in register.fields:
                name = port_name(register, f)
                if f.access == "ro":
                    members[name] = In(f.width)
                elif f.access == "rw":
                    members[name] = Out(f.width, init=f.reset)
                elif f.access == "w1p":
                    members[name] = Out(1)
                elif f.access == "w1c":
                    members[name] = Out(1)
                    members[f"{name}_set"] = In(1)
                else:  # wo
                    members[name] = Out(32)
                    members[f"{name}_write"] = Out(1)
            if register.read_strobe:
                members[f"{register.name.lower()}_read"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        value = Signal(32)
        for register in self.regmap.registers:  # the pulses are 0 unless written below
            for f in register.fields:
                name = port_name(register, f)
                if f.access == "w1p":
                    m.d.sync += getattr(self, name).eq(0)
                elif f.access == "wo":
                    m.d.sync += [getattr(self, name).eq(self.wdata), getattr(self, f"{name}_write").eq(0)]
        with m.Switch(self.addr):
            for register in self.regmap.registers:
                with m.Case(register.offset // 4):
                    m.d.comb += self.hit.eq(1)
                    self._register(m, register, value)
        with m.If(self.read):
            m.d.sync += self.rdata.eq(value)
        for register in self.regmap.registers:
            for f in register.fields:
                if f.access == "w1c":
                    name = port_name(register, f)
                    with m.If(getattr(self, f"{name}_set")):  # after the clear: a set wins
                        m.d.sync += getattr(self, name).eq(1)
        return m

    def _register(self, m, register: Register, value: Signal) -> None:
        """The read value, write effects and strobes of ``register`` (inside its address's Case)."""
        if register.read_strobe:
            m.d.comb += getattr(self, f"{register.name.lower()}_read").eq(self.read)
        for f in register.fields:
            port = getattr(self, port_name(register, f))
            bits = self.wdata[f.lsb:f.lsb + f.width]
            if f.access in ("ro", "rw", "w1c"):
                m.d.comb += value[f.lsb:f.lsb + f.width].eq(port)
            if f.access == "rw":
                with m.If(self.write):
                    m.d.sync += port.eq(bits)
            elif f.access == "w1p":
                m.d.sync += port.eq(self.write & bits)
            elif f.access == "w1c":
                with m.If(self.write & bits):
                    m.d.sync += port.eq(0)
            elif f.access == "wo":
                m.d.sync += getattr(self, f"{port_name(register, f)}_write").eq(self.write)
