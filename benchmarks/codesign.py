"""Compression × hardware co-exploration of the digits models (accel.codesign): every prune fraction × share
bits on eie (digits-mlp) and, quantized to int8, on the mac_array (digits-mlp and digits-cnn), and the
binarized models on xnor — measured test accuracy against cycles, energy and area per inference, the Pareto
front over the four, and one plot of it (PNG next to the JSON).

Each prune fraction trains a model through five rounds of pruning and fine-tuning and each codebook is
fine-tuned, so the default grid takes several minutes; the notebook ``notebooks/compression_to_hardware.ipynb``
reads the JSON this writes.

    .venv/bin/python benchmarks/codesign.py [--prune 0 0.5 0.8 0.9 0.95] [--share 0 2 3 4] [--seed 0] [--out benchmarks/results/codesign.json]

``--share 0`` means no weight sharing.
"""

import argparse
from pathlib import Path

from report import table, write_json

from accel import codesign


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prune", type=float, nargs="+", default=[0.0, 0.5, 0.8, 0.9, 0.95])
    parser.add_argument("--share", type=int, nargs="+", default=[0, 2, 3, 4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "codesign.json")
    args = parser.parse_args()
    grid = codesign.points(tuple(args.prune), tuple(bits or None for bits in args.share))
    records = codesign.sweep(grid, seed=args.seed)
    best = codesign.front(records)
    for r in records:
        r["on_front"] = any(r is b for b in best)
    print(table(records, [("engine", "engine", "{}"), ("model", "model", "{}"), ("compression", "compression", "{}"),
                          ("accuracy", "accuracy", "{:.2%}"), ("cycles", "cycles/inf", "{:,.0f}"),
                          ("energy_pj", "pJ/inf", "{:,.0f}"), ("area_mm2", "mm²", "{:.3f}"),
                          ("on_front", "front", "{}")]))
    write_json(args.out, "codesign", seed=args.seed, table="45nm", objectives=list(codesign.OBJECTIVES),
               specs={engine: spec.to_dict() for engine, spec in codesign.SPECS.items()}, points=records)

    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5.5), dpi=110)
    codesign.plot(records, figure.subplots())
    figure.tight_layout()
    figure.savefig(args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
