"""The convolution unit: sequencer → buffer reads → MAC cells → accumulators → requantizer → writes."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.mac_array import PARAM_BLOCKS, PSUM_ATOMS, Conv
from accel.spec import DotProductSpec, MacArraySpec

from ..lib.dot_product import DotProduct
from ..lib.pipeline import registered
from ..lib.queue import Queue, acknowledged, credit_room
from ..shell import command_layout, write_layout
from .cbuf import ENTRY_BITS, READ_LATENCY
from .pool import PoolReducer
from .requant import LATENCY as REQUANT_LATENCY, Requantizer
from .sequencer import ConvSequencer

TAG = data.StructLayout({"first": 1, "last": 1, "final": 1})
CELL_TAG = data.StructLayout({"restart": 1, "last": 1, "final": 1})  # MAC cell 0's tag; the others carry restart


def output_queue_depth(spec: MacArraySpec) -> int:
    """Output atoms in flight at most, a power of two above the cycles from a step that ends a pixel
    leaving the sequencer until its credit returns: READ_LATENCY + 1 + (3 + log2 atomic_c) + 1 +
    requant.LATENCY + 1 cycles to its write and one more (31 in all for atomic_c = 8, 34 for 64). So with
    the default memory model (writes never refused) the credits never run out. With ``psum_out`` a pixel's
    PSUM_ATOMS partial-sum steps take its beats' credits, which return 19 + (3 + log2 atomic_c) + n cycles
    later for a pixel of n MAC steps: PSUM_ATOMS per PSUM_ATOMS + n steps, at most 24 in flight."""
    flight = READ_LATENCY + 1 + DotProductSpec(lanes=spec.atomic_c).latency + 1 + REQUANT_LATENCY + 1 + 1
    return 1 << flight.bit_length()


class ConvUnit(wiring.Component):
    """Executes one ``Conv`` command (see :class:`accel.isa.mac_array.Conv` for its semantics), or with
    ``pool`` set one ``Pool`` command expressed in the same fields (one channel group, no parameters
    used): the buffer's atoms then go to the :class:`~rtl_gen.mac_array.pool.PoolReducer` (9 cycles)
    instead of the MAC cells.

    Pipeline, one step per cycle: the sequencer's step; the buffer read (:data:`~.cbuf.READ_LATENCY`
    cycles); the operand registers (the feature atom, or the pad value outside the map, and the weights);
    atomic_k int8 dot products of atomic_c lanes (:class:`~rtl_gen.lib.dot_product.DotProduct`,
    3 + log2(atomic_c) cycles); the accumulators (1 cycle; a pixel's accumulators start at the folded
    bias on its first step with ``first`` set and go on to the requantizer after its last step with
    ``last`` set); the requantizer (:data:`~.requant.LATENCY` cycles); the output queue (1 cycle); a
    write request per output atom. Nothing after the sequencer stalls: a step that ends an output pixel
    leaves the sequencer only while fewer than :func:`output_queue_depth` output atoms are in flight (issued
    and not written before the previous cycle), so a blocked write port fills the queue and then holds
    the sequencer.

    Partial sums (``psum_in``, ``psum_out``): a pixel's PSUM_ATOMS partial-sum steps come before its MAC
    steps and enter no MAC cell. With ``psum_in`` their atoms, from the operand register, travel beside
    the MAC cells and shift into the bias register as they reach the accumulators, so the pixel's first
    step starts from them. With ``psum_out`` the requantizer's int32-saturated sums
    (:data:`~.requant.RAW_LATENCY` cycles after the accumulators) are captured and enter the output queue
    as PSUM_ATOMS beats over the next PSUM_ATOMS cycles (1 + RAW_LATENCY + PSUM_ATOMS + 1 cycles from the
    accumulators to the last beat's write, 6 fewer than an output atom's), each with its own credit.

    ``busy`` is high from ``start`` until the last step is accumulated and, with ``last``, every output
    atom has been written and acknowledged.

    Members
    -------
    start : ``In(1)``; command : ``In(command_layout(Conv))``; busy : ``Out(1)``
    pool, average : ``In(1)``
        Pooling instead of convolution; the average instead of the max.
    feature_index, weight_index : ``Out``; feature_data, weight_data : ``In``
        The convolution buffer's read ports.
    wr_req : ``Out(stream.Signature(write_layout))``; wr_ack : ``In(stream.Signature(1))``
    mac_step : ``Out(1)``
        A step enters the MAC cells this cycle (atomic_c × atomic_k MACs).
    pool_step : ``Out(1)``
        A step enters the pooling reducer this cycle.
    fed_all, written_all : ``Out(1)``
        The final step has entered the MAC cells; the final output atom has been written.
    """

    def __init__(self, spec: MacArraySpec):
        self.spec = spec
        atom = 8 * spec.atomic_c
        super().__init__({
            "start": In(1),
            "command": In(command_layout(Conv)),
            "pool": In(1),
            "average": In(1),
            "busy": Out(1),
            "feature_index": Out(ENTRY_BITS),
            "feature_data": In(atom),
            "weight_index": Out(ENTRY_BITS),
            "weight_data": In(data.ArrayLayout(atom, spec.atomic_k)),
            "wr_req": Out(stream.Signature(write_layout(atom))),
            "wr_ack": In(stream.Signature(1)),
            "mac_step": Out(1),
            "pool_step": Out(1),
            "fed_all": Out(1),
            "written_all": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        c = self.command
        ac, ak = spec.atomic_c, spec.atomic_k

        # Output credits: a step that ends an output pixel leaves the sequencer only if its output atom
        # will find room in the output queue, so nothing after the sequencer ever stalls.
        m.submodules.sequencer = sequencer = ConvSequencer(spec)
        depth = output_queue_depth(spec)
        m.submodules.outputs = outputs = Queue(8 * max(ac, ak) + 1, depth)
        issue = sequencer.steps.valid & sequencer.steps.ready
        step = sequencer.steps.payload
        # Pool commands set last; with psum_out a pixel's PSUM_ATOMS partial-sum steps take its credits
        issue_output = issue & Mux(c.psum_out, step.psum, ~step.param & step.last & c.last)
        write = self.wr_req.valid & self.wr_req.ready
        wrote = registered(m, 1, "wrote", 1, write)  # a write a cycle ago: a credit returns then
        room = credit_room(m, depth, issue_output, wrote)
        m.d.comb += [
            sequencer.start.eq(self.start), sequencer.command.eq(c),
            sequencer.steps.ready.eq(room),
        ]

        # Buffer read: READ_LATENCY cycles, the step's flags delayed alongside.
        m.d.comb += [self.feature_index.eq(step.feature), self.weight_index.eq(step.block)]
        read = Signal(TAG.size + 4)  # valid, param, inside, psum, then the tag
        flags = Cat(issue, step.param, step.inside, step.psum, step.first, step.last, step.final)
        for n in range(READ_LATENCY - 1):
            flags = registered(m, 1, f"read_{n}", len(read), flags)
        param_arrives = registered(m, 1, "param_arrives", 1, flags[0] & flags[1])  # read_valid & read_param
        m.d.comb += read.eq(registered(m, 1, f"read_{READ_LATENCY - 1}", len(read), flags))
        read_valid, read_param, read_inside, read_psum = read[0], read[1], read[2], read[3]
        read_tag = data.View(TAG, read[4:])

        # Parameter blocks: bias, M0, shift in the low 32 bits of each lane's atom, shifted in as they
        # arrive (the command's first 3 reads), so their enable is a register.
        params = [Signal(data.ArrayLayout(32, ak), name=f"param_{n}") for n in range(PARAM_BLOCKS)]
        with m.If(param_arrives):
            m.d.sync += [params[n].eq(params[n + 1]) for n in range(PARAM_BLOCKS - 1)]
            m.d.sync += [params[-1][lane].eq(self.weight_data[lane][:32]) for lane in range(ak)]

        # Operand registers: the feature atom or the pad value, and the weights; the feature atom again for the
        # pooling reducer (which skips positions outside the map) and partial sums, a register of its own.
        operand_valid = registered(m, 1, "operand_valid", 1, read_valid & ~read_param & ~read_psum)
        operand_tag = registered(m, 1, "operand_tag", TAG, read_tag)
        operand_restart = registered(m, 1, "operand_restart", 1, read_tag.first & c.first)
        operand_inside = registered(m, 1, "operand_inside", 1, read_inside)
        features = registered(m, 1, "features", 8 * ac,
                              Mux(read_inside, self.feature_data, Cat(*([c.pad_value] * ac))))
        weights = registered(m, 1, "weights", data.ArrayLayout(8 * ac, ak), self.weight_data)
        pooled = registered(m, 1, "pooled", 8 * ac, self.feature_data)

        # MAC cells: one dot product of atomic_c lanes per kernel. Each carries ``restart`` (the step starts
        # its pixel's accumulation: its first step, of a command with ``first``), a copy per kernel's
        # accumulators; unit 0 also the step's ``last`` and ``final``.
        cells = []
        for k in range(ak):
            cell = DotProduct(DotProductSpec(lanes=ac), tag_width=CELL_TAG.size if k == 0 else 1)
            m.submodules[f"cell{k}"] = cell
            m.d.comb += [
                cell.i.valid.eq(operand_valid & ~self.pool),
                cell.i.payload.a.as_value().eq(features),
                cell.i.payload.b.as_value().eq(weights[k]),
                cell.i.payload.tag[0].eq(operand_restart),
                cell.o.ready.eq(1),
            ]
            cells.append(cell)
        m.submodules.reducer = reducer = PoolReducer(ac)
        m.d.comb += [
            cells[0].i.payload.tag[1:].eq(Cat(operand_tag.last, operand_tag.final)),
            reducer.i.valid.eq(operand_valid & self.pool),
            reducer.i.payload.atom.as_value().eq(pooled),
            reducer.i.payload.inside.eq(operand_inside),
            reducer.i.payload.first.eq(operand_tag.first),
            reducer.i.payload.last.eq(operand_tag.last),
            reducer.i.payload.final.eq(operand_tag.final),
            reducer.average.eq(self.average),
            self.mac_step.eq(cells[0].i.valid),
            self.pool_step.eq(reducer.i.valid),
        ]

        # Partial sums in: a partial-sum step's atom travels beside the MAC cells (a register per stage) and
        # shifts, at the accumulators, into the bias register, which the pixel's restart step, behind its
        # PSUM_ATOMS atoms, takes as its base (the next pixel's atoms arrive after it).
        psum_valid = registered(m, 1, "psum_operand", 1, read_valid & read_psum & c.psum_in)
        psum_atom = pooled
        for n in range(DotProductSpec(lanes=ac).latency):
            psum_valid = registered(m, 1, f"psum_valid_{n}", 1, psum_valid)
            psum_atom = registered(m, 1, f"psum_atom_{n}", 8 * ac, psum_atom, reset_less=True)
        with m.If(psum_valid):
            m.d.sync += params[0].eq(Cat(params[0].as_value()[8 * ac:], psum_atom))

        # Accumulators.
        m.submodules.requant = requant = Requantizer(ak, spec.acc_width)
        acc = [Signal(signed(spec.acc_width), name=f"acc_{k}") for k in range(ak)]
        tag = data.View(CELL_TAG, cells[0].o.payload.tag)
        m.d.sync += requant.i.valid.eq(cells[0].o.valid & tag.last & c.last)
        with m.If(cells[0].o.valid):
            m.d.sync += requant.i.payload.final.eq(tag.final)
            for k, cell in enumerate(cells):
                base = Mux(cell.o.payload.tag[0], params[0][k].as_signed(), acc[k])
                total = base + cell.o.payload.sum
                m.d.sync += [acc[k].eq(total), requant.i.payload.acc[k].eq(total)]

        for k in range(ak):
            m.d.comb += [requant.m0[k].eq(params[1][k]),
                         requant.shift[k].eq(Mux(c.psum_out, 0, params[2][k][:8]))]  # psum_out: raw int32
        m.d.comb += [requant.zero_point.eq(c.out_zp), requant.lo.eq(c.lo), requant.hi.eq(c.hi)]

        # Partial sums out: a pixel's accumulators saturated to int32 (the requantizer's raw output) are
        # captured and leave as PSUM_ATOMS beats, one per cycle from the next (pixels' raw outputs are at
        # least PSUM_ATOMS + 1 cycles apart).
        beats = Signal(32 * ak)
        beat = Signal(PSUM_ATOMS)  # one-hot: the beat that leaves
        beats_final = Signal()
        with m.If(requant.raw.valid & c.psum_out):
            m.d.sync += [beats.eq(requant.raw.acc), beat.eq(1), beats_final.eq(requant.raw.final)]
        with m.Else():
            m.d.sync += [beats.eq(beats[8 * ac:]), beat.eq(beat << 1)]

        # Output queue and writes: output atom (or beat) n of the command goes to out_address + n·atomic_k.
        m.d.comb += [
            requant.o.ready.eq(1),
            reducer.o.ready.eq(1),
            outputs.w_en.eq((requant.o.valid & ~c.psum_out) | reducer.o.valid | beat.any()),
            outputs.w_data.eq(Mux(self.pool, Cat(reducer.o.payload.final, reducer.o.payload.value),
                                  Mux(c.psum_out, Cat(beats_final & beat[-1], beats[:8 * ac]),
                                      Cat(requant.o.payload.final, requant.o.payload.value)))),
        ]
        queued_final, queued_value = outputs.r_data[0], outputs.r_data[1:]
        written = Signal(range(spec.MAX_DIM**2 + 1))
        fed_all, accumulated_all, written_all = Signal(), Signal(), Signal()
        m.d.comb += [
            self.wr_req.valid.eq(outputs.r_rdy),
            self.wr_req.payload.address.eq(c.out_address + written * ak),
            self.wr_req.payload.data.eq(queued_value),
            outputs.r_en.eq(self.wr_req.ready),
            self.wr_ack.ready.eq(1),
        ]
        all_acked = acknowledged(m, "writes", range(spec.MAX_DIM**2 + 1), wrote, self.wr_ack.valid)
        with m.If(write):
            m.d.sync += written.eq(written + 1)

        with m.If(self.start):
            m.d.sync += [written.eq(0), fed_all.eq(0), accumulated_all.eq(0), written_all.eq(0)]
        with m.Else():
            with m.If((self.mac_step | self.pool_step) & operand_tag.final):
                m.d.sync += fed_all.eq(1)
            with m.If((cells[0].o.valid & tag.final) | (self.pool_step & operand_tag.final)):
                m.d.sync += accumulated_all.eq(1)
            with m.If(write & queued_final):
                m.d.sync += written_all.eq(1)
        m.d.comb += [
            self.fed_all.eq(fed_all & ~self.start),
            self.written_all.eq(written_all & ~self.start),
            self.busy.eq(self.start | ~accumulated_all | (c.last & ~(written_all & all_acked))),
        ]
        return m
