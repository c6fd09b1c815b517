"""Central control of a Compute: the LNZD picks the next non-zero activation, the broadcast pushes it into
every PE's activation queue (EIE, Section IV, "Activation Queue and Load Balancing")."""

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.eie import COL
from accel.spec import EieSpec

from .lnzd import Lnzd
from .pe import index_bits, local_bits


class Broadcast(wiring.Component):
    """One non-zero (value, pointer index) per cycle into all activation queues.

    Stage 0 (search): the LNZD quadtree over the PEs' candidates finds the smallest pending element
    j = local·N + pe; that PE consumes it (``take``). Every PE reads its candidate's value from its source
    file whenever stage 0 advances (``read``), so the read enable waits for no search. After the
    last non-zero, with ``bias``, stage 0 produces the bias column's item instead (value 1.0). Stage 1
    holds the item (its PE and local index) and pushes it in the cycle every queue has room (``stall``
    while some queue is full); stage 0 advances whenever stage 1 is empty or pushing. The item's pointer
    index, formed in stage 1, is ``ptr_base + j − col_lo`` (the bias: ``ptr_base + col_hi − col_lo``).

    Members
    -------
    start : ``In(1)``; bias : ``In(1)``; col_lo, col_hi : ``In(19)``; ptr_base : ``In(17)``
        A Compute begins (parameters valid with the pulse).
    candidate_valid : ``In(n_pe)``; candidate : ``In(ArrayLayout(local_bits, n_pe))``
        The PEs' LNZD leaves.
    take : ``Out(n_pe)``
        PE p's candidate is consumed.
    read : ``Out(1)``
        Stage 0 advances: the PEs read their candidates' values (``source_data`` the cycle after, held
        otherwise); only the taken PE's value is used.
    source_data : ``In(ArrayLayout(16, n_pe))``
        The PEs' source-file read data.
    queue_ready : ``In(n_pe)``
    push : ``Out(1)``; value : ``Out(16)``; ptr : ``Out(index_bits)``
        The broadcast into every queue.
    busy : ``Out(1)``; stall : ``Out(1)``
    """

    def __init__(self, spec: EieSpec):
        self.spec = spec
        n = spec.n_pe
        super().__init__({
            "start": In(1), "bias": In(1), "col_lo": In(COL), "col_hi": In(COL), "ptr_base": In(17),
            "candidate_valid": In(n), "candidate": In(data.ArrayLayout(local_bits(spec), n)),
            "take": Out(n), "read": Out(1),
            "source_data": In(data.ArrayLayout(16, n)),
            "queue_ready": In(n),
            "push": Out(1), "value": Out(16), "ptr": Out(index_bits(spec)),
            "busy": Out(1), "stall": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        n, lb = spec.n_pe, local_bits(spec)
        pe_bits = (n - 1).bit_length()
        m.submodules.lnzd = lnzd = Lnzd(n, lb)
        m.d.comb += [lnzd.valid.eq(self.candidate_valid), lnzd.local.eq(self.candidate)]

        offset, bias_ptr = Signal(signed(COL + 1)), Signal(17)  # ptr_base − col_lo, and the bias's index
        bias_pending = Signal()
        s1_valid, s1_bias, s1_pe, s1_local = Signal(), Signal(), Signal(max(1, pe_bits)), Signal(lb)
        element = (s1_local << pe_bits) | s1_pe if n > 1 else s1_local  # j = local·N + pe
        all_ready = self.queue_ready.all()
        push = s1_valid & all_ready
        advance = ~s1_valid | push
        m.d.comb += self.take.eq(Mux(advance, lnzd.winner, 0))
        with m.If(advance):
            with m.If(lnzd.found):
                m.d.sync += [s1_valid.eq(1), s1_bias.eq(0), s1_pe.eq(lnzd.pe), s1_local.eq(lnzd.index)]
            with m.Elif(bias_pending):
                m.d.sync += [s1_valid.eq(1), s1_bias.eq(1), bias_pending.eq(0)]
            with m.Else():
                m.d.sync += s1_valid.eq(0)
        with m.If(self.start):
            m.d.sync += [bias_pending.eq(self.bias), offset.eq(self.ptr_base - self.col_lo),
                         bias_ptr.eq(self.ptr_base + self.col_hi - self.col_lo)]
        m.d.comb += [
            self.push.eq(push), self.read.eq(advance),
            self.value.eq(Mux(s1_bias, 1 << spec.act_frac, Array(self.source_data[p] for p in range(n))[s1_pe])),
            self.ptr.eq(Mux(s1_bias, bias_ptr, offset + element)),
            self.busy.eq(s1_valid | lnzd.found | bias_pending),
            self.stall.eq(s1_valid & ~all_ready),
        ]
        return m
