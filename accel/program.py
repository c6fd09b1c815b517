"""The Program: the one contract between the compiler and every executor (golden, perf, RTL).

A :class:`Program` holds

- the spec of the engine instance it targets;
- an ordered list of typed :class:`Command` s — the loop order of the mapping *is* the command order.
  Each command type declares its fields with bit widths (:func:`bits`); :meth:`Command.encode` packs
  them into the very word the RTL's command port receives (opcode in the low :data:`OPCODE_BITS` bits,
  then the fields in declaration order, LSB first). There is no other configuration path.
- a :class:`MemoryImage`: named regions (address, bytes) of weights, codebooks, pointers and inputs,
  and reserved regions where outputs will be written.

:meth:`Program.save` writes one file: the magic ``ACCELPRG``, a little-endian u64 header length, a JSON
header (spec, commands, region table), then the regions' bytes back to back. It can be diffed (the header
is readable JSON) and replayed with :meth:`Program.load`.
"""

import dataclasses
import functools
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import UserError
from .spec import Spec

OPCODE_BITS = 4
MAGIC = b"ACCELPRG"

_COMMANDS: dict[tuple[str, int], type["Command"]] = {}
_COMMANDS_BY_NAME: dict[tuple[str, str], type["Command"]] = {}


def bits(width: int, *, signed: bool = False, doc: str = ""):
    """A command field of ``width`` bits (two's complement if ``signed``)."""
    return dataclasses.field(metadata={"width": width, "signed": signed, "doc": doc})


@dataclass(frozen=True)
class Command:
    """Base of command types. Subclass with ``engine=`` (spec name) and ``opcode=`` keywords::

        @dataclass(frozen=True)
        class LoadTile(Command, engine="mac_array", opcode=1):
            address: int = bits(32)
            length: int = bits(16)
    """

    engine: ClassVar[str]
    opcode: ClassVar[int]

    def __init_subclass__(cls, *, engine: str, opcode: int, **kwargs):
        super().__init_subclass__(**kwargs)
        if not 0 <= opcode < 2**OPCODE_BITS or (engine, opcode) in _COMMANDS:
            raise AssertionError(f"{cls.__name__}: opcode {opcode} of engine {engine} is out of range or taken")
        cls.engine, cls.opcode = engine, opcode
        _COMMANDS[engine, opcode] = cls
        _COMMANDS_BY_NAME[engine, cls.__name__] = cls

    def validate(self) -> None:
        """Raise :class:`UserError` if a field does not fit its bits (checked when a Program is made and when
        a command is encoded, so that schedules built only for the perf model cost no checks)."""
        values = self.__dict__
        for name, lo, hi in self._ranges():
            value = values[name]
            if type(value) is not int and not isinstance(value, np.integer) or not lo <= value <= hi:
                raise UserError(f"{type(self).__name__}.{name}: {value!r} does not fit; allowed {lo}..{hi}")

    @classmethod
    @functools.cache
    def _ranges(cls) -> tuple[tuple[str, int, int], ...]:
        """Each field's name and allowed range (computed once per command type)."""
        ranges = []
        for f in dataclasses.fields(cls):
            width = f.metadata["width"]
            ranges.append((f.name, *((-(2 ** (width - 1)), 2 ** (width - 1) - 1) if f.metadata["signed"]
                                     else (0, 2**width - 1))))
        return tuple(ranges)

    @classmethod
    def width(cls) -> int:
        """Bits of this command's word."""
        return OPCODE_BITS + sum(f.metadata["width"] for f in dataclasses.fields(cls))

    def encode(self) -> int:
        """The command word as the RTL command port receives it."""
        self.validate()
        word, shift = self.opcode, OPCODE_BITS
        for f in dataclasses.fields(self):
            width = f.metadata["width"]
            word |= (int(getattr(self, f.name)) & (2**width - 1)) << shift
            shift += width
        return word

    @staticmethod
    def decode(engine: str, word: int) -> "Command":
        """The command that :meth:`encode` turned into ``word``."""
        opcode = word & (2**OPCODE_BITS - 1)
        if (engine, opcode) not in _COMMANDS:
            raise UserError(f"command word {word:#x}: opcode {opcode} is not a command of engine '{engine}'")
        cls = _COMMANDS[engine, opcode]
        values, shift = {}, OPCODE_BITS
        for f in dataclasses.fields(cls):
            width = f.metadata["width"]
            value = (word >> shift) & (2**width - 1)
            if f.metadata["signed"] and value >= 2 ** (width - 1):
                value -= 2**width
            values[f.name] = value
            shift += width
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {"op": type(self).__name__, **{k: int(v) for k, v in dataclasses.asdict(self).items()}}

    @staticmethod
    def from_dict(engine: str, data: dict[str, Any]) -> "Command":
        data = dict(data)
        name = data.pop("op", None)
        if (engine, name) not in _COMMANDS_BY_NAME:
            known = sorted(n for e, n in _COMMANDS_BY_NAME if e == engine)
            raise UserError(f"command: '{name}' is not a command of engine '{engine}'; known: {', '.join(known)}")
        return _COMMANDS_BY_NAME[engine, name](**data)


def command_width(engine: str) -> int:
    """Width of ``engine``'s command port: the widest of its command words."""
    widths = [cls.width() for (e, _), cls in _COMMANDS.items() if e == engine]
    if not widths:
        raise UserError(f"command: engine '{engine}' has no command types")
    return max(widths)


@dataclass(frozen=True)
class Region:
    """A named range of external memory. ``data`` is None for a reserved (output) region."""

    name: str
    address: int
    size: int
    data: bytes | None = None

    @property
    def end(self) -> int:
        return self.address + self.size


class MemoryImage:
    """Named, non-overlapping, aligned regions of external memory."""

    def __init__(self, alignment: int = 64):
        self.alignment = alignment
        self.regions: dict[str, Region] = {}

    @property
    def size(self) -> int:
        """Bytes from address 0 to the end of the last region."""
        return max((r.end for r in self.regions.values()), default=0)

    def _place(self, name: str, size: int, data: bytes | None) -> Region:
        if name in self.regions:
            raise UserError(f"memory image: region '{name}' already exists")
        address = -(-self.size // self.alignment) * self.alignment
        region = Region(name, address, size, data)
        self.regions[name] = region
        return region

    def add(self, name: str, array: np.ndarray | bytes) -> Region:
        """Place ``array``'s bytes (C order, little-endian) at the next aligned address."""
        data = bytes(array) if isinstance(array, (bytes, bytearray)) else _le_bytes(array)
        return self._place(name, len(data), data)

    def reserve(self, name: str, size: int) -> Region:
        """Reserve ``size`` bytes at the next aligned address for results."""
        return self._place(name, size, None)

    def __getitem__(self, name: str) -> Region:
        try:
            return self.regions[name]
        except KeyError:
            raise UserError(f"memory image: no region '{name}'; regions: {', '.join(self.regions)}") from None

    def flatten(self) -> np.ndarray:
        """The whole image as one uint8 array (reserved regions zero), as the memory model starts."""
        memory = np.zeros(self.size, dtype=np.uint8)
        for region in self.regions.values():
            if region.data is not None:
                memory[region.address:region.end] = np.frombuffer(region.data, dtype=np.uint8)
        return memory

    def __eq__(self, other):
        return isinstance(other, MemoryImage) and (self.alignment, self.regions) == (other.alignment, other.regions)


def _le_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


@dataclass
class Program:
    """A compiled workload for one engine instance."""

    spec: Spec
    commands: list[Command]
    memory: MemoryImage

    def __post_init__(self):
        for command in self.commands:
            command.validate()
            if command.engine != self.spec.name:
                raise UserError(f"program: command {type(command).__name__} is for engine '{command.engine}', "
                                f"not '{self.spec.name}'")

    def command_words(self) -> list[int]:
        """The command stream exactly as the RTL receives it."""
        return [command.encode() for command in self.commands]

    def save(self, path: Path) -> None:
        """Write the program to one file (JSON header + region bytes)."""
        regions, blobs, offset = [], [], 0
        for region in self.memory.regions.values():
            entry = {"name": region.name, "address": region.address, "size": region.size}
            if region.data is not None:
                entry["offset"] = offset
                blobs.append(region.data)
                offset += region.size
            regions.append(entry)
        header = json.dumps({
            "format": 1,
            "spec": self.spec.to_dict(),
            "commands": [command.to_dict() for command in self.commands],
            "memory": {"alignment": self.memory.alignment, "regions": regions},
        }, indent=1).encode()
        with open(path, "wb") as file:
            file.write(MAGIC + struct.pack("<Q", len(header)) + header)
            for blob in blobs:
                file.write(blob)

    @staticmethod
    def load(path: Path) -> "Program":
        """Read a program written by :meth:`save`."""
        raw = Path(path).read_bytes()
        if raw[:8] != MAGIC:
            raise UserError(f"program file '{path}': not an accel program (bad magic)")
        (length,) = struct.unpack("<Q", raw[8:16])
        header = json.loads(raw[16:16 + length])
        blob = raw[16 + length:]
        spec = Spec.from_dict(header["spec"])
        memory = MemoryImage(header["memory"]["alignment"])
        for entry in header["memory"]["regions"]:
            data = None
            if "offset" in entry:
                data = blob[entry["offset"]:entry["offset"] + entry["size"]]
            region = Region(entry["name"], entry["address"], entry["size"], data)
            memory.regions[region.name] = region
        commands = [Command.from_dict(spec.name, c) for c in header["commands"]]
        return Program(spec, commands, memory)
