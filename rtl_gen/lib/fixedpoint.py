"""TFLite's MultiplyByQuantizedMultiplier as a pipeline, bit-exact with accel.fixedpoint."""

from amaranth.hdl import Cat, Mux, Signal, signed

from .pipeline import registered

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
STAGES = 7
"""Pipeline depth of :func:`multiply_by_quantized_multiplier`."""


def clamp(value, lo, hi):
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


def multiply_by_quantized_multiplier(m, advance, name: str, x, m0, shift):
    """``x · M0 · 2**(shift − 31)`` rounded as TFLite does, in :data:`STAGES` stages advancing with ``advance``.

    Stages, each one level of logic, a barrel shifter, a carry chain or an 18×18 multiplier deep:

    1. ``x << max(shift, 0)``, exact;
    2. saturate to int32;
    3. the four 16×16 partial products of the int32 and M0 (0 <= M0 < 2**31, so the doubling high
       multiply never saturates);
    4. the two middle partial products summed, plus the rounding nudge;
    5. the high half of the doubled product of the saturated value s, ``(s·M0 + 2**30) >> 31``: rounded
       to nearest with ties toward +∞ (gemmlowp's nudge and truncating division reduce to this for both
       signs);
    6. RoundingDivideByPOT's rounding offset for ``e = max(−shift, 0)``: ``2**(e−1)``, less one for a
       negative value (ties away from zero), none for ``e = 0``;
    7. ``>> e``.

    ``m0`` and ``shift`` must be stable from two cycles before a value enters until it leaves (the shift
    amounts, rounding offsets and a copy of ``m0`` are registered, free-running). Returns the int32
    result register.
    """
    left, right = Signal(5, name=f"{name}_left"), Signal(5, name=f"{name}_right")
    half, half_less = Signal(31, name=f"{name}_half"), Signal(31, name=f"{name}_half_less")
    multiplier = Signal(31, name=f"{name}_m0")  # a copy next to the multipliers
    m.d.sync += [
        multiplier.eq(m0),
        left.eq(Mux(shift > 0, shift, 0)[:5]),
        right.eq(Mux(shift < 0, -shift, 0)[:5]),
        # 2**(e−1) and 2**(e−1) − 1 (0 for e = 0) as a one-hot and a thermometer code of e: one comparison
        # of a constant per bit, no shifter or carry chain.
        half.eq(Cat(right == bit + 1 for bit in range(31))),
        half_less.eq(Cat(right > bit + 1 for bit in range(30))),  # e <= 31: bit 30 is 0
    ]
    wide = registered(m, advance, f"{name}_wide", signed(len(x) + 32), x << left)
    overflow = wide[31:].any() & ~wide[31:].all()  # not the sign extension of an int32
    shifted = registered(m, advance, f"{name}_shifted", signed(32),
                         Mux(overflow, Mux(wide[-1], INT32_MIN, INT32_MAX), wide[:32]))
    x_lo, x_hi = shifted[:16], shifted[16:].as_signed()
    m_lo, m_hi = multiplier[:16], multiplier[16:]
    products = {part: registered(m, advance, f"{name}_{part}", signed(34), value) for part, value in (
        ("ll", x_lo * m_lo), ("hl", x_hi * m_lo), ("lh", x_lo * m_hi), ("hh", x_hi * m_hi))}
    middle = registered(m, advance, f"{name}_middle", signed(36), products["hl"] + products["lh"] + (1 << 14))
    upper = registered(m, advance, f"{name}_upper", signed(48), Cat(products["ll"][16:32], products["hh"][:32]))
    high = registered(m, advance, f"{name}_high", signed(32), (upper + middle)[15:47])
    biased = registered(m, advance, f"{name}_biased", signed(33),
                        high + Mux(high < 0, half_less, half))
    return registered(m, advance, f"{name}_divided", signed(32), biased >> right)
