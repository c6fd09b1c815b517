"""Size of the workloads: layers, conv and fc MACs and parameters of every zoo network and SCALE-Sim CSV.

A zoo network (:mod:`accel.nn.zoo`) counts its Conv2d and Dense layers, their MACs for one image, and its
learned parameters (:func:`accel.nn.param_count`). A topology CSV (the ones bundled with accel, or those given
with --workloads; :func:`accel.nn.load_topology`, IFMAPs read as --pad says, by default already padded) counts its rows, their MACs
and weights (the format has no biases). A last line compares ResNet-50 built-in with the bundled
``Resnet50.csv``, read both as SCALE-Sim defines it and as unpadded "same"-padded IFMAPs (``pad="same"``). The table goes to stdout, the same rows as JSON to a file.

Run it from any folder (paths are relative to it)::

    python benchmarks/workload_macs.py
    python benchmarks/workload_macs.py --workloads my_topologies/ net.csv --out /tmp/macs.json
"""

import argparse
from pathlib import Path

from accel.nn import ZOO, ConvLayerShape, Conv2d, Dense, build, bundled, bundled_names, param_count
from report import table, write_json
from workloads import add_argument, load, sources

DEFAULT_OUT = Path(__file__).parent / "results" / "workload_macs.json"

COLUMNS = [  # (JSON key, table heading, format)
    ("source", "source", "{}"),
    ("name", "network", "{}"),
    ("layers", "conv+fc layers", "{}"),
    ("conv_macs", "conv MACs", "{:,}"),
    ("fc_macs", "fc+matmul MACs", "{:,}"),
    ("macs", "total MACs", "{:,}"),
    ("params", "parameters", "{:,}"),
]


def zoo_row(name: str) -> dict:
    g = build(name)
    macs = {kind: sum(n.op.macs(g.in_shapes(n)) for n in g.layers() if isinstance(n.op, kind))
            for kind in (Conv2d, Dense)}
    return {"source": "zoo", "name": name, "layers": sum(isinstance(n.op, (Conv2d, Dense)) for n in g.layers()),
            "conv_macs": macs[Conv2d], "fc_macs": macs[Dense], "macs": g.macs(), "params": param_count(g)}


def csv_row(name: str, layers: list[ConvLayerShape]) -> dict:
    conv, fc = (sum(x.macs for x in layers if (x.gemm is not None) == is_fc) for is_fc in (False, True))
    return {"source": "csv", "name": f"{name}.csv", "layers": len(layers), "conv_macs": conv, "fc_macs": fc,
            "macs": conv + fc, "params": sum(x.weights for x in layers)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_argument(parser, "all bundled topologies")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON output file (default: benchmarks/results/workload_macs.json)")
    args = parser.parse_args(argv)
    topologies = load(parser, args.workloads, {name: name for name in bundled_names()}, args.pad)
    rows = [zoo_row(name) for name in ZOO] + [csv_row(name, layers) for name, layers in topologies.items()]
    resnet50_csv = bundled("Resnet50")
    print(f"topologies read with IFMAP padding: {args.pad}")
    print(table(rows, COLUMNS))

    comparison = {"zoo": build("resnet50").macs(),
                  "csv_as_padded": sum(x.macs for x in resnet50_csv),
                  "csv_same_padded": sum(x.macs for x in bundled("Resnet50", "same"))}
    print(f"ResNet-50 MACs: zoo {comparison['zoo'] / 1e9:.3f} G; Resnet50.csv "
          f"{comparison['csv_same_padded'] / 1e9:.3f} G with 'same' padding, "
          f"{comparison['csv_as_padded'] / 1e9:.3f} G with IFMAPs read as already padded (SCALE-Sim)")

    write_json(args.out, "workload_macs", workloads=sources(args.workloads), pad=args.pad, rows=rows, resnet50_macs=comparison)


if __name__ == "__main__":
    main()
