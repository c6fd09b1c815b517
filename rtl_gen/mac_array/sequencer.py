"""The convolution sequencer: the order in which input atoms meet weight blocks (NVDLA's CSC)."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.mac_array import PARAM_BLOCKS, Conv
from accel.spec import MacArraySpec

from ..shell import command_layout
from .cbuf import ENTRY_BITS

ADDRESS = signed(ENTRY_BITS + 3)  # feature addresses of padding positions may be negative


def step_layout() -> data.StructLayout:
    """One step of a convolution: which atoms to read and where the step stands in its pixel."""
    return data.StructLayout({
        "param": 1,  # read parameter block ``block`` (no MACs)
        "feature": ENTRY_BITS,
        "inside": 1,  # the feature atom exists; else the pad value is used
        "block": ENTRY_BITS,
        "first": 1,  # first step of an output pixel
        "last": 1,  # last step of an output pixel
        "final": 1,  # last step of the command
    })


class ConvSequencer(wiring.Component):
    """Emits the steps of one ``Conv`` command: its 3 parameter blocks, then for every output pixel
    (row-major) every channel group, kernel row and kernel column (in that nesting), one step each.

    Timing: steps leave through a registered stream, one per cycle while ``steps`` is ready, starting
    the cycle after ``start``; ``busy`` is high from ``start`` until the final step has been accepted.
    Addresses are updated incrementally (adds only, no multiplier on the step path).

    Members
    -------
    start : ``In(1)``
        Begin the command in ``command`` (a one-cycle pulse); ``command`` must stay stable until done.
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

        running = Signal()
        params_left = Signal(range(PARAM_BLOCKS + 1))
        s, r = Signal(range(16)), Signal(range(16))
        g = Signal(16)
        ox, oy = Signal(dim), Signal(dim)
        y0 = Signal(signed(16))  # input row of kernel row 0 for this output row: oy·stride + y_off
        x0 = Signal(signed(16))  # input column of kernel column 0: ox·stride + x_off
        group_base = Signal(ADDRESS)  # fbase + g·cg_stride
        row_offset = Signal(ADDRESS)  # (y0 + r)·in_w
        block = Signal(ENTRY_BITS)
        row_step = Signal(ADDRESS)  # stride·in_w
        rows_back = Signal(ADDRESS)  # (kernel_h − 1)·in_w

        iy, ix = y0 + r, x0 + s
        step = self.steps.payload
        advance = ~self.steps.valid | self.steps.ready
        m.d.comb += self.busy.eq(self.start | running | self.steps.valid)

        with m.If(self.start):
            m.d.sync += [
                running.eq(1), params_left.eq(PARAM_BLOCKS), s.eq(0), r.eq(0), g.eq(0), ox.eq(0), oy.eq(0),
                y0.eq(c.y_off), x0.eq(c.x_off), group_base.eq(c.fbase), row_offset.eq(c.y_off * c.in_w),
                block.eq(c.wbase), row_step.eq(c.stride * c.in_w), rows_back.eq((c.kernel_h - 1) * c.in_w),
            ]
        with m.Elif(advance):
            m.d.sync += self.steps.valid.eq(running)
            with m.If(running & (params_left != 0)):
                m.d.sync += [
                    step.eq(0), step.param.eq(1), step.block.eq(block),
                    block.eq(block + 1), params_left.eq(params_left - 1),
                ]
            with m.Elif(running):
                last_s, last_r, last_g = s == c.kernel_w - 1, r == c.kernel_h - 1, g == c.ncg - 1
                last_x, last_y = ox == c.out_w - 1, oy == c.out_h - 1
                m.d.sync += [
                    step.param.eq(0),
                    step.feature.eq(group_base + row_offset + x0 + s),
                    step.inside.eq((iy >= 0) & (iy < c.in_h) & (ix >= 0) & (ix < c.in_w)),
                    step.block.eq(block),
                    step.first.eq((s == 0) & (r == 0) & (g == 0)),
                    step.last.eq(last_s & last_r & last_g),
                    step.final.eq(last_s & last_r & last_g & last_x & last_y),
                    block.eq(block + 1),
                ]
                with m.If(~last_s):
                    m.d.sync += s.eq(s + 1)
                with m.Elif(~last_r):
                    m.d.sync += [s.eq(0), r.eq(r + 1), row_offset.eq(row_offset + c.in_w)]
                with m.Elif(~last_g):
                    m.d.sync += [s.eq(0), r.eq(0), g.eq(g + 1), group_base.eq(group_base + c.cg_stride),
                                 row_offset.eq(row_offset - rows_back)]
                with m.Else():  # next output pixel
                    m.d.sync += [s.eq(0), r.eq(0), g.eq(0), group_base.eq(c.fbase),
                                 block.eq(c.wbase + PARAM_BLOCKS)]
                    with m.If(~last_x):
                        m.d.sync += [ox.eq(ox + 1), x0.eq(x0 + c.stride),
                                     row_offset.eq(row_offset - rows_back)]
                    with m.Elif(~last_y):
                        m.d.sync += [ox.eq(0), oy.eq(oy + 1), x0.eq(c.x_off), y0.eq(y0 + c.stride),
                                     row_offset.eq(row_offset - rows_back + row_step)]
                    with m.Else():
                        m.d.sync += running.eq(0)
        return m
