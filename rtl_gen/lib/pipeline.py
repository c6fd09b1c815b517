"""Pipeline registers shared by the blocks."""

from amaranth.hdl import Signal


def registered(m, advance, name: str, shape, value, *, reset_less: bool = False):
    """A register that loads ``value`` in the cycles where ``advance`` is high (and holds otherwise);
    ``reset_less``: without reset (a block RAM's output register can hold it)."""
    reg = Signal(shape, name=name, reset_less=reset_less)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg


def staged(m, name: str, fifo, room):
    """A register stage after ``fifo`` (an :mod:`amaranth.lib.fifo` FIFO whose ``r_data`` is a block RAM's
    read port, as :class:`~amaranth.lib.fifo.SyncFIFOBuffered`'s): returns ``(valid, data)``, registers. The
    consumer takes the staged item in every cycle ``valid & room``; ``room`` must be a register (or logic of
    registers), so the stage loads (``fifo.r_en``) on registers only and ``data`` loads ``r_data`` straight,
    which :mod:`rtl_gen.bram_outreg` packs into the RAM's output register. One item per cycle still flows."""
    valid = Signal(name=f"{name}_valid")
    load = ~valid | room
    data = registered(m, load, name, len(fifo.r_data), fifo.r_data, reset_less=True)
    m.d.comb += fifo.r_en.eq(load)
    with m.If(load):
        m.d.sync += valid.eq(fifo.r_rdy)
    return valid, data
