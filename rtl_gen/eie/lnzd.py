"""Leading non-zero detection (EIE's LNZD): which non-zero activation is broadcast next.

Each PE finds the first pending non-zero among its own source activations (:func:`leading_one` over its
pending bits); :class:`Lnzd` is the quadtree that merges those candidates to the root, a node per group of
four children. Activation j lives in PE j mod N at local index j div N, so the order j = local·N + pe is
"smallest local index first, then lowest PE": every node passes up its children's smallest (local, pe).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


def leading_one(bits) -> tuple:
    """``(any, index)`` of the lowest set bit of ``bits`` (index 0 when none), as a balanced mux tree."""
    width = len(bits)
    if width == 1:
        return bits[0], Const(0, 1)
    half = 1 << ((width - 1).bit_length() - 1)
    low_any, low_index = leading_one(bits[:half])
    high_any, high_index = leading_one(bits[half:])
    index_bits = (width - 1).bit_length()
    high_index = (high_index + half)[:index_bits]
    return low_any | high_any, Mux(low_any, low_index, high_index)[:index_bits]


def _earliest(children: list) -> list:
    """Which of up to four (valid, local) children holds the smallest (local, child): all pairs compared
    at once, so a quadtree node costs one comparator delay. Children are in PE order, so ties go to the
    lower one. Returns one bit per child, at most one set."""
    wins = []
    for c, (valid, local) in enumerate(children):
        beats = [~other_valid | (local < other_local if d < c else local <= other_local)
                 for d, (other_valid, other_local) in enumerate(children) if d != c]
        wins.append(Cat(valid, *beats).all())
    return wins


class Lnzd(wiring.Component):
    """The LNZD quadtree over ``n_pe`` candidates; purely combinational, one comparator delay per level.

    Members
    -------
    valid : ``In(n_pe)``
        PE p has a pending non-zero.
    local : ``In(ArrayLayout(local_bits, n_pe))``
        Each PE's first pending local index.
    found : ``Out(1)``; pe : ``Out(range(n_pe))``; index : ``Out(local_bits)``
        The candidate with the smallest (local, pe), if any.
    winner : ``Out(n_pe)``
        That candidate's PE, one-hot (ANDs of the nodes' decisions, no decoder).
    """

    def __init__(self, n_pe: int, local_bits: int):
        self.n_pe, self.local_bits = n_pe, local_bits
        super().__init__({
            "valid": In(n_pe),
            "local": In(data.ArrayLayout(local_bits, n_pe)),
            "found": Out(1),
            "pe": Out(range(n_pe)) if n_pe > 1 else Out(1),
            "index": Out(local_bits),
            "winner": Out(n_pe),
        })

    def elaborate(self, platform):
        m = Module()
        # A node is (valid, local, pe offset within the subtree, one-hot winner among its leaves as a list);
        # children are in PE order.
        nodes = [(self.valid[p], self.local[p], Const(0, 1), [Const(1, 1)]) for p in range(self.n_pe)]
        span, level = 1, 0
        while len(nodes) > 1:
            merged = []
            for g in range(0, len(nodes), 4):
                group = nodes[g:g + 4]
                wins = [Signal(name=f"lnzd_l{level}_n{g // 4}_win{c}") for c in range(len(group))]
                m.d.comb += [w.eq(v) for w, v in zip(wins, _earliest([(valid, local) for valid, local, _, _ in group]))]
                pe_bits = (min(4, len(group)) * span - 1).bit_length() or 1
                node = tuple(Signal(shape, name=f"lnzd_l{level}_n{g // 4}_{what}")
                             for shape, what in ((1, "valid"), (self.local_bits, "local"), (pe_bits, "pe")))
                m.d.comb += [
                    node[0].eq(Cat(valid for valid, _, _, _ in group).any()),
                    node[1].eq(_one_hot_or([Mux(win, local, 0) for win, (_, local, _, _) in zip(wins, group)])),
                    node[2].eq(_one_hot_or([Mux(win, offset + c * span, 0)
                                            for c, (win, (_, _, offset, _)) in enumerate(zip(wins, group))])),
                ]
                leaves = [win & leaf for win, (_, _, _, below) in zip(wins, group) for leaf in below]
                merged.append((*node, leaves))
            nodes, span, level = merged, span * 4, level + 1
        valid, local, pe, leaves = nodes[0]
        m.d.comb += [self.found.eq(valid), self.index.eq(local), self.pe.eq(pe),
                     self.winner.eq(Cat(*leaves) & Mux(valid, (1 << self.n_pe) - 1, 0))]
        return m


def _one_hot_or(values: list):
    """The OR of ``values`` (at most one non-zero): a one-hot multiplexer's output."""
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result
