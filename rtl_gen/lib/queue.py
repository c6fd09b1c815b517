"""A first-word-fall-through FIFO whose ready flags are registers (the EIE PE's activation queue, the
mac_array conv unit's output queue, the AXI master's request buffers)."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out


class Queue(wiring.Component):
    """``depth`` items of ``width`` bits (any depth >= 1; Amaranth's SyncFIFO makes zero-width pointers for
    depth 1, which do not lint).

    Timing: an item written in cycle t can be read from cycle t + 1; ``w_rdy`` is low while ``depth``
    items are stored, even in a cycle that reads one (as :class:`amaranth.lib.fifo.SyncFIFO`).

    Members
    -------
    w_en : ``In(1)``; w_data : ``In(width)``; w_rdy : ``Out(1)``
    r_en : ``In(1)``; r_data : ``Out(width)``; r_rdy : ``Out(1)``
    """

    def __init__(self, width: int, depth: int):
        self.width, self.depth = width, depth
        super().__init__({"w_en": In(1), "w_data": In(width), "w_rdy": Out(1),
                          "r_en": In(1), "r_data": Out(width), "r_rdy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        m.submodules.storage = storage = memory.Memory(shape=self.width, depth=max(2, depth), init=[])
        write, read = storage.write_port(), storage.read_port(domain="comb")
        produce, consume = Signal(range(max(2, depth))), Signal(range(max(2, depth)))
        level = Signal(range(depth + 1))
        do_write = self.w_en & self.w_rdy
        do_read = self.r_en & self.r_rdy
        m.d.comb += [
            write.addr.eq(produce), write.data.eq(self.w_data), write.en.eq(do_write),
            read.addr.eq(consume), self.r_data.eq(read.data),
        ]
        # w_rdy (level != depth) and r_rdy (level != 0) are registers, updated with the level, so that
        # no compare of the level lies in front of the storage's write enable or a reader's logic.
        not_full, not_empty = Signal(init=1), Signal()
        m.d.comb += [self.w_rdy.eq(not_full), self.r_rdy.eq(not_empty)]
        with m.If(do_write):
            m.d.sync += produce.eq(Mux(produce == depth - 1, 0, produce + 1))
        with m.If(do_read):
            m.d.sync += consume.eq(Mux(consume == depth - 1, 0, consume + 1))
        with m.If(do_write & ~do_read):
            m.d.sync += [level.eq(level + 1), not_full.eq(level + 1 != depth), not_empty.eq(1)]
        with m.Elif(do_read & ~do_write):
            m.d.sync += [level.eq(level - 1), not_full.eq(1), not_empty.eq(level != 1)]
        return m


def credit_room(m, depth: int, issue, wrote):
    """Credits for a producer whose items reach a :class:`Queue` of ``depth`` items some cycles later:
    returns ``room``, a register that is high while fewer than ``depth`` items are issued (``issue``) and
    not yet written out of the queue before the last cycle (``wrote``: a write a cycle ago, whose credit
    returns now). A producer that issues only with ``room`` never overflows the queue, so nothing between
    them needs to stall."""
    pending = Signal(range(depth + 1))
    room = Signal(init=1)  # pending < depth, registered with pending
    # pending moves by at most one: the compares are of the register, and ``issue`` (which may depend on
    # ``room``) only selects among them, so no adder lies between ``room`` and itself
    m.d.sync += [
        pending.eq(pending + issue - wrote),
        room.eq(Mux(issue & ~wrote, pending < depth - 1, (wrote & ~issue) | (pending < depth))),
    ]
    return room


def acknowledged(m, name: str, shape, wrote, acked):
    """Whether every write is acknowledged, given ``wrote`` (a write a cycle ago, a register) and ``acked``
    (an acknowledgement this cycle, at least a cycle after its write). The writes awaiting theirs are
    counted from the cycle after ``wrote`` (so the count is never below 0) in a register of ``shape``,
    beside a register of whether it is 0; the result is ``~wrote`` AND that flag. The count moves by at
    most one: the flag's next value compares the register, and ``wrote`` and ``acked`` only select, so
    neither meets the count's adder."""
    outstanding = Signal(shape, name=f"{name}_outstanding")
    none = Signal(init=1, name=f"{name}_none_outstanding")
    m.d.sync += [outstanding.eq(outstanding + wrote - acked),
                 none.eq(Mux(wrote ^ acked, acked & (outstanding == 1), none))]
    return ~wrote & none
