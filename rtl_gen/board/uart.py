"""UART transmitter and receiver: 8 data bits, no parity, one stop bit (8N1), least significant bit first.

Both take ``divisor``, the clock cycles per bit (``clk_hz / baud``, at least 4). The line idles high.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

MIN_DIVISOR = 4


def _check(divisor: int) -> int:
    if not (isinstance(divisor, int) and divisor >= MIN_DIVISOR):
        raise ValueError(f"divisor: {divisor!r}; allowed: an integer >= {MIN_DIVISOR} (clock cycles per bit)")
    return divisor


class UartTx(wiring.Component):
    """Serialises bytes onto ``tx``.

    Members
    -------
    data : ``In(stream.Signature(8))``
        Bytes to send. A byte is taken when the line is idle, then takes ``10 * divisor`` cycles (start bit,
        8 data bits, stop bit); the next one is taken in the cycle the stop bit ends.
    tx : ``Out(1, init=1)``
        The serial line.
    """

    def __init__(self, divisor: int):
        self.divisor = _check(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)  # stop bit, data, start bit; shifted out LSB first
        bits = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.tx.eq(shift[0]), self.data.ready.eq(bits == 0)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))), bits.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits.eq(bits - 1), timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(wiring.Component):
    """Deserialises bytes from ``rx``.

    Members
    -------
    rx : ``In(1, init=1)``
        The serial line (asynchronous: synchronised by two flip-flops inside).
    data : ``Out(stream.Signature(8))``
        Received bytes, valid from the middle of the stop bit until taken. A byte with a low stop bit
        (framing error) is dropped; a byte not taken before the next one completes is overwritten.
    """

    def __init__(self, divisor: int):
        self.divisor = _check(divisor)
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        shift = Signal(8)
        bit = Signal(range(8))
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("idle"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "start"
            with m.State("start"):  # sample the middle of the start bit
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                    with m.If(line):  # a glitch, not a start bit
                        m.next = "idle"
                    with m.Else():
                        m.next = "data"
            with m.State("data"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), bit.eq(bit + 1), timer.eq(self.divisor - 1)]
                    with m.If(bit == 7):
                        m.next = "stop"
            with m.State("stop"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
                    m.next = "idle"
        return m
