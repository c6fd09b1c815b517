"""cocotb test that runs saved Programs on an engine inside the simulation harness (sim.rtl.harness).

Parameters (sim.rtl.runner.tb_params): ``programs`` (paths of saved Programs), ``results`` (an .npz path
per program, written with the final memory image, the counters and the wall time of the run itself,
without loading and reading back), ``counters`` (counter names),
``stall`` (random memory-port stalls), ``timeouts`` (cycles allowed per program).
"""

import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, with_timeout

from accel.program import Program
from sim.rtl.runner import tb_params
from sim.rtl.streams import reset


def words_of(image: np.ndarray, beat: int) -> list[int]:
    padded = np.zeros(-(-image.size // beat) * beat, np.uint8)
    padded[:image.size] = image
    return [int.from_bytes(padded[i:i + beat].tobytes(), "little") for i in range(0, padded.size, beat)]


@cocotb.test()
async def run_programs(dut):
    params = tb_params()
    spec = params["spec"]
    beat = spec.port_bits // 8
    # The harness wrapper generates the clock itself (sim.rtl.harness.clock_wrapper).
    for path, result, timeout in zip(params["programs"], params["results"], params["timeouts"]):
        program = Program.load(path)
        await reset(dut.clk, dut.rst)
        image = program.memory.flatten()
        dut.mem_we.value = 1
        for address, word in enumerate(words_of(image, beat)):
            dut.mem_addr.value, dut.mem_wdata.value = address, word
            await RisingEdge(dut.clk)
        dut.mem_we.value = 0
        dut.cmd_we.value = 1
        for address, word in enumerate(program.command_words()):
            dut.cmd_addr.value, dut.cmd_wdata.value = address, word
            await RisingEdge(dut.clk)
        dut.cmd_we.value = 0
        dut.count.value = len(program.commands)
        dut.stall.value = int(params["stall"])
        dut.seed.value = params["seed"]
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        started = time.perf_counter()
        await with_timeout(RisingEdge(dut.done), timeout * 10, "ns")
        run_seconds = time.perf_counter() - started
        memory = []
        for address in range(-(-image.size // beat)):
            dut.mem_addr.value = address
            await RisingEdge(dut.clk)
            memory.append(dut.mem_rdata.value.to_unsigned().to_bytes(beat, "little"))
        raw = dut.counters.value.to_unsigned()
        counters = {name: (raw >> (48 * n)) & (2**48 - 1) for n, name in enumerate(params["counters"])}
        np.savez(result, memory=np.frombuffer(b"".join(memory), np.uint8)[:image.size], run_seconds=run_seconds,
                 **counters)
