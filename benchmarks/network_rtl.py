"""A whole network on the mac_array's RTL: ResNet-18 from the zoo, int8 with random weights
(:func:`accel.nn.random_networks.random_qgraph`), one 224×224 image, as one network Program on the 8×8
(nv_small) engine, run end to end on Verilator.

Reported: the Program (commands, memory image), the golden model's and the perf model's wall time, the RTL run —
bit-exact against the golden model and the integer reference (``QGraph.run``), RTL cycles against the perf
model's — its simulated cycles, the wall time of the simulation alone and of the whole RTL call (Verilog from the
cache or generated, the Verilator model from the cache or built, image in and out through the testbench), and
simulated cycles per second. Not run by CI.

Run from any folder::

    python benchmarks/network_rtl.py [--network resnet18] [--seed 0] [--out FILE.json]
"""

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np

from accel.compiler.mac_array_network import compile_network
from accel.nn.random_networks import random_qgraph
from accel.nn.zoo import build
from accel.spec import MacArraySpec
from sim import golden, perf
from sim.rtl.execute import run as rtl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet18")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "network_rtl.json")
    args = parser.parse_args()

    spec = MacArraySpec.preset("nv_small")
    rng = np.random.default_rng(args.seed)
    qgraph = random_qgraph(build(args.network), rng)
    images = rng.integers(-128, 128, (1, *qgraph.input_shape), dtype=np.int8)
    start = time.perf_counter()
    network = compile_network(spec, qgraph, images)
    compile_seconds = time.perf_counter() - start
    program = network.program

    start = time.perf_counter()
    reference = network.reference()
    reference_seconds = time.perf_counter() - start
    start = time.perf_counter()
    expected = golden.run(program)
    golden_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = perf.run(program)
    perf_seconds = time.perf_counter() - start
    start = time.perf_counter()
    (measured,) = rtl([program], seed=args.seed)
    rtl_seconds = time.perf_counter() - start

    result = {
        "network": args.network, "spec": spec.to_dict(), "seed": args.seed,
        "commands": len(program.commands), "memory_bytes": program.memory.size, "macs": network.macs,
        "compile_seconds": compile_seconds, "reference_seconds": reference_seconds,
        "golden_seconds": golden_seconds, "perf_seconds": perf_seconds,
        "rtl_cycles": measured.cycles, "perf_cycles": predicted.cycles,
        "cycles_equal": measured.cycles == predicted.cycles and measured.counters == predicted.counters,
        "bit_exact_golden": bool(np.array_equal(measured.memory, expected.memory)),
        "bit_exact_reference": bool(np.array_equal(network.output(measured.memory), reference)),
        "utilization": network.macs / (measured.cycles * spec.macs_per_cycle),
        "rtl_simulation_seconds": measured.seconds, "rtl_call_seconds": rtl_seconds,
        "simulated_cycles_per_second": measured.cycles / measured.seconds,
        "load_average": os.getloadavg()[0],
        "date": datetime.date.today().isoformat(),
    }
    width = max(map(len, result))
    for key, value in result.items():
        if key != "spec":
            print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
