"""Whole networks on the mac_array as one Program: ResNet-50 and MobileNet-v1 from the zoo, int8 with random
weights (:func:`accel.nn.random_networks.random_qgraph`), one 224×224 image, on the 8×8 and 32×32
configurations of mac_array_workloads.py (nv_small; 32×32 MACs with 128 × 4 KiB banks).

For each: cycles, utilization (useful MACs / (cycles · MACs per cycle)) over the whole network and over its
convolution and dense layers alone (their cycles from the command profile, :func:`sim.perf.layers`), DRAM
bytes read and written, the network Program's cycles against the sum of its layers as separate Programs
(compiled with ``overlap=False``: each layer from an idle engine, no weights prefetched across layers),
compile time and perf-model time (median of 5: the
timeline of :func:`sim.perf.mac_array.counters` on the command list, and ``sim.perf.run`` which also copies
the memory image), and the layers that hold utilization back: the most cycles not spent on useful MACs.

Run from any folder::

    python benchmarks/network_mac_array.py [--networks resnet50 mobilenet-v1] [--out FILE.json]
"""

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path

import numpy as np

from accel.compiler.mac_array_network import compile_network
from accel.nn.random_networks import random_qgraph
from accel.nn.zoo import build
from mac_array_workloads import CONFIGS
from sim import perf
from sim.perf.mac_array import counters

NETWORKS = ("resnet50", "mobilenet-v1")
GOALS = {"resnet50/8x8": 0.95, "resnet50/32x32": 0.85}  # issue #15
WHY = {  # why an op's cycles are not useful MACs (sim/perf/mac_array.py's timing)
    "add": "no MACs: the element-wise unit takes 9 operand-read cycles plus one cycle per lane for each atom",
    "depthwise": "each kernel uses 1 of its atomic_c input lanes (its weights are zero outside its own channel)",
    "conv": "input channels below atomic_c (conv1: 3 of 8 or 32 lanes); fill and drain of each band",
    "dense": "one pixel: every weight read once from DRAM (memory-bound), a weight tile per kernel group",
    "pool": "no MACs: the pooling unit", "gap": "no MACs: the pooling unit",
}


def median_seconds(function, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def evaluate(name: str, config: str, seed: int) -> dict:
    spec = CONFIGS[config]
    qgraph = random_qgraph(build(name), np.random.default_rng(seed))
    images = np.random.default_rng(seed).integers(-128, 128, (1, *qgraph.input_shape), dtype=np.int8)
    start = time.perf_counter()
    network = compile_network(spec, qgraph, images)
    compile_seconds = time.perf_counter() - start
    program = network.program
    totals = counters(spec, program.commands)
    model_seconds = median_seconds(lambda: counters(spec, program.commands))
    run_seconds = median_seconds(lambda: perf.run(program))
    rows = perf.layers(program, network.layers)
    separate = compile_network(spec, qgraph, images, overlap=False).program.commands  # layer by layer
    per_layer = counters(spec, separate)
    peak = spec.macs_per_cycle
    layers = []
    for layer, row in zip(network.layers, rows):
        if row["cycles"]:
            layers.append(dict(name=layer.name, op=layer.op, shape=layer.shape, mapping=layer.mapping,
                               macs=layer.macs, cycles=row["cycles"],
                               utilization=layer.macs / (row["cycles"] * peak),
                               lost_cycles=row["cycles"] - layer.macs / peak,
                               bytes_read=row["bytes_read"], bytes_written=row["bytes_written"]))
    mac_layers = [row for row in layers if row["macs"]]
    lost = sorted(layers, key=lambda row: -row["lost_cycles"])
    lost_total = sum(row["lost_cycles"] for row in layers)
    by_op = {}
    for row in layers:
        by_op[row["op"]] = by_op.get(row["op"], 0) + row["lost_cycles"]
    return dict(
        network=name, config=config, macs=network.macs, cycles=totals["cycles"], commands=len(program.commands),
        utilization=network.macs / (totals["cycles"] * peak),
        conv_utilization=sum(r["macs"] for r in mac_layers) / (sum(r["cycles"] for r in mac_layers) * peak),
        goal=GOALS.get(f"{name}/{config}"), bytes_read=totals["bytes_read"], bytes_written=totals["bytes_written"],
        per_layer_cycles=per_layer["cycles"], gain=per_layer["cycles"] / totals["cycles"],
        per_layer_bytes_read=per_layer["bytes_read"], compile_seconds=compile_seconds,
        perf_model_seconds=model_seconds, perf_run_seconds=run_seconds, memory_bytes=program.memory.size,
        activation_bytes=network.info["activation_bytes"], weight_bytes=network.info["weight_bytes"],
        lost_cycles_by_op={op: round(cycles / lost_total, 4) for op, cycles in by_op.items()},
        why={op: WHY[op] for op in by_op},
        holding_back=[dict(name=r["name"], op=r["op"], shape=r["shape"], utilization=round(r["utilization"], 4),
                           share_of_lost_cycles=round(r["lost_cycles"] / lost_total, 4)) for r in lost[:8]],
        layers=layers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "network_mac_array.json")
    args = parser.parse_args()
    report = {"date": datetime.date.today().isoformat(), "configs": {k: s.to_dict() for k, s in CONFIGS.items()},
              "seed": args.seed, "results": []}
    print(f"{'network':<14}{'config':<8}{'cycles':>13}{'util':>7}{'conv util':>10}{'goal':>6}{'read MB':>9}"
          f"{'write MB':>9}{'per-layer':>13}{'gain':>7}{'compile':>9}{'perf':>8}{'perf.run':>9}")
    for name in args.networks:
        for config in CONFIGS:
            r = evaluate(name, config, args.seed)
            report["results"].append(r)
            goal = f"{r['goal']:.0%}" if r["goal"] else "-"
            print(f"{name:<14}{config:<8}{r['cycles']:>13,}{r['utilization']:>7.1%}{r['conv_utilization']:>10.1%}"
                  f"{goal:>6}{r['bytes_read'] / 1e6:>9.1f}{r['bytes_written'] / 1e6:>9.1f}{r['per_layer_cycles']:>13,}"
                  f"{r['gain']:>7.3f}{r['compile_seconds']:>8.2f}s{r['perf_model_seconds']:>7.3f}s"
                  f"{r['perf_run_seconds']:>8.3f}s")
    for r in report["results"]:
        shares = ", ".join(f"{op} {share:.0%}" for op, share in sorted(r["lost_cycles_by_op"].items(),
                                                                         key=lambda item: -item[1]))
        print(f"\n{r['network']} on {r['config']}: cycles not spent on useful MACs by op: {shares}")
        for op, _ in sorted(r["lost_cycles_by_op"].items(), key=lambda item: -item[1])[:2]:
            print(f"  {op}: {WHY[op]}")
        print("most by layer:")
        for row in r["holding_back"]:
            print(f"  {row['name']:<16}{row['op']:<10}{row['shape']:<40}util {row['utilization']:>6.1%}  "
                  f"{row['share_of_lost_cycles']:>6.1%} of lost cycles")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
