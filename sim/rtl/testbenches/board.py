"""cocotb test that runs saved Programs on a board design (rtl_gen.board.system) through its serial pins.

The host side is the real one: :class:`accel.driver.Driver` over :class:`accel.board.UartTransport` over
:class:`SimulatedUart`, a bit-level 8N1 line model on the design's ``rx`` and ``tx``. Parameters
(sim.rtl.runner.tb_params): ``programs``, ``results`` (an .npz per program: memory read back and counters),
``divisor`` (clock cycles per bit).
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.queue import Queue
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from accel.board import IMAGE_BASE, UartTransport
from accel.driver import Driver
from accel.program import Program
from sim.rtl.runner import tb_params

PERIOD_NS = 10


class SimulatedUart:
    """A byte pipe over serial lines (8N1, ``bit_ns`` a bit): ``write`` drives ``rx`` bit by bit, a receiver
    started with it samples ``tx`` in the middle of each bit."""

    def __init__(self, rx, tx, bit_ns: int):
        self.rx, self.tx, self.bit_ns = rx, tx, bit_ns
        self.received = Queue()
        self.rx.value = 1
        cocotb.start_soon(self._receive())

    async def write(self, data: bytes) -> None:
        for byte in data:
            for bit in [0, *((byte >> n) & 1 for n in range(8)), 1]:
                self.rx.value = bit
                await Timer(self.bit_ns, "ns")

    async def read(self, n: int) -> bytes:
        return bytes([await self.received.get() for _ in range(n)])

    async def _receive(self) -> None:
        while True:
            await FallingEdge(self.tx)
            await Timer(self.bit_ns * 3 // 2, "ns")
            byte = 0
            for n in range(8):
                byte |= int(self.tx.value) << n
                await Timer(self.bit_ns, "ns")
            assert self.tx.value == 1, "UART: no stop bit"
            self.received.put_nowait(byte)


@cocotb.test()
async def run_programs(dut):
    params = tb_params()
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    uart = SimulatedUart(dut.rx, dut.tx, params["divisor"] * PERIOD_NS)
    dut.rst.value = 1
    for _ in range(4):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    driver = Driver(UartTransport(uart), base=IMAGE_BASE)
    for path, result in zip(params["programs"], params["results"]):
        run = await driver.run(Program.load(path))
        np.savez(result, memory=run.memory, **run.counters)
