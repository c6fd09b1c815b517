"""Integer requantization against a plain-Python transcription of the TFLite/gemmlowp C++."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.fixedpoint import (INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier, quantize_multiplier,
                              requantize, rounding_divide_by_pot, saturating_rounding_doubling_high_mul)


def c_div(a: int, b: int) -> int:
    """C++ integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm_reference(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def rdbp_reference(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def test_against_reference_on_random_and_edge_values():
    rng = random.Random(0)
    edges = [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, 2**30, -(2**30)]
    values = edges + [rng.randint(INT32_MIN, INT32_MAX) for _ in range(3000)]
    multipliers = edges + [rng.randint(2**30, INT32_MAX) for _ in range(3000)]
    a, b = np.array(values), np.array(multipliers[:len(values)])
    got = saturating_rounding_doubling_high_mul(a, b)
    assert got.tolist() == [srdhm_reference(x, y) for x, y in zip(values, multipliers)]
    exponents = [rng.randint(0, 31) for _ in values]
    got = rounding_divide_by_pot(a, np.array(exponents))
    assert got.tolist() == [rdbp_reference(x, e) for x, e in zip(values, exponents)]


@pytest.mark.parametrize("real", [1e-12, 0.000123, 0.0039, 0.25, 0.5, 0.7071, 0.99999999999, 1.0, 1.5, 3.9])
def test_quantize_multiplier(real):
    m0, shift = quantize_multiplier(real)
    if real < 2**-32:
        assert (m0, shift) == (0, 0)
        return
    assert 2**30 <= m0 < 2**31
    assert math.isclose(m0 * 2.0 ** (shift - 31), real, rel_tol=2**-30)


def test_rounding_of_ties():
    """The doubling high multiply rounds ties toward +inf; the power-of-two divide away from zero."""
    m0, shift = quantize_multiplier(0.5)
    assert (m0, shift) == (2**30, 0)
    assert multiply_by_quantized_multiplier([3, -3, 5, -5, -1], m0, shift).tolist() == [2, -1, 3, -2, 0]
    m0, shift = quantize_multiplier(0.25)
    assert (m0, shift) == (2**30, -1)
    assert multiply_by_quantized_multiplier([2, -2, 6, -6], m0, shift).tolist() == [1, -1, 2, -2]


def test_requantize_clamps_and_offsets():
    m0, shift = quantize_multiplier(0.01)
    acc = np.array([0, 100, -100, 10**6, -(10**6), 12750])
    assert requantize(acc, m0, shift, zero_point=-5).tolist() == [-5, -4, -6, 127, -128, 123]
    assert requantize(acc, m0, shift, zero_point=-5, lo=-5).tolist() == [-5, -4, -5, 127, -5, 123]


def test_left_shift_saturates():
    m0, shift = quantize_multiplier(4.0)
    assert shift > 0
    assert (m0, shift) == (2**30, 3)  # 4.0 = 0.5 · 2**3: the input is shifted (saturating), then halved
    assert multiply_by_quantized_multiplier([INT32_MAX, INT32_MIN, 1000], m0, shift).tolist() == [
        2**30, -(2**30), 4000]


# ---- Properties: any int32 values, every multiplier and shift the hardware takes ----

int32s = st.integers(INT32_MIN, INT32_MAX)
multipliers = st.one_of(st.just(0), st.integers(2**30, 2**31 - 1))  # quantize_multiplier's M0
shifts = st.integers(-31, 31)  # the RTL's 5-bit left and right shift amounts


def mbqm_reference(x: int, m0: int, shift: int) -> int:
    """TFLite's MultiplyByQuantizedMultiplier with the left shift saturating to int32."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbp_reference(srdhm_reference(min(max(x << left, INT32_MIN), INT32_MAX), m0), right)


@settings(max_examples=1000)
@given(int32s, int32s, st.integers(0, 31))
def test_doubling_high_mul_and_divide_by_pot_match_the_reference(a, b, exponent):
    assert int(saturating_rounding_doubling_high_mul(a, b)) == srdhm_reference(a, b)
    assert int(rounding_divide_by_pot(a, exponent)) == rdbp_reference(a, exponent)


@settings(max_examples=1000)
@given(int32s, multipliers, shifts)
def test_multiply_by_quantized_multiplier_matches_the_reference_within_one_of_exact(x, m0, shift):
    got = int(multiply_by_quantized_multiplier(x, m0, shift))
    assert got == mbqm_reference(x, m0, shift)
    assert INT32_MIN <= got <= INT32_MAX
    if INT32_MIN <= x << max(shift, 0) <= INT32_MAX:  # not saturated: two roundings of the exact product
        assert abs(got - Fraction(x * m0, 2 ** (31 - shift))) <= 1


@settings(max_examples=500)
@given(st.lists(int32s, min_size=1, max_size=8), multipliers, shifts, st.integers(-128, 127),
       st.integers(-128, 127), st.integers(-128, 127))
def test_requantize_matches_the_reference_and_clamps(acc, m0, shift, zero_point, a, b):
    lo, hi = min(a, b), max(a, b)
    got = requantize(np.array(acc), m0, shift, zero_point, lo, hi)
    assert got.dtype == np.int8
    assert got.tolist() == [min(max(mbqm_reference(x, m0, shift) + zero_point, lo), hi) for x in acc]


@settings(max_examples=1000)
@given(st.floats(2.0**-40, 2.0**30))
def test_quantize_multiplier_rounds_to_31_bits(real):
    """Multipliers up to 2**30 get shifts the hardware takes (a real just below 2**31 rounds up to shift 32)."""
    m0, shift = quantize_multiplier(real)
    if (m0, shift) == (0, 0):
        assert real < 2.0**-31
        return
    assert 2**30 <= m0 < 2**31 and -31 <= shift <= 31
    error = Fraction(m0) * Fraction(2) ** (shift - 31) - Fraction(real)
    assert abs(error) <= Fraction(2) ** (shift - 32)  # half of M0's last bit
