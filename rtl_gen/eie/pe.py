"""One EIE processing element: activation queue, pointer read unit, sparse-matrix read unit, arithmetic
unit with its accumulators, and the source/destination activation register files (EIE, Section IV)."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.eie import COL
from accel.spec import EieSpec

from .lnzd import leading_one
from ..lib.queue import Queue

INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def one_hot(index, width: int):
    """``width`` bits with only bit ``index`` set."""
    return (Const(1, width) << index)[:width]


def below(count, width: int):
    """``width`` bits with bits 0 … count − 1 set (count <= width): a shifter, no carry chain."""
    return ~(Const(2 ** (width + 1) - 1, width + 1) << count)[:width]


def local_bits(spec: EieSpec) -> int:
    return (spec.act_regs - 1).bit_length()


def index_bits(spec: EieSpec) -> int:
    """Bits of a pointer index (0 … ptr_entries − 1)."""
    return (spec.ptr_entries - 1).bit_length()


class ProcessingElement(wiring.Component):
    """PE ``index`` of the array: it owns output rows i with i mod n_pe == index.

    Pipeline, one entry per cycle: the activation queue (``queue_depth`` (value, pointer index) items);
    **A** pops the head and reads p_j and p_j+1 in one cycle from the even and odd pointer banks; **B**
    walks the entries p_j … p_j+1 − 1, one per cycle (one cycle for a column without entries), reading a
    64-bit sparse-matrix line only when the entry's line differs from the last line read; **C** registers
    the line; **C2** picks the entry's byte; **C3** accumulates the relative row index into an absolute one
    and looks the 4-bit index up in the codebook; **D** registers the weight; **D2** multiplies the 16-bit
    weight by the 16-bit activation (its operand and product registers are the multiplier's own) and reads
    the accumulator; **E** adds and writes it back, taking the sum of the previous
    cycle instead of the read value when both cycles address the same accumulator (read-after-write
    bypass). Padding entries (index 0) write nothing.

    The two activation register files swap roles with ``source_sel``. Each keeps a non-zero flag per entry;
    at ``start`` the PE's *pending* bits become the source's non-zero flags of elements in [col_lo, col_hi),
    the first of them (:func:`leading_one`) moving into the candidate register: this PE's LNZD leaf.
    ``take`` consumes the candidate and moves the next pending one into the candidate register;
    ``candidate_read`` reads the candidate from the source file (``source_data`` the cycle after).
    Write-back: ``wb_read`` reads accumulator ``wb_row``; the cycle after, the rounded, saturated (ReLU'd)
    value goes to the destination file.

    Members
    -------
    source_sel : ``In(1)``
        Which register file is the source.
    range_we : ``In(1)``; col_lo, col_hi : ``In(19)``
        A Compute is accepted: register which local elements lie in [col_lo, col_hi) (used at ``start``).
    start, clear_acc : ``In(1)``
        The Compute begins (the cycle after ``range_we``): load the pending bits, forget the line buffer,
        clear the accumulators (first).
    candidate_valid : ``Out(1)``; candidate : ``Out(local_bits)``; take : ``In(1)``
        The LNZD leaf.
    candidate_read : ``In(1)``
        Read the candidate's value from the source file (unless ``storing``).
    push, push_value, push_ptr : ``In``; queue_ready : ``Out(1)``
        The broadcast into the activation queue.
    storing : ``In(1)``; store_read : ``In(1)``; store_local : ``In(local_bits)``; source_data : ``Out(16)``
        Source-file reads (for ``candidate_read``, and for stores: while ``storing`` the address is
        ``store_local``); data the cycle after, held otherwise.
    act_we, act_local, act_data : ``In``
        Write an element of the source file.
    ptr_we : ``In(2)``; ptr_addr : ``In(ArrayLayout(bank_bits, 2))``; ptr_data : ``In(ArrayLayout(16, 2))``
        Write the even (0) and odd (1) pointer banks.
    line_we, line_addr, line_data : ``In``
        Write a sparse-matrix line.
    codebook : ``In(ArrayLayout(16, 16))``
    wb_read : ``In(1)``; wb_row : ``In(local_bits)``; relu : ``In(1)``
        Write-back.
    busy : ``Out(1)``
        Anything in the queue or the pipeline.
    issue, padding, line_read, pop : ``Out(1)``
        Events for the counters: an entry enters C, a padding entry is in C3, a line is read, a pop.
    """

    def __init__(self, spec: EieSpec, index: int):
        self.spec, self.index = spec, index
        lb = local_bits(spec)
        bank_bits = max(1, index_bits(spec) - 1)
        super().__init__({
            "source_sel": In(1),
            "range_we": In(1), "col_lo": In(COL), "col_hi": In(COL), "start": In(1), "clear_acc": In(1),
            "candidate_valid": Out(1), "candidate": Out(lb), "take": In(1), "candidate_read": In(1),
            "push": In(1), "push_value": In(16), "push_ptr": In(index_bits(spec)), "queue_ready": Out(1),
            "storing": In(1), "store_read": In(1), "store_local": In(lb), "source_data": Out(16),
            "act_we": In(1), "act_local": In(lb), "act_data": In(16),
            "ptr_we": In(2), "ptr_addr": In(data.ArrayLayout(bank_bits, 2)), "ptr_data": In(data.ArrayLayout(16, 2)),
            "line_we": In(1), "line_addr": In(range(spec.spmat_lines)), "line_data": In(64),
            "codebook": In(data.ArrayLayout(16, spec.CODEBOOK_ENTRIES)),
            "wb_read": In(1), "wb_row": In(lb), "relu": In(1),
            "busy": Out(1), "issue": Out(1), "padding": Out(1), "line_read": Out(1), "pop": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec, p = self.spec, self.index
        n, regs = spec.n_pe, spec.act_regs
        lb, pe_bits = local_bits(spec), (n - 1).bit_length()
        ptr_width = spec.ptr_width

        # Activation register files, their non-zero flags, and the pending bits of the LNZD leaf.
        files = [memory.Memory(shape=16, depth=regs, init=[]) for _ in range(2)]
        nonzero = [Signal(regs, name=f"nonzero{f}") for f in range(2)]  # flag vectors: shifts, not decoders
        pending = Signal(regs)
        candidate_valid, candidate = Signal(), Signal(lb)
        wb_valid, wb_row = Signal(), Signal(lb)
        wb_value, wb_nonzero = Signal(signed(16)), Signal()
        # The flags follow the files' writes a cycle later (a Compute starts two or more cycles after the
        # last load or write-back), so the written value's zero test does not fan out to them.
        write_row = Mux(wb_valid, wb_row, self.act_local)  # selected by a register: loads and write-backs
        write_value = Mux(wb_valid, wb_value, self.act_data)  # never overlap
        flag_row, flag_set = Signal(lb), Signal()
        m.d.sync += [flag_row.eq(write_row), flag_set.eq(Mux(wb_valid, wb_nonzero, self.act_data != 0))]
        flag_bit = one_hot(flag_row, regs)
        reads = []
        for f, file in enumerate(files):
            m.submodules[f"file{f}"] = file
            read, write = file.read_port(), file.write_port()
            is_source = self.source_sel == f
            source_write = self.act_we & is_source
            dest_write = wb_valid & ~is_source
            m.d.comb += [
                read.addr.eq(Mux(self.storing, self.store_local, candidate)),
                read.en.eq(is_source & Mux(self.storing, self.store_read, self.candidate_read)),
                write.en.eq(source_write | dest_write),
                write.addr.eq(write_row), write.data.eq(write_value),
            ]
            flag_we = Signal(name=f"flag_we{f}")
            m.d.sync += flag_we.eq(write.en)
            with m.If(flag_we):
                m.d.sync += nonzero[f].eq((nonzero[f] & ~flag_bit) | Mux(flag_set, flag_bit, 0))
            reads.append(read)
        m.d.comb += self.source_data.eq(Mux(self.source_sel, reads[1].data, reads[0].data))

        source_nonzero = Mux(self.source_sel, nonzero[1], nonzero[0])
        # Local indices l with col_lo <= l·N + p < col_hi: first_local <= l < end_local.
        first_local = ((self.col_lo + (n - 1 - p)) >> pe_bits)[:lb + 1]
        end_local = ((self.col_hi + (n - 1 - p)) >> pe_bits)[:lb + 1]
        in_range = Signal(regs)  # registered a cycle before start: the range's shifters stay off the start path
        with m.If(self.range_we):
            m.d.sync += in_range.eq(~below(first_local, regs) & below(end_local, regs))
        # The candidate is registered and no longer pending, so the broadcast's loop (candidates → LNZD
        # tree → take → next candidate) does not pass through the leading-one detector.
        m.d.comb += [self.candidate_valid.eq(candidate_valid), self.candidate.eq(candidate)]
        # ``take`` only steers the candidate register: the pending bits drop the element that moved into the
        # candidate one cycle later (``lag``). That element is the candidate itself, kept one-hot in
        # ``taken``, so the drop is an AND with a register, and meanwhile the search skips it.
        lag, taken = Signal(), Signal(regs)
        search = Signal(regs)
        m.d.comb += search.eq(pending & ~Mux(lag, taken, 0))
        search_any, search_first = leading_one(search)
        in_source = Signal(regs)
        m.d.comb += in_source.eq(source_nonzero & in_range)
        start_any, start_first = leading_one(in_source)
        # ``take`` (never with ``start``: the previous Compute ended with every candidate consumed) only
        # enables registers whose next values are ready without it, so it meets no logic in the PE.
        with m.If(self.start):
            m.d.sync += pending.eq(in_source & (in_source - 1))
        with m.Elif(lag):
            m.d.sync += pending.eq(pending & ~taken)
        with m.If(self.start | self.take):
            m.d.sync += [candidate_valid.eq(Mux(self.start, start_any, search_any)),
                         candidate.eq(Mux(self.start, start_first, search_first))]
        with m.If(self.take):
            m.d.sync += taken.eq(search & (~search + 1))  # the lowest set bit alone
        m.d.sync += lag.eq(self.take)

        # Activation queue: (value, pointer index).
        m.submodules.queue = queue = Queue(16 + len(self.push_ptr), spec.queue_depth)
        m.d.comb += [queue.w_en.eq(self.push), queue.w_data.eq(Cat(self.push_value, self.push_ptr)),
                     self.queue_ready.eq(queue.w_rdy)]
        head_value, head_ptr = queue.r_data[:16], queue.r_data[16:]

        # A: pointer read unit — even bank holds p_2k, odd bank p_2k+1.
        banks = [memory.Memory(shape=ptr_width, depth=max(1, spec.ptr_entries // 2), init=[]) for _ in range(2)]
        bank_reads = []
        for b, bank in enumerate(banks):
            m.submodules[f"ptr_bank{b}"] = bank
            read, write = bank.read_port(), bank.write_port()
            m.d.comb += [write.en.eq(self.ptr_we[b]), write.addr.eq(self.ptr_addr[b]),
                         write.data.eq(self.ptr_data[b][:ptr_width])]
            bank_reads.append(read)
        a_valid, a_value, a_odd = Signal(), Signal(16), Signal()
        b_valid, b_entry, b_end, b_value, b_new = Signal(), Signal(ptr_width), Signal(ptr_width), Signal(16), Signal()
        issue = b_valid & (b_entry < b_end)
        b_last = b_valid & (b_entry + 1 >= b_end)
        a_to_b = a_valid & (~b_valid | b_last)
        pop = queue.r_rdy & (~a_valid | a_to_b)
        m.d.comb += [
            queue.r_en.eq(pop),
            bank_reads[0].addr.eq((head_ptr + 1) >> 1), bank_reads[1].addr.eq(head_ptr >> 1),
            bank_reads[0].en.eq(pop), bank_reads[1].en.eq(pop),
            self.pop.eq(pop),
        ]
        with m.If(pop):
            m.d.sync += [a_valid.eq(1), a_value.eq(head_value), a_odd.eq(head_ptr[0])]
        with m.Elif(a_to_b):
            m.d.sync += a_valid.eq(0)
        start_ptr = Mux(a_odd, bank_reads[1].data, bank_reads[0].data)
        end_ptr = Mux(a_odd, bank_reads[0].data, bank_reads[1].data)

        # B: sparse-matrix read unit.
        with m.If(a_to_b):
            m.d.sync += [b_valid.eq(1), b_entry.eq(start_ptr), b_end.eq(end_ptr), b_value.eq(a_value), b_new.eq(1)]
        with m.Elif(b_last):
            m.d.sync += b_valid.eq(0)
        with m.Elif(b_valid):
            m.d.sync += [b_entry.eq(b_entry + 1), b_new.eq(0)]
        m.submodules.spmat = spmat = memory.Memory(shape=64, depth=spec.spmat_lines, init=[])
        line_read, line_write = spmat.read_port(), spmat.write_port()
        line = b_entry >> 3
        held_line, line_valid = Signal.like(line), Signal()
        read_line = issue & (~line_valid | (line != held_line))
        m.d.comb += [
            line_write.en.eq(self.line_we), line_write.addr.eq(self.line_addr), line_write.data.eq(self.line_data),
            line_read.addr.eq(line), line_read.en.eq(read_line),
            self.issue.eq(issue), self.line_read.eq(read_line),
        ]
        with m.If(self.start):
            m.d.sync += line_valid.eq(0)
        with m.Elif(read_line):
            m.d.sync += [line_valid.eq(1), held_line.eq(line)]

        # C: the line read arrives and is registered (the SRAM's slow output meets no logic); C2: entry
        # select; C3: address accumulation, codebook lookup.
        c1_valid, c_offset, c_new, c_value = Signal(), Signal(3), Signal(), Signal(16)
        m.d.sync += [c1_valid.eq(issue), c_offset.eq(b_entry[:3]), c_new.eq(b_new), c_value.eq(b_value)]
        c2_valid, c2_new, c2_value, c2_offset, c2_line = Signal(), Signal(), Signal(16), Signal(3), Signal(64)
        m.d.sync += [c2_valid.eq(c1_valid), c2_new.eq(c_new), c2_value.eq(c_value), c2_offset.eq(c_offset),
                     c2_line.eq(line_read.data)]
        c_valid, c_new, c_value, entry = Signal(), Signal(), Signal(16), Signal(8)
        m.d.sync += [c_valid.eq(c2_valid), c_new.eq(c2_new), c_value.eq(c2_value),
                     entry.eq(Array(c2_line[8 * k:8 * k + 8] for k in range(8))[c2_offset])]
        v, z = entry[:4], entry[4:]
        previous_row = Signal(lb)
        row = (Mux(c_new, 0, previous_row + 1) + z)[:lb]
        with m.If(c_valid):
            m.d.sync += previous_row.eq(row)
        weight = Array([Const(0, 16), *list(self.codebook)[1:]])[v]  # entry 0 is zero whatever was loaded
        m.d.comb += self.padding.eq(c_valid & (v == 0))

        # D: the codebook's weight registered. D2: the multiplier's operands, registered once more so that
        # both sit in front of the multiplier with nothing between (rtl_gen.dsp_registers packs them into
        # its input registers: an operand register fed by the codebook's multiplexer is not packed, and a
        # multiplier with one input register is timed as if it had none); read the accumulator.
        d_valid, d_write, d_row = Signal(), Signal(), Signal(lb)
        d_weight, d_value = Signal(signed(16)), Signal(signed(16))
        m.d.sync += [d_valid.eq(c_valid), d_write.eq(c_valid & (v != 0)), d_row.eq(row),
                     d_weight.eq(weight), d_value.eq(c_value)]
        d2_valid, d2_write, d2_row = Signal(), Signal(), Signal(lb)
        d2_weight, d2_value = Signal(signed(16)), Signal(signed(16))
        m.d.sync += [d2_valid.eq(d_valid), d2_write.eq(d_write), d2_row.eq(d_row),
                     d2_weight.eq(d_weight), d2_value.eq(d_value)]
        acc_width = spec.acc_width
        m.submodules.acc = acc = memory.Memory(shape=signed(acc_width), depth=regs, init=[])
        acc_read, acc_write = acc.read_port(), acc.write_port()
        acc_valid = Signal(regs)  # accumulators written since the Compute with ``first``
        m.d.comb += [acc_read.addr.eq(Mux(self.wb_read, self.wb_row, d2_row)), acc_read.en.eq(1)]

        # E: add (with the read-after-write bypass) and write.
        e_valid, e_write, e_row, e_known = Signal(), Signal(), Signal(lb), Signal()
        e_product = Signal(signed(32))
        # The bypass is decided a stage early: the entry in D2 follows a write to its row now in E. Both tests
        # read the row from held_row (D's last entry's row: equal to d2_row while D2 holds an entry), not
        # from the accumulator address register with its fanout.
        e_bypass, last_sum, held_row = Signal(), Signal(signed(acc_width)), Signal(lb)
        with m.If(d_valid):
            m.d.sync += held_row.eq(d_row)
        m.d.sync += [e_valid.eq(d2_valid), e_write.eq(d2_write), e_row.eq(d2_row),
                     e_product.eq(d2_weight * d2_value),
                     e_known.eq((acc_valid >> held_row)[0]),
                     e_bypass.eq(e_valid & e_write & (e_row == held_row))]
        old = Mux(e_bypass, last_sum, Mux(e_known, acc_read.data, 0))
        total = Signal(signed(acc_width))
        m.d.comb += [total.eq(old + e_product),
                     acc_write.en.eq(e_valid & e_write), acc_write.addr.eq(e_row), acc_write.data.eq(total)]
        m.d.sync += last_sum.eq(total)
        with m.If(self.clear_acc):
            m.d.sync += acc_valid.eq(0)
        with m.Elif(acc_write.en):
            m.d.sync += acc_valid.eq(acc_valid | one_hot(e_row, regs))

        # Write-back, two stages after the read: round to nearest (ties up); saturate to int16, ReLU, and
        # write the destination file. Stage 1 compares the unrounded sum against constants (in parallel with
        # the rounding add) so stage 2 only selects: rounded > INT16_MAX ⇔ value + half >= (INT16_MAX + 1)·2^f.
        wb1_valid, wb1_row, wb1_known = Signal(), Signal(lb), Signal()
        m.d.sync += [wb1_valid.eq(self.wb_read), wb1_row.eq(self.wb_row), wb1_known.eq((acc_valid >> self.wb_row)[0])]
        value = Mux(wb1_known, acc_read.data, 0)
        frac = spec.weight_frac
        half = (1 << frac) >> 1
        over, under, negative, zero = Signal(), Signal(), Signal(), Signal()
        rounded = Signal(signed(16))
        m.d.sync += [
            rounded.eq((value + half) >> frac), wb_valid.eq(wb1_valid), wb_row.eq(wb1_row),
            over.eq(value >= ((INT16_MAX + 1) << frac) - half), under.eq(value < (INT16_MIN << frac) - half),
            negative.eq(value < -half), zero.eq((value >= -half) & (value < (1 << frac) - half)),
        ]
        clear = self.relu & negative
        m.d.comb += [wb_value.eq(Mux(clear, 0, Mux(over, INT16_MAX, Mux(under, INT16_MIN, rounded)))),
                     wb_nonzero.eq(~zero & ~clear)]

        m.d.comb += self.busy.eq(queue.r_rdy | a_valid | b_valid | c1_valid | c2_valid | c_valid | d_valid | d2_valid
                                  | e_valid)
        return m
