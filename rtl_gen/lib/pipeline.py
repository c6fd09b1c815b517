"""Pipeline registers shared by the blocks."""

from amaranth.hdl import Signal


def registered(m, advance, name: str, shape, value):
    """A register that loads ``value`` in the cycles where ``advance`` is high (and holds otherwise)."""
    reg = Signal(shape, name=name)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg
