"""Integer-only requantization, defined once: the arithmetic of TFLite / gemmlowp, vectorised in numpy.

These functions follow TensorFlow Lite's ``quantization_util.cc`` (QuantizeMultiplier) and gemmlowp's
``fixedpoint.h`` (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT), as used by integer-only
inference (Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-
Only Inference", CVPR 2018). The golden models, the compression passes and the hardware all use these
definitions; the RTL matches them bit for bit.

One deliberate definition where C++ leaves overflow undefined: a positive shift (multiplier >= 1)
multiplies the int32 input by ``2**shift`` with saturation to int32.
"""

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
STAGES = 12
"""Pipeline depth of the hardware MultiplyByQuantizedMultiplier (rtl_gen.lib.fixedpoint)."""
SATURATE_STAGES = 4
"""Pipeline depth of its first stages, the saturating left shift (rtl_gen.lib.fixedpoint.saturating_shift)."""
OUTPUT_STAGES = 2
"""Pipeline depth of the hardware int8 output stage (rtl_gen.lib.fixedpoint.offset_and_clamp)."""


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``(M0, shift)`` with ``real ≈ M0 · 2**(shift - 31)``, M0 a Q31 value in [2**30, 2**31) (or 0).

    As TFLite's QuantizeMultiplier: frexp, round half away from zero, renormalise 2**31, and flush
    multipliers below about 2**-31 to zero.
    """
    if real < 0:
        raise ValueError(f"requantization multiplier {real} must be >= 0")
    if real == 0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(q * 2**31 + 0.5))  # q > 0: round half away from zero
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def _trunc_div_pow2(x: np.ndarray, exponent: int) -> np.ndarray:
    """x / 2**exponent rounded toward zero (C++ integer division), for int64 arrays."""
    return np.where(x >= 0, x >> exponent, -((-x) >> exponent))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """The high 32 bits of 2·a·b, rounded to nearest with ties toward +∞ (gemmlowp's nudge and truncating
    division); INT32_MIN · INT32_MIN saturates to INT32_MAX."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = _trunc_div_pow2(ab + nudge, 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """x / 2**exponent rounded to nearest, ties away from zero (exponent in 0..31)."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, m0, shift) -> np.ndarray:
    """``x · M0 · 2**(shift-31)`` rounded as TFLite's MultiplyByQuantizedMultiplier (int32 in, int32 out)."""
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    scaled = np.clip(x << left, INT32_MIN, INT32_MAX)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, m0), right)


def requantize(acc, m0, shift, zero_point: int, lo: int = -128, hi: int = 127) -> np.ndarray:
    """int32 accumulators to int8: scale by (M0, shift), add the output zero point, clamp to [lo, hi].

    ``lo``/``hi`` carry the activation: [-128, 127] none, [zero_point, 127] ReLU, and the int8 image of 6.0
    for ReLU6.
    """
    scaled = multiply_by_quantized_multiplier(acc, m0, shift) + zero_point
    return np.clip(scaled, lo, hi).astype(np.int8)
