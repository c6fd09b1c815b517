"""The requantization pipeline (rtl_gen.lib.fixedpoint) against accel.fixedpoint, in Amaranth's simulator."""

import numpy as np
from amaranth.hdl import Module, Signal, signed

from accel.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier as reference
from rtl_gen.lib.fixedpoint import STAGES, multiply_by_quantized_multiplier


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
