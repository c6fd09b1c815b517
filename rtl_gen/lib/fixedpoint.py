"""TFLite's MultiplyByQuantizedMultiplier and the int8 output stage as pipelines, bit-exact with accel.fixedpoint."""

from amaranth.hdl import Cat, Mux, Signal, signed

from accel.fixedpoint import INT32_MAX, INT32_MIN, OUTPUT_STAGES, SATURATE_STAGES, STAGES  # noqa: F401 (re-exported)

from .pipeline import registered


def multiply_by_quantized_multiplier(m, advance, name: str, x, m0, shift):
    """``x · M0 · 2**(shift − 31)`` rounded as TFLite does, in :data:`STAGES` stages advancing with ``advance``.

    Stages, each one level of logic, half a barrel shifter, a carry chain or an 18×18 multiplier deep:

    1. ``x << (l & ~7)`` for ``l = max(shift, 0)``;
    2. ``<< (l & 7)``, exact;
    3. whether that overflows int32 (its bits from 31 up are not all equal), its sign and its low 32 bits;
    4. saturated to int32;
    5. the multipliers' operand registers: the int32 and a copy of M0 (0 <= M0 < 2**31, so the doubling
       high multiply never saturates), which :mod:`rtl_gen.dsp_registers` packs into the ``MULT18X18D``
       input registers;
    6. the four 16×16 partial products (packed into the multipliers' output registers);
    7. a copy of the products in the fabric (the route out of the multiplier column gets a cycle of its own);
    8. the two middle partial products summed; the outer two side by side plus the rounding nudge;
    9. the high half of the doubled product of the saturated value s, ``(s·M0 + 2**30) >> 31``: rounded
       to nearest with ties toward +∞ (gemmlowp's nudge and truncating division reduce to this for both
       signs); beside it RoundingDivideByPOT's rounding offset for ``e = max(−shift, 0)``: ``2**(e−1)``,
       less one for a negative value (ties away from zero), none for ``e = 0``, chosen by the sign of s
       (that of the high half wherever the high half is not 0, and 0 rounds to 0 with either offset);
    10. the offset added;
    11. ``>> (e & ~7)``;
    12. ``>> (e & 7)``.

    ``m0`` and ``shift`` must be stable from two cycles before a value enters until it leaves (the shift
    amounts, rounding offsets and the copy of ``m0`` are registered, free-running). Returns the int32
    result register: :func:`multiplied` of :func:`saturating_shift` (stages 1 to 4).
    """
    return multiplied(m, advance, name, saturating_shift(m, advance, name, x, shift), m0, shift)


def saturating_shift(m, advance, name: str, x, shift):
    """``x << max(shift, 0)`` saturated to int32: stages 1 to 4 (:data:`SATURATE_STAGES`) of
    :func:`multiply_by_quantized_multiplier`, advancing with ``advance``; ``shift`` must be stable from a
    cycle before a value enters until it leaves. Returns the int32 register of stage 4."""
    left = Signal(5, name=f"{name}_left")
    m.d.sync += left.eq(Mux(shift > 0, shift, 0)[:5])
    # The barrel shift in two stages: by the multiple of 8, then by the rest.
    raised = registered(m, advance, f"{name}_raised", signed(len(x) + 24), x << Cat(0, 0, 0, left[3:]))
    wide = registered(m, advance, f"{name}_wide", signed(len(x) + 32), raised << left[:3])
    overflow = registered(m, advance, f"{name}_overflow", 1, wide[31:].any() & ~wide[31:].all())
    sign = registered(m, advance, f"{name}_sign", 1, wide[-1])
    low = registered(m, advance, f"{name}_low", 32, wide[:32])
    return registered(m, advance, f"{name}_shifted", signed(32), Mux(overflow, Mux(sign, INT32_MIN, INT32_MAX), low))


def multiplied(m, advance, name: str, shifted, m0, shift):
    """Stages 5 to 12 of :func:`multiply_by_quantized_multiplier` on the int32 ``shifted`` (the result of
    :func:`saturating_shift`), advancing with ``advance``; returns the int32 result register."""
    right = Signal(5, name=f"{name}_right")
    half, half_less = Signal(31, name=f"{name}_half"), Signal(31, name=f"{name}_half_less")
    multiplier = Signal(31, name=f"{name}_m0")  # the multipliers' B operand register
    m.d.sync += [
        multiplier.eq(m0),
        right.eq(Mux(shift < 0, -shift, 0)[:5]),
    ]
    # 2**(e−1) and 2**(e−1) − 1 (0 for e = 0) from the thermometer code of e (bit j: e > j), each bit one
    # LUT of registered comparisons of e's two octal digits (written as equalities: a comparison would
    # become a carry chain).
    e_high, e_low = right[3:], right[:3]
    high_above, high_equal = Signal(4, name=f"{name}_high_above"), Signal(4, name=f"{name}_high_equal")
    low_above = Signal(8, name=f"{name}_low_above")
    m.d.sync += [
        high_above.eq(Cat(Cat(e_high == v for v in range(d + 1, 4)).any() for d in range(4))),
        high_equal.eq(Cat(e_high == d for d in range(4))),
        low_above.eq(Cat(Cat(e_low == v for v in range(d + 1, 8)).any() for d in range(8))),
    ]
    above = [high_above[j >> 3] | high_equal[j >> 3] & low_above[j & 7] for j in range(32)]
    m.d.sync += [
        half.eq(Cat(above[k] & ~above[k + 1] for k in range(31))),
        half_less.eq(Cat(above[k + 1] for k in range(30))),  # e <= 31: bit 30 is 0
    ]
    operand = registered(m, advance, f"{name}_operand", signed(32), shifted)
    x_lo, x_hi = operand[:16], operand[16:].as_signed()
    m_lo, m_hi = multiplier[:16], multiplier[16:]
    products = {part: registered(m, advance, f"{name}_{part}", signed(34), value) for part, value in (
        ("ll", x_lo * m_lo), ("hl", x_hi * m_lo), ("lh", x_lo * m_hi), ("hh", x_hi * m_hi))}
    copies = {part: registered(m, advance, f"{name}_{part}_copy", signed(34), product)
              for part, product in products.items()}
    middle = registered(m, advance, f"{name}_middle", signed(35), copies["hl"] + copies["lh"])
    upper = registered(m, advance, f"{name}_upper", signed(48),
                       Cat(copies["ll"][16:32], copies["hh"][:32]).as_signed() + (1 << 14))
    high = registered(m, advance, f"{name}_high", signed(32), (upper + middle)[15:47])
    negative = shifted[-1]  # s < 0, carried along to choose the rounding offset beside the high half
    for stage in ("operand", "product", "copy", "sum"):
        negative = registered(m, advance, f"{name}_negative_{stage}", 1, negative)
    rounding = registered(m, advance, f"{name}_rounding", 31, Mux(negative, half_less, half))
    biased = registered(m, advance, f"{name}_biased", signed(33), high + rounding)
    lowered = registered(m, advance, f"{name}_lowered", signed(33), biased >> Cat(0, 0, 0, right[3:]))
    return registered(m, advance, f"{name}_divided", signed(32), lowered >> right[:3])


def offset_and_clamp(m, advance, name: str, value, zero_point, lo, hi):
    """``clamp(value + zero_point, lo, hi)`` of an int32 ``value`` and int8 ``zero_point``, ``lo`` and
    ``hi``, in :data:`OUTPUT_STAGES` stages advancing with ``advance``: the comparisons of ``value`` with
    ``lo − zero_point`` and ``hi − zero_point`` and the low byte of the offset value; then the choice of
    ``lo``, ``hi`` or that byte (``lo`` where ``value + zero_point < lo``, else ``hi`` where it is above
    ``hi``, so in range the byte is the whole value).

    ``zero_point``, ``lo`` and ``hi`` must be stable from a cycle before a value enters until it leaves
    (the differences are registered, free-running). Returns the int8 result register.
    """
    lo_less, hi_less = Signal(signed(9), name=f"{name}_lo_less"), Signal(signed(9), name=f"{name}_hi_less")
    m.d.sync += [lo_less.eq(lo - zero_point), hi_less.eq(hi - zero_point)]
    # The signs of the differences: one carry chain each, no comparison logic after it.
    below = registered(m, advance, f"{name}_below", 1, (value - lo_less)[-1])
    above = registered(m, advance, f"{name}_above", 1, (hi_less - value)[-1])
    byte = registered(m, advance, f"{name}_byte", signed(8), value[:8] + zero_point)
    return registered(m, advance, f"{name}_out", signed(8), Mux(below, lo, Mux(above, hi, byte)))
