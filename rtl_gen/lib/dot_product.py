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

    The operands are registered, then their products, then a copy of the products; each level of the
    adder tree sums pairs of terms into a register one bit wider than its inputs, so the result width is
    ``spec.result_width`` and nothing overflows (derivation in :attr:`DotProductSpec.result_width`). On an
    FPGA the operand and product registers become the multiplier blocks' input and output registers
    (``rtl_gen.dsp_registers``), so the routes into and out of a block each have a cycle to themselves:
    from the driver of ``i`` (a register, ideally) and into the product copy.

    Timing: latency ``spec.latency`` cycles (3 + ⌈log2 lanes⌉) from an accepted input to a valid
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

        def stage(name, terms, width):
            """Register ``terms`` as ``name_<n>`` (``width`` bits, signed), the valid bit and the tag alongside."""
            nonlocal valid, tag
            valid = registered(m, advance, f"{name}_valid", 1, valid)
            if self.tag_width:
                tag = registered(m, advance, f"{name}_tag", self.tag_width, tag)
            return [registered(m, advance, f"{name}_{n}", signed(width), term) for n, term in enumerate(terms)]

        lanes = range(spec.lanes)
        operands = stage("operand", [self.i.payload.a[n] for n in lanes] + [self.i.payload.b[n] for n in lanes], 8)
        terms = stage("product", [operands[n] * operands[spec.lanes + n] for n in lanes], spec.PRODUCT_WIDTH)
        terms = stage("product_copy", terms, spec.PRODUCT_WIDTH)
        for level in range(spec.tree_levels):
            terms = stage(f"sum_{level}", [sum(terms[pair:pair + 2]) for pair in range(0, len(terms), 2)],
                          spec.PRODUCT_WIDTH + level + 1)

        if self.tag_width:
            m.d.comb += [self.o.payload.sum.eq(terms[0]), self.o.payload.tag.eq(tag)]
        else:
            m.d.comb += self.o.payload.eq(terms[0])
        m.d.comb += self.o.valid.eq(valid)
        return m
