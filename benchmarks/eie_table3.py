"""eie on the nine layers of the EIE paper's Table III, through the perf model, with queue-depth and PE sweeps.

Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network" (ISCA 2016), Table III lists
the benchmark layers: size (inputs, outputs), weight density and activation density of AlexNet's fc6–fc8,
VGG-16's fc6–fc8 and NeuralTalk's word embedding, word decoder and LSTM. Each layer here is random data of
those sizes and densities (weights uniform at the density, codebook indices 1–15, activations non-zero at
the density), compiled for the paper's configuration, the eie preset ``paper`` (``accel params eie``: 64
PEs, activation queues of 8, 64-entry register files, the largest SRAMs the 16-bit pointers address) —
and run through the perf model, which equals the RTL cycle for cycle (tests/sim/test_eie.py). Reported per layer:

- ``compute_cycles``: cycles of the Compute commands (broadcast and PEs; with weights resident, as the
  paper assumes), ``writeback_cycles``, and ``cycles`` including every DMA load and store;
- ``load_efficiency`` = 1 − idle PE cycles / (N · compute cycles) (EIE's load balance);
- ``padding_entries`` processed (zero runs longer than 15 local rows), ``queue_full_stalls``;
- ``input_chunks`` / ``row_batches`` / ``column_blocks`` (``split``: the matrix did not fit the SRAM and was
  split into column blocks — the paper assumes it fits);
- ``perf_seconds``: time of the perf model on the layer's Program (compilation excluded).

Sweeps on Alex-7 (4096 × 4096, 9 % weights, 35.3 % activations): queue depth 1…256 with N = 64, and
N = 1…256 with queue depth 8 (register files scaled so the 4096-long vectors fit where they can: at most
1024 entries per PE), as CSV and a plot. Goal: the whole nine-layer table through the perf model in < 5 s.

It also reports the whole engine of the default spec (``accel synth eie``, 4 PEs) on the ECP5 for nextpnr
seeds 1..``--fpga-seeds`` at 150 MHz (:mod:`engine_fpga`; 0: none), beside the figures measured before its
timing work.

Run from the repository root::

    .venv/bin/python benchmarks/eie_table3.py [--seed 0] [--no-sweeps] [--fpga-seeds 2] [--out benchmarks/results/eie_table3.json]
"""

import argparse
import csv
import dataclasses
import datetime
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from accel.compiler.eie import SparseDense, lower_dense, random_indices
from accel.progress import step
from accel.spec import EieSpec
from sim.perf.eie import run as perf
import engine_fpga
from report import table as columns

LAYERS = {  # name: (inputs, outputs, weight density, activation density), EIE Table III
    "Alex-6": (9216, 4096, 0.09, 0.351),
    "Alex-7": (4096, 4096, 0.09, 0.353),
    "Alex-8": (4096, 1000, 0.25, 0.375),
    "VGG-6": (25088, 4096, 0.04, 0.183),
    "VGG-7": (4096, 4096, 0.04, 0.375),
    "VGG-8": (4096, 1000, 0.23, 0.411),
    "NT-We": (4096, 600, 0.10, 1.0),
    "NT-Wd": (600, 8791, 0.11, 1.0),
    "NT-LSTM": (1201, 2400, 0.10, 1.0),
}
PAPER = EieSpec.preset("paper")
QUEUE_DEPTHS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
PES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CLOCK_MHZ = 800  # the paper's clock, to express cycles as time
ENGINE_BEFORE = {"commit": "e143825", "seed": 1, "target_mhz": 150.0, "lut4": 13649, "ff": 5179, "dsp": 4,
                 "bram": 24, "fmax_mhz": 99.8}  # the default engine measured with engine_fpga before its timing work


def random_layer(rng: np.random.Generator, spec: EieSpec, name: str) -> tuple[SparseDense, np.ndarray]:
    n_in, n_out, weight_density, act_density = LAYERS[name]
    indices = random_indices(rng, n_out, n_in, weight_density)
    codebook = rng.integers(-2000, 2001, 16).astype(np.int16)
    codebook[0] = 0
    x = rng.integers(1, 1 << spec.act_frac, n_in) * rng.choice([-1, 1], n_in)
    x = (x * (rng.random(n_in) < act_density)).astype(np.int16)
    bias = rng.integers(0, 16, n_out).astype(np.uint8)
    return SparseDense(indices, codebook, bias, relu=True, name=name), x


def evaluate(spec: EieSpec, name: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    layer, x = random_layer(rng, spec, name)
    started = time.perf_counter()
    lowered = lower_dense(spec, layer, x)
    compile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    counts = perf(lowered.program).counters
    perf_seconds = time.perf_counter() - started
    plan = lowered.plans[0]
    busy, idle = counts["pe_busy"], counts["pe_idle"]
    n_in, n_out, weight_density, act_density = LAYERS[name]
    return dict(
        layer=name, inputs=n_in, outputs=n_out, weight_density=weight_density, act_density=act_density,
        n_pe=spec.n_pe, queue_depth=spec.queue_depth,
        compute_cycles=counts["compute_cycles"], writeback_cycles=counts["writeback_cycles"],
        cycles=counts["cycles"], compute_us=counts["compute_cycles"] / CLOCK_MHZ,
        load_efficiency=busy / (busy + idle), padding_entries=counts["padding_entries"],
        stored_padding_entries=plan.padding_entries, stored_entries=plan.entries,
        queue_full_stalls=counts["queue_full_stalls"], broadcasts=counts["broadcasts"],
        macs=busy - counts["padding_entries"],
        input_chunks=plan.input_chunks, row_batches=plan.row_batches, column_blocks=plan.column_blocks,
        split=plan.split, compile_seconds=compile_seconds, perf_seconds=perf_seconds,
    )


def table(rows: list[dict]) -> str:
    header = (f"{'layer':8} {'N':>3} {'D':>3} {'size':>12} {'w%':>5} {'a%':>6} {'compute cyc':>11} {'us@800':>7} {'all cyc':>9} "
              f"{'load eff':>8} {'padding':>8} {'q-stalls':>8} {'blocks':>6} {'split':>5} {'perf s':>7}")
    lines = [header]
    for r in rows:
        lines.append(f"{r['layer']:8} {r['n_pe']:>3} {r['queue_depth']:>3} {r['inputs']:>5}x{r['outputs']:<6} {100 * r['weight_density']:5.1f} "
                     f"{100 * r['act_density']:6.1f} {r['compute_cycles']:>11} {r['compute_us']:7.1f} "
                     f"{r['cycles']:>9} {r['load_efficiency']:8.1%} {r['padding_entries']:>8} "
                     f"{r['queue_full_stalls']:>8} {r['column_blocks']:>6} {str(r['split']):>5} "
                     f"{r['perf_seconds']:7.3f}")
    return "\n".join(lines)


def sweeps(seed: int, out_dir: Path) -> dict:
    depth_rows, pe_rows = [], []
    with step("Alex-7 queue-depth sweep (N = 64)"):
        for depth in QUEUE_DEPTHS:
            depth_rows.append(evaluate(dataclasses.replace(PAPER, queue_depth=depth), "Alex-7", seed))
    with step("Alex-7 PE sweep (queue depth 8)"):
        for n in PES:
            act_regs = min(1024, max(64, 4096 // n))
            pe_rows.append(evaluate(dataclasses.replace(PAPER, n_pe=n, act_regs=act_regs), "Alex-7", seed))
    fields = ["n_pe", "queue_depth", "compute_cycles", "cycles", "load_efficiency", "queue_full_stalls",
              "padding_entries", "input_chunks", "row_batches", "column_blocks", "perf_seconds"]
    for name, rows in (("eie_table3_queue_depth.csv", depth_rows), ("eie_table3_pes.csv", pe_rows)):
        with open(out_dir / name, "w", newline="") as file:
            writer = csv.DictWriter(file, fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    plot(depth_rows, pe_rows, out_dir / "eie_table3_sweeps.png")
    return {"queue_depth": depth_rows, "n_pe": pe_rows}


def plot(depth_rows: list[dict], pe_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    depths = [r["queue_depth"] for r in depth_rows]
    left.plot(depths, [r["load_efficiency"] for r in depth_rows], "o-")
    left.set(xscale="log", xlabel="activation queue depth (N = 64)", ylabel="load efficiency",
             title="Alex-7: load balance vs queue depth")
    left.set_xticks(depths, [str(d) for d in depths])
    pes = [r["n_pe"] for r in pe_rows]
    base = pe_rows[0]["compute_cycles"]
    right.plot(pes, [base / r["compute_cycles"] for r in pe_rows], "o-", label="speedup over 1 PE")
    right.plot(pes, pes, "--", color="grey", label="linear")
    right.set(xscale="log", yscale="log", xlabel="PEs (queue depth 8)", ylabel="speedup (compute cycles)",
              title="Alex-7: scalability")
    right.set_xticks(pes, [str(n) for n in pes])
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sweeps", action="store_true", help="only the nine-layer table")
    parser.add_argument("--fpga-seeds", type=int, default=2,
                        help="nextpnr seeds 1..N for the whole default engine on ECP5 (0: none)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "eie_table3.json")
    args = parser.parse_args()
    if args.fpga_seeds < 0:
        parser.error(f"--fpga-seeds: {args.fpga_seeds} is not a number of seeds; allowed: 0 or more")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with step("nine Table III layers through the perf model (N = 64, queue depth 8)"):
        for name in LAYERS:
            rows.append(evaluate(PAPER, name, args.seed))
    print(table(rows))
    perf_total = sum(r["perf_seconds"] for r in rows)
    print(f"perf model, nine layers: {perf_total:.2f} s (goal < 5 s); compilation {sum(r['compile_seconds'] for r in rows):.2f} s")
    report = {
        "benchmark": "eie_table3", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "python": platform.python_version(), "numpy": version("numpy"), "machine": platform.machine(),
        "seed": args.seed, "spec": PAPER.to_dict(), "clock_mhz_for_us": CLOCK_MHZ,
        "layers": rows, "perf_seconds_total": perf_total,
    }
    if not args.no_sweeps:
        report["sweeps"] = sweeps(args.seed, args.out.parent)
        for key, rows_ in report["sweeps"].items():
            print(f"\nAlex-7 sweep over {key}:")
            print(table(rows_))
    if args.fpga_seeds:
        report["engine"] = engine_fpga.measure(EieSpec(), args.fpga_seeds) | {"before": ENGINE_BEFORE}
        print(f"\nthe whole default eie engine on ECP5 (nextpnr target {report['engine']['target_mhz']:g} MHz), "
              f"before its timing work: {ENGINE_BEFORE['fmax_mhz']} MHz (seed 1)")
        print(columns(report["engine"]["runs"], engine_fpga.COLUMNS))
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
