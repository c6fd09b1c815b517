"""The UART bridge: the host's frames (framing in :mod:`accel.bridge`) become 32-bit accesses on the board's bus."""

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from accel.bridge import (HEADER_BYTES, IRQ_REPLY, OP_IRQ, OP_READ, OP_WRITE, RX_BUFFER, STATUS_ERROR,
                          STATUS_OK, TIMEOUT_BITS)

from .bus import bus_signature

assert STATUS_ERROR == STATUS_OK | 1, "the status byte is STATUS_OK with the error flag in bit 0"
from .uart import UartRx, UartTx


class UartBridge(wiring.Component):
    """A UART (``divisor`` clock cycles per bit) whose frames drive a bus master.

    Members
    -------
    rx : ``In(1, init=1)``; tx : ``Out(1, init=1)``
        The serial lines (8N1).
    bus : ``Out(bus_signature())``
        One access at a time: a write frame's word is written once its 4 bytes are in, a read frame's word
        is sent back as soon as its response arrives.
    irq : ``In(1)``
        The interrupt line the ``I`` frame reports.

    Timing: a byte takes ``10 * divisor`` cycles on the line; received bytes wait in a :data:`RX_BUFFER`-byte
    FIFO while the bus is busy. A half-received frame is abandoned after :data:`TIMEOUT_BITS` bit times of
    silence.
    """

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "bus": Out(bus_signature()), "irq": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UartRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.divisor)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=RX_BUFFER)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        wiring.connect(m, uart_rx.data, rx_fifo.w_stream)
        byte = rx_fifo.r_stream
        send = uart_tx.data

        op = Signal(8)
        address = Signal(32)
        count = Signal(16)  # words left after the current one
        word = Signal(32)
        index = Signal(range(max(HEADER_BYTES, 5)))  # byte within the header or the word
        error = Signal()
        silence = Signal(range(TIMEOUT_BITS * self.divisor + 1))
        header = Signal(8 * (HEADER_BYTES - 1))  # address, count - 1
        timed_out = Signal()
        m.d.comb += timed_out.eq(silence == TIMEOUT_BITS * self.divisor)

        req, resp = self.bus.req, self.bus.resp
        m.d.comb += [req.payload.address.eq(address), req.payload.data.eq(word),
                     req.payload.write.eq(op == OP_WRITE)]

        with m.FSM() as fsm:
            with m.State("op"):
                m.d.comb += byte.ready.eq(1)
                with m.If(byte.valid):
                    m.d.sync += [op.eq(byte.payload), index.eq(0), error.eq(0)]
                    with m.If((byte.payload == OP_WRITE) | (byte.payload == OP_READ)):
                        m.next = "header"
                    with m.Elif(byte.payload == OP_IRQ):
                        m.next = "irq"
            with m.State("header"):
                m.d.comb += byte.ready.eq(1)
                with m.If(byte.valid):
                    m.d.sync += [header.eq(Cat(header[8:], byte.payload)), index.eq(index + 1)]
                    with m.If(index == HEADER_BYTES - 2):
                        m.d.sync += index.eq(0)
                        m.next = "dispatch"
                with m.Elif(timed_out):
                    m.next = "op"
            with m.State("dispatch"):
                m.d.sync += [address.eq(header[:32]), count.eq(header[32:])]
                with m.If(op == OP_WRITE):
                    m.next = "data"
                with m.Else():
                    m.next = "request"
            with m.State("data"):  # a write's word, LSB first
                m.d.comb += byte.ready.eq(1)
                with m.If(byte.valid):
                    m.d.sync += [word.eq(Cat(word[8:], byte.payload)), index.eq(index + 1)]
                    with m.If(index == 3):
                        m.d.sync += index.eq(0)
                        m.next = "request"
                with m.Elif(timed_out):
                    m.next = "op"
            with m.State("request"):
                m.d.comb += req.valid.eq(1)
                with m.If(req.ready):
                    m.next = "response"
            with m.State("response"):
                m.d.comb += resp.ready.eq(1)
                with m.If(resp.valid):
                    m.d.sync += [word.eq(resp.payload.data), error.eq(error | resp.payload.error)]
                    with m.If(op == OP_READ):
                        m.next = "reply"
                    with m.Else():
                        m.next = "next"
            with m.State("reply"):  # a read's word, LSB first
                m.d.comb += [send.valid.eq(1), send.payload.eq(Array(word.word_select(n, 8) for n in range(4))[index[:2]])]
                with m.If(send.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == 3):
                        m.d.sync += index.eq(0)
                        m.next = "next"
            with m.State("next"):
                m.d.sync += [address.eq(address + 4), count.eq(count - 1)]
                with m.If(count == 0):
                    m.next = "status"
                with m.Elif(op == OP_WRITE):
                    m.next = "data"
                with m.Else():
                    m.next = "request"
            with m.State("status"):
                m.d.comb += [send.valid.eq(1), send.payload.eq(STATUS_OK | error)]
                with m.If(send.ready):
                    m.next = "op"
            with m.State("irq"):
                m.d.comb += [send.valid.eq(1), send.payload.eq(IRQ_REPLY | self.irq)]
                with m.If(send.ready):
                    m.next = "op"

        # Abandon a frame whose next byte does not come (counted only where the bridge waits for the host).
        with m.If(~(fsm.ongoing("header") | fsm.ongoing("data")) | byte.valid | timed_out):
            m.d.sync += silence.eq(0)
        with m.Else():
            m.d.sync += silence.eq(silence + 1)
        return m
