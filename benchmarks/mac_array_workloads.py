"""mac_array on real networks: per-layer cycles, utilization and DRAM traffic from the perf model, the perf
model's own speed, and the RTL simulation speed.

For every layer of ResNet-50 and MobileNet-v1 (the SCALE-Sim topology files bundled with accel, or those given
with --workloads; read with --pad same by default, 'same' zero padding, so the shapes are the real networks';
the fully connected row as a 1×1 convolution of a 1×1 map) on an 8×8 configuration (the preset nv_small: 32 × 4 KiB buffer) and a 32×32 one
(nv_full-like 512 KiB, as 128 × 4 KiB banks so the feature/weight split can be 1:3 as well as 1:1 and 3:1),
the compiler plans the layer and the perf model counts its cycles — the same numbers the RTL produces, cycle
for cycle (tests/sim/test_mac_array.py). A layer is *memory-bound* when its DRAM traffic in the busier
direction (one beat per cycle each way) takes at least as many cycles as its MACs are active. *fill* is the
loads before the first MAC (the first band and kernel group), as a share of the MAC-active cycles: nothing
in the layer can overlap them.

Then it times the perf model on whole networks (median of 5) and runs one layer of the bundled ResNet-50 on the
8×8 RTL (Verilator), reporting simulated cycles per second of the run (loading the memory excluded).

Run from any folder (paths are relative to it)::

    python benchmarks/mac_array_workloads.py [--no-rtl] [--workloads CSV_OR_FOLDER ...] [--out FILE.json]
"""

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path

import numpy as np

from accel.compiler.mac_array import ConvShape, Layout, lower, plan, schedule, steady_cycles
from accel.isa.mac_array import Conv, LoadFeatures, LoadWeights
from accel.nn.random_layers import random_layer
from accel.nn.topology import ConvLayerShape, bundled
from accel.spec import MacArraySpec
from sim.perf.mac_array import counters
from workloads import add_argument, load, sources

NETWORKS = {"resnet50": "Resnet50", "mobilenet": "mobilenet"}  # default: report name -> bundled topology
CONFIGS = {"8x8": MacArraySpec.preset("nv_small"), "32x32": MacArraySpec(atomic_c=32, atomic_k=32, banks=128, bank_kib=4)}
RTL_LAYER = "CB2a_1"  # ResNet-50 conv2_x 1×1, 56×56×64 → 64


def conv_shapes(layers: list[ConvLayerShape]) -> list[tuple[str, ConvShape]]:
    return [(layer.name, ConvShape.of_topology(layer)) for layer in layers]


def evaluate(spec: MacArraySpec, name: str, shape: ConvShape) -> dict:
    mapping = plan(spec, shape, name)
    commands = schedule(spec, shape, mapping, Layout.of(spec, shape, mapping))
    counts = counters(spec, commands)
    first_conv = next(i for i, command in enumerate(commands) if isinstance(command, Conv))
    fill = sum(steady_cycles(spec, command) for command in commands[:first_conv]
               if isinstance(command, (LoadFeatures, LoadWeights)))
    beats = max(counts["bytes_read"], counts["bytes_written"]) // spec.beat_bytes
    return dict(layer=name, c=shape.c, h=shape.h, w=shape.w, k=shape.k, r=shape.r, stride=shape.stride,
                groups=shape.groups, macs=shape.macs, cycles=counts["cycles"],
                utilization=shape.macs / (counts["cycles"] * spec.macs_per_cycle),
                bytes_read=counts["bytes_read"], bytes_written=counts["bytes_written"], mode=mapping.mode,
                fill=fill, fill_share=fill / counts["mac_active"],
                memory_bound=beats >= counts["mac_active"],
                aligned=shape.c % spec.atomic_c == 0 and shape.k % spec.atomic_k == 0 and shape.groups == 1)


def perf_seconds(spec: MacArraySpec, shapes) -> tuple[float, float]:
    """Median seconds (of 5) to plan and schedule every layer (compiler), and to count their cycles (perf model)."""
    compile_runs, perf_runs = [], []
    for _ in range(5):
        start = time.perf_counter()
        schedules = []
        for name, shape in shapes:
            mapping = plan(spec, shape, name)
            schedules.append(schedule(spec, shape, mapping, Layout.of(spec, shape, mapping)))
        middle = time.perf_counter()
        for commands in schedules:
            counters(spec, commands)
        compile_runs.append(middle - start)
        perf_runs.append(time.perf_counter() - middle)
    return statistics.median(compile_runs), statistics.median(perf_runs)


def rtl_speed(shapes) -> dict:
    from sim.rtl.execute import run as rtl

    spec = CONFIGS["8x8"]
    shape = dict(shapes)[RTL_LAYER]
    op, x, x_zp = random_layer(np.random.default_rng(0), c=shape.c, h=shape.h, w=shape.w, k=shape.k, r=shape.r,
                               stride=shape.stride, pad=shape.pad_h)
    lowered = lower(spec, op, x, x_zp)
    start = time.perf_counter()
    (result,) = rtl([lowered.program])
    total = time.perf_counter() - start
    return dict(layer=RTL_LAYER, cycles=result.cycles, run_seconds=result.seconds, total_seconds=total,
                cycles_per_second=result.cycles / result.seconds,
                matches_perf=result.counters == counters(spec, lowered.program.commands))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-rtl", action="store_true", help="skip the RTL simulation-speed run")
    add_argument(parser, "the bundled Resnet50 and mobilenet", pad="same")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "mac_array_workloads.json")
    args = parser.parse_args()
    topologies = load(parser, args.workloads, NETWORKS, args.pad)

    report = {"date": datetime.date.today().isoformat(), "configs": {k: s.to_dict() for k, s in CONFIGS.items()},
              "workloads": sources(args.workloads), "pad": args.pad, "networks": {}}
    for network, layers in topologies.items():
        shapes = conv_shapes(layers)
        for config, spec in CONFIGS.items():
            rows = [evaluate(spec, name, shape) for name, shape in shapes]
            compile_seconds, seconds = perf_seconds(spec, shapes)
            total_cycles = sum(r["cycles"] for r in rows)
            total_macs = sum(r["macs"] for r in rows)
            compute_bound = [r for r in rows if r["aligned"] and not r["memory_bound"]]
            summary = dict(
                layers=len(rows), macs=total_macs, cycles=total_cycles,
                utilization=total_macs / (total_cycles * spec.macs_per_cycle),
                bytes_read=sum(r["bytes_read"] for r in rows), bytes_written=sum(r["bytes_written"] for r in rows),
                perf_model_seconds=seconds, compiler_seconds=compile_seconds,
                commands=sum(len(schedule(spec, shape, m, Layout.of(spec, shape, m)))
                             for name, shape in shapes for m in [plan(spec, shape, name)]),
                min_utilization_compute_bound_aligned=min((r["utilization"] for r in compute_bound), default=None),
                memory_bound=[r["layer"] for r in rows if r["memory_bound"]])
            report["networks"][f"{network}/{config}"] = {"summary": summary, "layers": rows}
            print(f"\n{network} on {config} (IFMAP padding: {args.pad}): {len(rows)} layers, {total_macs / 1e9:.2f} GMAC, {total_cycles:,} cycles, "
                  f"utilization {summary['utilization']:.1%}, DRAM {summary['bytes_read'] / 1e6:.1f} MB read "
                  f"{summary['bytes_written'] / 1e6:.1f} MB written; {summary['commands']:,} commands: compiler "
                  f"{compile_seconds * 1e3:.0f} ms, perf model {seconds * 1e3:.0f} ms")
            print(f"{'layer':<10}{'C':>6}{'HxW':>9}{'K':>6}{'RxS':>5}{'s':>3}{'g':>5}{'cycles':>12}{'util':>7}"
                  f"{'read kB':>10}{'write kB':>10}{'fill':>7}  mode")
            for r in rows:
                flag = " memory-bound" if r["memory_bound"] else ""
                print(f"{r['layer']:<10}{r['c']:>6}{r['h']:>4}x{r['w']:<4}{r['k']:>6}{r['r']:>3}x{r['r']:<1}"
                      f"{r['stride']:>3}{r['groups']:>5}{r['cycles']:>12,}{r['utilization']:>7.1%}"
                      f"{r['bytes_read'] / 1e3:>10.1f}{r['bytes_written'] / 1e3:>10.1f}{r['fill_share']:>7.1%}"
                      f"  {r['mode']}{flag}")
            if compute_bound:
                print(f"lowest utilization of compute-bound layers with C, K multiples of the atomic sizes: "
                      f"{summary['min_utilization_compute_bound_aligned']:.1%}")
    if not args.no_rtl:
        speed = rtl_speed(conv_shapes(bundled("Resnet50", "same")))
        report["rtl"] = speed
        print(f"\nRTL (Verilator) on ResNet-50 {speed['layer']}, 8x8: {speed['cycles']:,} cycles in "
              f"{speed['run_seconds']:.2f} s = {speed['cycles_per_second'] / 1e3:.0f}k cycles/s "
              f"({speed['total_seconds']:.1f} s with loading and build); cycles == perf model: {speed['matches_perf']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
