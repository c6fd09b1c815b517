"""The matrix-vector-threshold unit (FINN's MVTU): PE × SIMD XNOR–popcount lanes, accumulators across the
synapse folds (and bit planes), per-channel threshold comparison, max-pool as OR."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.xnor import ENTRY
from accel.spec import XnorSpec

from ..lib.pipeline import registered
from ..lib.popcount import levels, popcount_trees

TAGS = ("first", "plane_first", "last", "pool_first", "pool_last", "final")


def operand_layout(spec: XnorSpec) -> data.StructLayout:
    """One step's operands: the input word, every PE's weight word, the threshold entry and the flags."""
    return data.StructLayout({
        "input": spec.simd,
        "weights": data.ArrayLayout(spec.simd, spec.pe),
        "threshold": ENTRY,
        **{tag: 1 for tag in TAGS},
    })


def output_layout(spec: XnorSpec) -> data.StructLayout:
    """One output chunk: pe bits (thresholded and pooled) and the pe integers acc − T; ``final`` marks the
    command's last chunk."""
    return data.StructLayout({
        "bits": spec.pe,
        "ints": data.ArrayLayout(signed(spec.diff_width), spec.pe),
        "final": 1,
    })


def latency(spec: XnorSpec) -> int:
    """Cycles (advances) from an accepted operand to the output chunk it completes: the popcount tree,
    the accumulator, the threshold subtraction and the pool/output register."""
    return levels(spec.simd) + 3


class Mvtu(wiring.Component):
    """PE × SIMD binary dot products with thresholds (see :class:`accel.isa.xnor.Mvtu` for the arithmetic).

    Pipeline, one operand per cycle: per PE the XNOR of input and weight word feeds a popcount tree
    (:func:`~rtl_gen.lib.popcount.popcount_trees`, ⌈log2 simd⌉ registered levels, the XNOR merged into the
    first); the count enters the accumulator (restart, Horner doubling at a new plane, or add; a bubble
    leaves it unchanged); after a window position's last word the threshold, read from the threshold
    memory two stages earlier and registered, is subtracted; the comparison's bit is ORed into the pool
    register, and after the pool window's last position the chunk goes out: latency :func:`latency`.

    The pipeline's enable ``advance`` (also ``i.ready``) is a register, so the wide enable net starts at a
    flip-flop rather than at ``o.ready``: every stage advances unless, in that cycle, the threshold stage
    holds a chunk's last position while ``o`` holds a chunk (accepted in that cycle or not), and it resumes
    the cycle after ``o`` is accepted. A chunk is therefore held one cycle more when it meets its predecessor
    in ``o`` (chunks completed in consecutive steps take two cycles each), and otherwise the pipeline runs on
    while ``o`` waits, until the next chunk is complete.

    Members
    -------
    i : ``In(stream.Signature(operand_layout(spec)))``
        Operands, one step each.
    t_addr : ``Out(ENTRY)``; t_en : ``Out(1)``; t_data : ``In(ArrayLayout(32, pe))``
        The threshold memory's read port (data the cycle after ``t_en``, held otherwise).
    o : ``Out(stream.Signature(output_layout(spec)))``
        Output chunks.
    """

    def __init__(self, spec: XnorSpec):
        self.spec = spec
        super().__init__({
            "i": In(stream.Signature(operand_layout(spec))),
            "t_addr": Out(ENTRY),
            "t_en": Out(1),
            "t_data": In(data.ArrayLayout(spec.THRESHOLD_SLOT, spec.pe)),
            "o": Out(stream.Signature(output_layout(spec))),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        pe, simd = spec.pe, spec.simd
        advance = Signal(init=1)
        m.d.comb += self.i.ready.eq(advance)
        i = self.i.payload

        # Flags, threshold entry and valid travel beside the XNOR + popcount trees. The threshold memory is
        # read as the step enters the tree's last level and its word registered as the step enters the
        # accumulator, so the memory's slow output never meets the subtraction.
        # The accumulators' selects for the step entering the tree's last level (whether it restarts them or
        # starts a plane) are registered as it enters the level above (in a one-level tree they are the
        # input's, combinational), so those wide nets start at flip-flops. A bubble's count registers are
        # cleared as it enters them (``clear``: a synchronous reset, which an ECP5 flip-flop applies without
        # a LUT).
        moving = Signal()  # == advance, from two local flip-flops (see below) rather than the wide net

        def entering(name: str, event):
            now = Signal(name=name)
            if above is None:
                m.d.comb += now.eq(event(valid, tags))
            else:
                m.d.sync += now.eq(Mux(moving, event(*above), event(valid, tags)))
            return now

        valid, tags, taddr = self.i.valid, Cat(*(getattr(i, t) for t in TAGS)), i.threshold
        above = None  # (valid, tags) of the step entering the level above
        for level in range(levels(simd)):
            if level == levels(simd) - 1:
                m.d.comb += [self.t_addr.eq(taddr), self.t_en.eq(advance)]
                clear = Signal()
                m.d.comb += clear.eq(moving & ~valid)
                restart = entering("restart", lambda valid, tags: valid & tags[0])
                if spec.input_bits > 1:
                    double = entering("double", lambda valid, tags: valid & tags[1])
            above = (valid, tags)
            valid = registered(m, advance, f"pop_valid_{level}", 1, valid)
            tags = registered(m, advance, f"pop_tags_{level}", len(TAGS), tags)
            taddr = registered(m, advance, f"pop_threshold_{level}", ENTRY, taddr)
        counts = popcount_trees(m, advance, [~(i.input ^ i.weights[p]) for p in range(pe)], "pe", clear)
        thresholds = registered(m, advance, "threshold_word", spec.pe * spec.THRESHOLD_SLOT, self.t_data.as_value())
        thresholds = data.ArrayLayout(spec.THRESHOLD_SLOT, pe)(thresholds)
        flag = dict(zip(TAGS, tags))

        # Accumulators of the counts; a bubble's count is 0, so they load on ``advance`` alone. Each PE keeps
        # acc, the sum so far (read by the subtraction), and base, the next step's other operand: acc, or at
        # a new plane 2·acc (one LUT per bit beside the carry chain), or 0 at a restart.
        accs = []
        for p in range(pe):
            acc = Signal(spec.acc_width, name=f"acc_{p}")
            base = Signal(spec.acc_width, name=f"acc_base_{p}")
            total = (base + counts[p])[:spec.acc_width]
            following = Mux(double, total << 1, total) if spec.input_bits > 1 else total
            with m.If(advance):
                m.d.sync += [acc.eq(total), base.eq(Mux(restart, 0, following))]
            accs.append(acc)
        acc_done = registered(m, advance, "acc_done", 1, valid & flag["last"])
        acc_chunk = registered(m, advance, "acc_chunk", 1, valid & flag["last"] & flag["pool_last"])
        acc_tags = registered(m, advance, "acc_tags", 2, Cat(flag["pool_first"], flag["final"]))

        # Threshold subtraction: d = acc − T, and the direction.
        tw = spec.threshold_width
        diffs, ups = [], []
        for p in range(pe):
            threshold = thresholds[p][:tw]
            diffs.append(registered(m, advance, f"diff_{p}", signed(spec.diff_width), accs[p] - threshold))
            ups.append(registered(m, advance, f"up_{p}", 1, thresholds[p][31]))
        diff_done = registered(m, advance, "diff_done", 1, acc_done)
        chunk = registered(m, advance, "diff_chunk", 1, acc_chunk)  # a chunk's last position
        pool_first, final = registered(m, advance, "diff_tags", 2, acc_tags)

        # Position bit (up: d >= 0, else d < 0), OR over the pool window, output register.
        bits = Cat(*(ups[p] ^ diffs[p][-1] for p in range(pe)))
        pooled = Signal(pe)
        merged = Signal(pe)
        m.d.comb += merged.eq(Mux(pool_first, 0, pooled) | bits)
        with m.If(advance):
            m.d.sync += pooled.eq(pooled & ~(diff_done & pool_first).replicate(pe) | bits & diff_done.replicate(pe))

        # Flow control, all registered: ``advance`` is ~(chunk & o.valid), and ``load`` (the output register
        # takes the threshold stage's chunk) advance & chunk, so the output payload's enable is a flip-flop
        # too. The next state is computed from ``moving``, the same function of those two flip-flops, so the
        # wide ``advance`` net does not feed back. Next cycle the threshold stage holds a chunk if it does
        # now and stays, or the accumulator stage's moves in; ``o`` holds one if it takes one now or keeps an
        # unaccepted one.
        m.d.comb += moving.eq(~(chunk & self.o.valid))
        load = Signal()
        held = Mux(moving, acc_chunk, chunk)
        occupied = load | self.o.valid & ~self.o.ready
        m.d.sync += [self.o.valid.eq(occupied), advance.eq(~(held & occupied)), load.eq(held & ~occupied)]
        with m.If(load):
            m.d.sync += [self.o.payload.bits.eq(merged), self.o.payload.final.eq(final)]
            m.d.sync += [self.o.payload.ints[p].eq(diffs[p]) for p in range(pe)]
        return m

