"""The network file: a compiled network as ``accel compile`` writes it and ``accel run FILE`` reads it.

``accel compile … --out FILE`` writes two files:

- ``FILE``: the network's :class:`~accel.program.Program` (:meth:`Program.save`: the one contract every
  executor reads; format in :mod:`accel.program`);
- ``FILE.network.json`` (:func:`sidecar`): what running and reporting the network needs beyond the Program,
  a JSON object with exactly these keys —

  - ``format``: :data:`FORMAT`;
  - ``program``: ``{"bytes", "sha256"}`` of ``FILE`` (the two files belong together);
  - ``model``: the MODEL it was compiled from; ``images``: the number of input images;
  - ``layers``: per layer ``{"name", "op", "shape", "mapping", "macs", "commands": [[first, end], …]}``
    (:class:`~accel.compiler.network.LayerRecord`);
  - ``readout``: where the outputs lie (:class:`~accel.compiler.network.Readout`'s fields);
  - ``reference``: the independent integer reference's outputs, one list per image;
  - ``labels``: the images' labels (a digits model) or null.

:func:`load` checks every value against the Program (command ranges inside its command list, the outputs
inside its memory image) and names the file and the first thing that is wrong.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..program import ADDRESS_BITS, Program, _integer, _no_duplicates, _object, _short
from . import LayerRecord, Network, Readout

FORMAT = 1
"""The sidecar's format version."""
SUFFIX = ".network.json"
MAX_INT = 2**63 - 1


def sidecar(path: Path) -> Path:
    """The sidecar of program file ``path``."""
    return Path(str(path) + SUFFIX)


def save(network: Network, path: Path) -> None:
    """Write ``network`` to program file ``path`` and its sidecar."""
    path = Path(path)
    network.program.save(path)
    raw = path.read_bytes()
    reference = np.asarray(network.reference()).reshape(network.images, -1)
    header = {
        "format": FORMAT,
        "program": {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()},
        "model": network.info.get("model", ""),
        "images": network.images,
        "layers": [{**dataclasses.asdict(layer), "commands": [list(r) for r in layer.commands]}
                   for layer in network.layers],
        "readout": {**dataclasses.asdict(network.output), "addresses": list(network.output.addresses),
                    "channel_lanes": list(network.output.channel_lanes)},
        "reference": reference.tolist(),
        "labels": network.info.get("labels"),
    }
    sidecar(path).write_text(json.dumps(header) + "\n", encoding="utf-8")


def load(path: Path) -> Network:
    """The network of program file ``path`` and its sidecar; a :class:`UserError` names the file and the
    first thing that is wrong."""
    program = Program.load(path)
    where = sidecar(path)
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"network file {str(where)!r}: cannot be read ({error.strerror or error}); expected the "
                        f"file `accel compile --out {path}` writes beside the program") from None
    except UnicodeDecodeError:
        raise UserError(f"network file {str(where)!r}: not UTF-8 text") from None
    try:
        return _parse(text, program, Path(path).read_bytes())
    except UserError as error:
        raise UserError(f"network file {str(where)!r}: {error}") from None


def _parse(text: str, program: Program, raw: bytes) -> Network:
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise UserError(f"not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except (ValueError, RecursionError) as error:
        raise UserError(f"not readable JSON ({type(error).__name__}: {_short(str(error))})") from None
    keys = ("format", "program", "model", "images", "layers", "readout", "reference", "labels")
    _object(header, "header", keys)
    if header["format"] != FORMAT or type(header["format"]) is not int:
        raise UserError(f"format {_short(header['format'])} is not supported; supported: {FORMAT}")
    checksum = _object(header["program"], "program", ("bytes", "sha256"))
    if checksum != {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}:
        raise UserError("program: the size and SHA-256 do not match the program file; expected the sidecar "
                        "written with it")
    if not isinstance(header["model"], str):
        raise UserError(f"model: {_short(header['model'])} is not a string")
    images = _integer(header["images"], "images", 1, MAX_INT)
    commands = len(program.commands)
    layers = [_layer(entry, f"layers[{n}]", commands) for n, entry in enumerate(_list(header["layers"], "layers"))]
    readout = _readout(header["readout"], images, program.memory.size)
    reference = _integers(header["reference"], "reference", (images, readout.channels * readout.pixels))
    labels = header["labels"]
    if labels is not None:
        labels = _integers(labels, "labels", (images,)).tolist()
    return Network(program, layers, readout, lambda: reference, images, {"model": header["model"], "labels": labels})


def _list(value, where: str) -> list:
    if not isinstance(value, list):
        raise UserError(f"{where}: {_short(value)} is not a list")
    return value


def _string(value, where: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"{where}: {_short(value)} is not a string")
    return value


def _layer(entry, where: str, commands: int) -> LayerRecord:
    entry = _object(entry, where, ("name", "op", "shape", "mapping", "macs", "commands"))
    ranges = []
    for n, pair in enumerate(_list(entry["commands"], f"{where}.commands")):
        if not isinstance(pair, list) or len(pair) != 2:
            raise UserError(f"{where}.commands[{n}]: {_short(pair)} is not a [first, end] pair")
        first = _integer(pair[0], f"{where}.commands[{n}][0]", 0, commands)
        ranges.append((first, _integer(pair[1], f"{where}.commands[{n}][1]", first, commands)))
    return LayerRecord(*(_string(entry[key], f"{where}.{key}") for key in ("name", "op", "shape", "mapping")),
                       _integer(entry["macs"], f"{where}.macs", 0, MAX_INT), tuple(ranges))


def _readout(value, images: int, memory: int) -> Readout:
    fields = [f.name for f in dataclasses.fields(Readout)]
    value = _object(value, "readout", tuple(fields))
    if value["dtype"] not in Readout.DTYPES:
        raise UserError(f"readout.dtype: {_short(value['dtype'])} is not allowed; expected one of "
                        f"{', '.join(Readout.DTYPES)}")
    sizes = {key: _integer(value[key], f"readout.{key}", 1, 2**ADDRESS_BITS)
             for key in ("pixels", "groups", "group", "lanes", "channels")}
    if sizes["lanes"] > sizes["group"] or sizes["channels"] > sizes["groups"] * sizes["lanes"]:
        raise UserError("readout: lanes exceed a group or channels the real elements of a row")
    if value["order"] not in Readout.ORDERS:
        raise UserError(f"readout.order: {_short(value['order'])} is not allowed; expected one of "
                        f"{', '.join(Readout.ORDERS)}")
    lanes = _list(value["channel_lanes"], "readout.channel_lanes")
    if lanes and len(lanes) != sizes["channels"]:
        raise UserError(f"readout.channel_lanes: {len(lanes)} lanes for {sizes['channels']} channels; expected one "
                        f"per channel or none")
    lanes = tuple(_integer(lane, f"readout.channel_lanes[{n}]", 0, sizes["groups"] * sizes["lanes"] - 1)
                  for n, lane in enumerate(lanes))
    scale = _integer(value["scale"], "readout.scale", -2**31, 2**31)
    offset = _integer(value["offset"], "readout.offset", -2**31, 2**31)
    addresses = _list(value["addresses"], "readout.addresses")
    if len(addresses) != images:
        raise UserError(f"readout.addresses: {len(addresses)} addresses for {images} images")
    readout = Readout((), value["dtype"], **sizes, scale=scale, offset=offset, order=value["order"],
                      channel_lanes=lanes)
    addresses = tuple(_integer(a, f"readout.addresses[{n}]", 0, memory - readout.nbytes)
                      for n, a in enumerate(addresses))
    return dataclasses.replace(readout, addresses=addresses)


def _integers(value, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as an int64 array of ``shape``; a :class:`UserError` if it is not one."""
    try:
        array = np.array(value, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        array = None
    if array is None or array.shape != shape or not all(type(v) is int for v in np.ravel(np.array(value, object))):
        raise UserError(f"{where}: expected integers of shape {shape}")
    return array
