"""RTL executor of Programs: the generated engine inside the harness (sim.rtl.harness), run by Verilator.

Works for every engine behind the shell (rtl_gen.shell) whose spec has ``port_bits`` and ``mem_latency``.
"""

import functools
import tempfile
from pathlib import Path

import numpy as np

from accel.cache import cached_text, content_hash
from accel.errors import UserError
from accel.isa import counters
from accel.program import Program
from accel.progress import step
from accel.spec import Spec
from rtl_gen.blocks import build as build_engine
from rtl_gen.export import convert, generator_hash, module_name

from .. import perf
from ..result import RunResult
from . import harness, runner
from .harness import Harness, clock_wrapper

TESTBENCH = "sim.rtl.testbenches.engine"
COMMANDS = 4096
"""Slots of the harness's command ring; longer Programs stream through it."""
QUIET = 10_000
"""Cycles a run may go without any command issued or memory-port transfer beyond the perf model's cycles for
its whole Program before the watchdog calls it hung (no quiet stretch of a working run is longer than the
run itself)."""
SLOWEST = 20
"""A run under random memory stalls takes fewer than this many times the perf model's cycles (plus
:data:`QUIET`); one not done by then counts as hung even if it kept moving data."""


HARNESS_WORDS = 1 << 21
"""Memory beats of the harness unless a Program needs more: 16 MiB, so the Programs of a spec share one
Verilator model up to that size."""


def harness_words(programs: list[Program]) -> int:
    """Memory beats for the harness: :data:`HARNESS_WORDS`, or the power of two that holds the largest
    program's image if that is more."""
    beat = programs[0].spec.port_bits // 8
    need = max(-(-p.memory.size // beat) for p in programs)
    return max(HARNESS_WORDS, 1 << (need - 1).bit_length())


@functools.lru_cache(maxsize=8)
def harness_verilog(spec: Spec, words: int) -> tuple[str, str]:
    """The Verilog of the harness around ``spec``'s engine with ``words`` memory beats, and its top module.

    Generated once (elaborating and converting a harness takes a minute for the 64-PE eie) and kept in
    ``cache_dir("verilog")`` under a hash of the spec, the harness's parameters and the generator's sources
    (:func:`rtl_gen.export.generator_hash` with ``sim/rtl/harness.py``), so a later run on the same spec reads
    the file instead.
    """
    inner = f"harness_{module_name(spec)}_{words}"
    top = f"{inner}_clocked"

    def generate() -> str:
        with step(f"Verilog of {top} (cached afterwards)"):
            design = Harness(build_engine(spec), spec.port_bits, words, COMMANDS, spec.mem_latency)
            return clock_wrapper(design, convert(design, inner), inner, top)

    key = content_hash(spec.to_json(), str(words), str(COMMANDS), generator_hash(Path(harness.__file__)))
    return cached_text("verilog", f"{top}-{key}.v", generate), top


def build(spec: Spec, words: int) -> runner.Build:
    """The Verilator model of the harness around ``spec``'s engine with ``words`` memory beats (cached)."""
    text, top = harness_verilog(spec, words)
    return runner.build_verilog(spec, text, top, timing=True)


def run(programs: list[Program], *, stall: bool = False, seed: int = 1, test_dir: Path | None = None,
        words: int | None = None, block_reads: bool = False) -> list[RunResult]:
    """Run ``programs`` (same spec) one after another in one simulation; their results.

    ``seed`` (any integer >= 0) seeds the random stalls through :func:`sim.rtl.runner.rtl_seed`;
    ``block_reads`` refuses every read request, a hang the watchdog reports (see :data:`QUIET`).
    """
    spec = programs[0].spec
    if any(p.spec != spec for p in programs):
        raise UserError("programs: an RTL run takes programs of one spec; run the others separately")
    runner.rtl_seed(seed)  # a bad seed is refused before the build
    model = build(spec, words or harness_words(programs))
    with tempfile.TemporaryDirectory(dir=test_dir) as work:
        work = Path(work)
        paths, results, watchdogs, limits = [], [], [], []
        for n, program in enumerate(programs):
            program.save(work / f"program{n}.accel")
            paths.append(str(work / f"program{n}.accel"))
            results.append(str(work / f"result{n}.npz"))
            cycles = perf.run(program).cycles
            watchdogs.append(cycles + QUIET)
            limits.append(SLOWEST * cycles + QUIET)
        names = counters(spec.name)
        runner.run(model, TESTBENCH, "run_programs", work, seed=seed, programs=paths, results=results,
                   watchdogs=watchdogs, limits=limits, counters=list(names), depth=COMMANDS, stall=stall,
                   block=block_reads)
        out = []
        for program, path in zip(programs, results):
            with np.load(path) as saved:
                counts = {name: int(saved[name]) for name in names}
                out.append(RunResult(program, saved["memory"].copy(), counts["cycles"], counts,
                                     float(saved["run_seconds"])))
        return out
