"""Compilers: lowering of layers and networks to Programs, one module per engine (``accel.compiler.<engine>``).

For ``accel simulate``, each engine module provides ``random_case(spec, kind, params, rng) -> Case``: a
random layer of the kind and sizes asked for, lowered to a Program, with its independent reference result.
Each checks every parameter (sizes against the engine's limits, the memory image against its 32-bit
DRAM addresses) before it draws any data.
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
