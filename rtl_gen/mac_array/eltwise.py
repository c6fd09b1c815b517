"""Element-wise addition (residual connections) with TFLite's int8 ADD arithmetic, one element per cycle."""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from accel.int8 import ADD_LEFT_SHIFT
from accel.isa.mac_array import Eltwise
from accel.spec import MacArraySpec

from ..lib.fixedpoint import OUTPUT_STAGES, STAGES, multiply_by_quantized_multiplier, offset_and_clamp
from ..lib.pipeline import registered
from ..lib.queue import Queue, acknowledged, credit_room
from ..shell import command_layout, write_layout
from .cbuf import ENTRY_BITS, READ_LATENCY

LANE_STAGES = 2 * STAGES + 2 + OUTPUT_STAGES
"""Pipeline depth of one element: the offset inputs, both rescaled (in parallel), their sum, the sum
rescaled, then the comparisons with the bounds and the clamp."""


def output_queue_depth(spec: MacArraySpec) -> int:
    """Output atoms in flight at most, a power of two above how many atoms start their reads (one per
    P = READ_LATENCY + 2 + atomic_c >= 13 cycles) while one goes from its start to its credit's return
    (P + LANE_STAGES + 3 cycles: the gathering, the queue, the returned credit)."""
    period = READ_LATENCY + 2 + spec.atomic_c
    return 1 << (1 + -(-(LANE_STAGES + 3) // period)).bit_length()


class EltwiseUnit(wiring.Component):
    """Executes one ``Eltwise`` command: for each atom, reads the A atom, then the B atom (one cycle each,
    data :data:`~.cbuf.READ_LATENCY` cycles later), then feeds its atomic_c lanes one per cycle through
    ``((a − a_zp) << 20)·(a_m0, a_shift) + ((b − b_zp) << 20)·(b_m0, b_shift)``, rescaled by
    (out_m0, out_shift), plus out_zp, clamped to [lo, hi]; the lanes are gathered into an output atom and
    written through an output queue (1 cycle). Per atom READ_LATENCY + 2 + atomic_c cycles; the pipeline
    (:data:`LANE_STAGES` + 1 deep) never stalls: an atom's reads start only while fewer than
    :func:`output_queue_depth` atoms are in flight (started and not written), so a refusing write port
    fills the queue and then holds the reads.

    Members
    -------
    start : ``In(1)``; command : ``In(command_layout(Eltwise))``; busy : ``Out(1)``
        ``start`` begins a command of at least one atom (an addition of none is not started: the engine
        completes it when it issues it).
    feature_index : ``Out`` (a register); feature_data : ``In(8·atomic_c)``
    wr_req : ``Out(stream.Signature(write_layout))``; wr_ack : ``In(stream.Signature(1))``
    lane_step : ``Out(1)``  (an element enters the arithmetic this cycle)
    fed_all, written_all : ``Out(1)``
    """

    def __init__(self, spec: MacArraySpec):
        self.spec = spec
        atom = 8 * spec.atomic_c
        super().__init__({
            "start": In(1),
            "command": In(command_layout(Eltwise)),
            "busy": Out(1),
            "feature_index": Out(ENTRY_BITS),
            "feature_data": In(atom),
            "wr_req": Out(stream.Signature(write_layout(atom))),
            "wr_ack": In(stream.Signature(1)),
            "lane_step": Out(1),
            "fed_all": Out(1),
            "written_all": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.command
        ac = self.spec.atomic_c

        depth = output_queue_depth(self.spec)
        m.submodules.outputs = outputs = Queue(8 * ac + 1, depth)
        write = self.wr_req.valid & self.wr_req.ready
        wrote = registered(m, 1, "wrote", 1, write)  # a write a cycle ago: a credit returns then
        issue = Signal()  # an atom's reads start
        room = credit_room(m, depth, issue, wrote)

        index = Signal(ENTRY_BITS)
        last_index = Signal(ENTRY_BITS)  # count − 1, registered from the command
        m.d.sync += last_index.eq(c.count - 1)
        a_entry, b_entry = Signal(ENTRY_BITS), Signal(ENTRY_BITS)  # a_entry + index, b_entry + index
        shown = Signal(ENTRY_BITS)  # feature_index: a_entry in READ_A, b_entry in READ_B (a register)
        m.d.comb += self.feature_index.eq(shown)
        lane = Signal(range(ac))
        # The LANES state and its last cycle, as registers of their own, so that the lanes' and the atom's
        # registers are enabled without decoding the state.
        feeding = Signal()
        last_lane = Signal()  # lane == ac − 1 while feeding, registered with lane
        last_atom = Signal()  # index == last_index, registered in READ_A
        a_atom, b_atom = Signal(8 * ac), Signal(8 * ac)  # shifted down a lane per element fed
        fed_all = Signal()
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [index.eq(0), a_entry.eq(c.a_entry), b_entry.eq(c.b_entry), shown.eq(c.a_entry),
                                 fed_all.eq(0)]
                    m.next = "READ_A"
            with m.State("READ_A"):
                m.d.comb += issue.eq(room)
                m.d.sync += last_atom.eq(index == last_index)
                with m.If(room):
                    m.d.sync += shown.eq(b_entry)
                    m.next = "READ_B"
            waits = READ_LATENCY - 2  # after READ_B, until the A atom arrives
            with m.State("READ_B"):
                m.next = "WAIT_0" if waits else "LATCH_A"
            for n in range(waits):
                with m.State(f"WAIT_{n}"):
                    m.next = f"WAIT_{n + 1}" if n + 1 < waits else "LATCH_A"
            with m.State("LATCH_A"):
                m.d.sync += a_atom.eq(self.feature_data)
                m.next = "LATCH_B"
            with m.State("LATCH_B"):
                m.d.sync += [b_atom.eq(self.feature_data), lane.eq(0), last_lane.eq(ac == 1), feeding.eq(1)]
                m.next = "LANES"
            with m.State("LANES"):
                with m.If(last_lane & last_atom):
                    m.next = "IDLE"
                with m.Elif(last_lane):
                    m.next = "READ_A"
        with m.If(feeding):
            m.d.sync += [lane.eq(lane + 1), last_lane.eq(lane == ac - 2),
                         a_atom.eq(a_atom >> 8), b_atom.eq(b_atom >> 8)]
        with m.If(last_lane):
            m.d.sync += [feeding.eq(0), index.eq(index + 1), a_entry.eq(a_entry + 1), b_entry.eq(b_entry + 1),
                         shown.eq(a_entry + 1)]
            with m.If(last_atom):
                m.d.sync += fed_all.eq(1)
        m.d.comb += self.lane_step.eq(feeding)

        # Arithmetic on the lane fed this cycle (the low byte of the shifted atoms).
        a, b = a_atom[:8].as_signed(), b_atom[:8].as_signed()
        final = last_lane & last_atom
        a_in = registered(m, 1, "a_in", signed(9 + ADD_LEFT_SHIFT), (a - c.a_zp) << ADD_LEFT_SHIFT)
        b_in = registered(m, 1, "b_in", signed(9 + ADD_LEFT_SHIFT), (b - c.b_zp) << ADD_LEFT_SHIFT)
        scaled_a = multiply_by_quantized_multiplier(m, 1, "a", a_in, c.a_m0, c.a_shift)
        scaled_b = multiply_by_quantized_multiplier(m, 1, "b", b_in, c.b_m0, c.b_shift)
        total = registered(m, 1, "total", signed(33), scaled_a + scaled_b)
        scaled = multiply_by_quantized_multiplier(m, 1, "sum", total, c.out_m0, c.out_shift)
        out = offset_and_clamp(m, 1, "sum", scaled, c.out_zp, c.lo, c.hi)
        valid, is_last, is_final = feeding, last_lane, final
        for n in range(LANE_STAGES):
            valid = registered(m, 1, f"valid_{n}", 1, valid)
            is_last = registered(m, 1, f"last_{n}", 1, is_last)
            is_final = registered(m, 1, f"final_{n}", 1, is_final)

        # Gather lanes into the output atom; queue it; write it.
        gathered = Signal(8 * ac)
        atom_valid, atom_final = Signal(), Signal()
        written = Signal(ENTRY_BITS)
        written_all = Signal(init=1)  # nothing to write before the first command
        m.d.sync += atom_valid.eq(valid & is_last)
        with m.If(valid):
            m.d.sync += [gathered.eq(Cat(gathered[8:], out)), atom_final.eq(is_final)]
        queued_final = outputs.r_data[0]
        m.d.comb += [
            outputs.w_en.eq(atom_valid),
            outputs.w_data.eq(Cat(atom_final, gathered)),
            self.wr_req.valid.eq(outputs.r_rdy),
            self.wr_req.payload.address.eq(c.out_address + written * ac),
            self.wr_req.payload.data.eq(outputs.r_data[1:]),
            outputs.r_en.eq(self.wr_req.ready),
            self.wr_ack.ready.eq(1),
        ]
        all_acked = acknowledged(m, "writes", ENTRY_BITS + 1, wrote, self.wr_ack.valid)
        with m.If(self.start):
            m.d.sync += [written.eq(0), written_all.eq(0)]
        with m.Elif(write):
            m.d.sync += written.eq(written + 1)
            with m.If(queued_final):
                m.d.sync += written_all.eq(1)
        m.d.comb += [
            self.fed_all.eq(fed_all & ~self.start),
            self.written_all.eq(written_all & ~self.start),
            self.busy.eq(self.start | ~fsm.ongoing("IDLE") | ~(written_all & all_acked)),
        ]
        return m
