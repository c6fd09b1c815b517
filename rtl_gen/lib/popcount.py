"""Pipelined popcount: the number of 1 bits of a vector, as a tree of registered adders.

:func:`popcount_tree` builds the tree inside a caller's pipeline (all registers advance together);
:class:`Popcount` wraps it as a stream component. The tree is shaped for 4-input-LUT FPGAs with carry
chains (Lattice ECP5), where a LUT has one output and an adder costs one LUT per result bit:

- level 0 is bitwise logic: most bits go in pairs, each pair becoming its 2-bit sum ``{a & b, a ^ b}``,
  one LUT per output bit, so that synthesis merges the logic that produced the bits (the XNOR of
  activation and weight in the xnor engine) into it; the other bits, the *lone* bits, are registered as
  they are (one LUT each with that merged logic);
- every later level adds pairs of partial counts, and each addition also takes one lone bit as its
  carry-in: a lone bit's level-0 LUT replaces the adders it would otherwise need. A level's additions are
  fields of one carry chain: the position between two fields holds the upper field's lone bit (or 0) in
  both operands, so its sum bit is the lower field's carry-out and its carry-out is the lone bit (with
  A = B = x a ripple adder propagates nothing and generates x). One chain per level rather than one per
  addition saves the chain's fixed cost and keeps the narrowest additions on the carry chain (Yosys maps
  adders of up to 4 result bits to LUT logic, several LUTs per bit).

With P pairs and up to P − 1 lone bits (one per addition), P = ⌈(width + 1) / 3⌉; the tree is padded with
registers to exactly :func:`levels` levels. Each partial count is as wide as its largest value needs, so
the result has exactly ``width.bit_length()`` bits and never overflows.
"""

import math

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .pipeline import registered


def levels(width: int) -> int:
    """Register levels of a ``width``-bit popcount tree: ⌈log2 width⌉ (1 for a single bit)."""
    return max(1, math.ceil(math.log2(width)))


def _add_level(m: Module, advance, terms: list, lones: list, name: str) -> tuple[list, list]:
    """One registered level of the tree: ``terms`` ((value, largest value) pairs) added pairwise as the
    fields of one carry chain, each addition taking the next of ``lones`` as its carry-in; an odd last
    term passes through. Returns the next level's terms and the lone bits still unused (registered)."""
    a, b, fields = [], [], []
    for index in range(len(terms) // 2):
        (x, x_max), (y, y_max) = terms[2 * index], terms[2 * index + 1]
        lone = lones.pop(0) if lones else None
        if index or lone is not None:  # the carry-in position, also the lower field's carry-out
            a.append(Const(0, 1) if lone is None else lone)
            b.append(a[-1])
        width = max(len(x), len(y))
        fields.append((len(a), width, x_max + y_max + (lone is not None)))
        a += [x[i] if i < len(x) else Const(0, 1) for i in range(width)]
        b += [y[i] if i < len(y) else Const(0, 1) for i in range(width)]
    total = Cat(*a, 0) + Cat(*b, 0)
    result = [(registered(m, advance, f"{name}_{index}", largest.bit_length(), total[start:start + width + 1]),
               largest) for index, (start, width, largest) in enumerate(fields)]
    if len(terms) % 2:
        value, largest = terms[-1]
        result.append((registered(m, advance, f"{name}_{len(fields)}", len(value), value), largest))
    return result, [registered(m, advance, f"{name}_lone_{i}", 1, lone) for i, lone in enumerate(lones)]


def popcount_tree(m: Module, advance, bits, name: str):
    """Registered popcount of ``bits`` (a Value): each level loads while ``advance`` is high.

    Returns the count, valid :func:`levels` cycles (advances) after ``bits``; its width is
    ``len(bits).bit_length()``.
    """
    n = len(bits)
    pairs = -(-(n + 1) // 3)
    singles = max(0, 2 * pairs - n)  # an odd width with no lone bit to spare counts one bit as a term
    pairs -= singles
    terms = [(registered(m, advance, f"{name}_l0_{p}", 2, Cat(bits[2 * p] ^ bits[2 * p + 1],
                                                                   bits[2 * p] & bits[2 * p + 1])), 2)
             for p in range(pairs)]
    if singles:
        terms.append((registered(m, advance, f"{name}_l0_single", 1, bits[2 * pairs]), 1))
    lones = [registered(m, advance, f"{name}_l0_lone_{i}", 1, bits[i])
             for i in range(2 * pairs + singles, n)]
    depth = 1
    while len(terms) > 1 or lones:
        terms, lones = _add_level(m, advance, terms, lones, f"{name}_l{depth}")
        depth += 1
    (count, largest), = terms
    assert largest == n and depth <= levels(n)
    for level in range(depth, levels(n)):
        count = registered(m, advance, f"{name}_l{level}", len(count), count)
    out = Signal(n.bit_length(), name=f"{name}_count")
    m.d.comb += out.eq(count)
    return out


class Popcount(wiring.Component):
    """Number of 1 bits of each ``width``-bit input vector.

    Timing: latency :func:`levels` (⌈log2 width⌉) cycles, throughput one vector per cycle. The pipeline
    advances while ``o`` is empty or being accepted; a stalled consumer holds every stage and drops
    ``i.ready``.

    Members
    -------
    i : ``In(stream.Signature(width))``
        Bit vectors.
    o : ``Out(stream.Signature(width.bit_length()))``
        Their popcounts, in order.
    """

    def __init__(self, width: int):
        self.width = width
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width.bit_length()))})

    def elaborate(self, platform):
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        count = popcount_tree(m, advance, self.i.payload, "pop")
        valid = self.i.valid
        for level in range(levels(self.width)):
            valid = registered(m, advance, f"valid_{level}", 1, valid)
        m.d.comb += [self.o.payload.eq(count), self.o.valid.eq(valid)]
        return m
