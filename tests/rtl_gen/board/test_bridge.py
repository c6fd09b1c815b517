"""The UART bridge, its bus decoder and the image memory's bus port, in Amaranth's simulator, driven by the
host's own framing code (accel.bridge.BridgeClient) through a bit-level UART line model."""

import asyncio
import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from accel.bridge import MAX_BURST, OP_WRITE, STATUS_OK, TIMEOUT_BITS, BridgeClient, BridgeError, header
from rtl_gen.board.bridge import UartBridge
from rtl_gen.board.bus import Decoder
from rtl_gen.board.memory import ImageMemory

DIVISOR = 4
MEMORY = 0x1000  # bytes, at address 0


class System(wiring.Component):
    """The bridge in front of a 64-bit image memory at 0 (nothing else mapped)."""

    def __init__(self):
        super().__init__({"rx": wiring.In(1, init=1), "tx": wiring.Out(1, init=1), "irq": wiring.In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = UartBridge(DIVISOR)
        m.submodules.decoder = decoder = Decoder([(0, MEMORY)])
        m.submodules.memory = memory = ImageMemory(MEMORY, 64)
        wiring.connect(m, bridge.bus, decoder.bus)
        wiring.connect(m, decoder.slave0, memory.bus)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx), bridge.irq.eq(self.irq)]
        return m


class SimulatedLine:
    """A byte pipe over the design's serial lines, bit by bit in the simulator (8N1, ``DIVISOR`` cycles a bit)."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    async def write(self, data: bytes) -> None:
        for byte in data:
            for bit in [0, *((byte >> n) & 1 for n in range(8)), 1]:
                self.ctx.set(self.dut.rx, bit)
                await self.ctx.tick().repeat(DIVISOR)

    async def read(self, n: int, limit: int = 200_000) -> bytes:
        out = bytearray()
        for _ in range(n):
            waited = 0
            while self.ctx.get(self.dut.tx):
                await self.ctx.tick()
                waited += 1
                assert waited < limit, "no answer from the bridge"
            await self.ctx.tick().repeat(DIVISOR + DIVISOR // 2)  # middle of bit 0
            byte = 0
            for n_bit in range(8):
                byte |= self.ctx.get(self.dut.tx) << n_bit
                await self.ctx.tick().repeat(DIVISOR)
            assert self.ctx.get(self.dut.tx) == 1, "stop bit"
            out.append(byte)
        return bytes(out)


def run(testbench):
    dut = System()
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(ctx, dut, SimulatedLine(ctx, dut))

    sim.add_testbench(bench)
    sim.run()


def test_write_read_bursts_and_irq():
    rng = random.Random(5)
    words = [rng.getrandbits(32) for _ in range(9)]

    async def bench(ctx, dut, line):
        client = BridgeClient(line)
        await client.write_words(0x24, words)  # crosses 64-bit beats at an odd word
        assert await client.read_words(0x20, 11) == [0, *words, 0]
        assert await client.read_words(0x28, 1) == [words[1]]
        assert not await client.irq()
        ctx.set(dut.irq, 1)
        assert await client.irq()

    run(bench)


def test_unmapped_address_is_an_error_and_the_bridge_goes_on():
    async def bench(ctx, dut, line):
        client = BridgeClient(line)
        with pytest.raises(BridgeError, match="error"):
            await client.write_words(0x8000_0000, [1, 2])
        with pytest.raises(BridgeError, match="error"):
            await client.read_words(MEMORY - 4, 2)  # the second word is past the memory
        await client.write_words(0, [7])
        assert await client.read_words(0, 1) == [7]

    run(bench)


def test_a_broken_frame_is_abandoned_after_the_timeout():
    async def bench(ctx, dut, line):
        await line.write(header(OP_WRITE, 0, 2) + b"\x01\x02")  # two of eight data bytes, then silence
        await ctx.tick().repeat(TIMEOUT_BITS * DIVISOR + 10)
        client = BridgeClient(line)
        await client.write_words(8, [0x1234])
        assert await client.read_words(0, 3) == [0, 0, 0x1234]

    run(bench)


def test_write_bursts_are_split_to_fit_the_receive_buffer():
    sent = []

    class Recorder:
        async def write(self, data):
            sent.append(len(data))

        async def read(self, n):
            return bytes([STATUS_OK])

    asyncio.run(BridgeClient(Recorder()).write_words(0, range(MAX_BURST + 1)))
    assert sent == [7 + 4 * MAX_BURST, 7 + 4]
