"""Which SCALE-Sim topologies a benchmark reads: the ones bundled with accel (:func:`accel.nn.bundled`) by
default, or the CSV files and folders of CSV files given with ``--workloads``, relative to the current folder;
``--pad same|none`` says whether their IFMAPs include the padding (:func:`accel.nn.load_topology`)."""

import argparse
import sys
from pathlib import Path

from accel.errors import UserError
from accel.nn import ConvLayerShape, bundled, load_topology
from accel.nn.topology import PADS


def add_argument(parser: argparse.ArgumentParser, default: str, pad: str = "none") -> None:
    """Add ``--workloads PATH ...`` and ``--pad`` (default ``pad``) to ``parser``; ``default`` says what is
    read without ``--workloads``."""
    parser.add_argument("--workloads", nargs="+", type=Path, metavar="PATH",
                        help="SCALE-Sim topology CSV files, or folders whose *.csv are read, relative to the current "
                             f"folder (default: {default})")
    parser.add_argument("--pad", choices=PADS, default=pad,
                        help="none: the IFMAP includes the padding (SCALE-Sim's reading); same: it is the unpadded "
                             f"input of a 'same'-padded layer (default: {pad})")


def load(parser: argparse.ArgumentParser, paths: list[Path] | None, default: dict[str, str],
         pad: str = "none") -> dict[str, list[ConvLayerShape]]:
    """The layers of each topology, by name, with IFMAPs read as ``pad`` says: of the bundled topologies
    ``default`` (name -> bundled name) when ``paths`` is None, else of each CSV file in ``paths`` and every
    ``*.csv`` in its folders (named after the file, without ``.csv``). What cannot be read ends the run with one
    line on stderr and status 2."""
    try:
        if paths is None:
            return {name: bundled(file, pad) for name, file in default.items()}
        files = []
        for path in paths:
            if path.is_dir():
                found = sorted(path.glob("*.csv"))
                if not found:
                    raise UserError(f"--workloads: no *.csv in folder '{path}'")
                files.extend(found)
            elif path.exists():
                files.append(path)
            else:
                raise UserError(f"--workloads: '{path}' does not exist (looked for {path.absolute()})")
        topologies = {}
        for file in files:
            if file.stem in topologies:
                raise UserError(f"--workloads: two topologies are named '{file.stem}' ('{file}' is the second)")
            topologies[file.stem] = load_topology(file, pad)
        return topologies
    except UserError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def sources(paths: list[Path] | None) -> str | list[str]:
    """What a benchmark's JSON records as its workloads: ``"bundled"``, or the paths given."""
    return "bundled" if paths is None else [str(path) for path in paths]
