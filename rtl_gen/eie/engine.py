"""The eie engine: command decode, DMA routing into the PEs, the broadcast, the PE array, counters."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import wiring

from accel.isa.eie import (COUNTERS, Compute, LoadActs, LoadCodebook, LoadMatrix, LoadPointers, StoreActs, act_pace,
                           pointer_pace)
from accel.program import command_width
from accel.spec import EieSpec

from ..lib.counters import count_events
from ..shell import command_layout, decode, shell_members
from .broadcast import Broadcast
from .dma import SLOTS, LoadUnit, StoreUnit
from .pe import ProcessingElement, local_bits

TARGETS = ("codebook", "pointers", "matrix", "acts")


def popcount(bits: list):
    """The number of set bits among ``bits``, as a balanced adder tree."""
    terms = list(bits)
    if not terms:
        return 0
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


class Eie(wiring.Component):
    """An EIE engine behind the engine shell (:mod:`rtl_gen.shell`).

    Commands execute one at a time: the command port is ready only when the engine is idle. A load runs
    from the cycle after its acceptance until its last chunk, registered once after the load unit, is
    written into the PEs; a store until its last write is acknowledged; a Compute until the cycle after the
    broadcast and every PE are drained, then (with ``last``) it writes back one local row per cycle in every
    PE (two more cycles for the last: rounding, then saturation and the write) and swaps the register
    files. Counter increments are registered, so the counters lag the events by a cycle. The element
    routing of loads: pointer element e goes to PE e mod N as pointer ``index + e div N`` (bank = its
    parity), line beat b to PE b mod N as line ``line + b div N``, activation e to PE e mod N at local
    index e div N.
    """

    def __init__(self, spec: EieSpec):
        self.spec = spec
        super().__init__(shell_members(command_width("eie"), spec.port_bits, len(COUNTERS)))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        n = spec.n_pe
        pe_bits = (n - 1).bit_length()
        pes = []
        for p in range(n):
            pe = ProcessingElement(spec, p)
            m.submodules[f"pe{p}"] = pe
            pes.append(pe)
        m.submodules.broadcast = broadcast = Broadcast(spec)
        m.submodules.load = load = LoadUnit()
        m.submodules.store = store = StoreUnit(n, spec.act_regs)
        wiring.connect(m, wiring.flipped(self.rd_req), load.rd_req)
        wiring.connect(m, wiring.flipped(self.rd_data), load.rd_data)
        wiring.connect(m, wiring.flipped(self.wr_req), store.wr_req)
        wiring.connect(m, wiring.flipped(self.wr_ack), store.wr_ack)

        source_sel = Signal()
        codebook = [Signal(16, name=f"codebook{i}") for i in range(spec.CODEBOOK_ENTRIES)]
        target = Signal(range(len(TARGETS)))
        load_index, load_line, load_count = Signal(17), Signal(13), Signal(19)
        rows, last, relu = Signal(range(spec.act_regs + 1)), Signal(), Signal()
        wb_row = Signal(range(spec.act_regs + 2))
        wb_reading = Signal()  # registered wb_row < rows: the accumulator read address is selected by a register

        word = self.cmd.payload
        opcode = word[:4]
        accept = self.cmd.valid & self.cmd.ready
        compute = decode(Compute, word)
        starting = accept & (opcode == Compute.opcode)
        # The broadcast and the PEs start from a register of the accepted Compute (the cycle after).
        start = Signal()
        accepted = Signal(command_layout(Compute))
        m.d.sync += start.eq(starting)
        with m.If(starting):
            m.d.sync += accepted.eq(word[:len(accepted.as_value())])
        m.d.comb += [
            broadcast.start.eq(start), broadcast.bias.eq(accepted.bias), broadcast.col_lo.eq(accepted.col_lo),
            broadcast.col_hi.eq(accepted.col_hi), broadcast.ptr_base.eq(accepted.ptr_base),
        ]
        pes_busy = Signal()
        chunk, chunk_data = Signal(), Signal.like(load.data)  # the load unit's chunk, registered
        chunk_beat, chunk_phase = Signal.like(load.beat), Signal.like(load.phase)
        m.d.comb += pes_busy.eq(Cat(pe.busy for pe in pes).any())
        # Whether the broadcast and every PE were idle in the previous cycle: the wide OR over the array is
        # registered before the state machine's decision (a Compute ends a cycle after all went idle).
        all_idle = Signal()
        m.d.sync += all_idle.eq(~start & ~broadcast.busy & ~pes_busy)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                loads = {
                    LoadCodebook: ("codebook", 1),
                    LoadPointers: ("pointers", pointer_pace(n)),
                    LoadMatrix: ("matrix", 1),
                    LoadActs: ("acts", act_pace(n)),
                }
                for op, (name, pace) in loads.items():
                    fields = decode(op, word)
                    with m.If(accept & (opcode == op.opcode)):
                        beats = spec.CODEBOOK_ENTRIES // SLOTS
                        if op is LoadPointers:
                            beats = ((fields.count << pe_bits) + 3) >> 2
                            m.d.sync += [load_index.eq(fields.index), load_count.eq(fields.count)]
                        elif op is LoadMatrix:
                            beats = fields.count << pe_bits
                            m.d.sync += load_line.eq(fields.line)
                        elif op is LoadActs:
                            beats = (fields.count + 3) >> 2
                            m.d.sync += load_count.eq(fields.count)
                        m.d.comb += [load.start.eq(1), load.address.eq(fields.address), load.beats.eq(beats),
                                     load.pace.eq(pace)]
                        m.d.sync += target.eq(TARGETS.index(name))
                        m.next = "LOAD"
                with m.If(starting):
                    m.d.sync += [rows.eq(compute.rows), last.eq(compute.last), relu.eq(compute.relu)]
                    m.next = "COMPUTE"
                with m.If(accept & (opcode == StoreActs.opcode)):
                    fields = decode(StoreActs, word)
                    m.d.comb += [store.start.eq(1), store.address.eq(fields.address),
                                 store.beats.eq((fields.count + 3) >> 2), store.count.eq(fields.count)]
                    m.next = "STORE"
            with m.State("LOAD"):
                with m.If(~load.busy & ~chunk):
                    m.next = "IDLE"
            with m.State("STORE"):
                with m.If(~store.busy):
                    m.next = "IDLE"
            with m.State("COMPUTE"):
                with m.If(~start & all_idle):
                    m.d.sync += wb_row.eq(0)
                    with m.If(last):
                        m.d.sync += wb_reading.eq(rows != 0)
                        m.next = "WRITEBACK"
                    with m.Else():
                        m.next = "IDLE"
            with m.State("WRITEBACK"):  # rows reads, then two cycles until the last write
                with m.If(wb_row == rows + 1):
                    m.d.sync += source_sel.eq(~source_sel)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [wb_row.eq(wb_row + 1), wb_reading.eq(wb_row + 1 < rows)]
        loading, storing = fsm.ongoing("LOAD"), fsm.ongoing("STORE")
        computing, writing_back = fsm.ongoing("COMPUTE"), fsm.ongoing("WRITEBACK")
        m.d.comb += self.busy.eq(loading | storing | computing | writing_back)

        # Load routing, from a register after the load unit (the cycle after a chunk arrives).
        m.d.sync += [chunk.eq(load.chunk_valid & loading), chunk_data.eq(load.data), chunk_beat.eq(load.beat),
                     chunk_phase.eq(load.phase)]
        act_lanes = SLOTS // act_pace(n)
        in_count = Signal(act_lanes)  # activation lane s of the chunk is below the load's count
        for lane in range(act_lanes):
            element = (load.beat << 2) | (load.phase * act_lanes + lane)
            m.d.sync += in_count[lane].eq(element < load_count)
        slots = [chunk_data[16 * q:16 * q + 16] for q in range(SLOTS)]
        with m.If(chunk & (target == TARGETS.index("codebook"))):
            for i, entry in enumerate(codebook):
                with m.If(chunk_beat[:2] == i // SLOTS):
                    m.d.sync += entry.eq(slots[i % SLOTS])

        def slot_at(pace, lanes, lane):
            """The 16-bit element of the current chunk's lane ``lane``."""
            if pace == 1:
                return slots[lane]
            return Array(slots)[chunk_phase * lanes + lane]

        def lanes_of(pace):
            return SLOTS // pace

        def element_base(pace):
            return (chunk_beat << 2) | (chunk_phase * lanes_of(pace))

        ptr_lanes = lanes_of(pointer_pace(n))
        ptr_base_element = element_base(pointer_pace(n))
        act_base_element = element_base(act_pace(n))
        lb = local_bits(spec)
        for p, pe in enumerate(pes):
            m.d.comb += [
                pe.source_sel.eq(source_sel), pe.codebook.eq(Cat(*codebook)),
                pe.start.eq(start), pe.clear_acc.eq(start & accepted.first),
                pe.range_we.eq(starting), pe.col_lo.eq(compute.col_lo), pe.col_hi.eq(compute.col_hi),
                pe.take.eq(broadcast.take[p]), pe.candidate_read.eq(broadcast.read),
                pe.push.eq(broadcast.push), pe.push_value.eq(broadcast.value), pe.push_ptr.eq(broadcast.ptr),
                pe.storing.eq(storing), pe.store_read.eq(store.read_en), pe.store_local.eq(store.read_local),
                pe.wb_read.eq(wb_reading), pe.wb_row.eq(wb_row[:lb]), pe.relu.eq(relu),
                broadcast.candidate_valid[p].eq(pe.candidate_valid), broadcast.candidate[p].eq(pe.candidate),
                broadcast.source_data[p].eq(pe.source_data), broadcast.queue_ready[p].eq(pe.queue_ready),
                store.read_data[p].eq(pe.source_data),
            ]
            # Sparse-matrix lines: beat b → PE b mod N, line + b div N.
            m.d.comb += [
                pe.line_we.eq(chunk & (target == TARGETS.index("matrix")) & (chunk_beat[:pe_bits] == p if n > 1 else 1)),
                pe.line_addr.eq(load_line + (chunk_beat >> pe_bits)),
                pe.line_data.eq(chunk_data),
            ]
            # Pointers: element e → PE e mod N, pointer index + e div N, bank = its parity.
            to_pointers = chunk & (target == TARGETS.index("pointers"))
            first_index = load_index + (ptr_base_element >> pe_bits)
            if ptr_lanes <= n:  # at most one lane for this PE: lane p mod lanes
                lane = p % ptr_lanes
                lane_bits = (ptr_lanes - 1).bit_length()
                hit = ((ptr_base_element[:pe_bits] >> lane_bits) == (p >> lane_bits)) if n > ptr_lanes else 1
                value = slot_at(pointer_pace(n), ptr_lanes, lane)
                for b in range(2):
                    m.d.comb += [pe.ptr_we[b].eq(to_pointers & hit & (first_index[0] == b)),
                                 pe.ptr_addr[b].eq(first_index >> 1), pe.ptr_data[b].eq(value)]
            else:  # N < lanes: lanes p and p + N, pointers first_index and first_index + 1 (one per bank)
                first, second = slot_at(pointer_pace(n), ptr_lanes, p), slot_at(pointer_pace(n), ptr_lanes, p + n)
                offset = ptr_base_element >> pe_bits  # of the first: the last beat may hold one past count
                for b in range(2):
                    mine = first_index[0] == b
                    m.d.comb += [pe.ptr_we[b].eq(to_pointers & Mux(mine, offset < load_count, offset + 1 < load_count)),
                                 pe.ptr_addr[b].eq(Mux(mine, first_index, first_index + 1) >> 1),
                                 pe.ptr_data[b].eq(Mux(mine, first, second))]
            # Activations: element e → PE e mod N at local e div N (one lane per PE).
            to_acts = chunk & (target == TARGETS.index("acts"))
            lane = p % act_lanes
            lane_bits = (act_lanes - 1).bit_length()
            hit = ((act_base_element[:pe_bits] >> lane_bits) == (p >> lane_bits)) if n > act_lanes else 1
            value = slot_at(act_pace(n), act_lanes, lane)
            m.d.comb += [pe.act_we.eq(to_acts & hit & in_count[lane]),
                         pe.act_local.eq(act_base_element >> pe_bits), pe.act_data.eq(value)]

        # Counters: each working cycle in exactly one class (see accel.isa.eie.COUNTERS).
        counts = dict(zip(COUNTERS, self.counters))
        issued = popcount([pe.issue for pe in pes])
        events = {
            "commands": accept,
            "memory_cycles": loading | storing,
            "compute_cycles": computing,
            "writeback_cycles": writing_back,
            "cycles": accept | loading | storing | computing | writing_back,
            "pe_busy": issued,
            "pe_idle": Mux(computing, n - issued, 0),
            "padding_entries": popcount([pe.padding for pe in pes]),
            "queue_full_stalls": broadcast.stall,
            "broadcasts": broadcast.push,
            "ptr_reads": popcount([pe.pop for pe in pes]) << 1,
            "spmat_reads": popcount([pe.line_read for pe in pes]),
            "bytes_read": (self.rd_data.valid & self.rd_data.ready) * spec.beat_bytes,
            "bytes_written": (self.wr_req.valid & self.wr_req.ready) * spec.beat_bytes,
        }
        count_events(m, counts, events, most=2 * n + spec.beat_bytes)
        return m
