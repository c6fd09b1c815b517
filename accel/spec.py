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

A parameter whose valid values depend on others (``banks`` on the atomic sizes) has a *derived* default
(``derive=``): left unset, it takes the value the rule gives from the parameters that are set, so changing
one parameter never makes a defaulted one invalid. A made spec holds concrete values only (its JSON too).
``PRESETS`` names each engine's reference configurations (:class:`Preset`, :meth:`Spec.preset`).
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


class _Derived:
    """The default of a parameter with a derived default, until :meth:`Spec.__post_init__` replaces it."""

    def __repr__(self):
        return "<derived>"


DERIVED = _Derived()


def param(default, *, lo=None, hi=None, pow2=False, choices=None, doc="", derive=None):
    """A spec field with its allowed values: ``lo..hi`` inclusive, a power of two, or one of ``choices``.

    ``derive=(rule, function)`` makes the default derived: ``function`` gets the values known so far (the
    parameters given, and the earlier fields already resolved) and returns the default; ``rule`` says it in
    words for ``describe``. ``default`` then only gives the parameter's type."""
    return dataclasses.field(
        default=default if derive is None else DERIVED,
        metadata={"lo": lo, "hi": hi, "pow2": pow2, "choices": choices, "doc": doc, "kind": type(default),
                  "default": default if derive is None else derive[0],
                  "derive": None if derive is None else derive[1]},
    )


@dataclass(frozen=True)
class Preset:
    """A named reference configuration: the parameters it sets (the rest take their defaults), what it is,
    and where its figures come from."""

    description: str
    source: str
    values: dict[str, Any]


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

    PRESETS: ClassVar[dict[str, Preset]] = {}

    def __post_init__(self):
        fields = {f.name: f for f in dataclasses.fields(self)}
        known = {name: getattr(self, name) for name in fields if getattr(self, name) is not DERIVED}
        for name, value in known.items():
            _check(self.name, fields[name], value)
        derived = [name for name in fields if name not in known]
        for name in derived:  # in field order; each rule reads only values checked already
            known[name] = fields[name].metadata["derive"](known)
            _check(self.name, fields[name], known[name])
            object.__setattr__(self, name, known[name])
        object.__setattr__(self, "_derived", frozenset(derived))

    @classmethod
    def parse_value(cls, key: str, text: str) -> Any:
        """The value of parameter ``key`` written as ``text`` (as ``--set`` takes it), checked against that
        parameter's allowed values alone (not against the other parameters); a :class:`UserError` otherwise."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if key not in fields:
            raise UserError(f"{cls.name}: unknown parameter {key!r}; known: {', '.join(sorted(fields))}")
        value = _parse(cls.name, fields[key], text)
        _check(cls.name, fields[key], value)
        return value

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Each parameter's name mapped to its default, allowed values and meaning."""
        return {
            f.name: f"default {f.metadata['default']}; {_allowed(f.metadata)}; {f.metadata['doc']}"
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
        """A copy with parameters set from strings, as ``--set key=value`` gives them; parameters this spec
        derived are derived again from the new values."""
        changes = {key: self.parse_value(key, text) for key, text in assignments.items()}
        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self._derived}
        return type(self)(**{**given, **changes})

    @classmethod
    def preset(cls, name: str) -> "Spec":
        """The spec of preset ``name`` (its values count as set); a :class:`UserError` listing the presets
        otherwise."""
        if name not in cls.PRESETS:
            raise UserError(f"{cls.name}: unknown preset {shown(name)}; known: {', '.join(cls.PRESETS) or 'none'}")
        return cls(**cls.PRESETS[name].values)

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


def _check(spec_name: str, f: dataclasses.Field, value) -> None:
    """A :class:`UserError` naming the parameter and ``value`` unless the value is in the parameter's range."""
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
    kind = f.metadata["kind"]
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

    atomic_c: int = param(8, lo=4, hi=64, pow2=True, doc="input channels per MAC-array cycle",
                          derive=("atomic_k if set, else 8 (4 when banks is set below 16)",
                                  lambda v: v.get("atomic_k", min(8, max(4, v.get("banks", 32) // 2)))))
    atomic_k: int = param(8, lo=4, hi=64, pow2=True, doc="kernels (output channels) per MAC-array cycle",
                          derive=("atomic_c", lambda v: v["atomic_c"]))
    banks: int = param(32, lo=4, hi=128, pow2=True, doc="convolution-buffer banks",
                       derive=("max(32, 2 × atomic_k)", lambda v: max(32, 2 * v["atomic_k"])))
    bank_kib: int = param(4, lo=1, hi=64, pow2=True, doc="KiB per convolution-buffer bank")
    max_reduction: int = param(2**16, lo=1, hi=2**20,
                               doc="largest C/groups·R·S per output (sets the accumulator width)")
    mem_latency: int = param(8, lo=2, hi=256, doc="cycles from read request to data in the simulation memory model")

    MAX_KERNEL: ClassVar[int] = 11
    MAX_STRIDE: ClassVar[int] = 4
    MAX_DIM: ClassVar[int] = 2048
    PRESETS: ClassVar[dict[str, Preset]] = {
        "nv_small": Preset(
            "NVDLA nv_small: 8 × 8 int8 MACs, a 128 KiB convolution buffer of 32 banks × 4 KiB",
            "NVDLA hw/spec/defs/nv_small.spec: ATOMIC_C 8, ATOMIC_K 8, CBUF_BANK_NUMBER 32, CBUF_BANK_DEPTH 512 "
            "entries × CBUF_ENTRY_BYTE 8 = 4 KiB per bank",
            dict(atomic_c=8, atomic_k=8, banks=32, bank_kib=4)),
    }

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

        The accumulator starts at the folded bias ``b − x_zp·Σw`` (|b| < 2**31, |x_zp·Σw| <= 128·127·n), or at
        an int32 partial sum (``Conv.psum_in``, within 2**31), and adds n = max_reduction products of int8 × int8 (each |x·w| <= 128·128), so
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
    simd: int = param(32, lo=2, hi=256, pow2=True, doc="input bits each PE consumes per cycle",
                      derive=("32, or the largest power of two <= max_reduction when that is set below 32",
                              lambda v: min(32, 1 << (v.get("max_reduction", 32).bit_length() - 1))))
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
    PRESETS: ClassVar[dict[str, Preset]] = {
        "lfc": Preset(
            "FINN's LFC (MNIST MLP 784-1024-1024-1024-10, binary inputs) on one MVTU of 32 PE × 64 SIMD",
            "Umuroglu et al., FPGA 2017 (LFC topology, Sections 4-5); its folding as published in Xilinx "
            "BNN-PYNQ lfc-pynq/hw/config.h: layers 0 and 2 PE 32 × SIMD 64, layer 1 PE 64 × SIMD 32 "
            "(2048 lanes each). One MVTU runs every layer, so it takes the folding of two of the three hidden "
            "layers; the memories hold the largest layer folded so (1024 × 1024: 32 neuron × 16 synapse folds "
            "= 512 weight entries, 32 thresholds), the reduction is at most 1024 bits, inputs are ±1 (1 bit)",
            dict(pe=32, simd=64, weight_depth=512, threshold_depth=32, max_reduction=1024, input_bits=1)),
    }
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

    PRESETS: ClassVar[dict[str, Preset]] = {
        "paper": Preset(
            "EIE as evaluated in the paper: 64 PEs, activation queues of 8, 64-entry register files, SRAMs for "
            "Table III's layers (AlexNet, VGG-16 and NeuralTalk FC layers) without splitting",
            "Han et al., ISCA 2016: 64 PEs (Sections V-VI), queue depth 8 (Section VI, load-balance study), "
            "64 activations per PE register file (4K over 64 PEs), 16-bit pointers; the SRAMs here are the "
            "largest the 16-bit pointers address (4096 lines = 32K entries per PE, 65536 column pointers; "
            "the paper's 128 KB sparse-matrix SRAM would be 16K lines); max_cols 32768 holds Table III's widest "
            "input (VGG-6: 25088)",
            dict(n_pe=64, queue_depth=8, act_regs=64, ptr_entries=65536, spmat_lines=4096, max_cols=32768)),
    }

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
