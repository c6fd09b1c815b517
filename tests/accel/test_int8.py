"""int8 layer arithmetic: exact against float evaluation of the same integer formulas, and TFLite's rules."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.int8 import (ACTIVATIONS, AddRequant, QuantParams, Requant, activation_range, avg_pool, conv2d,
                        conv2d_accumulate, dense, max_pool, round_half_away, rounded_average)


def naive_conv_acc(x, zp, w, b, stride, pad, groups):
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.pad(x.astype(np.int64) - zp, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - r) // stride + 1, (wd + 2 * pad - s) // stride + 1
    out = np.zeros((n, k, oh, ow), dtype=np.int64)
    kg = k // groups
    for kk in range(k):
        g = kk // kg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + r, j * stride:j * stride + s]
                out[:, kk, i, j] = (patch * w[kk]).sum(axis=(1, 2, 3)) + b[kk]
    return out


@pytest.mark.parametrize("c,k,r,stride,pad,groups", [(3, 5, 3, 1, 1, 1), (4, 4, 3, 2, 1, 4), (6, 4, 1, 1, 0, 2),
                                                     (2, 3, 5, 2, 2, 1)])
def test_conv_accumulators_exact(c, k, r, stride, pad, groups):
    rng = np.random.default_rng(c * 100 + k)
    x = rng.integers(-128, 128, (2, c, 7, 7)).astype(np.int8)
    w = rng.integers(-127, 128, (k, c // groups, r, r)).astype(np.int8)
    b = rng.integers(-(2**20), 2**20, k).astype(np.int32)
    acc = conv2d_accumulate(x, -7, w, b, stride=stride, padding=pad, groups=groups)
    assert np.array_equal(acc, naive_conv_acc(x, -7, w, b, stride, pad, groups))


def test_extremes_do_not_overflow():
    x = np.full((1, 64, 3, 3), -128, dtype=np.int8)
    w = np.full((2, 64, 3, 3), -127, dtype=np.int8)
    acc = conv2d_accumulate(x, 127, w, np.zeros(2, np.int32))
    assert acc[0, 0, 0, 0] == 64 * 9 * (-255) * (-127)


def test_requant_matches_float_scale_within_one_lsb():
    rng = np.random.default_rng(1)
    out = QuantParams(0.05, -3)
    requant = Requant.from_scales(0.02, np.array([0.003, 0.01]), out)
    acc = rng.integers(-(2**18), 2**18, (1, 2, 8, 8))
    got = requant.apply(acc).astype(np.int64)
    real = acc * (0.02 * np.array([0.003, 0.01]) / 0.05)[None, :, None, None]
    expected = np.clip(np.round(real) - 3, -128, 127)
    assert np.abs(got - expected).max() <= 1


def test_activation_ranges():
    out = QuantParams(6 / 255, -128)
    assert activation_range("none", out) == (-128, 127)
    assert activation_range("relu", out) == (-128, 127)
    assert activation_range("relu6", QuantParams(0.05, -10)) == (-10, 110)
    assert activation_range("relu", QuantParams(0.05, 20)) == (20, 127)


def test_dense_is_a_1x1_conv():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (3, 10)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 10)).astype(np.int8)
    b = rng.integers(-1000, 1000, 4).astype(np.int32)
    requant = Requant.from_scales(0.1, np.full(4, 0.01), QuantParams(0.2, 5), "relu")
    via_conv = conv2d(x[:, :, None, None], 4, w[:, :, None, None], b, requant)[:, :, 0, 0]
    assert np.array_equal(dense(x, 4, w, b, requant), via_conv)


def test_add_matches_real_sum_within_one_lsb():
    rng = np.random.default_rng(3)
    a_qp, b_qp, out_qp = QuantParams(0.1, 3), QuantParams(0.07, -20), QuantParams(0.15, 0)
    a = rng.integers(-128, 128, 1000).astype(np.int8)
    b = rng.integers(-128, 128, 1000).astype(np.int8)
    got = AddRequant.from_params(a_qp, b_qp, out_qp).apply(a, b).astype(np.int64)
    expected = np.clip(np.round((a_qp.dequantize(a) + b_qp.dequantize(b)) / 0.15), -128, 127)
    assert np.abs(got - expected).max() <= 1


def test_pools():
    x = np.array([[[[-128, 5, 7], [1, -3, 2], [0, 127, -1]]]], dtype=np.int8)
    assert max_pool(x, 2, 1).tolist() == [[[[5, 7], [127, 127]]]]
    assert max_pool(x, 3, 2, padding=1).tolist() == [[[[5, 7], [127, 127]]]]
    # TFLite rounding: half away from zero; padding not counted.
    y = np.array([[[[1, 2], [-1, -2]]]], dtype=np.int8)
    assert avg_pool(y, 2, 1, padding=1).tolist() == [[[[1, 2, 2], [0, 0, 0], [-1, -2, -2]]]]
    assert avg_pool(np.array([[[[-3, -2]]]], dtype=np.int8), (1, 2)).tolist() == [[[[-3]]]]


# ---- Properties against plain-integer references ----

@settings(max_examples=2000)
@given(st.one_of(st.floats(-(2.0**60), 2.0**60), st.integers(-(2**20), 2**20).map(lambda n: n / 2),
                 st.integers(-(2**20), 2**20).map(lambda n: n + 0.49999999999999994)))
def test_round_half_away_is_exact(x):
    """Nearest integer, ties away from zero, for every float: exactly, also where ``|x| + 0.5`` is rounded."""
    magnitude = Fraction(abs(x))
    whole = magnitude.numerator // magnitude.denominator
    expected = whole + (magnitude - whole >= Fraction(1, 2))
    assert round_half_away(x) == (expected if x >= 0 else -expected)


@settings(max_examples=1000)
@given(st.lists(st.tuples(st.integers(-(2**40), 2**40), st.integers(1, 2**20)), min_size=1, max_size=16))
def test_rounded_average_matches_integer_division(pairs):
    sums, counts = (np.array(column, dtype=np.int64) for column in zip(*pairs))
    expected = []
    for total, count in pairs:
        quotient, remainder = divmod(abs(total), count)
        rounded = quotient + (2 * remainder >= count)
        expected.append(rounded if total >= 0 else -rounded)
    assert rounded_average(sums, counts).tolist() == expected


scales = st.floats(2.0**-12, 2.0**4)
zero_points = st.integers(-128, 127)


@settings(max_examples=500)
@given(scales, zero_points, st.sampled_from(ACTIVATIONS))
def test_activation_range_is_an_int8_interval(scale, zero_point, activation):
    lo, hi = activation_range(activation, QuantParams(scale, zero_point))
    assert -128 <= lo <= hi <= 127
    assert lo == (-128 if activation == "none" else max(-128, zero_point))


@settings(max_examples=500)
@given(scales, zero_points, scales, zero_points, scales, zero_points,
       st.lists(st.tuples(st.integers(-128, 127), st.integers(-128, 127)), min_size=1, max_size=16))
def test_add_is_within_one_lsb_of_the_real_sum(a_scale, a_zp, b_scale, b_zp, out_scale, out_zp, values):
    a, b = (np.array(column, dtype=np.int8) for column in zip(*values))
    params = [QuantParams(a_scale, a_zp), QuantParams(b_scale, b_zp), QuantParams(out_scale, out_zp)]
    got = AddRequant.from_params(*params).apply(a, b).astype(np.int64)
    real = (Fraction(a_scale) * (int(x) - a_zp) + Fraction(b_scale) * (int(y) - b_zp) for x, y in values)
    expected = [min(max(round(r / Fraction(out_scale)) + out_zp, -128), 127) for r in real]
    assert np.abs(got - expected).max() <= 1
