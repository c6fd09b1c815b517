"""A board's top level: the PLL from the oscillator to the design clock, reset until it locks, the serial
lines and LEDs on the board's pins, and the :class:`~rtl_gen.board.system.BoardSystem` inside."""

from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.lib.cdc import ResetSynchronizer

from accel.errors import UserError
from accel.spec import Spec

from .boards import Board
from .pll import Pll, PllConfig, pll_config
from .system import BoardSystem

BAUD_TOLERANCE = 0.02
"""Largest relative error of the baud rate a clock divisor may give (8N1 samples mid-bit: about ±4 % total)."""


def divisor_for(clock_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``; a :class:`UserError` if the rate is off by more than
    :data:`BAUD_TOLERANCE`."""
    divisor = round(clock_hz / baud)
    if divisor < 4 or abs(clock_hz / divisor - baud) > BAUD_TOLERANCE * baud:
        raise UserError(f"--baud: {baud} baud is not reachable from a {clock_hz / 1e6:g} MHz clock within "
                        f"{BAUD_TOLERANCE:.0%}; allowed: a rate with clock / rate a whole number >= 4 (nearly)")
    return divisor


def clocking(board: Board, clock_mhz: float, baud: int) -> tuple[PllConfig, int]:
    """The PLL setting for ``clock_mhz`` from ``board``'s oscillator, and the UART divisor for ``baud`` at the
    clock it gives; a :class:`UserError` if either cannot be had."""
    oscillator_mhz = board.platform().lookup(board.oscillator, 0).clock.frequency / 1e6
    pll = pll_config(oscillator_mhz, clock_mhz)
    return pll, divisor_for(pll.out_mhz * 1e6, baud)


class BoardTop(Elaboratable):
    """The whole design on ``board`` for ``spec``: clocked by ``pll`` (from :func:`clocking`), the UART at
    ``divisor`` cycles a bit (LED 0: PLL locked, LED 1: irq)."""

    def __init__(self, spec: Spec, board: Board, pll: PllConfig, image_bytes: int, divisor: int):
        self.spec, self.board, self.pll, self.image_bytes, self.divisor = spec, board, pll, image_bytes, divisor

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.submodules.pll = pll = Pll(self.pll)
        m.d.comb += [pll.clk_in.eq(platform.request(self.board.oscillator, 0).i), sync.clk.eq(pll.clk_out)]
        m.submodules.pll_reset = ResetSynchronizer(~pll.locked, domain="sync")

        m.submodules.system = system = BoardSystem(self.spec, self.image_bytes, self.divisor)
        uart = platform.request(self.board.uart, 0)
        m.d.comb += [system.rx.eq(uart.rx.i), uart.tx.o.eq(system.tx)]
        for n, value in enumerate([pll.locked, system.irq]):
            m.d.comb += platform.request("led", n).o.eq(value)
        return m
