"""Random int8 layers for tests, benchmarks and ``accel simulate``: real arithmetic on random data.

Weights are int8 in [-127, 127] (symmetric: uniform over [-128, 127] with -128 folded to -127), inputs
uniform int8 with a random zero point, biases random int32 of realistic size, and the requantization scale
chosen so outputs spread over the int8 range instead of saturating.
"""

import numpy as np

from ..int8 import QuantParams, Requant
from .qgraph import QConv, QDense


def random_layer(rng: np.random.Generator, *, c: int, h: int = 1, w: int = 1, k: int, r: int = 1, s: int | None = None,
                 stride: int = 1, pad: int = 0, groups: int = 1, dense: bool = False, activation: str = "none",
                 extremes: bool = False):
    """``(op, x, x_zero_point)``: an int8 layer (QConv, or QDense if ``dense``) and an input for it.

    ``extremes`` draws inputs and weights from {-128, 127} / {-127, 127} only (saturation, -128 × -127).
    """
    s = r if s is None else s
    if extremes:
        x = rng.choice(np.array([-128, 127], np.int8), (c, h, w))
        weight = rng.choice(np.array([-127, 127], np.int8), (k, c // groups, r, s))
    else:
        x = rng.integers(-128, 128, (c, h, w), dtype=np.int8)  # drawn as int8: no int64 copy of a large layer
        # Drawn over the whole int8 range (2.6x faster than a range of 255 values: no rejection sampling; VGG-16's
        # fc6 0.18 s instead of 0.47), then -128 folded to -127, so -127 comes up twice as often as another value.
        weight = np.maximum(rng.integers(-128, 128, (k, c // groups, r, s), dtype=np.int8), -127)
    x_zp = int(rng.integers(-128, 128))
    bias, requant = random_requant(rng, k, c // groups * r * s, activation)
    if dense:
        return QDense("dense", "input", weight[:, :, 0, 0], bias, requant), x[:, 0, 0], x_zp
    return QConv("conv", "input", weight, bias, requant, (stride, stride), (pad, pad), groups), x, x_zp


def random_requant(rng: np.random.Generator, k: int, reduction: int, activation: str = "none",
                   out: QuantParams | None = None) -> tuple[np.ndarray, Requant]:
    """Random int32 biases of realistic size for ``k`` kernels, and a requantization to ``out`` (default: a
    random scale in [0.5, 2] and zero point in [-20, 20)) whose multipliers spread sums of ``reduction``
    uniform int8 products over the int8 range instead of saturating."""
    bias = rng.integers(-(2**16), 2**16, k).astype(np.int32)
    out = out or QuantParams(float(rng.uniform(0.5, 2.0)), int(rng.integers(-20, 20)))
    typical = 74 * 128 * np.sqrt(reduction)  # std of Σ(x − zp)·w for uniform int8 operands
    weight_scales = rng.uniform(0.5, 1.5, k) * (out.scale * 64 / typical)
    return bias, Requant.from_scales(1.0, weight_scales, out, activation)
