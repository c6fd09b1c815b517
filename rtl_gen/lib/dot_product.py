"""int8 dot-product unit: ``lanes`` signed int8 × int8 products into a pipelined adder tree."""

from amaranth.hdl import Module, Signal, signed

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import DotProductSpec

from .pipeline import registered


def operand_layout(lanes: int, tag_width: int = 0) -> data.StructLayout:
    """Input payload: two vectors of ``lanes`` signed int8 values, ``a`` in the low bits, lane 0 lowest,
    then an optional ``tag`` that travels with the vector."""
    vector = data.ArrayLayout(signed(8), lanes)
    return data.StructLayout({"a": vector, "b": vector} | ({"tag": tag_width} if tag_width else {}))


class DotProduct(wiring.Component):
    """Σ a[i]·b[i] over ``spec.lanes`` lanes of signed int8, exact.

    One multiply stage registers the products; each level of the adder tree sums pairs of terms into a
    register one bit wider than its inputs, so the result width is ``spec.result_width`` and nothing
    overflows (derivation in :attr:`DotProductSpec.result_width`).

    Timing: latency ``spec.latency`` cycles (1 + ⌈log2 lanes⌉) from an accepted input to a valid
    output; throughput one vector per cycle. The whole pipeline advances while ``o`` is empty or being
    accepted, so a stalled consumer (``o.ready`` low with ``o.valid`` high) holds every stage and drops
    ``i.ready``; nothing is lost or duplicated under any valid/ready pattern.

    Members
    -------
    i : ``In(stream.Signature(operand_layout(lanes)))``
        Operand vectors ``a`` and ``b``.
    o : ``Out(stream.Signature(signed(result_width)))``
        The dot product of each accepted input, in order; with a ``tag_width``, a struct of ``sum`` and
        the input's ``tag`` (sideband data that a larger pipeline keeps in step with the sum).
    """

    def __init__(self, spec: DotProductSpec, tag_width: int = 0):
        self.spec = spec
        self.tag_width = tag_width
        result = signed(spec.result_width)
        if tag_width:
            result = data.StructLayout({"sum": result, "tag": tag_width})
        super().__init__({
            "i": In(stream.Signature(operand_layout(spec.lanes, tag_width))),
            "o": Out(stream.Signature(result)),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec

        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
        ]

        valid = self.i.valid
        tag = self.i.payload.tag if self.tag_width else None
        terms = [registered(m, advance, f"product_{lane}", signed(spec.PRODUCT_WIDTH),
                            self.i.payload.a[lane] * self.i.payload.b[lane]) for lane in range(spec.lanes)]
        valid = registered(m, advance, "product_valid", 1, valid)
        if self.tag_width:
            tag = registered(m, advance, "product_tag", self.tag_width, tag)

        for level in range(spec.tree_levels):
            width = spec.PRODUCT_WIDTH + level + 1
            terms = [registered(m, advance, f"sum_{level}_{pair // 2}", signed(width), sum(terms[pair:pair + 2]))
                     for pair in range(0, len(terms), 2)]
            valid = registered(m, advance, f"sum_{level}_valid", 1, valid)
            if self.tag_width:
                tag = registered(m, advance, f"sum_{level}_tag", self.tag_width, tag)

        if self.tag_width:
            m.d.comb += [self.o.payload.sum.eq(terms[0]), self.o.payload.tag.eq(tag)]
        else:
            m.d.comb += self.o.payload.eq(terms[0])
        m.d.comb += self.o.valid.eq(valid)
        return m
