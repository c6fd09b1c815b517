"""The host driver of an AXI-wrapped engine: one class over a small abstract transport.

The same code talks to a simulation (cocotbext-axi's models under cocotb) and to a board (a UART bridge
under asyncio): it only ever awaits its :class:`Transport`. Registers and their fields come from
:func:`accel.regmap.register_map` of the Program's spec.

Transport interface (all coroutines; addresses are bytes)
---------------------------------------------------------
``read32(offset) -> int`` / ``write32(offset, value)``
    One 32-bit register access on the AXI4-Lite slave (offsets from the register map).
``read_memory(address, size) -> bytes`` / ``write_memory(address, data)``
    Block access to the memory the engine sees on its AXI4 master (AXI addresses, i.e. ``MEM_BASE`` +
    the Program's addresses).
``wait_irq()``
    Return once the ``irq`` line is high (at once if it already is).
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .program import Program
from .regmap import ENGINE_IDS, VERSION, RegisterMap, register_map


class Transport(Protocol):
    async def read32(self, offset: int) -> int: ...
    async def write32(self, offset: int, value: int) -> None: ...
    async def read_memory(self, address: int, size: int) -> bytes: ...
    async def write_memory(self, address: int, data: bytes) -> None: ...
    async def wait_irq(self) -> None: ...


class DeviceError(RuntimeError):
    """The device reported a failure (a memory error response, a lost command) or is not the one expected."""


@dataclass
class Run:
    """What a run left: the memory image (the Program's bytes, read back) and the engine's counters."""

    memory: np.ndarray
    counters: dict[str, int]


class Driver:
    """Runs Programs on the engine behind ``transport``; its memory image sits at AXI address ``base``."""

    def __init__(self, transport: Transport, base: int = 0):
        self.transport, self.base = transport, base
        self.regmap: RegisterMap | None = None

    async def _field(self, register: str, field: str) -> int:
        f = self.regmap[register].field(field)
        return (await self.transport.read32(self.regmap[register].offset) & f.mask) >> f.lsb

    async def _write(self, register: str, value: int) -> None:
        await self.transport.write32(self.regmap[register].offset, value)

    def _bit(self, register: str, field: str) -> int:
        return self.regmap[register].field(field).mask

    async def attach(self, program: Program) -> None:
        """Check that the device runs ``program``'s spec (engine, spec hash, register-map major version)."""
        self.regmap = regmap = register_map(program.spec)
        found = {name: await self.transport.read32(regmap[name].offset) for name in
                 ("ID_ENGINE", "ID_SPEC_HASH", "ID_VERSION")}
        expected = {"ID_ENGINE": ENGINE_IDS[program.spec.name], "ID_SPEC_HASH": int(program.spec.hash, 16)}
        for name, value in expected.items():
            if found[name] != value:
                raise DeviceError(f"device: {name} is 0x{found[name]:08x}, expected 0x{value:08x} for "
                                  f"{program.spec.name} spec {program.spec.hash}")
        if found["ID_VERSION"] >> 16 != VERSION[0]:
            raise DeviceError(f"device: register map version {found['ID_VERSION'] >> 16}.x, driver speaks "
                              f"{VERSION[0]}.x")

    async def reset(self) -> None:
        """Soft reset (engine, FIFO, status, counters), once the memory port is idle; then set ``MEM_BASE``."""
        while await self._field("STATUS", "busy"):
            pass
        await self._write("CONTROL", self._bit("CONTROL", "soft_reset"))
        await self._write("MEM_BASE", self.base)

    async def load(self, program: Program) -> None:
        """Write ``program``'s memory image at ``base``."""
        await self.transport.write_memory(self.base, program.memory.flatten().tobytes())

    async def _push(self, words: list[int], first: int) -> int:
        """Push commands ``first`` … while the FIFO has space; the index of the next command to push."""
        space = await self._field("CMD_SPACE", "space")
        data = self.regmap["CMD_DATA"].offset
        for word in words[first:first + space]:
            for n in range(self.regmap.cmd_words):
                await self.transport.write32(data, word >> 32 * n & 0xFFFF_FFFF)
        return min(len(words), first + space)

    async def run(self, program: Program, *, irq: bool = True) -> Run:
        """Reset, load, push the commands, start, wait (interrupt or polling), read back memory and counters.

        Raises :class:`DeviceError` if the memory answered with an error (the engine is stopped) or a command
        was lost."""
        await self.attach(program)
        await self.reset()
        await self.load(program)
        words = program.command_words()
        await self._write("CMD_COUNT", len(words))
        pushed = await self._push(words, 0)
        await self._write("CONTROL", self._bit("CONTROL", "start") | (self._bit("CONTROL", "irq_enable") if irq else 0))
        while pushed < len(words) and not await self._field("STATUS", "error"):
            pushed = await self._push(words, pushed)
        if irq:
            await self.transport.wait_irq()
        status = self.regmap["STATUS"]
        while True:
            value = await self.transport.read32(status.offset)
            if value & (status.field("done").mask | status.field("error").mask):
                break
        await self._write("IRQ_STATUS", self._bit("IRQ_STATUS", "done") | self._bit("IRQ_STATUS", "error"))
        self._check(program, value)
        image = await self.transport.read_memory(self.base, program.memory.size)
        return Run(np.frombuffer(image, np.uint8).copy(), await self.counters())

    def _check(self, program: Program, status: int) -> None:
        fields = self.regmap["STATUS"]
        if status & fields.field("error").mask:
            side = "read data" if status & fields.field("read_error").mask else "a write response"
            raise DeviceError(f"device: the memory answered SLVERR/DECERR with {side} while running "
                              f"{program.spec.name} spec {program.spec.hash} (image at 0x{self.base:x}, "
                              f"{program.memory.size} bytes); the engine was stopped")
        if status & fields.field("overflow").mask:
            raise DeviceError("device: a command was written into a full command FIFO and dropped")

    async def counters(self) -> dict[str, int]:
        """The engine's counters (each LO read latches its HI)."""
        values = {}
        for name in self.regmap.counters:
            lo, hi = self.regmap.counter(name)
            low = await self.transport.read32(lo.offset)
            values[name] = await self.transport.read32(hi.offset) << 32 | low
        return values
