"""Dataflow on the mac_array, per layer of ResNet-50 and MobileNet-v1 (accel.explore through the perf and cost
models): the loop order (weight- vs data-reuse, or the compiler's pick per layer) × double buffering on the
default spec (8 × 8 MACs, 32 × 4 KiB banks), and the atomic sizes (atomic_c = atomic_k) × the bank size (the
convolution buffer) with the compiler's picks. Every point keeps its per-layer cycles, DRAM traffic and energy
by level; ``notebooks/dataflow.ipynb`` reads them.

    .venv/bin/python benchmarks/dataflow.py [--workers 2] [--out benchmarks/results/dataflow]

Writes ``OUT/<sweep>/points.json`` (and the CSV files and plots of ``accel explore``) per sweep, and a summary
``OUT.json``.
"""

import argparse
from pathlib import Path

from report import table, write_json

from accel import explore as dse

WORKLOADS = ["resnet50", "mobilenet-v1"]
SWEEPS = {
    "loop_order": ["mode=auto,weight-reuse,data-reuse", "double=auto,on,off"],
    "array_buffer": ["atomic_c=8,16,32", "bank_kib=2,4,8"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dataflow")
    args = parser.parse_args()
    summary = {}
    for name, sweeps in SWEEPS.items():
        grid = dse.parse_sweeps("mac_array", sweeps)
        records, _ = dse.explore("mac_array", WORKLOADS, grid, args.out / name, workers=args.workers)
        rows = [dict(workload=r["point"]["workload"], **{k: r["point"][k] for k in grid}, feasible=r["feasible"],
                     **{c: r.get("metrics", {}).get(c) for c in ("cycles", "energy_pj", "bytes_read", "area_mm2")})
                for r in records]
        print(table(rows, [("workload", "workload", "{}"), *[(k, k, "{}") for k in grid], ("feasible", "ok", "{}"),
                           ("cycles", "cycles", "{:,}"), ("energy_pj", "pJ", "{:.3g}"),
                           ("bytes_read", "DRAM read", "{:,}"), ("area_mm2", "mm²", "{:.3f}")]))
        summary[name] = {"sweeps": sweeps, "points": rows}
    write_json(args.out.with_suffix(".json"), "dataflow", workloads=WORKLOADS, table="45nm", **summary)


if __name__ == "__main__":
    main()
