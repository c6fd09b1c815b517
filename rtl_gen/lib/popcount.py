"""Pipelined popcount: the number of 1 bits of a vector, as a tree of registered adders.

:func:`popcount_trees` builds trees inside a caller's pipeline (all registers advance together);
:class:`Popcount` wraps one as a stream component. The tree is shaped for 4-input-LUT FPGAs with carry
chains (Lattice ECP5), where a LUT has one output and an adder costs one LUT per result bit:

- level 0 is bitwise logic: most bits go in pairs, each pair becoming its 2-bit sum ``{a & b, a ^ b}``,
  one LUT per output bit, so that synthesis merges the logic that produced the bits (the XNOR of
  activation and weight in the xnor engine) into it; the other bits, the *lone* bits, are registered as
  they are (one LUT each with that merged logic);
- every later level adds pairs of partial counts, and each addition also takes one lone bit as its
  carry-in: a lone bit's level-0 LUT replaces the adders it would otherwise need. A level's additions are
  fields of shared carry chains (:func:`chained_sums`), across all the trees built together: a chain's
  fixed cost (nextpnr adds a cell at each end, 4 LUTs) is paid once per chain rather than per addition,
  and even the narrowest additions stay on the carry chain (Yosys maps adders of up to 4 result bits to
  LUT logic, several LUTs per bit). The final addition, the count, has a chain per tree, so that each
  count can be placed by the logic that reads it (the xnor MVTU's accumulators: about +10 MHz at 8 × 128
  over nextpnr seeds).

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


CHAIN_BITS = 48
"""Longest carry chain of a level, in result bits: a level's additions fill chains of up to this many
(on an ECP5 at speed grade 6 a 48-bit ripple, about 2 ns, leaves room for the routing into and out of the
chain within 5 ns)."""


def chained_sums(additions: list) -> list:
    """The sums x + y + c of ``additions`` ((x, y, c) with c a 1-bit carry-in or None), computed as fields of
    carry chains of up to :data:`CHAIN_BITS` positions; each sum is max(len(x), len(y)) + 1 bits wide.

    Fields sit side by side; the position below a field holds its carry-in in both operands (0 without
    one; none for a chain's first field without one): there a ripple adder's sum bit is the lower field's
    carry-out and its carry-out is the carry-in (A = B = c propagates nothing and generates c).
    """
    chains, sums = [], []
    for x, y, carry in additions:
        width = max(len(x), len(y))
        if not chains or len(chains[-1][0]) + 1 + width > CHAIN_BITS:
            chains.append(([], [], []))
        a, b, fields = chains[-1]
        if a or carry is not None:
            a.append(Const(0, 1) if carry is None else carry)
            b.append(a[-1])
        fields.append((len(a), width))
        a += [x[i] if i < len(x) else Const(0, 1) for i in range(width)]
        b += [y[i] if i < len(y) else Const(0, 1) for i in range(width)]
    for a, b, fields in chains:
        total = Cat(*a, 0) + Cat(*b, 0)
        sums += [total[start:start + width + 1] for start, width in fields]
    return sums


def popcount_trees(m: Module, advance, vectors: list, name: str, clear=None) -> list:
    """Registered popcounts of ``vectors`` (Values of one width), one tree each, every level's additions
    sharing carry chains; each level loads while ``advance`` is high. With ``clear`` (1 bit) the counts'
    registers load 0 instead in the cycles where it is high, whatever ``advance``: a synchronous reset,
    which an ECP5 flip-flop applies without a LUT.

    Returns the counts, valid :func:`levels` cycles (advances) after the vectors; their width is
    ``width.bit_length()``.
    """
    n = len(vectors[0])
    last = levels(n) - 1

    def load(level: int, reg: str, width: int, value):
        register = registered(m, advance, f"{name}{reg}", width, value)
        if level == last and clear is not None:  # the only register of the last level is the count's
            with m.If(clear):
                m.d.sync += register.eq(0)
        return register

    pairs = -(-(n + 1) // 3)
    singles = max(0, 2 * pairs - n)  # an odd width with no lone bit to spare counts one bit as a term
    pairs -= singles
    trees = []  # per vector: its terms ((value, largest value) pairs) and unused lone bits
    for v, bits in enumerate(vectors):
        terms = [(load(0, f"{v}_l0_{p}", 2, Cat(bits[2 * p] ^ bits[2 * p + 1], bits[2 * p] & bits[2 * p + 1])), 2)
                 for p in range(pairs)]
        if singles:
            terms.append((load(0, f"{v}_l0_single", 1, bits[2 * pairs]), 1))
        lones = [load(0, f"{v}_l0_lone_{i}", 1, bits[i]) for i in range(2 * pairs + singles, n)]
        trees.append((terms, lones))
    depth = 1
    while len(trees[0][0]) > 1 or trees[0][1]:
        additions, plans = [], []
        for terms, lones in trees:
            plan = []
            for index in range(len(terms) // 2):
                (x, x_max), (y, y_max) = terms[2 * index], terms[2 * index + 1]
                carry = lones.pop(0) if lones else None
                additions.append((x, y, carry))
                plan.append(x_max + y_max + (carry is not None))
            plans.append(plan)
        if len(trees[0][0]) == 2 and len(trees[0][1]) <= 1:  # the counts: a chain per tree
            per_tree = len(additions) // len(trees)
            sums = iter([total for t in range(len(trees))
                         for total in chained_sums(additions[t * per_tree:(t + 1) * per_tree])])
        else:
            sums = iter(chained_sums(additions))
        for v, ((terms, lones), plan) in enumerate(zip(trees, plans)):
            step = [(load(depth, f"{v}_l{depth}_{i}", largest.bit_length(), next(sums)), largest)
                    for i, largest in enumerate(plan)]
            if len(terms) % 2:
                value, largest = terms[-1]
                step.append((load(depth, f"{v}_l{depth}_{len(plan)}", len(value), value), largest))
            trees[v] = (step, [load(depth, f"{v}_l{depth}_lone_{i}", 1, lone) for i, lone in enumerate(lones)])
        depth += 1
    counts = []
    for v, (((count, largest),), _) in enumerate(trees):
        assert largest == n and depth <= levels(n)
        for level in range(depth, levels(n)):
            count = load(level, f"{v}_l{level}", len(count), count)
        out = Signal(n.bit_length(), name=f"{name}{v}_count")
        m.d.comb += out.eq(count)
        counts.append(out)
    return counts


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
        count, = popcount_trees(m, advance, [self.i.payload], "pop")
        valid = self.i.valid
        for level in range(levels(self.width)):
            valid = registered(m, advance, f"valid_{level}", 1, valid)
        m.d.comb += [self.o.payload.eq(count), self.o.valid.eq(valid)]
        return m
