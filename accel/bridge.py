"""The UART bridge's framing: how a host reads and writes 32-bit words on a board's bus over a serial line.

The bridge (``rtl_gen.board.bridge``) is a bus master on the board: the host sends it frames, it performs
32-bit bus accesses and answers. Every constant here is imported by the RTL, so the two sides cannot drift.

Line: 8 data bits, no parity, 1 stop bit (8N1), least significant bit first, at the board's baud rate.

Frames, host to board (multi-byte fields little-endian):

=========  ===========================================  ==========================================
op byte    rest of the frame                            answer
=========  ===========================================  ==========================================
``0x57``   address (4), count − 1 (2),                  status (1)
('W')      then count data words (4 each)
``0x52``   address (4), count − 1 (2)                   count data words (4 each), then status (1)
('R')
``0x49``   —                                            irq (1): ``0xB0 | irq line``
('I')
=========  ===========================================  ==========================================

- A burst of ``count`` (1 … 65536) words accesses ``address``, ``address + 4``, … in order; ``address``
  is a byte address, aligned to 4 (its two low bits are ignored).
- ``status`` is ``0xA0`` if every access of the frame got an OKAY response, ``0xA1`` if any got an error
  response (an unmapped address, or the slave's SLVERR); a read answers every word either way (an errored
  word reads as 0).
- Any other op byte is dropped, and a frame whose next byte does not arrive within the bridge's timeout
  (:data:`TIMEOUT_BITS` bit times) is abandoned, so a host that lost its place resynchronises by pausing.
- The bridge buffers :data:`RX_BUFFER` received bytes. A write frame larger than that can overflow it
  while a slave stalls (e.g. a full command FIFO), so the host sends at most :data:`MAX_BURST` words per
  write frame and waits for each frame's answer before it sends the next (the answer is the flow control).
"""

import struct

from .errors import UserError

OP_WRITE = 0x57
OP_READ = 0x52
OP_IRQ = 0x49
STATUS_OK = 0xA0
STATUS_ERROR = 0xA1
IRQ_REPLY = 0xB0
HEADER_BYTES = 7
"""Op, address (4), count − 1 (2)."""
MAX_COUNT = 1 << 16
RX_BUFFER = 2048
"""Bytes of the bridge's receive FIFO (one ECP5 DP16KD at 9 bits wide)."""
MAX_BURST = (RX_BUFFER - HEADER_BYTES) // 4
"""Words per write frame the receive FIFO always holds whole."""
TIMEOUT_BITS = 1024
"""Bit times of silence after which the bridge abandons a half-received frame."""


class BridgeError(RuntimeError):
    """The board answered something the framing does not allow, or reported a bus error."""


def header(op: int, address: int, count: int) -> bytes:
    """The first :data:`HEADER_BYTES` bytes of a read or write frame of ``count`` words at ``address``."""
    if address % 4 or not 0 <= address < 1 << 32:
        raise UserError(f"address: {address:#x} is not a 32-bit word address; allowed: a multiple of 4 below 2**32")
    if not 1 <= count <= MAX_COUNT:
        raise UserError(f"count: {count} words in one frame; allowed: 1 to {MAX_COUNT}")
    return struct.pack("<BIH", op, address, count - 1)


def check_status(status: int, what: str) -> None:
    if status == STATUS_ERROR:
        raise BridgeError(f"{what}: the bus answered with an error (unmapped address or slave error)")
    if status != STATUS_OK:
        raise BridgeError(f"{what}: status byte {status:#04x}; expected {STATUS_OK:#04x} or {STATUS_ERROR:#04x}")


class BridgeClient:
    """The host side of the framing, over a byte pipe with ``async write(bytes)`` and ``async read(n) -> bytes``
    (a serial port, or the simulated UART of a testbench)."""

    def __init__(self, pipe):
        self.pipe = pipe

    async def write_words(self, address: int, words) -> None:
        """Write ``words`` (32-bit integers) to ``address``, ``address + 4``, …; frames of :data:`MAX_BURST`."""
        words = list(words)
        for first in range(0, len(words), MAX_BURST):
            chunk = words[first:first + MAX_BURST]
            start = address + 4 * first
            await self.pipe.write(header(OP_WRITE, start, len(chunk)) + struct.pack(f"<{len(chunk)}I", *chunk))
            check_status((await self.pipe.read(1))[0], f"write of {len(chunk)} words at {start:#x}")

    async def read_words(self, address: int, count: int) -> list[int]:
        """``count`` 32-bit words from ``address``, ``address + 4``, …"""
        words = []
        for first in range(0, count, MAX_COUNT):
            n = min(MAX_COUNT, count - first)
            start = address + 4 * first
            await self.pipe.write(header(OP_READ, start, n))
            data = await self.pipe.read(4 * n + 1)
            check_status(data[-1], f"read of {n} words at {start:#x}")
            words += struct.unpack(f"<{n}I", data[:-1])
        return words

    async def irq(self) -> bool:
        """The level of the board's interrupt line."""
        await self.pipe.write(bytes([OP_IRQ]))
        reply = (await self.pipe.read(1))[0]
        if reply & ~1 != IRQ_REPLY:
            raise BridgeError(f"irq: reply byte {reply:#04x}; expected {IRQ_REPLY:#04x} or {IRQ_REPLY | 1:#04x}")
        return bool(reply & 1)
