"""Leading non-zero detection (EIE's LNZD): which non-zero activation is broadcast next.

Each PE finds the first pending non-zero among its own source activations (:func:`leading_one` over its
pending bits); :class:`Lnzd` is the quadtree that merges those candidates to the root, a node per group of
four children. Activation j lives in PE j mod N at local index j div N, so the order j = local·N + pe is
"smallest local index first, then lowest PE": every node passes up its children's smallest (local, pe).
"""

from amaranth.hdl import Const, Module, Mux, Signal
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


def _earlier(first: tuple, second: tuple) -> tuple:
    """The smaller of two (valid, local, pe) candidates; ``first`` has the lower PEs, so it wins ties."""
    valid, local, pe = second
    take = valid & (~first[0] | (local < first[1]))
    return first[0] | valid, Mux(take, local, first[1]), Mux(take, pe, first[2])


class Lnzd(wiring.Component):
    """The LNZD quadtree over ``n_pe`` candidates; purely combinational.

    Members
    -------
    valid : ``In(n_pe)``
        PE p has a pending non-zero.
    local : ``In(ArrayLayout(local_bits, n_pe))``
        Each PE's first pending local index.
    found : ``Out(1)``; pe : ``Out(range(n_pe))``; index : ``Out(local_bits)``
        The candidate with the smallest (local, pe), if any.
    """

    def __init__(self, n_pe: int, local_bits: int):
        self.n_pe, self.local_bits = n_pe, local_bits
        super().__init__({
            "valid": In(n_pe),
            "local": In(data.ArrayLayout(local_bits, n_pe)),
            "found": Out(1),
            "pe": Out(range(n_pe)) if n_pe > 1 else Out(1),
            "index": Out(local_bits),
        })

    def elaborate(self, platform):
        m = Module()
        # A node is (valid, local, pe offset within the subtree); children are in PE order.
        nodes = [(self.valid[p], self.local[p], Const(0, 1)) for p in range(self.n_pe)]
        span, level = 1, 0
        while len(nodes) > 1:
            merged = []
            for g in range(0, len(nodes), 4):
                group = nodes[g:g + 4]
                # Children with their PE offsets within this node, merged pairwise (two comparator levels).
                pairs = [(valid, local, offset + child * span) for child, (valid, local, offset) in enumerate(group)]
                while len(pairs) > 1:
                    pairs = [_earlier(*pairs[i:i + 2]) if i + 1 < len(pairs) else pairs[i]
                             for i in range(0, len(pairs), 2)]
                best = pairs[0]
                pe_bits = (min(4, len(group)) * span - 1).bit_length() or 1
                node = tuple(Signal(shape, name=f"lnzd_l{level}_n{g // 4}_{what}")
                                   for shape, what in ((1, "valid"), (self.local_bits, "local"), (pe_bits, "pe")))
                m.d.comb += [node[0].eq(best[0]), node[1].eq(best[1]), node[2].eq(best[2])]
                merged.append(node)
            nodes, span, level = merged, span * 4, level + 1
        valid, local, pe = nodes[0]
        m.d.comb += [self.found.eq(valid), self.index.eq(local), self.pe.eq(pe)]
        return m
