"""The convolution unit: sequencer → buffer reads → MAC cells → accumulators → requantizer → writes."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.mac_array import PARAM_BLOCKS, Conv
from accel.spec import DotProductSpec, MacArraySpec

from ..lib.dot_product import DotProduct
from ..shell import command_layout, write_layout
from .cbuf import ENTRY_BITS
from .pool import PoolReducer
from .requant import Requantizer
from .sequencer import ConvSequencer

TAG = data.StructLayout({"first": 1, "last": 1, "final": 1})


class ConvUnit(wiring.Component):
    """Executes one ``Conv`` command (see :class:`accel.isa.mac_array.Conv` for its semantics), or with
    ``pool`` set one ``Pool`` command expressed in the same fields (one channel group, no parameters
    used): the buffer's atoms then go to the :class:`~rtl_gen.mac_array.pool.PoolReducer` (3 cycles)
    instead of the MAC cells.

    Pipeline, one step per cycle: the sequencer's step; the buffer read (1 cycle); atomic_k int8 dot
    products of atomic_c lanes (:class:`~rtl_gen.lib.dot_product.DotProduct`, 1 + log2(atomic_c)
    cycles); the accumulators (1 cycle; a pixel's accumulators start at the folded bias on its first
    step with ``first`` set and go on to the requantizer after its last step with ``last`` set); the
    requantizer (5 cycles); a write request per output atom. Every stage advances while its output is
    empty or accepted, so a blocked write port stalls the pipeline back to the sequencer.

    ``busy`` is high from ``start`` until the last step is accumulated and, with ``last``, every output
    atom has been written and acknowledged.

    Members
    -------
    start : ``In(1)``; command : ``In(command_layout(Conv))``; busy : ``Out(1)``
    pool, average : ``In(1)``
        Pooling instead of convolution; the average instead of the max.
    feature_en, feature_index, weight_en, weight_index : ``Out``; feature_data, weight_data : ``In``
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
            "feature_en": Out(1),
            "feature_index": Out(ENTRY_BITS),
            "feature_data": In(atom),
            "weight_en": Out(1),
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

        m.submodules.sequencer = sequencer = ConvSequencer(spec)
        m.d.comb += [sequencer.start.eq(self.start), sequencer.command.eq(c)]

        # Buffer read stage.
        read_valid = Signal()
        read_step = Signal.like(sequencer.steps.payload)
        read_ready = Signal()
        read_advance = ~read_valid | read_ready
        m.d.comb += [
            sequencer.steps.ready.eq(read_advance),
            self.feature_en.eq(read_advance),
            self.feature_index.eq(sequencer.steps.payload.feature),
            self.weight_en.eq(read_advance),
            self.weight_index.eq(sequencer.steps.payload.block),
        ]
        with m.If(read_advance):
            m.d.sync += [read_valid.eq(sequencer.steps.valid), read_step.eq(sequencer.steps.payload)]

        # Parameter blocks: bias, M0, shift in the low 32 bits of each lane's atom.
        params = [Signal(data.ArrayLayout(32, ak), name=f"param_{n}") for n in range(PARAM_BLOCKS)]
        param_index = Signal(range(PARAM_BLOCKS))
        with m.If(self.start):
            m.d.sync += param_index.eq(0)
        with m.Elif(read_valid & read_step.param):
            m.d.sync += param_index.eq(param_index + 1)
            with m.Switch(param_index):
                for n in range(PARAM_BLOCKS):
                    with m.Case(n):
                        m.d.sync += [params[n][lane].eq(self.weight_data[lane][:32]) for lane in range(ak)]

        # MAC cells: one dot product of atomic_c lanes per kernel; unit 0 carries the step's tag.
        pad = Cat(*([c.pad_value] * ac))
        features = Mux(read_step.inside, self.feature_data, pad)
        cells = []
        for k in range(ak):
            cell = DotProduct(DotProductSpec(lanes=ac), tag_width=TAG.size if k == 0 else 0)
            m.submodules[f"cell{k}"] = cell
            m.d.comb += [
                cell.i.valid.eq(read_valid & ~read_step.param & ~self.pool),
                cell.i.payload.a.as_value().eq(features),
                cell.i.payload.b.as_value().eq(self.weight_data[k]),
            ]
            cells.append(cell)
        m.submodules.reducer = reducer = PoolReducer(ac)
        m.d.comb += [
            cells[0].i.payload.tag.eq(Cat(read_step.first, read_step.last, read_step.final)),
            reducer.i.valid.eq(read_valid & ~read_step.param & self.pool),
            reducer.i.payload.atom.as_value().eq(self.feature_data),
            reducer.i.payload.inside.eq(read_step.inside),
            reducer.i.payload.first.eq(read_step.first),
            reducer.i.payload.last.eq(read_step.last),
            reducer.i.payload.final.eq(read_step.final),
            reducer.average.eq(self.average),
            read_ready.eq(read_step.param | Mux(self.pool, reducer.i.ready, cells[0].i.ready)),
            self.mac_step.eq(cells[0].i.valid & cells[0].i.ready),
            self.pool_step.eq(reducer.i.valid & reducer.i.ready),
        ]

        # Accumulators.
        m.submodules.requant = requant = Requantizer(ak, spec.acc_width)
        acc = [Signal(signed(spec.acc_width), name=f"acc_{k}") for k in range(ak)]
        acc_advance = ~requant.i.valid | requant.i.ready
        tag = data.View(TAG, cells[0].o.payload.tag)
        m.d.comb += [cell.o.ready.eq(acc_advance) for cell in cells]
        with m.If(acc_advance):
            m.d.sync += requant.i.valid.eq(cells[0].o.valid & tag.last & c.last)
            with m.If(cells[0].o.valid):
                m.d.sync += requant.i.payload.final.eq(tag.final)
                for k, cell in enumerate(cells):
                    base = Mux(tag.first & c.first, params[0][k].as_signed(), acc[k])
                    total = base + cell.o.payload.sum if k == 0 else base + cell.o.payload
                    m.d.sync += [acc[k].eq(total), requant.i.payload.acc[k].eq(total)]

        for k in range(ak):
            m.d.comb += [requant.m0[k].eq(params[1][k]), requant.shift[k].eq(params[2][k][:8])]
        m.d.comb += [requant.zero_point.eq(c.out_zp), requant.lo.eq(c.lo), requant.hi.eq(c.hi)]

        # Writes: output atom n of the command goes to out_address + n·atomic_k.
        written = Signal(range(spec.MAX_DIM**2 + 1))
        outstanding = Signal(range(spec.MAX_DIM**2 + 1))
        fed_all, accumulated_all, written_all = Signal(), Signal(), Signal()
        m.d.comb += [
            self.wr_req.valid.eq(Mux(self.pool, reducer.o.valid, requant.o.valid)),
            self.wr_req.payload.address.eq(c.out_address + written * ak),
            self.wr_req.payload.data.eq(Mux(self.pool, reducer.o.payload.value, requant.o.payload.value)),
            requant.o.ready.eq(self.wr_req.ready & ~self.pool),
            reducer.o.ready.eq(self.wr_req.ready & self.pool),
            self.wr_ack.ready.eq(1),
        ]
        write = self.wr_req.valid & self.wr_req.ready
        final_written = Mux(self.pool, reducer.o.payload.final, requant.o.payload.final)
        m.d.sync += outstanding.eq(outstanding + write - self.wr_ack.valid)
        with m.If(write):
            m.d.sync += written.eq(written + 1)

        with m.If(self.start):
            m.d.sync += [written.eq(0), fed_all.eq(0), accumulated_all.eq(0), written_all.eq(0)]
        with m.Else():
            with m.If((self.mac_step | self.pool_step) & read_step.final):
                m.d.sync += fed_all.eq(1)
            with m.If((cells[0].o.valid & acc_advance & tag.final) | (self.pool_step & read_step.final)):
                m.d.sync += accumulated_all.eq(1)
            with m.If(write & final_written):
                m.d.sync += written_all.eq(1)
        m.d.comb += [
            self.fed_all.eq(fed_all & ~self.start),
            self.written_all.eq(written_all & ~self.start),
            self.busy.eq(self.start | ~accumulated_all | (c.last & (~written_all | (outstanding != 0)))),
        ]
        return m
