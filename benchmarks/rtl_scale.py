"""RTL simulation at reference scale: from nothing to simulating, and a second Program on the same spec.

Two designs: eie at the paper's size (``--preset paper``: 64 PEs, SRAMs for Table III's layers) on a
4096 → 4096 layer at 9 % weight and 35 % activation density, and a 32 × 32 mac_array (``atomic_c=32``) on a
14 × 14 × 256 → 256 3 × 3 convolution. Each run is a fresh Python process doing what ``accel simulate
--backend rtl`` does (random layer, lowering, the Verilator RTL, its output checked against the golden model
bit for bit); it reports its phases. *Cold* runs on an empty cache (``ACCEL_CACHE_DIR`` a new folder): the
Verilog is generated and Verilator builds the model. *Warm* runs another Program (seeds 1, 2, 3) on the same
spec with that cache: no generation and no build; the median of 3. Per run: wall time from process start to
the end, the time before the simulated run (process start, Program, Verilog, build, loading the memory
image; with reading the results back, so at most the time to the first simulated cycle), Verilog
generation and Verilator build (C++ generation and compile) time, the CPU seconds of the process and its
children (what a run takes on an idle machine: other work stretches the wall times, so the load average is
recorded too), simulated cycles and cycles/s of the run, and the Verilog's size.

Run it from the repository root::

    .venv/bin/python benchmarks/rtl_scale.py [--designs eie mac_array] [--out benchmarks/results/rtl_scale.json]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import table, write_json

DESIGNS = {  # name: (engine, preset, --set values, --layer)
    "eie": ("eie", "paper", {}, "dense:in=4096,out=4096,weight_density=0.09,act_density=0.35"),
    "mac_array": ("mac_array", None, {"atomic_c": "32"}, "conv:h=14,w=14,c=256,k=256,r=3,pad=1"),
}
WARM_SEEDS = (1, 2, 3)
DEFAULT_OUT = Path(__file__).parent / "results" / "rtl_scale.json"
ROOT = Path(__file__).resolve().parent.parent

COLUMNS = [  # (JSON key, table heading, format)
    ("design", "design", "{}"),
    ("run", "run", "{}"),
    ("total_s", "wall s", "{:.1f}"),
    ("before_sim_s", "before sim s", "{:.1f}"),
    ("verilog_s", "Verilog s", "{:.1f}"),
    ("build_s", "build s", "{:.1f}"),
    ("cpu_s", "CPU s", "{:.1f}"),
    ("cycles", "cycles", "{:,}"),
    ("cycles_per_s", "cycles/s", "{:,.0f}"),
    ("verilog_mb", "Verilog MB", "{:.1f}"),
    ("bit_exact", "bit exact", "{}"),
]


def one_run(name: str, seed: int) -> dict:
    """In this process: design ``name``'s layer drawn with ``seed`` on the RTL; its phases (seconds from
    the process's start, which the parent passes as ``RTL_SCALE_START``)."""
    import importlib

    import numpy as np

    from accel.compiler import parse_layer
    from accel.spec import spec_class
    from sim import golden
    from sim.rtl import execute

    start = float(os.environ["RTL_SCALE_START"])
    engine, preset, sets, layer = DESIGNS[name]
    spec = (spec_class(engine).preset(preset) if preset else spec_class(engine)()).with_overrides(sets)
    compiler = importlib.import_module(f"accel.compiler.{engine}")
    kind, params = parse_layer(layer, compiler.LAYER_KINDS)
    program = compiler.random_case(spec, kind, params, np.random.default_rng(seed)).program
    words = execute.harness_words([program])
    before = time.time()
    text, _ = execute.harness_verilog(program.spec, words)
    generated = time.time()
    execute.build(program.spec, words)
    built = time.time()
    result, = execute.run([program], seed=seed)
    end = time.time()
    return {"verilog_s": generated - before, "build_s": built - generated, "total_s": end - start,
            "before_sim_s": end - start - result.seconds, "sim_s": result.seconds, "cycles": result.cycles,
            "cycles_per_s": result.cycles / result.seconds, "verilog_mb": len(text) / 1e6,
            "bit_exact": bool(np.array_equal(result.memory, golden.run(program).memory))}


def measure(name: str, seed: int, cache: Path) -> dict:
    """One run in a fresh process on ``cache``, with its CPU seconds (process and children)."""
    env = dict(os.environ, ACCEL_CACHE_DIR=str(cache), RTL_SCALE_START=repr(time.time()),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, __file__, "--one", name, str(seed)], env=env, check=True,
                          stdout=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = json.loads(done.stdout.splitlines()[-1])
    row["cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return row


def design_rows(name: str) -> list[dict]:
    """The cold run and the median of the warm ones (with each warm run's figures) of design ``name``."""
    with tempfile.TemporaryDirectory(prefix="rtl_scale-") as folder:
        cache = Path(folder) / "cache"
        cold = measure(name, 0, cache)
        warm = [measure(name, seed, cache) for seed in WARM_SEEDS]
    median = {key: statistics.median(run[key] for run in warm) for key in warm[0] if key != "bit_exact"}
    median["cycles"] = round(median["cycles"])
    median["bit_exact"] = all(run["bit_exact"] for run in warm)
    return [{"design": name, "run": "cold", **cold},
            {"design": name, "run": f"warm (median of {len(warm)})", **median, "runs": warm}]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", nargs="+", choices=list(DESIGNS), default=list(DESIGNS),
                        help="designs to measure (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON output file (default: benchmarks/results/rtl_scale.json)")
    parser.add_argument("--one", nargs=2, metavar=("DESIGN", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.one[0], int(args.one[1]))))
        return
    rows = [row for name in args.designs for row in design_rows(name)]
    load = os.getloadavg()[0]  # other work on the machine stretches the wall times
    print(table(rows, COLUMNS))
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    write_json(args.out, "rtl_scale", load_average=load, cpus=os.cpu_count(),
               designs={name: {"engine": e, "preset": p, "set": s, "layer": layer}
                        for name, (e, p, s, layer) in DESIGNS.items() if name in args.designs},
               rows=rows)


if __name__ == "__main__":
    main()
