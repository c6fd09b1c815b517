"""The xnor engine: command decode, the three on-chip memories and their loaders, the window unit, the
MVTU, the output packer and the counters."""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, memory, wiring

from accel.isa.xnor import COUNTERS, TARGETS, Load, Mvtu
from accel.program import OPCODE_BITS, command_width
from accel.spec import XnorSpec

from ..lib.counters import count_events
from ..lib.pipeline import registered
from ..shell import command_layout, decode, shell_members
from .loader import Loader
from .mvtu import TAGS, Mvtu as MvtuUnit
from .packer import Packer
from .swu import WindowUnit


class XnorEngine(wiring.Component):
    """A FINN-style binary engine behind the engine shell (:mod:`rtl_gen.shell`).

    Commands execute one at a time: the command port is ready only when the engine is idle; a command
    starts the cycle after it is accepted and the port is ready again the cycle after it finishes.

    An Mvtu streams through: the window unit's steps pass a two-entry queue, then address the input buffer
    and the weight memory; their words (1 cycle) are registered once more, then enter the MVTU
    (:class:`~rtl_gen.xnor.mvtu.Mvtu`), whose chunks the packer writes out. All stages advance together
    on the MVTU's registered ``i.ready``: they hold while a complete chunk waits for the MVTU's output.
    """

    def __init__(self, spec: XnorSpec):
        self.spec = spec
        super().__init__(shell_members(command_width("xnor"), spec.port_bits, len(COUNTERS)))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        pe, simd = spec.pe, spec.simd

        widths = {"input": simd, "weights": pe * simd, "thresholds": pe * spec.THRESHOLD_SLOT}
        depths = {"input": spec.input_depth, "weights": spec.weight_depth, "thresholds": spec.threshold_depth}
        loaders, read_ports = {}, {}
        for name in TARGETS:
            mem = memory.Memory(shape=widths[name], depth=depths[name], init=[])
            m.submodules[f"{name}_memory"] = mem
            loader = loaders[name] = Loader(widths[name], spec.port_bits)
            m.submodules[f"{name}_loader"] = loader
            write = mem.write_port()
            bits = (depths[name] - 1).bit_length()
            m.d.comb += [write.addr.eq(loader.write_addr[:bits]), write.data.eq(loader.write_data),
                         write.en.eq(loader.write_en)]
            read_ports[name] = mem.read_port()

        m.submodules.swu = swu = WindowUnit()
        m.submodules.mvtu = mvtu = MvtuUnit(spec)
        m.submodules.packer = packer = Packer(spec)

        command = Signal(command_layout(Mvtu))
        target = Signal(range(len(TARGETS)))
        m.d.comb += [swu.command.eq(command), packer.dot.eq(command.dot),
                     packer.out_address.eq(command.out_address), packer.nf.eq(command.nf),
                     packer.pixel_chunks.eq(command.pixel_chunks)]

        # Memory read port: the loader of the current target.
        for n, name in enumerate(TARGETS):
            loader = loaders[name]
            m.d.comb += [loader.rd_data.payload.eq(self.rd_data.payload)]
            with m.If(target == n):
                m.d.comb += [
                    self.rd_req.valid.eq(loader.rd_req.valid), self.rd_req.payload.eq(loader.rd_req.payload),
                    loader.rd_req.ready.eq(self.rd_req.ready),
                    loader.rd_data.valid.eq(self.rd_data.valid), self.rd_data.ready.eq(loader.rd_data.ready),
                ]

        # Datapath: step → memory read → operand register → MVTU.
        # A two-entry queue decouples the window unit from the datapath's advance (a wide net): the unit
        # sees only the queue's registered fullness.
        advance = mvtu.i.ready
        m.submodules.steps = steps = fifo.SyncFIFO(width=len(swu.steps.payload.as_value()), depth=2)
        m.d.comb += [steps.w_data.eq(swu.steps.payload.as_value()), steps.w_en.eq(swu.steps.valid),
                     swu.steps.ready.eq(steps.w_rdy), steps.r_en.eq(advance)]
        step = swu.steps.payload.shape()(steps.r_data)
        for name, addr in (("input", step.input), ("weights", step.weight)):
            port = read_ports[name]
            m.d.comb += [port.addr.eq(addr[:(depths[name] - 1).bit_length()]), port.en.eq(advance)]
        tport = read_ports["thresholds"]
        m.d.comb += [tport.addr.eq(mvtu.t_addr[:(spec.threshold_depth - 1).bit_length()]), tport.en.eq(mvtu.t_en),
                     mvtu.t_data.as_value().eq(tport.data)]
        read_valid = registered(m, advance, "read_valid", 1, steps.r_rdy)
        read_step = registered(m, advance, "read_step", len(step.as_value()), step.as_value())
        read_step = step.shape()(read_step)
        operand = mvtu.i.payload
        m.d.comb += mvtu.i.valid.eq(registered(m, advance, "operand_valid", 1, read_valid))
        m.d.comb += operand.input.eq(registered(m, advance, "operand_input", simd, read_ports["input"].data))
        m.d.comb += operand.weights.as_value().eq(
            registered(m, advance, "operand_weights", pe * simd, read_ports["weights"].data))
        m.d.comb += operand.threshold.eq(registered(m, advance, "operand_threshold", len(read_step.threshold),
                                                    read_step.threshold))
        for tag in TAGS:
            m.d.comb += getattr(operand, tag).eq(registered(m, advance, f"operand_{tag}", 1, getattr(read_step, tag)))
        wiring.connect(m, mvtu.o, packer.i)
        wiring.connect(m, wiring.flipped(self.wr_req), packer.wr_req)
        wiring.connect(m, wiring.flipped(self.wr_ack), packer.wr_ack)

        # Command decode.
        word = self.cmd.payload
        opcode = word[:OPCODE_BITS]
        accept = self.cmd.valid & self.cmd.ready
        load = decode(Load, word)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(accept & (opcode == Load.opcode)):
                    m.d.sync += target.eq(load.target)
                    for n, name in enumerate(TARGETS):
                        loader = loaders[name]
                        m.d.sync += [loader.start.eq(load.target == n), loader.address.eq(load.address),
                                     loader.entry.eq(load.entry), loader.count.eq(load.count)]
                    m.next = "LOAD"
                with m.If(accept & (opcode == Mvtu.opcode)):
                    m.d.sync += [command.eq(word[:len(command.as_value())]), swu.start.eq(1), packer.start.eq(1)]
                    m.next = "RUN"
            with m.State("LOAD"):
                m.d.sync += [loader.start.eq(0) for loader in loaders.values()]
                with m.If(~(loaders["input"].busy | loaders["weights"].busy | loaders["thresholds"].busy)):
                    m.next = "IDLE"
            with m.State("RUN"):
                m.d.sync += [swu.start.eq(0), packer.start.eq(0)]
                with m.If(~packer.start & packer.done):
                    m.next = "IDLE"
        loading, running = fsm.ongoing("LOAD"), fsm.ongoing("RUN")
        m.d.comb += self.busy.eq(loading | running)

        # Counters: each working cycle in exactly one class (see accel.isa.xnor.COUNTERS).
        counts = dict(zip(COUNTERS, self.counters))
        step_accept = steps.r_rdy & advance
        waiting_on_memory = (self.wr_req.valid & ~self.wr_req.ready) | (packer.flushed & ~packer.start)
        classes = {
            "commands": accept,
            "active": running & step_accept,
            "stall_memory": loading | (running & ~step_accept & waiting_on_memory),
            "stall_output": running & ~step_accept & ~waiting_on_memory & ~advance,
            "stall_pipeline": running & ~step_accept & ~waiting_on_memory & advance,
        }
        count_events(m, counts, classes | {
            "cycles": accept | loading | running,
            "bytes_read": (self.rd_data.valid & self.rd_data.ready) * spec.beat_bytes,
            "bytes_written": (self.wr_req.valid & self.wr_req.ready) * spec.beat_bytes,
        }, most=spec.beat_bytes)
        return m
