"""Compilers: lowering of layers and networks to Programs, one module per engine (``accel.compiler.<engine>``).

For ``accel simulate``, each engine module provides ``random_case(spec, kind, params, rng) -> Case``: a
random layer of the kind and sizes asked for, lowered to a Program, with its independent reference result.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..program import Program


@dataclass
class Case:
    """One simulated layer: its Program, how to read its result from memory, and the reference result."""

    program: Program
    output: Callable[[np.ndarray], np.ndarray]
    expected: np.ndarray
    macs: int
    info: dict = field(default_factory=dict)


def parse_layer(text: str, kinds: dict[str, dict[str, object]]) -> tuple[str, dict[str, object]]:
    """``kind:key=value,...`` → (kind, parameters), with defaults from ``kinds[kind]`` and values of the
    defaults' types; a :class:`UserError` names whatever is wrong."""
    kind, _, rest = text.partition(":")
    if kind not in kinds:
        raise UserError(f"--layer: kind '{kind}' is not known; expected one of {', '.join(kinds)}")
    params = dict(kinds[kind])
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in params:
            raise UserError(f"--layer {kind}: '{item}' is not key=value with key one of {', '.join(params)}")
        default = params[key]
        if isinstance(default, str):
            params[key] = value.strip()
            continue
        try:
            params[key] = type(default)(value)
        except ValueError:
            raise UserError(f"--layer {kind}: {key}={value!r} is not a {type(default).__name__}") from None
    return kind, params
