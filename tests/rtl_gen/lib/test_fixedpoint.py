"""The requantization pipeline (rtl_gen.lib.fixedpoint) against accel.fixedpoint, in Amaranth's simulator."""

import numpy as np
from amaranth.hdl import Module, Signal, signed

from accel.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier as reference
from rtl_gen.lib.fixedpoint import OUTPUT_STAGES, STAGES, multiply_by_quantized_multiplier, offset_and_clamp


def test_pipeline_is_bit_exact_with_the_reference(simulate):
    """Random and extreme inputs, multipliers and shifts: the result leaves STAGES cycles after its input."""
    rng = np.random.default_rng(0)
    count = 400
    x = np.concatenate([rng.integers(-(2**32), 2**32, count // 2), rng.integers(-5000, 5000, count // 4),
                        rng.choice([INT32_MIN, INT32_MAX, 0, -1, 1, -(2**32), 2**32 - 1], count - 3 * count // 4)])
    m0 = np.concatenate([rng.integers(2**30, 2**31, count - 8), [0, 1, 2**31 - 1, 2**30] * 2])
    shift = rng.integers(-31, 32, count)
    expected = reference(x, m0, shift)

    m = Module()
    x_in, m0_in, shift_in = Signal(signed(34)), Signal(32), Signal(signed(8))
    out = multiply_by_quantized_multiplier(m, 1, "dut", x_in, m0_in, shift_in)
    got = []

    async def testbench(ctx):
        for n in range(count):  # one value per setting: the setting is stable two cycles ahead of the value
            ctx.set(m0_in, int(m0[n]))
            ctx.set(shift_in, int(shift[n]))
            await ctx.tick().repeat(2)
            ctx.set(x_in, int(x[n]))
            await ctx.tick().repeat(STAGES)
            got.append(ctx.get(out))

    simulate(m, testbench)
    assert got == expected.tolist()


def test_offset_and_clamp_matches_clip(simulate):
    """Random and extreme int32 values, zero points and bounds (set a cycle ahead of the value):
    clip(value + zero_point, lo, hi) leaves OUTPUT_STAGES cycles after its input."""
    rng = np.random.default_rng(1)
    count = 400
    value = np.concatenate([rng.integers(INT32_MIN, INT32_MAX + 1, count // 4), rng.integers(-400, 400, count // 2),
                            rng.choice([INT32_MIN, INT32_MAX, 0, -1, 127, 128, -128, -129, 255, -256],
                                       count - 3 * count // 4)])
    zero_point = rng.integers(-128, 128, count)
    lo = rng.integers(-128, 128, count)
    hi = rng.integers(lo, 128)
    expected = np.clip(value + zero_point, lo, hi)

    m = Module()
    value_in, zp_in, lo_in, hi_in = Signal(signed(32)), Signal(signed(8)), Signal(signed(8)), Signal(signed(8))
    out = offset_and_clamp(m, 1, "dut", value_in, zp_in, lo_in, hi_in)
    got = []

    async def testbench(ctx):
        for n in range(count):
            for signal, column in ((zp_in, zero_point), (lo_in, lo), (hi_in, hi)):
                ctx.set(signal, int(column[n]))  # stable a cycle ahead of the value
            await ctx.tick()
            ctx.set(value_in, int(value[n]))
            await ctx.tick().repeat(OUTPUT_STAGES)
            got.append(ctx.get(out))

    simulate(m, testbench)
    assert got == expected.tolist()
