"""Pipeline registers shared by the blocks."""

from amaranth.hdl import Signal


def registered(m, advance, name: str, shape, value, *, reset_less: bool = False):
    """A register that loads ``value`` in the cycles where ``advance`` is high (and holds otherwise);
    ``reset_less``: without reset (a block RAM's output register can hold it)."""
    reg = Signal(shape, name=name, reset_less=reset_less)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg
