"""cocotb test that runs saved Programs on an engine inside the simulation harness (sim.rtl.harness).

Parameters (sim.rtl.runner.tb_params): ``programs`` (paths of saved Programs), ``results`` (an .npz path
per program, written with the final memory image, the counters and the wall time of the run itself,
without loading and reading back), ``counters`` (counter names), ``depth`` (the harness's command store),
``stall`` (random memory-port stalls), ``block`` (refuse every read: a hang), and per program ``watchdogs``
(the cycles without any command issued or memory-port transfer after which it counts as hung) and ``limits``
(the cycles after which it counts as hung anyway, e.g. busy in a loop).
"""

import time

import cocotb
import numpy as np
from cocotb.triggers import First, RisingEdge, SimTimeoutError, with_timeout

from accel.program import Program
from sim.rtl.harness import PERIOD_NS, STREAMS
from sim.rtl.runner import tb_params
from sim.rtl.streams import reset


class Hung(AssertionError):
    """The engine made no progress for the watchdog's cycles."""


def words_of(image: np.ndarray, beat: int) -> list[int]:
    padded = np.zeros(-(-image.size // beat) * beat, np.uint8)
    padded[:image.size] = image
    return [int.from_bytes(padded[i:i + beat].tobytes(), "little") for i in range(0, padded.size, beat)]


async def write_commands(dut, words: list[int], first: int, last: int, depth: int) -> None:
    """Write commands ``first`` … ``last`` − 1 into their ring slots, one per cycle; ``count`` follows one cycle
    behind (a slot is readable once its write has passed a clock edge)."""
    dut.cmd_we.value = 1
    for n in range(first, last):
        dut.cmd_addr.value, dut.cmd_wdata.value, dut.count.value = n % depth, words[n], n
        await RisingEdge(dut.clk)
    dut.cmd_we.value = 0
    dut.count.value = last


def stuck(dut, program: Program, why: str) -> str:
    """Where the engine is stuck (``why``), in one line: the last command issued, its status, each stream."""
    issued = dut.issued.value.to_unsigned()
    last = f"#{issued - 1} {program.commands[issued - 1]!r}" if issued else "none"
    bits = dut.streams.value.to_unsigned()
    states = []
    for n, name in enumerate(STREAMS):
        valid, ready = bits >> 2 * n & 1, bits >> 2 * n + 1 & 1
        states.append(f"{name} " + ("valid, not ready" if valid and not ready else "ready, not valid" if ready else
                                    "neither valid nor ready"))
    return (f"watchdog: {why}; last command issued: {last} of {len(program.commands)}; "
            f"engine busy={int(dut.busy.value)} done={int(dut.done.value)}; streams: {'; '.join(states)}")


async def feed(dut, words: list[int], written: int, depth: int) -> None:
    """Refill the command ring as the engine consumes it (``written`` commands are in), then wait for ``done``
    or ``hung``."""
    while written < len(words) and not dut.hung.value:
        if not dut.hungry.value:
            await First(RisingEdge(dut.hungry), RisingEdge(dut.hung))
        if not dut.hung.value:
            await write_commands(dut, words, written, min(written + depth // 2, len(words)), depth)
            written = min(written + depth // 2, len(words))
    if not dut.done.value and not dut.hung.value:
        await First(RisingEdge(dut.done), RisingEdge(dut.hung))


@cocotb.test()
async def run_programs(dut):
    params = tb_params()
    spec, depth = params["spec"], params["depth"]
    beat = spec.port_bits // 8
    # The harness wrapper generates the clock itself (sim.rtl.harness.clock_wrapper).
    for path, result, watchdog, limit in zip(params["programs"], params["results"], params["watchdogs"],
                                             params["limits"]):
        program = Program.load(path)
        await reset(dut.clk, dut.rst)
        image = program.memory.flatten()
        dut.mem_we.value = 1
        for address, word in enumerate(words_of(image, beat)):
            dut.mem_addr.value, dut.mem_wdata.value = address, word
            await RisingEdge(dut.clk)
        dut.mem_we.value = 0
        words = program.command_words()
        written = min(depth, len(words))
        await write_commands(dut, words, 0, written, depth)
        dut.stall.value = int(params["stall"])
        dut.block.value = int(params["block"])
        dut.seed.value = params["seed"]
        dut.watchdog.value = watchdog
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        started = time.perf_counter()
        try:
            await with_timeout(feed(dut, words, written, depth), limit * PERIOD_NS, "ns")
        except SimTimeoutError:
            raise Hung(stuck(dut, program, f"not done after {limit} cycles")) from None
        if not dut.done.value:
            raise Hung(stuck(dut, program, f"no command issued and no memory-port transfer for {watchdog} cycles"))
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
