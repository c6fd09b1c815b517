"""Compilers: lowering of layers and networks to Programs, one module per engine (``accel.compiler.<engine>``).

For ``accel simulate``, each engine module provides ``random_case(spec, kind, params, rng) -> Case``: a
random layer of the kind and sizes asked for, lowered to a Program, with its independent reference result.
Each checks every parameter (sizes against the engine's limits, the memory image against its 32-bit
DRAM addresses) before it draws any data.

Each engine's network pass returns a :class:`Network` (its layers as :class:`LayerRecord`, its outputs read by
a :class:`Readout`); :mod:`accel.compiler.network` dispatches to the passes.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..program import Program
from ..spec import shown

ENGINES = ("eie", "mac_array", "xnor")
"""Engines with a compiler module (what ``accel simulate --engine`` takes)."""


@dataclass
class Case:
    """One simulated layer: its Program, how to read its result from memory, and how to compute the
    independent reference result (:attr:`expected`, computed on first use only)."""

    program: Program
    output: Callable[[np.ndarray], np.ndarray]
    reference: Callable[[], np.ndarray]
    macs: int
    info: dict = field(default_factory=dict)

    @functools.cached_property
    def expected(self) -> np.ndarray:
        """The independent reference result (computed once, when first asked for)."""
        return self.reference()


@dataclass(frozen=True)
class LayerRecord:
    """One layer of a network Program.

    ``op`` is one of conv, depthwise, dense, pool, gap, add, concat, flatten (xnor: also mvtu); ``shape`` a
    short human text of its input and output (``"16x8x8 -> 8x8x8 k3 s1 p1"``); ``mapping`` the mapping the
    compiler chose, as short text; ``macs`` the useful multiply-accumulates of the layer over all images;
    ``commands`` the [first, end) index ranges of its commands in the Program's command list (one range per
    image when images run one after another; a layer with no commands, like a flatten, has none).
    """

    name: str
    op: str
    shape: str
    mapping: str
    macs: int
    commands: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Readout:
    """Where each image's output lies in a final memory image and how to decode it, as plain numbers (so a
    network file can hold it): image n's output starts at byte ``addresses[n]``: ``pixels`` rows, each of
    ``groups`` groups of ``group`` little-endian elements of ``dtype`` (``<i1``, ``<i2`` or ``<i4``), of which
    the first ``lanes`` of each group are real; ``order`` ``pixels`` stores them pixel-major
    ``(pixels, groups, group)`` (eie, xnor), ``groups`` group-major ``(groups, pixels, group)`` (the
    mac_array's blocked feature maps). A pixel's channels are the first ``channels`` real elements of its
    row, or, where ``channel_lanes`` is given, channel c is real element ``channel_lanes[c]`` (a mac_array
    tensor whose channels lie at concat offsets). The decoded output is ``scale · stored + offset``,
    channel-major ((channels, pixels) flattened), one row per image."""

    addresses: tuple[int, ...]
    dtype: str
    pixels: int
    groups: int
    group: int
    lanes: int
    channels: int
    scale: int = 1
    offset: int = 0
    order: str = "pixels"
    channel_lanes: tuple[int, ...] = ()

    DTYPES = ("<i1", "<i2", "<i4")
    ORDERS = ("pixels", "groups")

    @property
    def nbytes(self) -> int:
        """Bytes of one image's output."""
        return self.pixels * self.groups * self.group * np.dtype(self.dtype).itemsize

    def __call__(self, memory: np.ndarray) -> np.ndarray:
        """The outputs (images, channels · pixels) int64 from the final memory image ``memory``."""
        rows = []
        for address in self.addresses:
            raw = np.asarray(memory[address:address + self.nbytes]).view(self.dtype)
            values = raw.reshape(self.pixels, self.groups, self.group) if self.order == "pixels" else \
                raw.reshape(self.groups, self.pixels, self.group).transpose(1, 0, 2)
            values = values[:, :, :self.lanes].reshape(self.pixels, -1)
            values = values[:, list(self.channel_lanes) or slice(self.channels)].T.reshape(-1)
            rows.append(self.scale * values.astype(np.int64) + self.offset)
        return np.stack(rows)


@dataclass
class Network:
    """A network compiled for one engine: the Program, its layers, how to read the outputs from a final
    memory image (``output(memory) -> (images, values)`` integers) and the independent integer reference of
    the same outputs (``reference() -> same shape``, computed on first use only)."""

    program: Program
    layers: list[LayerRecord]
    output: Readout
    reference: Callable[[], np.ndarray]
    images: int
    info: dict = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def check_memory(what: str, nbytes: int, address_bits: int) -> None:
    """A :class:`UserError` if a memory image of ``nbytes`` does not fit ``address_bits``-bit DRAM addresses."""
    if nbytes > 2**address_bits:
        raise UserError(f"{what}: needs {nbytes:,} bytes of DRAM; expected at most 2**{address_bits} "
                        f"({2**address_bits:,}: {address_bits}-bit addresses)")


def parse_layer(text: str, kinds: dict[str, dict[str, object]]) -> tuple[str, dict[str, object]]:
    """``kind:key=value,...`` → (kind, parameters), with defaults from ``kinds[kind]`` and values of the
    defaults' types; a :class:`UserError` names whatever is wrong (an unknown kind or key, a key given
    twice, a value not of its type)."""
    kind, _, rest = text.partition(":")
    if kind not in kinds:
        raise UserError(f"--layer: kind {kind!r} is not known; expected one of {', '.join(kinds)}")
    params = dict(kinds[kind])
    given = set()
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in params:
            raise UserError(f"--layer {kind}: {item!r} is not key=value with key one of {', '.join(params)}")
        if key in given:
            raise UserError(f"--layer {kind}: {key} is given twice; expected each key at most once")
        given.add(key)
        default = params[key]
        if isinstance(default, str):
            params[key] = value.strip()
            continue
        try:
            params[key] = type(default)(value)
        except ValueError:
            what = "an integer" if isinstance(default, int) else "a number"
            raise UserError(f"--layer {kind}: {key}={shown(value)} is not {what}") from None
    return kind, params
