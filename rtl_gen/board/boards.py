"""The boards ``accel board`` builds for: their amaranth-boards platform and what the flow needs to know of it."""

from dataclasses import dataclass

from amaranth_boards.ulx3s import ULX3S_85F_Platform

from accel.errors import UserError


@dataclass(frozen=True)
class Board:
    """A board: its platform class, the oscillator and UART resources, and nextpnr's name of its package."""

    name: str
    platform: type
    oscillator: str
    uart: str
    package: str
    leds: int


BOARDS = {
    # ULX3S v3 with an LFE5U-85F: 25 MHz oscillator, FT231X USB-UART on the FPGA's M1 (rx) and L4 (tx).
    "ulx3s-85f": Board("ulx3s-85f", ULX3S_85F_Platform, "clk25", "uart", "CABGA381", 8),
}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise UserError(f"--board: {name!r} is not a supported board; allowed: {', '.join(BOARDS)}")
    return BOARDS[name]
