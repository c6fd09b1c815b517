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
        raise UserError(f"{name!r} is not a known block or engine; known: {', '.join(sorted(SPECS))}") from None


def shown(value, limit: int = 40) -> str:
    """``repr(value)`` for an error message: at most ``limit`` characters (longer ones cut, with "...")."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer too long to convert, a structure nested too deeply
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
            _check_field(self.name, f, getattr(self, f.name))

    @classmethod
    def parse_value(cls, key: str, text: str) -> Any:
        """The value of parameter ``key`` written as ``text`` (as ``--set`` takes it), checked against that
        parameter's allowed values alone (not against the other parameters); a :class:`UserError` otherwise."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if key not in fields:
            raise UserError(f"{cls.name}: unknown parameter {key!r}; known: {', '.join(sorted(fields))}")
        value = _parse(cls.name, fields[key], text)
        _check_field(cls.name, fields[key], value)
        return value

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
        name = data.pop("spec")
        if not isinstance(name, str):
            raise UserError(f"spec: 'spec' is {shown(name)}; expected the name of a block or engine, one of "
                            f"{', '.join(sorted(SPECS))}")
        cls = spec_class(name)
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise UserError(f"{cls.name}: unknown parameter {key!r}; known: {', '.join(sorted(known))}")
        return cls(**data)

    @staticmethod
    def from_json(text: str) -> "Spec":
        """The spec described by JSON ``text``; a :class:`UserError` for text that is not such a spec (too
        deeply nested or with numbers too long for Python to read included)."""
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except UserError:
            raise
        except RecursionError:
            raise UserError("spec file: not valid JSON (nested too deeply)") from None
        except ValueError as error:  # JSONDecodeError, or an integer of more digits than Python converts
            raise UserError(f"spec file: not valid JSON ({str(error).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise UserError("spec file: expected a JSON object with a 'spec' key")
        return Spec.from_dict(data)

    def with_overrides(self, assignments: dict[str, str]) -> "Spec":
        """A copy with parameters set from strings, as ``--set key=value`` gives them."""
        return dataclasses.replace(self, **{key: self.parse_value(key, text) for key, text in assignments.items()})

    @property
    def hash(self) -> str:
        """Eight hex digits naming this exact configuration (and its generated Verilog)."""
        return content_hash(self.to_json(), length=8)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members as a dict; a :class:`UserError` for a key given twice (JSON would keep the last)."""
    data = {}
    for key, value in pairs:
        if key in data:
            raise UserError(f"spec file: key {shown(key)} is given twice; expected each key at most once")
        data[key] = value
    return data


def _check_field(spec_name: str, f: dataclasses.Field, value) -> None:
    meta = f.metadata
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
        raise UserError(f"{spec_name}.{f.name}: {shown(value)} is not allowed; expected {_allowed(meta)}")


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
    raise UserError(f"{spec_name}.{f.name}: {shown(text)} is not allowed; expected {_allowed(f.metadata)}")


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
        """Cycles from an accepted input vector to its result: the operands, the products, their copy (on an
        FPGA the routes into and out of the multipliers take a cycle each), then one per tree level."""
        return 3 + self.tree_levels


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


@register("xnor")
@dataclass(frozen=True)
class XnorSpec(Spec):
    """A FINN-style binary engine: one matrix-vector-threshold unit (MVTU) of ``pe`` × ``simd`` XNOR lanes
    (Umuroglu et al., FPGA 2017) behind the engine shell, with a sliding-window unit, on-chip weight,
    threshold and input buffers, and a bit-serial mode for integer first-layer inputs (see rtl_gen/xnor).

    Each cycle every PE (one output channel) XNORs ``simd`` input bits with its ``simd`` weight bits and
    counts the agreements; ``max_reduction`` bounds the padded reduction length (synapse folds × simd),
    from which every datapath width below is derived.
    """

    pe: int = param(4, lo=1, hi=64, pow2=True, doc="processing elements: output channels computed in parallel")
    simd: int = param(32, lo=2, hi=256, pow2=True, doc="input bits each PE consumes per cycle")
    weight_depth: int = param(1024, lo=16, hi=2**16, pow2=True, doc="weight-memory entries (pe × simd bits each)")
    threshold_depth: int = param(128, lo=4, hi=2**14, pow2=True,
                                 doc="threshold-memory entries (one 32-bit threshold per PE each)")
    input_depth: int = param(2048, lo=16, hi=2**16, pow2=True, doc="input-buffer words (simd bits each)")
    max_reduction: int = param(4096, lo=2, hi=2**20,
                               doc="largest padded reduction (synapse folds × simd bits) per output")
    input_bits: int = param(8, lo=1, hi=8, doc="widest unsigned integer (first-layer) input, computed bit-serially "
                                               "one plane per pass; 1: ±1 inputs only")
    port_bits: int = param(64, choices=(32, 64, 128), doc="memory-port data width in bits")
    mem_latency: int = param(8, lo=2, hi=256, doc="cycles from read request to data in the simulation memory model")

    MAX_KERNEL: ClassVar[int] = 7
    MAX_STRIDE: ClassVar[int] = 4
    MAX_POOL: ClassVar[int] = 4
    MAX_DIM: ClassVar[int] = 1023
    THRESHOLD_SLOT: ClassVar[int] = 32
    """Bits per threshold in memory: the threshold in the low ``threshold_width`` bits, the direction in bit 31."""
    OUTPUT_INT_BITS: ClassVar[int] = 32
    """Integer (last-layer) outputs are written as int32."""

    def __post_init__(self):
        super().__post_init__()
        if self.pe > self.port_bits:
            raise UserError(f"xnor.pe: {self.pe} is not allowed; expected at most port_bits = {self.port_bits} "
                            f"(one output chunk of pe bits fits a memory beat)")
        if self.max_reduction < self.simd:
            raise UserError(f"xnor.max_reduction: {self.max_reduction} is not allowed; expected at least "
                            f"simd = {self.simd} (one synapse fold)")
        if self.threshold_width + 1 > self.THRESHOLD_SLOT:
            raise UserError(f"xnor.max_reduction: {self.max_reduction} is not allowed; the threshold width "
                            f"{self.threshold_width} must leave the direction bit of a 32-bit slot")

    @property
    def beat_bytes(self) -> int:
        return self.port_bits // 8

    @property
    def lanes(self) -> int:
        """Binary MAC lanes: pe × simd XNOR–popcount bits per cycle."""
        return self.pe * self.simd

    macs_per_cycle = lanes

    @property
    def popcount_width(self) -> int:
        """Unsigned width of one PE's popcount of simd bits: values 0..simd."""
        return self.simd.bit_length()

    @property
    def acc_range(self) -> tuple[int, int]:
        """Smallest and largest accumulator value, derived from the largest reduction the spec allows.

        The accumulator counts agreeing bits: a fold of P <= input_bits planes (P = 1 for ±1 inputs) adds
        Σ 2^(P−1−j)·popcount_j (Horner: acc ← 2·acc + popcount at each new plane), so n = max_reduction
        padded bits give [0, (2^P − 1)·n].
        """
        return 0, max(1, 2**self.input_bits - 1) * self.max_reduction

    @property
    def acc_width(self) -> int:
        """Unsigned accumulator width holding every value of :attr:`acc_range`."""
        return self.acc_range[1].bit_length()

    @property
    def threshold_width(self) -> int:
        """Unsigned threshold width: thresholds lie in [acc_min, acc_max + 1] (beyond that a comparison is
        constant, and the compiler clamps to the ends)."""
        return (self.acc_range[1] + 1).bit_length()

    @property
    def diff_width(self) -> int:
        """Signed width of acc − threshold (and of an integer output), in [−acc_max − 1, acc_max]."""
        return self.threshold_width + 1


@register("eie")
@dataclass(frozen=True)
class EieSpec(Spec):
    """An EIE sparse matrix × sparse vector engine (Han et al., ISCA 2016; see rtl_gen/eie and DESIGN.md).

    ``n_pe`` processing elements; output row i lives in PE i mod n_pe. Each PE holds pointer SRAM
    (even/odd banks), sparse-matrix SRAM of 64-bit lines of eight (4-bit codebook index, 4-bit relative
    row) entries, an activation queue and source/destination activation register files. Activations and
    codebook values are 16-bit signed fixed point with ``act_frac`` and ``weight_frac`` fraction bits
    (the arithmetic is defined once in sim/golden/eie.py).
    """

    n_pe: int = param(4, lo=1, hi=256, pow2=True, doc="processing elements (the paper's benchmarks use 64)")
    queue_depth: int = param(8, lo=1, hi=256, doc="activation queue entries per PE (8 in the paper)")
    act_regs: int = param(64, lo=4, hi=1024, pow2=True,
                          doc="entries per PE of each activation register file (64 in the paper: 4K per 64 PEs)")
    ptr_entries: int = param(1024, lo=4, hi=65536, pow2=True,
                             doc="column pointers per PE (even + odd bank): at most ptr_entries - 2 columns per block")
    spmat_lines: int = param(1024, lo=2, hi=4096, pow2=True,
                             doc="64-bit lines of sparse-matrix SRAM per PE (8 entries each)")
    act_frac: int = param(8, lo=0, hi=14, doc="fraction bits of the 16-bit activations")
    weight_frac: int = param(12, lo=0, hi=15, doc="fraction bits of the 16-bit codebook values")
    max_cols: int = param(4096, lo=1, hi=2**20, doc="largest input length of a layer (sets the accumulator width)")
    port_bits: int = param(64, choices=(64,), doc="memory-port data width (one sparse-matrix line per beat)")
    mem_latency: int = param(8, lo=2, hi=256, doc="cycles from read request to data in the simulation memory model")

    ACT_BITS: ClassVar[int] = 16
    WEIGHT_BITS: ClassVar[int] = 16
    CODEBOOK_ENTRIES: ClassVar[int] = 16
    ENTRIES_PER_LINE: ClassVar[int] = 8
    POINTER_BITS: ClassVar[int] = 16
    """Pointers are 16-bit in memory; spmat_lines <= 4096 keeps every pointer (<= 32768) inside."""

    @property
    def beat_bytes(self) -> int:
        return self.port_bits // 8

    @property
    def macs_per_cycle(self) -> int:
        """One multiply-accumulate per PE per cycle."""
        return self.n_pe

    @property
    def spmat_entries(self) -> int:
        """(index, run) entries of sparse-matrix SRAM per PE."""
        return self.spmat_lines * self.ENTRIES_PER_LINE

    @property
    def ptr_width(self) -> int:
        """Bits of a stored pointer: values 0..spmat_entries inclusive."""
        return self.spmat_entries.bit_length()

    @property
    def vector_capacity(self) -> int:
        """Activations the register files hold across all PEs (input chunk and output batch length)."""
        return self.n_pe * self.act_regs

    @property
    def acc_width(self) -> int:
        """Signed accumulator width, derived so no allowed layer can overflow.

        An output sums at most n = max_cols + 1 products (the input columns and the bias column). Each is
        a 16-bit × 16-bit signed product, |w·a| <= 2**15 · 2**15 = 2**30 (the bias column's constant
        2**act_frac <= 2**14 keeps its product below that too), so |acc| <= n · 2**30, and a two's-complement
        number holding +n · 2**30 (its bit length plus a sign bit) holds every sum.
        """
        return ((self.max_cols + 1) << 30).bit_length() + 1
