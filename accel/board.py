"""The host's view of a board design (``rtl_gen.board``): its bus address map and the UART transport that
lets :mod:`accel.driver` run Programs on it, over a serial port or a simulated UART.

Address map of the bridge's bus (byte addresses):

- ``IMAGE_BASE`` … ``IMAGE_BASE + image_bytes − 1``: the image memory, which the engine's AXI4 master also
  sees from address 0 (``MEM_BASE`` = 0);
- ``REGISTERS_BASE`` … ``+ REGISTERS_SPAN − 1``: the engine's AXI4-Lite register map (:mod:`accel.regmap`).

Anything else answers with a bus error.
"""

from .bridge import BridgeClient
from .errors import UserError

IMAGE_BASE = 0x0000_0000
REGISTERS_BASE = 0x8000_0000
REGISTERS_SPAN = 0x1000
"""The register map's window (the AXI4-Lite address space of the wrapper, 12 bits)."""
DEFAULT_BAUD = 1_000_000
DEFAULT_CLOCK_MHZ = {"mac_array": 25.0, "xnor": 50.0, "eie": 25.0}
"""The design clock ``accel board`` asks the PLL for by default, per engine: a clock the whole board design
meets with margin, measured with ``benchmarks/board_build.py`` (``benchmarks/results/board_build.json``).
mac_array: the default spec reaches about 39 MHz in context (docs/board.md), so 25 MHz, the ULX3S
oscillator's own; xnor: the small spec reaches 69.9 MHz, so 50 MHz; eie: not built on
the board here, so the oscillator's 25 MHz until it is measured."""


def check_image(size: int, image_bytes: int) -> None:
    """A :class:`UserError` unless a memory image of ``size`` bytes fits the board's ``image_bytes``."""
    if size > image_bytes:
        raise UserError(f"program: its memory image has {size} bytes; the board's image memory holds {image_bytes} "
                        f"(build the board with a larger --image-kib, or compile a smaller network)")


class SerialPipe:
    """A byte pipe over a serial port (pyserial), 8N1 at ``baud``; ``timeout`` seconds per read."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, timeout: float = 5.0):
        import serial

        try:
            self.serial = serial.Serial(port, baud, timeout=timeout)
        except serial.SerialException as error:
            raise UserError(f"--port: cannot open {port!r} ({error})") from None
        self.serial.reset_input_buffer()

    async def write(self, data: bytes) -> None:
        self.serial.write(data)

    async def read(self, n: int) -> bytes:
        data = self.serial.read(n)
        if len(data) != n:
            raise UserError(f"--port: the board answered {len(data)} of {n} bytes within {self.serial.timeout} s; "
                            f"is the bitstream loaded and the baud rate {self.serial.baudrate}?")
        return data

    def close(self) -> None:
        self.serial.close()


class UartTransport:
    """:mod:`accel.driver`'s transport over the UART bridge: registers at :data:`REGISTERS_BASE` + offset, the
    engine's memory at :data:`IMAGE_BASE` + address, the interrupt by polling the bridge's ``I`` frame.

    ``pipe`` is any byte pipe of :class:`accel.bridge.BridgeClient` (a :class:`SerialPipe`, or a simulated
    UART). Memory blocks are moved as whole 32-bit words (a block that does not end on a word boundary
    is padded with zeros when written).
    """

    def __init__(self, pipe):
        self.bridge = BridgeClient(pipe)

    async def read32(self, offset: int) -> int:
        return (await self.bridge.read_words(REGISTERS_BASE + offset, 1))[0]

    async def write32(self, offset: int, value: int) -> None:
        await self.bridge.write_words(REGISTERS_BASE + offset, [value])

    async def read_memory(self, address: int, size: int) -> bytes:
        words = await self.bridge.read_words(IMAGE_BASE + address, -(-size // 4))
        return b"".join(word.to_bytes(4, "little") for word in words)[:size]

    async def write_memory(self, address: int, data: bytes) -> None:
        padded = bytes(data) + bytes(-len(data) % 4)
        await self.bridge.write_words(IMAGE_BASE + address, [int.from_bytes(padded[i:i + 4], "little")
                                                              for i in range(0, len(padded), 4)])

    async def wait_irq(self) -> None:
        while not await self.bridge.irq():
            pass


DEFAULT_IMAGE_KIB = 64
"""The image memory ``accel board`` builds by default (32 DP16KD at 64 bits wide), and the limit
``accel run --backend board`` checks a Program's memory image against unless told the board's size. Fixed
rather than sized to the block RAM the engine leaves: that is known only after synthesising the engine."""


async def run_on_board(program, pipe, image_bytes: int = DEFAULT_IMAGE_KIB * 1024):
    """Run ``program`` on the board behind byte pipe ``pipe``: :class:`accel.driver.Run` (memory read back,
    counters). The memory image is checked against ``image_bytes`` first."""
    from .driver import Driver

    check_image(program.memory.size, image_bytes)
    return await Driver(UartTransport(pipe), base=IMAGE_BASE).run(program)


def run_on_port(program, port: str, baud: int = DEFAULT_BAUD, image_bytes: int = DEFAULT_IMAGE_KIB * 1024):
    """:func:`run_on_board` over serial port ``port``; a port that cannot be opened, a board that is not the
    one built for ``program`` or that answers wrongly is a :class:`UserError` naming the port."""
    import asyncio

    from .bridge import BridgeError
    from .driver import DeviceError

    check_image(program.memory.size, image_bytes)  # before the port is touched
    pipe = SerialPipe(port, baud)
    try:
        return asyncio.run(run_on_board(program, pipe, image_bytes))
    except (BridgeError, DeviceError) as error:
        raise UserError(f"--port {port}: {error}") from None
    finally:
        pipe.close()
