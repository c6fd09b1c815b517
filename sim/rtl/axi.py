"""RTL executor of Programs on an AXI-wrapped engine (rtl_gen.axi), through accel.driver and cocotbext-axi.

Each Program runs as a host would run it: the driver resets the engine, writes the image into the AXI RAM,
pushes the commands over AXI4-Lite, starts, waits for the interrupt, reads back memory and counters.
"""

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accel.errors import UserError
from accel.program import Program
from accel.spec import Spec
from rtl_gen.axi.wrapper import wrapped_name, wrapped_verilog

from .. import perf
from . import runner
from .harness import PERIOD_NS

TESTBENCH = "sim.rtl.testbenches.axi"
BASE = 0x1_0000
"""AXI address of the memory image in the tests (non-zero, so ``MEM_BASE`` is exercised)."""
HOST_NS = 2_000
"""Simulated ns a run may take per command and per 64 image bytes for the host's AXI4-Lite and memory
traffic, on top of :data:`SLOWEST` times the perf model's cycles."""
SLOWEST = 20
"""A run under backpressure takes fewer than this many times the perf model's cycles."""


@dataclass
class AxiRun:
    """A Program's run through AXI: the memory image and counters, or the driver's error message; the
    (address, beats) of every burst it issued."""

    program: Program
    memory: np.ndarray | None
    counters: dict[str, int] | None
    error: str | None
    bursts: np.ndarray


@functools.lru_cache(maxsize=4)
def build(spec: Spec) -> runner.Build:
    """The Verilator model of ``spec``'s engine inside the AXI wrapper (cached by design hash)."""
    return runner.build_verilog(spec, wrapped_verilog(spec), wrapped_name(spec))


def run(programs: list[Program], *, backpressure: bool = False, fails: list[str] | None = None,
        irqs: list[bool] | None = None, seed: int = 1, test_dir: Path | None = None) -> list[AxiRun]:
    """Run ``programs`` (one spec) one after another through the driver, in one simulation. Per program,
    ``fails`` (default none): ``"read"`` or ``"write"`` makes the RAM answer SLVERR to every read or write of
    that run; ``irqs`` (default all): wait for the interrupt, else poll ``STATUS``."""
    spec = programs[0].spec
    if any(p.spec != spec for p in programs):
        raise UserError("programs: an RTL run takes programs of one spec; run the others separately")
    model = build(spec)
    need = BASE + max(p.memory.size for p in programs)
    with tempfile.TemporaryDirectory(dir=test_dir) as work:
        work = Path(work)
        paths, results, limits = [], [], []
        for n, program in enumerate(programs):
            program.save(work / f"program{n}.accel")
            paths.append(str(work / f"program{n}.accel"))
            results.append(str(work / f"result{n}.npz"))
            host = HOST_NS * (len(program.commands) + program.memory.size // 64 + 100)
            limits.append(SLOWEST * perf.run(program).cycles * PERIOD_NS + host)
        runner.run(model, TESTBENCH, "run_programs", work, seed=seed, programs=paths, results=results,
                   limits=limits, base=BASE, ram_bytes=1 << (need - 1).bit_length(), backpressure=backpressure,
                   fails=fails or [""] * len(programs), irqs=irqs or [True] * len(programs))
        out = []
        for program, path in zip(programs, results):
            with np.load(path) as saved:
                bursts = saved["bursts"].copy()
                if "error" in saved:
                    out.append(AxiRun(program, None, None, str(saved["error"]), bursts))
                else:
                    counters = {name: int(saved[name]) for name in saved.files if name not in ("memory", "bursts")}
                    out.append(AxiRun(program, saved["memory"].copy(), counters, None, bursts))
        return out
