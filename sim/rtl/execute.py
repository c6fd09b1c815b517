"""RTL executor of Programs: the generated engine inside the harness (sim.rtl.harness), run by Verilator.

Works for every engine behind the shell (rtl_gen.shell) whose spec has ``port_bits`` and ``mem_latency``.
"""

import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from accel.isa import counters
from accel.program import Program
from accel.spec import Spec
from rtl_gen.blocks import build as build_engine
from rtl_gen.export import module_name

from .. import perf
from ..result import RunResult
from . import runner
from .harness import Harness, clock_wrapper

TESTBENCH = "sim.rtl.testbenches.engine"
COMMANDS = 4096


def harness_words(programs: list[Program]) -> int:
    """Memory beats for the harness: a power of two that holds every program's image (at least 4096)."""
    beat = programs[0].spec.port_bits // 8
    need = max(-(-p.memory.size // beat) for p in programs)
    return max(4096, 1 << (need - 1).bit_length())


def build(spec: Spec, words: int) -> runner.Build:
    """The Verilator model of the harness around ``spec``'s engine with ``words`` memory beats (cached)."""
    inner = f"harness_{module_name(spec)}_{words}"
    harness = Harness(build_engine(spec), spec.port_bits, words, COMMANDS, spec.mem_latency)
    top = f"{inner}_clocked"
    text = clock_wrapper(harness, verilog.convert(harness, name=inner, emit_src=False), inner, top)
    return runner.build_verilog(spec, text, top, timing=True)


def run(programs: list[Program], *, stall: bool = False, seed: int = 1, test_dir: Path | None = None,
        words: int | None = None) -> list[RunResult]:
    """Run ``programs`` (same spec) one after another in one simulation; their results."""
    spec = programs[0].spec
    if any(p.spec != spec for p in programs) or any(len(p.commands) > COMMANDS for p in programs):
        raise ValueError(f"programs must share one spec and have at most {COMMANDS} commands")
    model = build(spec, words or harness_words(programs))
    with tempfile.TemporaryDirectory(dir=test_dir) as work:
        work = Path(work)
        paths, results, timeouts = [], [], []
        for n, program in enumerate(programs):
            program.save(work / f"program{n}.accel")
            paths.append(str(work / f"program{n}.accel"))
            results.append(str(work / f"result{n}.npz"))
            timeouts.append(20 * perf.run(program).cycles + 10_000)
        names = counters(spec.name)
        runner.run(model, TESTBENCH, "run_programs", work, seed=seed, programs=paths, results=results,
                   timeouts=timeouts, counters=list(names), stall=stall)
        out = []
        for program, path in zip(programs, results):
            with np.load(path) as saved:
                counts = {name: int(saved[name]) for name in names}
                out.append(RunResult(program, saved["memory"].copy(), counts["cycles"], counts,
                                     float(saved["run_seconds"])))
        return out
