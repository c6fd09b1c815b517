"""TFLite's MultiplyByQuantizedMultiplier as a pipeline, bit-exact with accel.fixedpoint."""

from amaranth.hdl import Const, Mux, signed

from .pipeline import registered

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
STAGES = 4
"""Pipeline depth of :func:`multiply_by_quantized_multiplier`."""


def clamp(value, lo, hi):
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


def multiply_by_quantized_multiplier(m, advance, name: str, x, m0, shift):
    """``x · M0 · 2**(shift − 31)`` rounded as TFLite does, in :data:`STAGES` stages advancing with ``advance``.

    Stages: saturate ``x << max(shift, 0)`` to int32; multiply by M0 (0 <= M0 < 2**31, so the doubling
    high multiply never saturates); take the high half rounded to nearest with ties toward +∞; divide by
    ``2**max(−shift, 0)`` rounding ties away from zero. ``m0`` and ``shift`` must stay stable while
    values flow. Returns the int32 result register.
    """
    left = Mux(shift > 0, shift, 0)[:5]
    right = Mux(shift < 0, -shift, 0)[:5]
    shifted = registered(m, advance, f"{name}_shifted", signed(32), clamp(x << left, INT32_MIN, INT32_MAX))
    product = registered(m, advance, f"{name}_product", signed(64), shifted * m0)
    nudged = product + Mux(product >= 0, 1 << 30, 1 - (1 << 30))
    high = registered(m, advance, f"{name}_high", signed(32), (nudged + Mux(nudged < 0, (1 << 31) - 1, 0)) >> 31)
    mask = (Const(1, 32) << right) - 1
    remainder = (high & mask).as_unsigned()
    threshold = (mask >> 1) + (high < 0)
    return registered(m, advance, f"{name}_divided", signed(32), (high >> right) + (remainder > threshold))
