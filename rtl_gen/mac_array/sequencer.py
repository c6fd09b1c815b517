"""The convolution sequencer: the order in which input atoms meet weight blocks (NVDLA's CSC)."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.mac_array import PARAM_BLOCKS, PSUM_ATOMS, Conv
from accel.spec import MacArraySpec

from ..shell import command_layout
from .cbuf import ENTRY_BITS

ADDRESS = signed(ENTRY_BITS + 3)  # feature addresses of padding positions may be negative


def step_layout() -> data.StructLayout:
    """One step of a convolution: which atoms to read and where the step stands in its pixel."""
    return data.StructLayout({
        "param": 1,  # read parameter block ``block`` (no MACs)
        "psum": 1,  # read feature atom ``feature``, a pixel's partial sums (no MACs)
        "feature": ENTRY_BITS,
        "inside": 1,  # the feature atom exists; else the pad value is used
        "block": ENTRY_BITS,
        "first": 1,  # first step of an output pixel
        "last": 1,  # last step of an output pixel
        "final": 1,  # last step of the command
    })


class ConvSequencer(wiring.Component):
    """Emits the steps of one ``Conv`` command: its 3 parameter blocks, then for every output pixel
    (row-major) every channel group, kernel row and kernel column (in that nesting), one step each. With
    ``psum_in`` or ``psum_out`` every pixel's steps are preceded by PSUM_ATOMS partial-sum steps, which
    read feature atoms ``psum_entry + PSUM_ATOMS·p`` onwards (the pixel's partial sums with ``psum_in``).

    Timing: two registered stages, advancing together while ``steps`` is ready: the loop
    counters with their partial addresses, then the feature address and the padding check. The first
    (parameter) step is valid 3 cycles after ``start``, then one step per cycle while ``steps`` is
    ready; ``busy`` is high from ``start`` until the final step has been accepted. Addresses are
    updated incrementally (adds only); the few products of command fields are registered in three
    steps from the command (factors, product, a copy) and taken while the parameter steps leave; every
    loop end is a flag registered a step ahead, so no compare, multiply or add chain lies on the step path.
    A partial-sum step holds the loop state (a one-hot phase counts the pixel's partial-sum steps) and
    advances its own address.

    Members
    -------
    start : ``In(1)``
        Begin the command in ``command`` (a one-cycle pulse); ``command`` must be stable from ``start``
        until done.
    command : ``In(command_layout(Conv))``
    busy : ``Out(1)``
    steps : ``Out(stream.Signature(step_layout()))``
    """

    def __init__(self, spec: MacArraySpec):
        self.spec = spec
        super().__init__({
            "start": In(1),
            "command": In(command_layout(Conv)),
            "busy": Out(1),
            "steps": Out(stream.Signature(step_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.command
        dim = range(self.spec.MAX_DIM + 1)

        # Registered from the command: products and loop-end constants. Each product takes three registers:
        # its factors and the product (the multiplier's own input and output registers once packed), then
        # a copy in the fabric, so no route into or out of a multiplier shares a cycle with logic.
        row_start = Signal(ADDRESS)  # y_off·in_w
        row_step = Signal(ADDRESS)  # stride·in_w
        rows_back = Signal(ADDRESS)  # (kernel_h − 1)·in_w
        group_step = Signal(ADDRESS)  # cg_stride − rows_back: the next channel group, kernel row 0
        pixel_block = Signal(ENTRY_BITS)  # wbase + PARAM_BLOCKS: a pixel's first weight block
        loops = {"s": (c.kernel_w, 4), "r": (c.kernel_h, 4), "g": (c.ncg, 16), "x": (c.out_w, dim), "y": (c.out_h, dim)}
        single = {name: Signal(name=f"single_{name}") for name in loops}  # the loop has one iteration
        penultimate = {name: Signal(shape, name=f"penultimate_{name}") for name, (_, shape) in loops.items()}
        factors = Signal(data.StructLayout({"y_off": signed(8), "in_w": len(c.in_w), "stride": len(c.stride),
                                            "rows_back": len(c.kernel_h)}))
        products = Signal(data.StructLayout({"row_start": ADDRESS, "row_step": ADDRESS, "rows_back": ADDRESS}))
        m.d.sync += [
            factors.y_off.eq(c.y_off), factors.in_w.eq(c.in_w), factors.stride.eq(c.stride),
            factors.rows_back.eq(c.kernel_h - 1),
            products.row_start.eq(factors.y_off * factors.in_w), products.row_step.eq(factors.stride * factors.in_w),
            products.rows_back.eq(factors.rows_back * factors.in_w),
            row_start.eq(products.row_start), row_step.eq(products.row_step), rows_back.eq(products.rows_back),
            group_step.eq(c.cg_stride - rows_back), pixel_block.eq(c.wbase + PARAM_BLOCKS),
        ]
        for name, (count, _) in loops.items():
            m.d.sync += [single[name].eq(count == 1), penultimate[name].eq(count - 2)]
        psum_mode = Signal()  # every pixel starts with partial-sum steps
        m.d.sync += psum_mode.eq(c.psum_in | c.psum_out)

        # Stage 1: the loop counters, their last-iteration flags and the partial addresses. The loop state
        # is set up by ``begin`` (three cycles after ``start``, while the parameter steps leave: ``row_start``
        # is valid then, ``group_step`` a cycle later, by the first pixel step); the branch of each step
        # is a one-hot register, updated with the counters, so each register's enable is one gate of
        # ``advance``, ``counting``, ``begin`` and at most two flags. The feature address is kept as two sums,
        # each with one increment that a single flag selects: the pixel's row y0·in_w and the channel group's
        # and kernel row's offset fbase + g·cg_stride + r·in_w.
        running = Signal()
        params_left = Signal(range(PARAM_BLOCKS + 1))
        stepping = Signal()  # running, parameter steps done
        psum_step = Signal()  # with stepping: the step is a partial-sum step
        psum_phase = Signal(PSUM_ATOMS)  # one-hot: which of its pixel's partial-sum steps it is
        psum_address = Signal(ENTRY_BITS)  # psum_entry + PSUM_ATOMS·p + the phase
        counting = Signal()  # stepping & ~psum_step: the step is one of the loops'
        begin = Signal()
        started = Signal(2)  # start, delayed by 1 and 2 cycles
        m.d.sync += [started.eq(Cat(self.start, started[0])), begin.eq(started[1])]
        # Per loop, the iterations left before its last one, counted down, so that a step ends its loop
        # where ``left`` is 0 (a test of one register against a constant); the kernel column and row also
        # count up, as offsets of the position.
        left = {name: Signal(shape, name=f"left_{name}") for name, (_, shape) in loops.items()}
        s, r = Signal(4), Signal(4)
        last = {name: Signal(name=f"last_{name}") for name in ("r", "g", "x", "y")}  # the last iteration
        # What a step does next (one-hot): end its output pixel (the last s, r and g), or count s, or count r
        # (the last s), or count g (the last s and r).
        branch_layout = data.StructLayout({"pixel": 1, "s": 1, "r": 1, "g": 1})
        branch = Signal(branch_layout)

        def branch_after(s_ends, r_ends, g_ends):
            """The branch of a step whose s, r and g are their loops' last iterations as given."""
            return Cat(s_ends & r_ends & g_ends, ~s_ends, s_ends & ~r_ends, s_ends & r_ends & ~g_ends)

        pixel_start = Signal(branch_layout)  # the branch of a pixel's first step
        single_s, single_r = single["s"], single["r"]
        m.d.sync += pixel_start.eq(branch_after(single_s, single_r, single["g"]))
        first = Signal()  # the step is the first of its pixel
        y0 = Signal(signed(16))  # input row of kernel row 0 for this output row: oy·stride + y_off
        x0 = Signal(signed(16))  # input column of kernel column 0: ox·stride + x_off
        pixel_row = Signal(ADDRESS)  # y0·in_w
        kernel_row = Signal(ADDRESS)  # fbase + g·cg_stride + r·in_w
        block = Signal(ENTRY_BITS)

        staged = Signal(data.StructLayout({
            "valid": 1, "param": 1, "psum": 1, "block": ENTRY_BITS, "first": 1, "last": 1, "final": 1,
            "base": ADDRESS,  # pixel_row + kernel_row
            "iy": signed(16), "ix": signed(16),
        }))
        step = self.steps.payload
        advance = self.steps.ready  # also when empty: a register for ``ready`` keeps this path short
        m.d.comb += self.busy.eq(self.start | running | staged.valid | self.steps.valid)

        final = branch.pixel & last["x"] & last["y"]  # with stepping: the command's final step
        with m.If(advance):  # a parameter step until stepping; not valid unless running
            m.d.sync += [
                staged.valid.eq(running), staged.param.eq(~stepping), staged.psum.eq(stepping & psum_step),
                staged.block.eq(block),
                # a partial-sum step's address is psum_address (the selects fold into the adders' LUTs)
                staged.base.eq(Mux(psum_step, psum_address, pixel_row) + Mux(psum_step, 0, kernel_row)),
                staged.iy.eq(y0 + r), staged.ix.eq(Mux(psum_step, 0, x0) + Mux(psum_step, 0, s)),
                staged.first.eq(counting & first), staged.last.eq(counting & branch.pixel),
                staged.final.eq(counting & final),
            ]
        with m.If(self.start):
            m.d.sync += [running.eq(1), stepping.eq(0), counting.eq(0), params_left.eq(PARAM_BLOCKS),
                         block.eq(c.wbase), psum_address.eq(c.psum_entry)]
        with m.Elif(advance & running):
            with m.If(~stepping):
                m.d.sync += [block.eq(block + 1), params_left.eq(params_left - 1), stepping.eq(params_left == 1),
                             counting.eq((params_left == 1) & ~psum_mode)]
            with m.Elif(psum_step):
                m.d.sync += [psum_address.eq(psum_address + 1), counting.eq(psum_phase[-1])]
            with m.Else():
                m.d.sync += block.eq(Mux(branch.pixel, pixel_block, block + 1))
                with m.If(final):
                    m.d.sync += [running.eq(0), stepping.eq(0), counting.eq(0)]
                with m.Elif(branch.pixel):
                    m.d.sync += counting.eq(~psum_mode)

        # Each register below is enabled by ``begin`` or by a loops' step (``advance & counting``, never in
        # the cycle of ``begin``) of the branches that change it, from registers in one gate; its next value
        # selects between the set-up (``~stepping``) and the step's.
        step_now = advance & counting
        ends = {name: left[name] == 0 for name in loops}  # the step ends its loop
        offset = {"s": s, "r": r}

        def counted(name, counting):
            """The next values of loop ``name``'s count, offset and last flag: counted if ``counting`` (a
            step in the loop), else restarted."""
            value = [left[name].eq(Mux(counting, left[name] - 1, penultimate[name]))]
            if name in offset:
                value.append(offset[name].eq(Mux(counting, offset[name] + 1, 0)))
            if name in last:
                value.append(last[name].eq(Mux(counting, ends[name], single[name])))
            return value

        with m.If(begin | step_now):
            m.d.sync += [
                *counted("s", stepping & branch.s),
                first.eq(~stepping | branch.pixel),
                branch.eq(Mux(~stepping | branch.pixel, pixel_start,
                              Mux(branch.s, branch_after(ends["s"], last["r"], last["g"]), 0)
                              | Mux(branch.r, branch_after(single_s, ends["r"], last["g"]), 0)
                              | Mux(branch.g, branch_after(single_s, single_r, ends["g"]), 0))),
            ]
        with m.If(begin | step_now & ~branch.s):  # the next kernel row, channel group or pixel
            m.d.sync += [
                *counted("r", stepping & branch.r),
                kernel_row.eq(Mux(~stepping | branch.pixel, c.fbase,
                                  kernel_row + Mux(branch.r, c.in_w, group_step))),
            ]
        with m.If(begin | step_now & (branch.g | branch.pixel)):  # the next channel group or pixel
            m.d.sync += counted("g", stepping & branch.g)
        with m.If(begin | step_now & branch.pixel):  # its partial-sum steps first
            m.d.sync += [psum_step.eq(psum_mode), psum_phase.eq(1)]
        with m.Elif(advance & stepping & psum_step):
            m.d.sync += [psum_step.eq(~psum_phase[-1]), psum_phase.eq(psum_phase.rotate_left(1))]
        with m.If(begin | step_now & branch.pixel):  # the next pixel
            m.d.sync += [*counted("x", stepping & ~last["x"]),
                         x0.eq(Mux(stepping & ~last["x"], x0 + c.stride, c.x_off))]
        with m.If(begin | step_now & branch.pixel & last["x"]):  # the next row (or past the last, when final)
            m.d.sync += [*counted("y", stepping),
                         y0.eq(Mux(stepping, y0 + c.stride, c.y_off)),
                         pixel_row.eq(Mux(stepping, pixel_row + row_step, row_start))]

        # Stage 2: the feature address and whether the position lies inside the map.
        with m.If(advance):
            m.d.sync += [
                self.steps.valid.eq(staged.valid),
                step.param.eq(staged.param), step.psum.eq(staged.psum), step.block.eq(staged.block), step.first.eq(staged.first),
                step.last.eq(staged.last), step.final.eq(staged.final),
                step.feature.eq(staged.base + staged.ix),
                step.inside.eq((staged.iy >= 0) & (staged.iy < c.in_h) & (staged.ix >= 0) & (staged.ix < c.in_w)),
            ]
        return m
