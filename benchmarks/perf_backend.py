"""``accel simulate --backend perf`` end to end on two large mac_array layers: wall time and peak memory.

Each run is what the command line does (in process, imports warm): check the layer, draw its random int8
data, lower it to a Program and run the perf model for its cycles and counters, with no golden model and no
independent reference (those run only with ``--check``). Before ``--check`` existed the perf backend computed
both: the dense layer took about 2 minutes and the convolution 8 minutes and 2.7 GB. The table gives the
median and the fastest of ``--runs`` runs, the median of the two phases (the case: checks, data and
lowering; the perf model), the median CPU time of the process (what the wall time is on an idle machine:
other work on it stretches the wall times, so the load average is recorded too) and the peak of traced
memory (numpy's arrays included) of one more run.

Run it from the repository root::

    .venv/bin/python benchmarks/perf_backend.py [--runs 5] [--out benchmarks/results/perf_backend.json]
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

from accel.cli import main as cli
from accel.compiler import mac_array, parse_layer
from accel.spec import MacArraySpec
from report import table, write_json
from sim import perf

LAYERS = {  # name: (--layer, --set values); the convolution needs a 1 MiB buffer to be tiled at all
    "VGG-16 fc6": ("dense:in=25088,out=4096", ()),
    "conv 224x224x512 -> 512": ("conv:h=224,w=224,c=512,k=512,r=3,pad=1", ("bank_kib=32",)),
}
DEFAULT_OUT = Path(__file__).parent / "results" / "perf_backend.json"

COLUMNS = [  # (JSON key, table heading, format)
    ("name", "layer", "{}"),
    ("set", "--set", "{}"),
    ("macs", "MACs", "{:,}"),
    ("commands", "commands", "{:,}"),
    ("cycles", "cycles", "{:,}"),
    ("median_s", "median s", "{:.3f}"),
    ("min_s", "fastest s", "{:.3f}"),
    ("cpu_s", "CPU s", "{:.3f}"),
    ("case_s", "case s", "{:.3f}"),
    ("perf_model_s", "perf model s", "{:.3f}"),
    ("peak_mb", "peak MB", "{:,.0f}"),
]


def simulate(layer: str, sets: tuple[str, ...]) -> dict:
    """One ``accel simulate --engine mac_array --backend perf --json`` run: its JSON result."""
    args = ["simulate", "--engine", "mac_array", "--layer", layer, "--backend", "perf", "--json"]
    for value in sets:
        args += ["--set", value]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli(args)
    if status != 0:
        raise SystemExit(f"accel {' '.join(args)}: exit status {status}")
    return json.loads(out.getvalue())


def phases(layer: str, sets: tuple[str, ...]) -> tuple[float, float, int]:
    """Seconds of the case (checks, data, lowering) and of the perf model, and the Program's commands."""
    spec = MacArraySpec().with_overrides(dict(value.split("=") for value in sets))
    kind, params = parse_layer(layer, mac_array.LAYER_KINDS)
    start = time.perf_counter()
    case = mac_array.random_case(spec, kind, params, np.random.default_rng(0))
    lowered = time.perf_counter()
    perf.run(case.program)
    return lowered - start, time.perf_counter() - lowered, len(case.program.commands)


def measure(name: str, layer: str, sets: tuple[str, ...], runs: int) -> dict:
    seconds, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = simulate(layer, sets)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    split = [phases(layer, sets) for _ in range(runs)]
    tracemalloc.start()
    simulate(layer, sets)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"name": name, "layer": layer, "set": " ".join(sets) or "-", "macs": result["macs"],
            "commands": split[0][2], "cycles": result["cycles"], "bit_exact": result["bit_exact"],
            "median_s": statistics.median(seconds), "min_s": min(seconds), "seconds": seconds,
            "cpu_s": statistics.median(cpu),
            "case_s": statistics.median(s[0] for s in split), "perf_model_s": statistics.median(s[1] for s in split),
            "peak_mb": peak / 1e6}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per layer (default 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON output file (default: benchmarks/results/perf_backend.json)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs: {args.runs} is not allowed; expected at least 1")
    simulate(*LAYERS["VGG-16 fc6"])  # warm the imports
    rows = [measure(name, layer, sets, args.runs) for name, (layer, sets) in LAYERS.items()]
    load = os.getloadavg()[0]  # other work on the machine stretches the times
    print(table(rows, COLUMNS))
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    write_json(args.out, "perf_backend", runs=args.runs, load_average=load, cpus=os.cpu_count(), rows=rows)


if __name__ == "__main__":
    main()
