"""Size of the workloads: layers, conv and fc MACs and parameters of every zoo network and SCALE-Sim CSV.

A zoo network (:mod:`accel.nn.zoo`) counts its Conv2d and Dense layers, their MACs for one image, and its
learned parameters (:func:`accel.nn.param_count`). A topology CSV (:func:`accel.nn.load_topology`, IFMAPs read
as already padded) counts its rows, their MACs and weights (the format has no biases). A last line compares
ResNet-50 built-in with ``Resnet50.csv``, read both as SCALE-Sim defines it and as unpadded "same"-padded
IFMAPs (:meth:`ConvLayerShape.same_padded`). The table goes to stdout, the same rows as JSON to a file.

Run it from the repository root::

    .venv/bin/python benchmarks/workload_macs.py
    .venv/bin/python benchmarks/workload_macs.py --workloads ../shared/workloads --out /tmp/macs.json
"""

import argparse
import os
from pathlib import Path

from accel.errors import UserError
from accel.nn import ZOO, Conv2d, Dense, build, load_topology, param_count
from report import table, write_json

DEFAULT_WORKLOADS = Path(os.environ.get("ACCEL_WORKLOADS")
                         or Path(__file__).resolve().parents[2] / "shared" / "workloads")
DEFAULT_OUT = Path(__file__).parent / "results" / "workload_macs.json"

COLUMNS = [  # (JSON key, table heading, format)
    ("source", "source", "{}"),
    ("name", "network", "{}"),
    ("layers", "conv+fc layers", "{}"),
    ("conv_macs", "conv MACs", "{:,}"),
    ("fc_macs", "fc MACs", "{:,}"),
    ("macs", "total MACs", "{:,}"),
    ("params", "parameters", "{:,}"),
]


def zoo_row(name: str) -> dict:
    g = build(name)
    macs = {kind: sum(n.op.macs(g.in_shapes(n)) for n in g.layers() if isinstance(n.op, kind))
            for kind in (Conv2d, Dense)}
    return {"source": "zoo", "name": name, "layers": sum(isinstance(n.op, (Conv2d, Dense)) for n in g.layers()),
            "conv_macs": macs[Conv2d], "fc_macs": macs[Dense], "macs": g.macs(), "params": param_count(g)}


def csv_row(path: Path) -> dict:
    layers = load_topology(path)
    conv, fc = (sum(x.macs for x in layers if x.is_fc == is_fc) for is_fc in (False, True))
    return {"source": "csv", "name": path.name, "layers": len(layers), "conv_macs": conv, "fc_macs": fc,
            "macs": conv + fc, "params": sum(x.weights for x in layers)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=Path, default=DEFAULT_WORKLOADS,
                        help="folder of SCALE-Sim CSVs (default: $ACCEL_WORKLOADS or ../shared/workloads)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON output file (default: benchmarks/results/workload_macs.json)")
    args = parser.parse_args(argv)
    csvs = sorted(args.workloads.glob("*.csv"))
    if not csvs:
        parser.error(f"--workloads: no *.csv in '{args.workloads}'")
    try:
        rows = [zoo_row(name) for name in ZOO] + [csv_row(path) for path in csvs]
        resnet50_csv = load_topology(args.workloads / "Resnet50.csv")
    except UserError as error:
        parser.error(str(error))
    print(table(rows, COLUMNS))

    comparison = {"zoo": build("resnet50").macs(),
                  "csv_as_padded": sum(x.macs for x in resnet50_csv),
                  "csv_same_padded": sum(x.same_padded().macs for x in resnet50_csv)}
    print(f"ResNet-50 MACs: zoo {comparison['zoo'] / 1e9:.3f} G; Resnet50.csv "
          f"{comparison['csv_same_padded'] / 1e9:.3f} G with 'same' padding, "
          f"{comparison['csv_as_padded'] / 1e9:.3f} G with IFMAPs read as already padded (SCALE-Sim)")

    write_json(args.out, "workload_macs", workloads=str(args.workloads), rows=rows, resnet50_macs=comparison)


if __name__ == "__main__":
    main()
