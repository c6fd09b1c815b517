"""``accel run alexnet --engine auto``: AlexNet with random weights at Deep Compression's per-layer densities
(Han et al., ICLR 2016, Table 4), 4-bit weight sharing, its convolutional front int8 on the default
mac_array (8×8), its classifier on eie (widened to the PEs that hold fc6–fc8 resident), one random image
(:mod:`accel.compiler.partition`).

Prints per engine cycles, useful MACs, utilization and DRAM bytes, the transfer between the engines, the
totals, and the wall time of compiling (pruning, k-means sharing, quantizing, lowering), of the perf model and,
unless ``--no-golden``, of the golden model (with ``bit_exact`` against the chained integer reference).

Run from any folder::

    python benchmarks/auto_alexnet.py [--no-golden] [--seed 0] [--out FILE.json]
"""

import argparse
import time
from pathlib import Path

from accel import run as runner
from accel.compiler import partition
from accel.nn.load import load
from accel.spec import EieSpec, MacArraySpec
from report import table, write_json


def timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-golden", action="store_true", help="perf model only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "auto_alexnet.json")
    args = parser.parse_args()
    specs = {"mac_array": MacArraySpec(), "eie": EieSpec()}
    network, compile_seconds = timed(lambda: partition.compile(specs, load("alexnet", args.seed), seed=args.seed,
                                                               share=4))
    results = {}
    for backend in ("perf",) if args.no_golden else ("perf", "golden"):
        results[backend], seconds = timed(lambda: runner.run_partitioned(network, backend, show=False))
        results[backend]["seconds"] = seconds
    result = results["perf"]
    rows = [{"part": name, **part} for name, part in result["engines"].items()]
    rows += [{"part": f"{t['from']} -> {t['to']}", "cycles": t["cycles"], "macs": 0, "utilization": None,
              "bytes_read": t["bytes_read"], "bytes_written": t["bytes_written"]} for t in result["transfers"]]
    rows.append({"part": "total", **{key: result[key] for key in ("cycles", "macs", "utilization", "bytes_read",
                                                                   "bytes_written")}})
    print(table(rows, [("part", "part", "{}"), ("cycles", "cycles", "{:,}"), ("macs", "MACs", "{:,}"),
                       ("utilization", "util", "{:.1%}"), ("bytes_read", "read B", "{:,}"),
                       ("bytes_written", "written B", "{:,}")]))
    print(f"compile {compile_seconds:.1f} s, perf {results['perf']['seconds']:.1f} s"
          + ("" if args.no_golden else f", golden {results['golden']['seconds']:.1f} s, "
                                       f"bit_exact={results['golden']['bit_exact']}"))
    write_json(args.out, "auto_alexnet", seed=args.seed, densities=partition.DEEP_COMPRESSION_DENSITY, share=4,
               eie_spec=result["engines"]["eie"]["spec"], mac_array_spec=result["engines"]["mac_array"]["spec"],
               compile_seconds=compile_seconds,
               **{f"{backend}_seconds": r["seconds"] for backend, r in results.items()},
               bit_exact=None if args.no_golden else results["golden"]["bit_exact"],
               cycles=result["cycles"], macs=result["macs"], utilization=result["utilization"],
               bytes_read=result["bytes_read"], bytes_written=result["bytes_written"],
               engines={name: {k: v for k, v in part.items() if k != "spec"} for name, part in result["engines"].items()},
               transfers=result["transfers"],
               layers=[{k: row[k] for k in ("engine", "name", "shape", "cycles", "macs", "utilization", "bytes_read",
                                            "bytes_written")} for row in result["layers"]])


if __name__ == "__main__":
    main()
