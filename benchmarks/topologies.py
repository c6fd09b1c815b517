"""Every topology that ships with accel (or those given with --workloads) on the mac_array, 8×8 and 32×32:
per file the layers that run and those refused (with the compiler's reason), cycles and utilization.

Each layer is read by :func:`accel.nn.load_topology` (``--pad``, default ``none``: the IFMAP includes the
padding, SCALE-Sim's reading; matrix multiplies run as dense layers over their M rows), planned and scheduled by
:mod:`accel.compiler.mac_array` and counted by the perf model (the RTL's cycles, cycle for cycle). 8×8 is the
preset ``nv_small``; 32×32 is ``--set atomic_c=32`` (atomic_k and banks derived: 32 and 64 banks of 4 KiB).
Utilization is MACs / (cycles · MACs per cycle) over the layers that run.

Run from any folder (paths are relative to it)::

    python benchmarks/topologies.py [--workloads CSV_OR_FOLDER ...] [--pad none|same] [--out FILE.json]
"""

import argparse
import time
from pathlib import Path

from accel.compiler.mac_array import ConvShape, Layout, plan, schedule
from accel.errors import UserError
from accel.nn import bundled_names
from accel.spec import MacArraySpec
from report import table, write_json
from sim.perf.mac_array import counters
from workloads import add_argument, load, sources

CONFIGS = {"8x8": MacArraySpec.preset("nv_small"), "32x32": MacArraySpec().with_overrides({"atomic_c": "32"})}
DEFAULT_OUT = Path(__file__).parent / "results" / "topologies.json"
COLUMNS = [  # (JSON key, table heading, format)
    ("topology", "topology", "{}"),
    ("config", "array", "{}"),
    ("layers", "layers", "{}"),
    ("run", "run", "{}"),
    ("refused", "refused", "{}"),
    ("macs", "MACs run", "{:,}"),
    ("cycles", "cycles", "{:,}"),
    ("utilization", "util", "{:.1%}"),
    ("seconds", "s", "{:.2f}"),
]


def layer_row(spec: MacArraySpec, name: str, shape: ConvShape) -> dict:
    """Cycles of one layer by the perf model, or the compiler's refusal."""
    try:
        mapping = plan(spec, shape, name)
    except UserError as error:
        return dict(layer=name, run=False, reason=str(error))
    counts = counters(spec, schedule(spec, shape, mapping, Layout.of(spec, shape, mapping)))
    return dict(layer=name, run=True, macs=shape.macs, cycles=counts["cycles"],
                utilization=shape.macs / (counts["cycles"] * spec.macs_per_cycle), mode=mapping.mode)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_argument(parser, "every topology bundled with accel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output file (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    topologies = load(parser, args.workloads, {name: name for name in bundled_names()}, args.pad)
    rows, refusals = [], []
    for topology, layers in topologies.items():
        shapes = [(layer.name, ConvShape.of_topology(layer)) for layer in layers]
        for config, spec in CONFIGS.items():
            start = time.perf_counter()
            per_layer = [layer_row(spec, name, shape) for name, shape in shapes]
            ran = [r for r in per_layer if r["run"]]
            macs, cycles = sum(r["macs"] for r in ran), sum(r["cycles"] for r in ran)
            rows.append(dict(topology=topology, config=config, layers=len(per_layer), run=len(ran),
                             refused=len(per_layer) - len(ran), macs=macs, cycles=cycles,
                             utilization=macs / (cycles * spec.macs_per_cycle) if cycles else None,
                             seconds=time.perf_counter() - start, per_layer=per_layer))
            refusals += [(topology, config, r["reason"]) for r in per_layer if not r["run"]]
    print(f"mac_array on SCALE-Sim topologies, IFMAP padding: {args.pad} (perf model = RTL cycles)")
    print(table(rows, COLUMNS))
    if refusals:
        print("\nrefused:")
        for topology, config, reason in refusals:
            print(f"  {topology} {config}: {reason}")
    write_json(args.out, "topologies", workloads=sources(args.workloads), pad=args.pad,
               configs={k: s.to_dict() for k, s in CONFIGS.items()}, rows=rows)


if __name__ == "__main__":
    main()
