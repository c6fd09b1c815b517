"""Pipelined popcount: the number of 1 bits of a vector, as a tree of registered adders.

:func:`popcount_tree` builds the tree inside a caller's pipeline (all registers advance together);
:class:`Popcount` wraps it as a stream component. The first level is written as bitwise logic (each pair of
bits becomes a 2-bit sum ``{a & b, a ^ b}``) so that synthesis merges it with whatever produced the bits —
an XNOR of activation and weight in the xnor engine — into one LUT per output bit; each later level adds
pairs of partial counts with carry-chain adders one bit wider than their inputs. Level k's terms are
k + 1 bits wide, so the result has exactly ``width.bit_length()`` bits and never overflows.
"""

import math

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .pipeline import registered


def levels(width: int) -> int:
    """Register levels of a ``width``-bit popcount tree: ⌈log2 width⌉ (1 for a single bit)."""
    return max(1, math.ceil(math.log2(width)))


def popcount_tree(m: Module, advance, bits, name: str):
    """Registered popcount of ``bits`` (a Value): each level loads while ``advance`` is high.

    Returns the count, valid :func:`levels` cycles (advances) after ``bits``; its width is
    ``len(bits).bit_length()``.
    """
    n = len(bits)
    if n == 1:
        return registered(m, advance, f"{name}_l0_0", 1, bits[0])
    terms = []
    for pair in range(0, n, 2):
        if pair + 1 < n:
            a, b = bits[pair], bits[pair + 1]
            terms.append(registered(m, advance, f"{name}_l0_{pair // 2}", 2, Cat(a ^ b, a & b)))
        else:
            terms.append(registered(m, advance, f"{name}_l0_{pair // 2}", 2, bits[pair]))
    if len(terms) > 1:  # 2-bit + 2-bit as logic: each sum bit depends on 4 inputs, one LUT4 each
        pairs = []
        for pair in range(0, len(terms), 2):
            if pair + 1 < len(terms):
                a, b = terms[pair], terms[pair + 1]
                carry = a[0] & b[0]
                total = Cat(a[0] ^ b[0], a[1] ^ b[1] ^ carry, (a[1] & b[1]) | (carry & (a[1] ^ b[1])))
            else:
                total = terms[pair]
            pairs.append(registered(m, advance, f"{name}_l1_{pair // 2}", 3, total))
        terms = pairs
    level = 2
    while len(terms) > 1:
        width = level + 2
        terms = [registered(m, advance, f"{name}_l{level}_{pair // 2}", width,
                            terms[pair] + terms[pair + 1] if pair + 1 < len(terms) else terms[pair])
                 for pair in range(0, len(terms), 2)]
        level += 1
    result = terms[0]
    out = Signal(n.bit_length(), name=f"{name}_count")
    m.d.comb += out.eq(result)
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
