"""The Program: the one contract between the compiler and every executor (golden, perf, RTL).

A :class:`Program` holds

- the spec of the engine instance it targets;
- an ordered list of typed :class:`Command` s — the loop order of the mapping *is* the command order.
  Each command type declares its fields with bit widths (:func:`bits`); :meth:`Command.encode` packs
  them into the very word the RTL's command port receives (opcode in the low :data:`OPCODE_BITS` bits,
  then the fields in declaration order, LSB first). There is no other configuration path.
- a :class:`MemoryImage`: named regions (address, bytes) of weights, codebooks, pointers and inputs,
  and reserved regions where outputs will be written.

The program file
----------------

:meth:`Program.save` writes one file that can be diffed (the header is readable JSON) and replayed with
:meth:`Program.load`. Format :data:`FORMAT`, in this order:

1. the magic ``ACCELPRG`` (8 bytes, :data:`MAGIC`);
2. the header's length in bytes, a little-endian u64;
3. the header: a UTF-8 JSON object with exactly these keys —

   - ``format``: :data:`FORMAT`;
   - ``spec``: the engine's spec as :meth:`Spec.to_dict` writes it (``{"spec": name, parameter: value, …}``);
   - ``commands``: a list of ``{"op": command type, field: integer, …}`` with every field of the type;
   - ``memory``: ``{"alignment": bytes, "regions": [region, …]}``, a region being ``{"name", "address",
     "size"}`` plus ``"offset"`` if it holds data (a reserved output region has none): its bytes are
     ``data[offset : offset + size]``;
   - ``data``: ``{"bytes": length of the data, "sha256": its SHA-256 in lowercase hex}``;

4. the data: the bytes of the regions that hold data, back to back in region order (each region's
   offset is the end of the previous one's, the first is 0), and nothing after them.

Regions have distinct names, addresses that are multiples of the alignment, and do not overlap; they lie
in the :data:`ADDRESS_BITS`-bit address space. The checksum covers the data, which no one checks by eye; the header
is text that people read, diff and may edit, and :meth:`Program.load` checks every value in it (types,
ranges, each command field's bits). Format 1 (no checksum) is refused: programs are compiled again, not
archived. Any other file gives a :class:`UserError` naming the file and what is wrong.
"""

import dataclasses
import functools
import hashlib
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
FORMAT = 2
"""The program file's format version (see the module docstring)."""
ADDRESS_BITS = 32
"""External memory is byte-addressed with 32-bit addresses (the commands' DRAM address fields)."""
_LENGTH = struct.Struct("<Q")  # the header's length

_COMMANDS: dict[tuple[str, int], type["Command"]] = {}
_COMMANDS_BY_NAME: dict[tuple[str, str], type["Command"]] = {}


def bits(width: int, *, signed: bool = False, doc: str = "", default: int | None = None):
    """A command field of ``width`` bits (two's complement if ``signed``); with ``default``, a field that may be
    left out (after those that may not)."""
    extra = {} if default is None else {"default": default}
    return dataclasses.field(metadata={"width": width, "signed": signed, "doc": doc}, **extra)


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
        """The command ``data`` describes (as :meth:`to_dict` writes it); a :class:`UserError` names an unknown
        type, a missing or unknown field, or a value that does not fit."""
        if not isinstance(data, dict):
            raise UserError(f"command: {_short(data)} is not an object {{\"op\": type, field: value, …}}")
        data = dict(data)
        name = data.pop("op", None)
        if not isinstance(name, str) or (engine, name) not in _COMMANDS_BY_NAME:
            known = sorted(n for e, n in _COMMANDS_BY_NAME if e == engine)
            raise UserError(f"command: {_short(name)} is not a command of engine '{engine}'; known: {', '.join(known)}")
        cls = _COMMANDS_BY_NAME[engine, name]
        fields = [field for field, _, _ in cls._ranges()]
        if set(data) != set(fields):
            unknown, missing = [k for k in data if k not in fields], [f for f in fields if f not in data]
            raise UserError(f"command {name}: unknown field {_short(unknown[0])}; fields: {', '.join(fields)}"
                            if unknown else f"command {name}: field '{missing[0]}' is missing; fields: "
                                            f"{', '.join(fields)}")
        command = cls(**data)
        command.validate()
        return command


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
        """Write the program to one file (format in the module docstring)."""
        regions, blobs, offset = [], [], 0
        for region in self.memory.regions.values():
            entry = {"name": region.name, "address": region.address, "size": region.size}
            if region.data is not None:
                entry["offset"] = offset
                blobs.append(region.data)
                offset += region.size
            regions.append(entry)
        data = b"".join(blobs)
        header = json.dumps({
            "format": FORMAT,
            "spec": self.spec.to_dict(),
            "commands": [command.to_dict() for command in self.commands],
            "memory": {"alignment": self.memory.alignment, "regions": regions},
            "data": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        }, indent=1).encode()
        Path(path).write_bytes(MAGIC + _LENGTH.pack(len(header)) + header + data)

    @staticmethod
    def load(path: Path) -> "Program":
        """Read a program written by :meth:`save`, checking everything in the file; a :class:`UserError`
        names the file and the first thing that is wrong."""
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise UserError(f"program file {str(path)!r}: cannot be read ({error.strerror or error})") from None
        try:
            return _parse(raw)
        except UserError as error:
            raise UserError(f"program file {str(path)!r}: {error}") from None


def _short(value: Any) -> str:
    """``value``'s repr, cut to a readable length for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a :class:`UserError` if a key appears twice."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise UserError(f"header: key {_short(twice)} appears twice in one object")
    return value


def _object(value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``value`` checked to be a JSON object with all ``required`` keys and no others than ``optional``."""
    if not isinstance(value, dict):
        raise UserError(f"{where}: {_short(value)} is not an object; expected keys {', '.join(required)}")
    for key in required:
        if key not in value:
            raise UserError(f"{where}: key '{key}' is missing; expected keys {', '.join(required)}")
    for key in value:
        if key not in required + optional:
            raise UserError(f"{where}: unknown key {_short(key)}; allowed: {', '.join(required + optional)}")
    return value


def _integer(value: Any, where: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise UserError(f"{where}: {_short(value)} is not allowed; expected an integer in {lo}..{hi}")
    return value


def _parse(raw: bytes) -> "Program":
    """The program in the bytes of a program file."""
    if raw[:len(MAGIC)] != MAGIC:
        if MAGIC.startswith(raw):
            raise UserError(f"cut short inside the magic ({len(raw)} of {len(MAGIC)} bytes)")
        raise UserError(f"not an accel program (bad magic {_short(raw[:len(MAGIC)])}; expected {MAGIC!r})")
    start = len(MAGIC) + _LENGTH.size
    if len(raw) < start:
        raise UserError(f"cut short inside the header length ({len(raw) - len(MAGIC)} of {_LENGTH.size} bytes)")
    (length,) = _LENGTH.unpack_from(raw, len(MAGIC))
    if length > len(raw) - start:
        raise UserError(f"cut short inside the header ({len(raw) - start} of {length} bytes)")
    data = raw[start + length:]
    try:
        header = json.loads(raw[start:start + length].decode(), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as error:
        raise UserError(f"the header is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except json.JSONDecodeError as error:
        raise UserError(f"the header is not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except UserError:
        raise
    except (ValueError, RecursionError) as error:  # an integer of too many digits; arrays nested too deeply
        raise UserError(f"the header is not readable JSON ({type(error).__name__}: {_short(str(error))})") from None
    if not isinstance(header, dict):
        raise UserError(f"the header {_short(header)} is not a JSON object")
    if "format" not in header:
        raise UserError(f"header: key 'format' is missing; supported: {FORMAT}")
    if header["format"] != FORMAT or type(header["format"]) is not int:
        raise UserError(f"format {_short(header['format'])} is not supported; supported: {FORMAT} (compile the "
                        f"program again with this accel)")
    _object(header, "header", ("format", "spec", "commands", "memory", "data"))
    checksum = _object(header["data"], "header.data", ("bytes", "sha256"))
    if _integer(checksum["bytes"], "header.data.bytes", 0, 2**ADDRESS_BITS) != len(data):
        raise UserError(f"{len(data)} bytes of data after the header; the header says {checksum['bytes']}"
                        + (" (cut short)" if len(data) < checksum["bytes"] else ""))
    digest = hashlib.sha256(data).hexdigest()
    if checksum["sha256"] != digest:
        raise UserError(f"the data's SHA-256 is {digest}, the header says {_short(checksum['sha256'])}: "
                        f"the data is corrupted")
    if not isinstance(header["spec"], dict) or not isinstance(header["spec"].get("spec"), str):
        raise UserError(f"header.spec: {_short(header['spec'])} is not an object naming its engine "
                        f"({{\"spec\": name, parameter: value, …}})")
    spec = Spec.from_dict(header["spec"])
    for key in spec.to_dict():
        if key not in header["spec"]:
            raise UserError(f"header.spec: parameter '{key}' of {spec.name} is missing (a program is compiled for "
                            f"one exact instance)")
    memory = _memory(header["memory"], data)
    if not isinstance(header["commands"], list):
        raise UserError(f"header.commands: {_short(header['commands'])} is not a list of commands")
    commands = []
    for index, entry in enumerate(header["commands"]):
        try:
            commands.append(Command.from_dict(spec.name, entry))
        except UserError as error:
            raise UserError(f"header.commands[{index}]: {error}") from None
    return Program(spec, commands, memory)


def _memory(value: Any, data: bytes) -> MemoryImage:
    """The memory image of header field ``memory``, its regions' bytes taken from ``data``."""
    value = _object(value, "header.memory", ("alignment", "regions"))
    memory = MemoryImage(_integer(value["alignment"], "header.memory.alignment", 1, 2**ADDRESS_BITS))
    if not isinstance(value["regions"], list):
        raise UserError(f"header.memory.regions: {_short(value['regions'])} is not a list of regions")
    offset = 0
    for index, entry in enumerate(value["regions"]):
        where = f"header.memory.regions[{index}]"
        entry = _object(entry, where, ("name", "address", "size"), ("offset",))
        name = entry["name"]
        if not isinstance(name, str) or not name or name in memory.regions:
            raise UserError(f"{where}.name: {_short(name)} is not allowed; expected a new non-empty string")
        address = _integer(entry["address"], f"{where}.address", 0, 2**ADDRESS_BITS)
        size = _integer(entry["size"], f"{where}.size", 0, 2**ADDRESS_BITS - address)
        if address % memory.alignment:
            raise UserError(f"{where}.address: {address} is not allowed; expected a multiple of the alignment "
                            f"{memory.alignment}")
        region_data = None
        if "offset" in entry:
            if _integer(entry["offset"], f"{where}.offset", 0, 2**ADDRESS_BITS) != offset:
                raise UserError(f"{where}.offset: {entry['offset']} is not allowed; expected {offset}, the end of "
                                f"the data before it (regions' data lie back to back in region order)")
            if offset + size > len(data):
                raise UserError(f"{where}: bytes {offset}..{offset + size} lie outside the {len(data)} bytes of data")
            region_data, offset = data[offset:offset + size], offset + size
        memory.regions[name] = Region(name, address, size, region_data)
    if offset != len(data):
        raise UserError(f"the regions hold {offset} bytes of data, the file {len(data)}")
    ordered = sorted(memory.regions.values(), key=lambda r: (r.address, r.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.address < a.end:
            raise UserError(f"header.memory: regions '{a.name}' [{a.address}, {a.end}) and '{b.name}' "
                            f"[{b.address}, {b.end}) overlap")
    return memory
