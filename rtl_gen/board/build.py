"""The bitstream of a board design: Amaranth's platform gives the netlist and the pin constraints (``.lpf``,
from the board file), Yosys (with the packing passes of :mod:`rtl_gen.fpga`), nextpnr-ecp5 in context and
``ecppack`` give the ``.bit``, all from the ``yowasp`` wheels.

nextpnr places and routes with seed 1, 2, … until the design meets its clock (at most ``seeds`` tries);
the timing report (``<name>_timing.json`` and ``.txt``) names the seed, the clock asked for, the Fmax
achieved and the resources used. Files written to ``out_dir``: ``<name>.bit``, ``<name>.lpf``,
``<name>_timing.json``, ``<name>_timing.txt``, ``<name>.json`` (the board spec: engine spec, board, clock,
baud, image size), and the tool logs in ``out_dir/logs/``.
"""

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from accel.board import DEFAULT_CLOCK_MHZ
from accel.errors import UserError
from accel.regmap import ENGINE_IDS
from accel.progress import step
from accel.spec import Spec
from rtl_gen import fpga
from rtl_gen.export import module_name

from .boards import board as board_named
from .top import BoardTop, clocking

ECPPACK = "yowasp-ecppack"
ROUTER = ["--router", "router2"]
"""nextpnr's router for whole boards: the default router1 had routed about 24,000 of the default mac_array's
127,040 arcs after 273 s at 25 MHz here, slowing, and did not finish at 50 MHz before; router2 negotiates
congestion over the whole design at once (on the same placement its overuse fell from 68,407 to 41,718
and 32,403 in its first three iterations, unfinished when measured; docs/board.md)."""


@dataclass(frozen=True)
class BoardBuild:
    """What a board build produced and how it met timing."""

    name: str
    board: str
    bitstream: str
    clock_mhz: float
    fmax_mhz: float
    seed: int
    met: bool
    lut4: int
    ff: int
    dsp: int
    bram: int
    image_bytes: int
    baud: int
    divisor: int

    def summary(self) -> str:
        verdict = "meets" if self.met else "MISSES"
        return (f"{self.bitstream}: {self.board}, clock {self.clock_mhz:g} MHz ({verdict} it: Fmax "
                f"{self.fmax_mhz:.1f} MHz, nextpnr seed {self.seed}); LUT4 {self.lut4}, FF {self.ff}, "
                f"MULT18X18D {self.dsp}, DP16KD {self.bram}; image memory {self.image_bytes} bytes; UART "
                f"{self.baud} baud ({self.divisor} cycles a bit)")


def build_board(spec: Spec, board_name: str, clock_mhz: float | None, image_bytes: int, out_dir: Path, *,
                baud: int, seeds: int = 4) -> BoardBuild:
    """Build the bitstream of ``spec``'s engine on board ``board_name`` into ``out_dir``; its :class:`BoardBuild`.
    ``clock_mhz`` None: the engine's :data:`accel.board.DEFAULT_CLOCK_MHZ`.

    Raises :class:`UserError` if the design does not meet ``clock_mhz`` with any of ``seeds`` seeds (the
    report of the best one is written anyway).
    """
    if spec.name not in ENGINE_IDS:
        raise UserError(f"ENGINE: '{spec.name}' is not an engine; allowed: {', '.join(ENGINE_IDS)}")
    board = board_named(board_name)
    clock_mhz = DEFAULT_CLOCK_MHZ[spec.name] if clock_mhz is None else clock_mhz
    if image_bytes & (image_bytes - 1) or image_bytes < spec.port_bits // 8:
        raise UserError(f"--image-kib: {image_bytes / 1024:g} KiB; allowed: a power of two")
    pll, divisor = clocking(board, clock_mhz, baud)
    top = BoardTop(spec, board, pll, image_bytes, divisor)
    platform = board.platform()
    name = f"{board.name.replace('-', '_')}_{module_name(spec)}"
    out_dir = Path(out_dir)
    work = out_dir / "logs"
    work.mkdir(parents=True, exist_ok=True)
    with step(f"Amaranth: elaborating {name}"):
        plan = platform.prepare(top, name)
    for suffix in (".il", ".lpf"):
        (work / f"{name}{suffix}").write_text(plan.files[f"{name}{suffix}"])
    fpga.synthesize_netlist(work, fpga.synth_args(f"read_rtlil {name}.il", name), name, platform.device)

    best = None
    for seed in range(1, seeds + 1):
        args = [*fpga.DEVICES[platform.device], "--package", board.package, "--speed", platform.speed,
                "--json", "netlist.json", "--lpf", f"{name}.lpf", "--textcfg", f"{name}.config",
                "--report", "report.json", "--timing-allow-fail", "--seed", str(seed), *ROUTER]
        with step(f"nextpnr: placing and routing {name} on {board.name} at {pll.out_mhz:g} MHz, seed {seed}"):
            fpga._run(fpga._NEXTPNR, args, work, "nextpnr.log")
        report = json.loads((work / "report.json").read_text())
        fmax = min(clock["achieved"] for clock in report["fmax"].values())
        met = all(clock["achieved"] >= clock["constraint"] for clock in report["fmax"].values())
        if best is None or fmax > best[0]:
            best = (fmax, seed, met, report)
            shutil.copyfile(work / f"{name}.config", work / "best.config")
        if met:
            break
    (work / "netlist.json").unlink()
    fmax, seed, met, report = best
    used = {cell: usage["used"] for cell, usage in report["utilization"].items()}
    bitstream = out_dir / f"{name}.bit"
    result = BoardBuild(name=name, board=board.name, bitstream=str(bitstream), clock_mhz=pll.out_mhz,
                        fmax_mhz=fmax, seed=seed, met=met, lut4=used["TRELLIS_COMB"], ff=used["TRELLIS_FF"],
                        dsp=used["MULT18X18D"], bram=used["DP16KD"], image_bytes=image_bytes, baud=baud,
                        divisor=divisor)
    (out_dir / f"{name}_timing.json").write_text(json.dumps({**asdict(result), "clocks": report["fmax"]}, indent=2))
    (out_dir / f"{name}_timing.txt").write_text(result.summary() + "\n" + "".join(
        f"  clock {net}: constraint {clock['constraint']:.2f} MHz, achieved {clock['achieved']:.2f} MHz\n"
        for net, clock in report["fmax"].items()))
    shutil.copyfile(work / f"{name}.lpf", out_dir / f"{name}.lpf")
    (out_dir / f"{name}.json").write_text(json.dumps(
        {"spec": spec.to_dict(), "board": board.name, "clock_mhz": pll.out_mhz, "baud": baud,
         "divisor": divisor, "image_bytes": image_bytes}, indent=2))
    if not met:
        raise UserError(f"--clock: {name} reaches {fmax:.1f} MHz at best ({seeds} seeds), below {clock_mhz:g} MHz; "
                        f"allowed: a clock it meets (see {out_dir / f'{name}_timing.txt'})")
    with step(f"ecppack: writing {bitstream}"):
        fpga._run(ECPPACK, ["--compress", "--input", "best.config", "--bit", "best.bit"], work, "ecppack.log")
    shutil.move(work / "best.bit", bitstream)  # the WebAssembly ecppack writes inside its working directory only
    return result
