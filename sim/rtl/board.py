"""RTL executor of Programs on a whole board design (rtl_gen.board.system.BoardSystem): the host's own driver
and UART transport talk to the simulated design over its serial pins, as they would to a board.

The PLL and the pins are the only parts of a board build not simulated: the design runs on the testbench's
clock, with the UART at :data:`DIVISOR` cycles per bit so a run is short.
"""

import functools
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from accel.board import check_image
from accel.errors import UserError
from accel.program import Program
from accel.spec import Spec
from rtl_gen.board.system import BoardSystem
from rtl_gen.export import module_name

from . import runner

TESTBENCH = "sim.rtl.testbenches.board"
DIVISOR = 4
"""Clock cycles per UART bit in simulation (the UART's minimum)."""
MIN_IMAGE = 4096
"""Bytes of the smallest image memory a simulated board gets."""


def image_bytes(programs: list[Program]) -> int:
    """A power of two that holds every program's memory image (at least :data:`MIN_IMAGE`)."""
    need = max(p.memory.size for p in programs)
    return max(MIN_IMAGE, 1 << (need - 1).bit_length())


@functools.lru_cache(maxsize=4)
def build(spec: Spec, image: int) -> runner.Build:
    """The Verilator model of the board design around ``spec``'s engine with ``image`` bytes of image memory."""
    top = f"board_{module_name(spec)}_{image}"
    text = verilog.convert(BoardSystem(spec, image, DIVISOR), name=top, emit_src=False)
    return runner.build_verilog(spec, text, top)


def run(programs: list[Program], *, image: int | None = None, seed: int = 1,
        test_dir: Path | None = None) -> list[tuple[np.ndarray, dict[str, int]]]:
    """Run ``programs`` (one spec) one after another over the simulated UART; per program the memory image
    read back and the counters."""
    spec = programs[0].spec
    if any(p.spec != spec for p in programs):
        raise UserError("programs: a board run takes programs of one spec; run the others separately")
    image = image or image_bytes(programs)
    for program in programs:
        check_image(program.memory.size, image)
    model = build(spec, image)
    with tempfile.TemporaryDirectory(dir=test_dir) as work:
        work = Path(work)
        paths = [str(work / f"program{n}.accel") for n in range(len(programs))]
        results = [str(work / f"result{n}.npz") for n in range(len(programs))]
        for program, path in zip(programs, paths):
            program.save(path)
        runner.run(model, TESTBENCH, "run_programs", work, seed=seed, programs=paths, results=results,
                   divisor=DIVISOR)
        out = []
        for path in results:
            with np.load(path) as saved:
                out.append((saved["memory"].copy(), {name: int(saved[name]) for name in saved.files
                                                     if name != "memory"}))
        return out
