"""The sliding-window unit: the steps of an Mvtu command — which input word, weight entry and threshold
entry each cycle reads, and where the step stands in its window position, pool window and command."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.xnor import ENTRY, Mvtu

from ..shell import command_layout

ADDRESS = signed(ENTRY + 3)  # input-word addresses of padding positions may be negative
COORD = signed(13)  # rows and columns, from −pad to (out·pool + pool)·stride + kernel


def step_layout() -> data.StructLayout:
    """One step: the memory addresses it reads and its position flags."""
    return data.StructLayout({
        "input": ENTRY,  # input-buffer word (the pad pixel's outside the map)
        "weight": ENTRY,  # weight-memory entry
        "threshold": ENTRY,  # threshold-memory entry
        "first": 1,  # first step of a pool-window position: the accumulator restarts
        "plane_first": 1,  # first step of a plane: the accumulator doubles (Horner)
        "last": 1,  # last step of a window position: threshold it
        "pool_first": 1,  # the position is the first of its pool window
        "pool_last": 1,  # ... the last: the pooled output chunk is complete
        "final": 1,  # last step of the command
    })


class WindowUnit(wiring.Component):
    """Emits the steps of one ``Mvtu`` command in its loop order (see :class:`accel.isa.xnor.Mvtu`):
    output row, output column, neuron fold, pool row, pool column, plane, kernel row, kernel column, channel
    fold — one step per innermost iteration.

    Addresses are kept incrementally, one base register per loop level (adds only, no multiplier on the
    step path); a step outside the stored map reads the pad pixel instead.

    Timing: steps leave through a registered stream, one per cycle while ``steps`` is ready, starting the
    cycle after ``start``; ``busy`` is high from ``start`` until the final step has been accepted.

    Members
    -------
    start : ``In(1)``
        Begin the command in ``command`` (a one-cycle pulse); ``command`` stays stable until done.
    command : ``In(command_layout(Mvtu))``
    busy : ``Out(1)``
    steps : ``Out(stream.Signature(step_layout()))``
    """

    def __init__(self):
        super().__init__({
            "start": In(1),
            "command": In(command_layout(Mvtu)),
            "busy": Out(1),
            "steps": Out(stream.Signature(step_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.command

        running = Signal()
        counts = {"py": c.out_h, "px": c.out_w, "n": c.nf, "qy": c.pool, "qx": c.pool, "j": c.planes,
                  "r": c.kernel, "s": c.kernel, "f": c.cf}
        loops = {name: Signal(len(count), name=name) for name, count in counts.items()}
        # Whether each loop index is 0 and whether it is the last, as registers kept beside the counters, so
        # no comparison sits on the step path: a loop that counts up is last if it was at its last index but
        # one (registered from the stable command, valid from the cycle after ``start``, when the first step
        # is formed), and a loop that starts over is last if it has one iteration.
        zero = {name: Signal(name=f"{name}_zero") for name in counts}
        last = {name: Signal(name=f"{name}_last") for name in counts}
        penultimate = {name: Signal(len(count), name=f"{name}_penultimate") for name, count in counts.items()}
        m.d.sync += [penultimate[name].eq(count - 2) for name, count in counts.items()]

        def start_over(name: str):
            return [loops[name].eq(0), zero[name].eq(1), last[name].eq(counts[name] == 1)]

        def count_up(name: str):
            return [loops[name].eq(loops[name] + 1), zero[name].eq(0),
                    last[name].eq(loops[name] == penultimate[name])]

        # Input-word address bases, one per level (the address at the start of that level's iteration).
        a_py, a_px, a_qy, a_qx, a_j, a_r, a_s, a = (Signal(ADDRESS, name=f"a_{n}") for n in
                                                    ("py", "px", "qy", "qx", "j", "r", "s", "f"))
        # Coordinates of the window position (row y_*, column x_*) and of the step.
        y_p, y_q, y, x_p, x_q, x = (Signal(COORD, name=n) for n in ("y_p", "y_q", "y", "x_p", "x_q", "x"))
        within_j, within = Signal(ENTRY), Signal(ENTRY)  # j·cf, and j·cf + f (the pad pixel's word)
        w_n, w = Signal(ENTRY), Signal(ENTRY)  # weight entries: wbase + n·sf, and the step's
        t_n = Signal(ENTRY)
        pool_stride = Signal(6)  # registered: first used a pixel after the start, off the step path
        m.d.sync += pool_stride.eq(c.pool * c.stride)

        step = self.steps.payload
        advance = ~self.steps.valid | self.steps.ready
        m.d.comb += self.busy.eq(self.start | running | self.steps.valid)

        order = ["py", "px", "n", "qy", "qx", "j", "r", "s", "f"]  # outermost first
        bases = {"py": a_py, "px": a_px, "qy": a_qy, "qx": a_qx, "j": a_j, "r": a_r, "s": a_s, "f": a}

        def moves(level: str, address) -> list:
            """Count ``level`` up and start the loops inside it over, their address bases at ``address``."""
            inner = order[order.index(level) + 1:]
            stmts = count_up(level) + [stmt for name in inner for stmt in start_over(name)]
            return stmts + [bases[name].eq(address) for name in (level, *inner) if name in bases]

        # The step after this one counts up the innermost loop that is not at its last index (the others
        # inside it start over). That loop is selected one-hot from the registered last flags, and every
        # register's next value is an AND-OR over the selects that assign it, so the address adders meet
        # one balanced multiplexer rather than a priority chain of nine.
        branches = {
            "f": [*count_up("f"), a.eq(a + 1), within.eq(within + 1), w.eq(w + 1)],
            "s": [*moves("s", a_s + c.col_stride), x.eq(x + 1), within.eq(within_j), w.eq(w + 1)],
            "r": [*moves("r", a_r + c.row_stride), y.eq(y + 1), x.eq(x_q), within.eq(within_j), w.eq(w + 1)],
            "j": [*moves("j", a_j + c.cf), y.eq(y_q), x.eq(x_q), within_j.eq(within_j + c.cf),
                  within.eq(within_j + c.cf), w.eq(w_n)],
            "qx": [*moves("qx", a_qx + c.col_step), y.eq(y_q), x_q.eq(x_q + c.stride), x.eq(x_q + c.stride),
                   within_j.eq(0), within.eq(0), w.eq(w_n)],
            "qy": [*moves("qy", a_qy + c.row_step), y_q.eq(y_q + c.stride), y.eq(y_q + c.stride), x_q.eq(x_p),
                   x.eq(x_p), within_j.eq(0), within.eq(0), w.eq(w_n)],
            "n": [*moves("n", a_px), y_q.eq(y_p), y.eq(y_p), x_q.eq(x_p), x.eq(x_p), within_j.eq(0), within.eq(0),
                  w_n.eq(w_n + c.sf), w.eq(w_n + c.sf), t_n.eq(t_n + 1)],
            "px": [*moves("px", a_px + c.pool_col_step), y_q.eq(y_p), y.eq(y_p), x_p.eq(x_p + pool_stride),
                   x_q.eq(x_p + pool_stride), x.eq(x_p + pool_stride), within_j.eq(0), within.eq(0),
                   w_n.eq(c.wbase), w.eq(c.wbase), t_n.eq(c.tbase)],
            "py": [*moves("py", a_py + c.pool_row_step), y_p.eq(y_p + pool_stride), y_q.eq(y_p + pool_stride),
                   y.eq(y_p + pool_stride), x_p.eq(-c.pad), x_q.eq(-c.pad), x.eq(-c.pad), within_j.eq(0),
                   within.eq(0), w_n.eq(c.wbase), w.eq(c.wbase), t_n.eq(c.tbase)],
            "done": [running.eq(0)],
        }
        selects = {}
        for k, level in enumerate(reversed(order)):  # innermost first
            selects[level] = Signal(name=f"counts_{level}")
            m.d.comb += selects[level].eq(Cat(~last[level], *(last[inner] for inner in reversed(order[-k:]) if k)).all())
        selects["done"] = Signal(name="counts_done")
        m.d.comb += selects["done"].eq(Cat(*last.values()).all())
        updates = {}  # id(register) → (register, [(select, value)])
        for level, stmts in branches.items():
            for stmt in stmts:
                updates.setdefault(id(stmt.lhs), (stmt.lhs, []))[1].append((selects[level], stmt.rhs))

        with m.If(self.start):
            m.d.sync += [running.eq(1), within_j.eq(0), within.eq(0), w_n.eq(c.wbase), w.eq(c.wbase),
                         t_n.eq(c.tbase)]
            m.d.sync += [stmt for name in loops for stmt in start_over(name)]
            m.d.sync += [base.eq(c.origin) for base in (a_py, a_px, a_qy, a_qx, a_j, a_r, a_s, a)]
            m.d.sync += [v.eq(-c.pad) for v in (y_p, y_q, y, x_p, x_q, x)]
        with m.Elif(advance):
            m.d.sync += self.steps.valid.eq(running)
            with m.If(running):
                inside = (y >= 0) & (y < c.in_h) & (x >= 0) & (x < c.in_w)
                m.d.sync += [
                    step.input.eq(Mux(inside, a, c.pad_base + within)),
                    step.weight.eq(w),
                    step.threshold.eq(t_n),
                    step.first.eq(zero["j"] & zero["r"] & zero["s"] & zero["f"]),
                    step.plane_first.eq(zero["r"] & zero["s"] & zero["f"]),
                    step.last.eq(last["j"] & last["r"] & last["s"] & last["f"]),
                    step.pool_first.eq(zero["qy"] & zero["qx"]),
                    step.pool_last.eq(last["qy"] & last["qx"]),
                    step.final.eq(selects["done"]),
                ]
                for register, cases in updates.values():
                    value = 0
                    for select, rhs in cases:
                        value = value | Mux(select, rhs, 0)
                    with m.If(Cat(select for select, _ in cases).any()):
                        m.d.sync += register.eq(value)
        return m
