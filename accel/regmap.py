"""The AXI4-Lite register map of a wrapped engine, defined once; the C header and the Markdown page from it.

:func:`register_map` gives the map of one spec (the counters and the command width differ per engine). The
same object drives every consumer: ``rtl_gen.axi.registers`` builds the RTL register block from it,
:mod:`accel.driver` takes its offsets and fields from it, and :func:`c_header` and :func:`markdown` write
the C header and the documentation page.

Conventions (all registers 32 bits, little-endian, word-aligned offsets, whole-word accesses):

- access kinds of a field: ``ro`` read only; ``rw`` read/write; ``w1p`` write 1 for a one-cycle pulse
  (reads 0); ``w1c`` set by hardware, write 1 to clear; ``wo`` write only (reads 0).
- A command word of ``command_bits`` bits is written as ``cmd_words`` = ceil(command_bits / 32) writes to
  ``CMD_DATA``, least significant 32 bits first; the last write pushes the command into the command FIFO.
  A command pushed while ``CMD_SPACE`` is 0 is dropped and sets ``STATUS.overflow``.
- A run: write ``CMD_COUNT`` (the commands of the run) and its first commands, write ``CONTROL.start``, keep
  writing commands while ``CMD_SPACE`` allows; ``STATUS.done`` (and ``IRQ_STATUS.done``) once all
  ``CMD_COUNT`` commands were accepted and the engine and its memory port are idle.
- 64-bit counters: reading ``COUNTER_<name>_LO`` returns bits 31..0 and latches bits 63..32 of the same
  counter into the one shadow register that every ``COUNTER_*_HI`` reads; read LO, then HI.
- A SLVERR/DECERR response on the memory port sets ``STATUS.error`` (and ``read_error``/``write_error``):
  the engine and the command FIFO are held in reset, no further read is issued, reads in flight are drained
  and writes already queued complete (every AXI transaction started is finished); ``STATUS.busy`` falls
  once nothing is in flight. Only ``CONTROL.soft_reset`` (given while not busy) clears it.
"""

from dataclasses import dataclass

from .errors import UserError
from .isa import counters as counter_names
from .program import command_width
from .spec import Spec

VERSION = (1, 0)
"""Register-map version (major, minor), readable in ``ID_VERSION`` as major << 16 | minor."""
ENGINE_IDS = {"eie": 1, "mac_array": 2, "xnor": 3}
"""``ID_ENGINE`` values."""
COUNTERS_BASE = 0x100
"""Offset of the first counter's low half; counter ``i`` is at ``COUNTERS_BASE + 8 i`` (LO) and ``+ 4`` (HI)."""
CMD_FIFO_DEPTH = 256
"""Commands the wrapper's command FIFO holds (one DP16KD-sized FIFO for the widest command of 375 bits
needs 3 block RAMs at 256 deep)."""
ACCESS = ("ro", "rw", "w1p", "w1c", "wo")


@dataclass(frozen=True)
class Field:
    """Bits ``lsb`` … ``lsb + width - 1`` of a register."""

    name: str
    lsb: int
    width: int
    access: str
    reset: int
    doc: str

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    """A 32-bit register at byte ``offset``; ``read_strobe``: the RTL block signals each read of it."""

    name: str
    offset: int
    doc: str
    fields: tuple[Field, ...]
    read_strobe: bool = False

    @property
    def reset(self) -> int:
        return sum(f.reset << f.lsb for f in self.fields)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _word(name: str, access: str, doc: str, reset: int = 0) -> tuple[Field, ...]:
    return (Field(name, 0, 32, access, reset, doc),)


@dataclass(frozen=True)
class RegisterMap:
    """The registers of the AXI wrapper around ``spec``'s engine, and the facts a driver needs."""

    spec: Spec
    registers: tuple[Register, ...]
    command_bits: int
    counters: tuple[str, ...]

    @property
    def cmd_words(self) -> int:
        return -(-self.command_bits // 32)

    @property
    def size(self) -> int:
        """Bytes of address space the map spans (a power of two)."""
        end = max(r.offset for r in self.registers) + 4
        return 1 << (end - 1).bit_length()

    def __getitem__(self, name: str) -> Register:
        for register in self.registers:
            if register.name == name:
                return register
        raise KeyError(name)

    def counter(self, name: str) -> tuple[Register, Register]:
        """The LO and HI registers of counter ``name``."""
        if name not in self.counters:
            raise UserError(f"counter: {name!r} is not a counter of {self.spec.name}; known: {', '.join(self.counters)}")
        return self[f"COUNTER_{name.upper()}_LO"], self[f"COUNTER_{name.upper()}_HI"]


def register_map(spec: Spec) -> RegisterMap:
    """The register map of the AXI wrapper around ``spec``'s engine."""
    if spec.name not in ENGINE_IDS:
        raise UserError(f"--wrap axi: '{spec.name}' is not an engine; allowed: {', '.join(ENGINE_IDS)}")
    names = counter_names(spec.name)  # imports accel.isa.<engine>, which registers its command types
    bits = command_width(spec.name)
    words = -(-bits // 32)
    registers = [
        Register("ID_ENGINE", 0x00, "Which engine: " + ", ".join(f"{v} {k}" for k, v in ENGINE_IDS.items()) + ".",
                 _word("engine", "ro", "engine id", ENGINE_IDS[spec.name])),
        Register("ID_SPEC_HASH", 0x04, "The spec's content hash (the 8 hex digits in the module name).",
                 _word("hash", "ro", "spec hash", int(spec.hash, 16))),
        Register("ID_VERSION", 0x08, "Register-map version.",
                 (Field("minor", 0, 16, "ro", VERSION[1], "minor version"),
                  Field("major", 16, 16, "ro", VERSION[0], "major version"))),
        Register("GEOMETRY", 0x0C, "Sizes the driver needs.",
                 (Field("cmd_words", 0, 8, "ro", words, "32-bit writes per command"),
                  Field("port_bytes", 8, 8, "ro", spec.port_bits // 8, "bytes per memory beat"),
                  Field("counters", 16, 8, "ro", len(names), "number of 64-bit counters"))),
        Register("CONTROL", 0x10, "Start a run, reset the engine, enable the interrupt.",
                 (Field("start", 0, 1, "w1p", 0, "start issuing the commands of the run"),
                  Field("soft_reset", 1, 1, "w1p", 0, "reset the engine, the command FIFO, status and counters"),
                  Field("irq_enable", 2, 1, "rw", 0, "drive irq while any IRQ_STATUS bit is set"))),
        Register("STATUS", 0x14, "State of the run.",
                 (Field("busy", 0, 1, "ro", 0, "a run is going on or the memory port has transactions in flight"),
                  Field("done", 1, 1, "ro", 0, "the run finished"),
                  Field("error", 2, 1, "ro", 0, "the memory answered SLVERR/DECERR; the engine is stopped"),
                  Field("read_error", 3, 1, "ro", 0, "the error came with read data"),
                  Field("write_error", 4, 1, "ro", 0, "the error came with a write response"),
                  Field("overflow", 5, 1, "ro", 0, "a command was written while the FIFO was full (dropped)"))),
        Register("IRQ_STATUS", 0x18, "Interrupt causes; write 1 to clear.",
                 (Field("done", 0, 1, "w1c", 0, "STATUS.done rose"),
                  Field("error", 1, 1, "w1c", 0, "STATUS.error rose"))),
        Register("MEM_BASE", 0x1C, "Added to every engine address on the AXI4 memory port.",
                 _word("base", "rw", "byte address of the engine's memory image")),
        Register("CMD_COUNT", 0x20, "Commands in the run.", _word("count", "rw", "commands")),
        Register("CMD_ISSUED", 0x24, "Commands the engine has accepted in this run.", _word("issued", "ro", "commands")),
        Register("CMD_SPACE", 0x28, "Free command slots in the command FIFO.",
                 _word("space", "ro", "commands", CMD_FIFO_DEPTH)),
        Register("CMD_DATA", 0x2C, f"Command words, {words} writes each, least significant 32 bits first.",
                 _word("data", "wo", "32 bits of a command word")),
    ]
    for n, name in enumerate(names):
        offset = COUNTERS_BASE + 8 * n
        registers += [
            Register(f"COUNTER_{name.upper()}_LO", offset, f"Counter {name}, bits 31..0; latches bits 63..32.",
                     _word("value", "ro", "low half"), read_strobe=True),
            Register(f"COUNTER_{name.upper()}_HI", offset + 4, f"Counter {name}, bits 63..32 as latched.",
                     _word("value", "ro", "high half latched by the last LO read")),
        ]
    return RegisterMap(spec, tuple(registers), bits, names)


def c_header(regmap: RegisterMap) -> str:
    """A C header: ``#define``s of every register's offset and reset value and every field's shift and mask."""
    spec = regmap.spec
    prefix = f"ACCEL_{spec.name.upper()}"
    guard = f"{prefix}_{spec.hash.upper()}_REGS_H"
    lines = [
        f"/* Register map of the AXI wrapper around {spec.name} (spec hash {spec.hash}); generated by accel.regmap,",
        f" * version {VERSION[0]}.{VERSION[1]}. Do not edit: regenerate with `accel generate {spec.name} --wrap axi`. */",
        f"#ifndef {guard}", f"#define {guard}", "",
        f"#define {prefix}_SPEC_HASH 0x{spec.hash.upper()}u",
        f"#define {prefix}_CMD_BITS {regmap.command_bits}u",
        f"#define {prefix}_CMD_WORDS {regmap.cmd_words}u",
        f"#define {prefix}_CMD_FIFO_DEPTH {CMD_FIFO_DEPTH}u",
        f"#define {prefix}_COUNTERS {len(regmap.counters)}u",
        f"#define {prefix}_REG_SPAN 0x{regmap.size:X}u", "",
    ]
    for register in regmap.registers:
        name = f"{prefix}_{register.name}"
        lines += [f"/* {register.doc} */", f"#define {name} 0x{register.offset:03X}u",
                  f"#define {name}_RESET 0x{register.reset:08X}u"]
        if len(register.fields) > 1:
            for f in register.fields:
                lines += [f"#define {name}_{f.name.upper()}_SHIFT {f.lsb}u",
                          f"#define {name}_{f.name.upper()}_MASK 0x{f.mask:08X}u  /* {f.access}: {f.doc} */"]
        lines.append("")
    lines += [f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def markdown(regmap: RegisterMap) -> str:
    """The register map as a Markdown page: the conventions, then one table row per field."""
    spec = regmap.spec
    conventions = __doc__.split("Conventions", 1)[1].split("\n", 1)[1].strip()
    lines = [
        f"# Register map: AXI wrapper around `{spec.name}` (spec hash `{spec.hash}`)", "",
        f"Version {VERSION[0]}.{VERSION[1]}, {regmap.size} bytes of AXI4-Lite address space. Commands are "
        f"{regmap.command_bits} bits: {regmap.cmd_words} writes to `CMD_DATA` each; the command FIFO holds "
        f"{CMD_FIFO_DEPTH}. Generated by `accel.regmap`.", "",
        conventions, "",
        "| offset | register | bits | field | access | reset | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for register in regmap.registers:
        for f in register.fields:
            bits = f"{f.lsb + f.width - 1}:{f.lsb}" if f.width > 1 else f"{f.lsb}"
            lines.append(f"| 0x{register.offset:03X} | {register.name} | {bits} | {f.name} | {f.access} | "
                         f"0x{f.reset:X} | {register.doc if len(register.fields) == 1 else f.doc} |")
    return "\n".join(lines) + "\n"
