"""Engine and block specifications: the one description of a hardware instance.

Every block or engine that ``rtl_gen`` can build is described by a frozen dataclass derived from
:class:`Spec`. A spec is validated when it is made (an invalid value raises :class:`UserError` naming the
field, the value and the allowed range), carries the derived quantities the hardware and the models need
(widths, latencies) as properties, round-trips through JSON, and has a content hash that names the
generated Verilog. ``SPECS`` maps the name used on the command line to the spec class.

Parameters are declared with :func:`param`, which records the allowed range next to the default::

    @register("dot_product")
    @dataclass(frozen=True)
    class DotProductSpec(Spec):
        lanes: int = param(8, lo=1, hi=256, doc="multiplier lanes")
"""

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .cache import content_hash
from .errors import UserError

SPECS: dict[str, type["Spec"]] = {}


def register(name: str):
    """Class decorator: make a spec class reachable by ``name`` (CLI, JSON files)."""

    def wrap(cls):
        cls.name = name
        SPECS[name] = cls
        return cls

    return wrap


def param(default, *, lo=None, hi=None, pow2=False, choices=None, doc=""):
    """A spec field with its allowed values: ``lo..hi`` inclusive, a power of two, or one of ``choices``."""
    return dataclasses.field(
        default=default, metadata={"lo": lo, "hi": hi, "pow2": pow2, "choices": choices, "doc": doc}
    )


def spec_class(name: str) -> type["Spec"]:
    """The spec class registered as ``name``; a :class:`UserError` listing the known names otherwise."""
    try:
        return SPECS[name]
    except KeyError:
        raise UserError(f"'{name}' is not a known block or engine; known: {', '.join(sorted(SPECS))}") from None


def _allowed(meta: dict) -> str:
    if meta["choices"] is not None:
        return "one of " + ", ".join(map(str, meta["choices"]))
    text = f"an integer in {meta['lo']}..{meta['hi']}"
    return text + " that is a power of two" if meta["pow2"] else text


@dataclass(frozen=True)
class Spec:
    """Base of all specs: validation, JSON round trip, overrides from strings, content hash."""

    name: ClassVar[str]

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if meta["choices"] is not None:
                ok = value in meta["choices"]
            else:
                ok = (
                    isinstance(value, int)
                    and not isinstance(value, bool)
                    and meta["lo"] <= value <= meta["hi"]
                    and (not meta["pow2"] or value & (value - 1) == 0)
                )
            if not ok:
                raise UserError(f"{self.name}.{f.name}: {value!r} is not allowed; expected {_allowed(meta)}")

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Each parameter's name mapped to its default, allowed values and meaning."""
        return {
            f.name: f"default {f.default}; {_allowed(f.metadata)}; {f.metadata['doc']}"
            for f in dataclasses.fields(cls)
        }

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.name, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace variation): the same spec gives the same text."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "Spec":
        """The spec described by ``data`` (as :meth:`to_dict` writes it)."""
        data = dict(data)
        if "spec" not in data:
            raise UserError(f"spec: missing the 'spec' key naming the block or engine; known: {', '.join(sorted(SPECS))}")
        cls = spec_class(data.pop("spec"))
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise UserError(f"{cls.name}: unknown parameter '{key}'; known: {', '.join(sorted(known))}")
        return cls(**data)

    @staticmethod
    def from_json(text: str) -> "Spec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"spec file: not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise UserError("spec file: expected a JSON object with a 'spec' key")
        return Spec.from_dict(data)

    def with_overrides(self, assignments: dict[str, str]) -> "Spec":
        """A copy with parameters set from strings, as ``--set key=value`` gives them."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for key, text in assignments.items():
            if key not in fields:
                raise UserError(f"{self.name}: unknown parameter '{key}'; known: {', '.join(sorted(fields))}")
            changes[key] = _parse(self.name, fields[key], text)
        return dataclasses.replace(self, **changes)

    @property
    def hash(self) -> str:
        """Eight hex digits naming this exact configuration (and its generated Verilog)."""
        return content_hash(self.to_json(), length=8)


def _parse(spec_name: str, f: dataclasses.Field, text: str):
    kind = type(f.default)
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
    elif kind is int:
        try:
            return int(text, 0)
        except ValueError:
            pass
    elif kind is str:
        return text
    raise UserError(f"{spec_name}.{f.name}: {text!r} is not allowed; expected {_allowed(f.metadata)}")


@register("dot_product")
@dataclass(frozen=True)
class DotProductSpec(Spec):
    """An int8 dot-product unit: ``lanes`` signed int8 × int8 products summed by a pipelined adder tree."""

    lanes: int = param(8, lo=1, hi=256, doc="multiplier lanes (int8 × int8 products summed per vector)")

    PRODUCT_WIDTH: ClassVar[int] = 16
    """int8 × int8 lies in [-128·127, (-128)·(-128)] = [-16256, 16384]: 16 bits signed."""

    @property
    def tree_levels(self) -> int:
        """Adder-tree levels: each halves the number of terms (rounding up)."""
        return math.ceil(math.log2(self.lanes)) if self.lanes > 1 else 0

    @property
    def result_width(self) -> int:
        """Signed width of the sum, derived so it cannot overflow.

        |sum| <= lanes · 16384 <= 2**(14 + tree_levels), and the sum is >= -lanes · 16256, so
        16 + tree_levels signed bits hold every result (each tree level adds one bit to its inputs).
        256 lanes give 24 bits, so the result always fits an int32.
        """
        return self.PRODUCT_WIDTH + self.tree_levels

    @property
    def latency(self) -> int:
        """Cycles from an accepted input vector to its result: one multiply stage plus one per tree level."""
        return 1 + self.tree_levels


@register("mac_array")
@dataclass(frozen=True)
class MacArraySpec(Spec):
    """An NVDLA-like int8 convolution engine (see rtl_gen/mac_array and DESIGN.md).

    Each cycle one atomic_c-byte input vector meets atomic_k kernels: atomic_c × atomic_k int8 MACs.
    The convolution buffer has ``banks`` banks of ``bank_kib`` KiB, each ``atomic_c`` bytes wide, split
    per layer between feature data and weights (NVDLA nv_small: 8 × 8 MACs, 32 × 4 KiB).
    """

    atomic_c: int = param(8, lo=4, hi=64, pow2=True, doc="input channels per MAC-array cycle")
    atomic_k: int = param(8, lo=4, hi=64, pow2=True, doc="kernels (output channels) per MAC-array cycle")
    banks: int = param(32, lo=4, hi=128, pow2=True, doc="convolution-buffer banks")
    bank_kib: int = param(4, lo=1, hi=64, pow2=True, doc="KiB per convolution-buffer bank")
    max_reduction: int = param(2**16, lo=1, hi=2**20,
                               doc="largest C/groups·R·S per output (sets the accumulator width)")
    mem_latency: int = param(8, lo=2, hi=256, doc="cycles from read request to data in the simulation memory model")

    MAX_KERNEL: ClassVar[int] = 11
    MAX_STRIDE: ClassVar[int] = 4
    MAX_DIM: ClassVar[int] = 2048
    ADDRESS_BITS: ClassVar[int] = 32

    def __post_init__(self):
        super().__post_init__()
        if self.atomic_k != self.atomic_c:
            raise UserError(f"mac_array.atomic_k: {self.atomic_k} is not allowed; expected atomic_k == atomic_c "
                            f"({self.atomic_c}): output atoms are the next layer's input atoms")
        if self.banks < 2 * self.atomic_k:
            raise UserError(f"mac_array.banks: {self.banks} is not allowed; expected at least 2 × atomic_k = "
                            f"{2 * self.atomic_k}: weights take banks in sets of atomic_k, features at least one set")
        if self.bank_entries < 16:
            raise UserError(f"mac_array.bank_kib: {self.bank_kib} is not allowed; expected at least "
                            f"{16 * self.atomic_c // 1024 or 1} KiB so a bank holds 16 atoms of {self.atomic_c} bytes")

    @property
    def port_bits(self) -> int:
        """Memory-port data width: one feature atom (atomic_c bytes) per beat — 64 bits for 8 × 8."""
        return 8 * self.atomic_c

    @property
    def beat_bytes(self) -> int:
        return self.atomic_c

    @property
    def bank_entries(self) -> int:
        """Atoms per bank (each bank is atomic_c bytes wide)."""
        return self.bank_kib * 1024 // self.atomic_c

    @property
    def macs_per_cycle(self) -> int:
        return self.atomic_c * self.atomic_k

    @property
    def acc_width(self) -> int:
        """Signed accumulator width, derived so no allowed reduction can overflow.

        The accumulator starts at the folded bias ``b − x_zp·Σw`` (|b| < 2**31, |x_zp·Σw| <= 128·127·n) and
        adds n = max_reduction products of int8 × int8 (each |x·w| <= 128·128), so
        |acc| < 2**31 + 2·2**14·n = 2**31 + 2**15·n, which fits in ⌈log2(2**31 + 2**15·n)⌉ + 1 bits.
        """
        return math.ceil(math.log2(2**31 + 2**15 * self.max_reduction)) + 1
