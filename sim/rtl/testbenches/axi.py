"""cocotb test that runs saved Programs on an AXI-wrapped engine through :mod:`accel.driver`.

cocotbext-axi's ``AxiLiteMaster`` drives the register map, its ``AxiRam`` is the memory; with
``backpressure``, every channel of both gets a random pause generator (valid withheld by the masters, ready
by the slaves). The driver's transport is :class:`CocotbTransport`. Parameters (sim.rtl.runner.tb_params):
``programs``, ``results`` (an .npz per program: memory, counters, or ``error`` with the driver's message),
``base`` (AXI address of the image), ``ram_bytes``, ``backpressure``, and per program ``fails`` (``""``,
``"read"`` or ``"write"``: the RAM answers SLVERR to every read, or write, of that run), ``irqs`` (wait for
the interrupt, or poll) and ``limits`` (ns before the run counts as hung). Each .npz also holds ``bursts``
(address, beats of every AXI burst the run issued).
"""

import logging
import random
import warnings

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from accel.driver import DeviceError, Driver
from accel.program import Program
from sim.rtl.harness import PERIOD_NS
from sim.rtl.runner import tb_params

# cocotbext-axi 0.1.28 (the newest) still calls cocotb 2's deprecated ``setimmediatevalue``; the simulator
# runs with warnings as errors, so exactly those, from cocotbext-axi's own modules, are let through.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi\.")


class CocotbTransport:
    """accel.driver's transport over cocotbext-axi models: registers through ``lite``, memory in ``ram``."""

    def __init__(self, lite: AxiLiteMaster, ram: AxiRam, irq):
        self.lite, self.ram, self.irq = lite, ram, irq

    async def read32(self, offset: int) -> int:
        return await self.lite.read_dword(offset)

    async def write32(self, offset: int, value: int) -> None:
        await self.lite.write_dword(offset, value)

    async def read_memory(self, address: int, size: int) -> bytes:
        return self.ram.read(address, size)

    async def write_memory(self, address: int, data: bytes) -> None:
        self.ram.write(address, data)

    async def wait_irq(self) -> None:
        while not self.irq.value:
            await RisingEdge(self.irq)


class FaultyRam(AxiRam):
    """An AxiRam that answers SLVERR to every read (``fail = "read"``) or write (``"write"``) while ``fail``
    says so (cocotbext-axi answers SLVERR when the memory access raises)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fail = ""
        read, write = self.read_if._read, self.write_if._write

        async def faulty_read(address, length):
            if self.fail == "read":
                raise OSError("injected read fault")
            return await read(address, length)

        async def faulty_write(address, data):
            if self.fail == "write":
                raise OSError("injected write fault")
            await write(address, data)

        self.read_if._read, self.write_if._write = faulty_read, faulty_write


async def record_bursts(dut, bursts: list[tuple[int, int]]) -> None:
    """Append (address, beats) of every read and write burst issued on the AXI4 master."""
    while True:
        await RisingEdge(dut.clk)
        for channel in ("ar", "aw"):
            if getattr(dut, f"m_axi_{channel}valid").value and getattr(dut, f"m_axi_{channel}ready").value:
                bursts.append((getattr(dut, f"m_axi_{channel}addr").value.to_unsigned(),
                               getattr(dut, f"m_axi_{channel}len").value.to_unsigned() + 1))


def random_pauses(rng: random.Random):
    """Pause about a third of the cycles, in runs of 1–8."""
    while True:
        pause = rng.random() < 0.35
        for _ in range(rng.randint(1, 8)):
            yield pause


@cocotb.test()
async def run_programs(dut):
    params = tb_params()
    for name in ("cocotb.axi", "cocotbext.axi"):
        logging.getLogger(name).setLevel(logging.WARNING)
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    lite = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    ram = FaultyRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=params["ram_bytes"])
    for logger in (lite.write_if.log, lite.read_if.log, ram.write_if.log, ram.read_if.log):
        logger.setLevel(logging.WARNING)
    if params["backpressure"]:
        rng = random.Random(params["seed"])
        channels = [lite.write_if.aw_channel, lite.write_if.w_channel, lite.write_if.b_channel,
                    lite.read_if.ar_channel, lite.read_if.r_channel, ram.write_if.aw_channel,
                    ram.write_if.w_channel, ram.write_if.b_channel, ram.read_if.ar_channel, ram.read_if.r_channel]
        for channel in channels:
            channel.set_pause_generator(random_pauses(random.Random(rng.getrandbits(32))))
    dut.rst.value = 1
    for _ in range(4):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    driver = Driver(CocotbTransport(lite, ram, dut.irq), base=params["base"])
    bursts = []
    cocotb.start_soon(record_bursts(dut, bursts))
    for path, result, fail, irq, limit in zip(params["programs"], params["results"], params["fails"], params["irqs"],
                                              params["limits"]):
        program = Program.load(path)
        ram.fail = fail
        bursts.clear()
        try:
            run = await with_timeout(driver.run(program, irq=irq), limit, "ns")
        except DeviceError as error:
            np.savez(result, error=str(error), bursts=np.array(bursts, np.int64).reshape(-1, 2))
            continue
        np.savez(result, memory=run.memory, bursts=np.array(bursts, np.int64).reshape(-1, 2), **run.counters)
