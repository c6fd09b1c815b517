"""Whole-engine ECP5 resources and Fmax with and without the AXI wrapper (rtl_gen.axi), for every engine.

For each engine's default spec, the engine alone (its shell ports) and the engine inside its AXI wrapper
(AXI4-Lite register map, command FIFO, AXI4 master with burst forming and a 256-beat write buffer) are
synthesized out of context for ECP5 (``synth_ecp5`` + nextpnr, speed grade 6, via
:func:`rtl_gen.fpga.synthesize`, nextpnr seed :data:`SEED`, target :data:`TARGET_MHZ`); the table shows
LUT4, FF, MULT18X18D, DP16KD, Fmax of both and what the wrapper adds.

Run it from the repository root (an hour or more per design on a busy machine; reports are cached by
Verilog hash)::

    .venv/bin/python benchmarks/axi_ppa.py [--engines eie mac_array xnor] [--out benchmarks/results/axi_ppa.json]
"""

import argparse
import math
from pathlib import Path

from accel.errors import UserError
from accel.spec import spec_class
from rtl_gen.axi.wrapper import wrapped_name, wrapped_verilog
from rtl_gen.export import module_name, verilog_for
from rtl_gen.fpga import DEFAULT_DEVICE, synthesize
from report import table, write_json

ENGINES = ["eie", "mac_array", "xnor"]
DEFAULT_OUT = Path(__file__).parent / "results" / "axi_ppa.json"
TARGET_MHZ = 150.0
SEED = 1
COLUMNS = [  # (JSON key, table heading, format)
    ("engine", "engine", "{}"),
    ("design", "design", "{}"),
    ("lut4", "LUT4", "{}"),
    ("ff", "FF", "{}"),
    ("dsp", "MULT18X18D", "{}"),
    ("bram", "DP16KD", "{}"),
    ("fmax_mhz", "Fmax MHz", "{:.1f}"),
]


def measure(engine: str) -> list[dict]:
    """Rows for ``engine``'s default spec: alone, in the AXI wrapper, and the difference."""
    spec = spec_class(engine)()
    rows = []
    for design, text, top in (("engine", verilog_for(spec), module_name(spec)),
                              ("axi", wrapped_verilog(spec), wrapped_name(spec))):
        report = synthesize(text, top, DEFAULT_DEVICE, target_mhz=TARGET_MHZ, seed=SEED)
        rows.append({"engine": engine, "design": design, "top": top, "lut4": report.lut4, "ff": report.ff,
                     "dsp": report.dsp, "bram": report.bram,
                     "fmax_mhz": None if math.isinf(report.fmax_mhz) else report.fmax_mhz})
    alone, wrapped = rows
    rows.append({"engine": engine, "design": "wrapper adds", "top": None,
                 **{key: wrapped[key] - alone[key] for key in ("lut4", "ff", "dsp", "bram")}, "fmax_mhz": None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=ENGINES, metavar="ENGINE")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    for engine in args.engines:
        if engine not in ENGINES:
            raise UserError(f"--engines: {engine!r} is not an engine; allowed: {', '.join(ENGINES)}")
    rows = [row for engine in args.engines for row in measure(engine)]
    print(table(rows, COLUMNS))
    write_json(args.out, "axi_ppa", device=DEFAULT_DEVICE, target_mhz=TARGET_MHZ, nextpnr_seed=SEED, rows=rows)


if __name__ == "__main__":
    main()
