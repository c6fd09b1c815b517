"""int8 dot-product unit: ``lanes`` signed int8 × int8 products into a pipelined adder tree."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import DotProductSpec


def operand_layout(lanes: int) -> data.StructLayout:
    """Input payload: two vectors of ``lanes`` signed int8 values, ``a`` in the low bits, lane 0 lowest."""
    vector = data.ArrayLayout(signed(8), lanes)
    return data.StructLayout({"a": vector, "b": vector})


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
        The dot product of each accepted input, in order.
    """

    def __init__(self, spec: DotProductSpec):
        self.spec = spec
        super().__init__({
            "i": In(stream.Signature(operand_layout(spec.lanes))),
            "o": Out(stream.Signature(signed(spec.result_width))),
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
        terms = []
        for lane in range(spec.lanes):
            product = Signal(signed(spec.PRODUCT_WIDTH), name=f"product_{lane}")
            with m.If(advance):
                m.d.sync += product.eq(self.i.payload.a[lane] * self.i.payload.b[lane])
            terms.append(product)
        valid = self._stage_valid(m, valid, advance, "product")

        for level in range(spec.tree_levels):
            width = spec.PRODUCT_WIDTH + level + 1
            sums = []
            for pair in range(0, len(terms), 2):
                total = Signal(signed(width), name=f"sum_{level}_{pair // 2}")
                with m.If(advance):
                    m.d.sync += total.eq(sum(terms[pair:pair + 2]))
                sums.append(total)
            terms = sums
            valid = self._stage_valid(m, valid, advance, f"sum_{level}")

        m.d.comb += [
            self.o.payload.eq(terms[0]),
            self.o.valid.eq(valid),
        ]
        return m

    @staticmethod
    def _stage_valid(m, previous, advance, name):
        valid = Signal(name=f"{name}_valid")
        with m.If(advance):
            m.d.sync += valid.eq(previous)
        return valid
