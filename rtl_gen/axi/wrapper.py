"""An engine behind AXI: the register map on an AXI4-Lite slave, the memory port on an AXI4 master, ``irq``.

Members (besides ``clk`` and the synchronous ``rst``)
-----------------------------------------------------
s_axil_* : AXI4-Lite slave, the register map of :func:`accel.regmap.register_map` (``lite_address_bits``).
m_axi_* : AXI4 master, the engine's memory (``address_bits``, data ``port_bits`` wide).
irq : ``Out(1)`` — ``CONTROL.irq_enable`` and any ``IRQ_STATUS`` bit set (level).

Behaviour is the register map's (accel.regmap's conventions). Commands flow from ``CMD_DATA`` through a
:data:`accel.regmap.CMD_FIFO_DEPTH`-deep FIFO, a register and a 2-command queue (``CMD_SPACE`` counts the
FIFO only) to the engine's command port from ``CONTROL.start`` on, until ``CMD_COUNT`` commands were issued
(as the map says, ``CMD_COUNT`` is written before ``start``); ``STATUS.done`` rises the cycle after the
engine and the memory port are idle. ``CONTROL.soft_reset`` resets everything but the AXI4-Lite slave itself
(every register to its reset value) in the cycle after its register write, i.e. by the time the write's
response is taken (AxiLiteSlave's timing). A memory error holds the engine and the command FIFO in reset
(see AxiMaster's ``stop``).

Timing: no path runs from an AXI port, or from the AXI side's queues, into the engine: the AXI4-Lite slave
drives the register bus from registers, ``CONTROL``'s pulses and ``CMD_DATA``'s strobe are registers, the
engine's ready for commands never reaches the command FIFO, and the AxiMaster's skid buffers make the
engine's memory-port ready and the AXI4 master's valid and ready outputs registers.

Overhead against the simulation harness: none in the engine's own counting (a preloaded command reaches the
engine in the cycle after the ``CONTROL.start`` pulse, as in the harness); the memory behind AXI answers
with its own timing (the skid buffers, burst forming, the interconnect, the RAM), so cycles and stall
counters follow that memory, not the harness's fixed latency: the skid buffers add cycles of latency to
reads and writes and take a request or two while the AXI side stalls, which only the counters of cycles
waiting on memory see (tests/sim/test_axi.py).
"""

from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import Out

from accel.regmap import CMD_FIFO_DEPTH, RegisterMap, c_header, markdown, register_map
from accel.spec import Spec

from ..blocks import build
from ..export import module_name, write_if_changed
from ..lib.pipeline import staged
from ..lib.queue import Queue
from .lite import AxiLiteSlave
from .master import AxiMaster
from .ports import axi_master_members, axil_slave_members, pass_through
from .registers import RegisterBlock

LITE_ADDRESS_BITS = 12
"""Default AXI4-Lite address width: one 4 KB page (the map itself spans :attr:`RegisterMap.size`)."""


def wrapped_name(spec: Spec) -> str:
    """Top module name of the wrapped engine."""
    return f"axi_{module_name(spec)}"


class AxiEngine(wiring.Component):
    def __init__(self, spec: Spec, address_bits: int = 32, lite_address_bits: int = LITE_ADDRESS_BITS):
        self.spec, self.regmap = spec, register_map(spec)
        self.address_bits, self.lite_address_bits = address_bits, lite_address_bits
        assert 2**lite_address_bits >= self.regmap.size, "the AXI4-Lite address space holds the register map"
        super().__init__(axil_slave_members(lite_address_bits) | axi_master_members(address_bits, spec.port_bits)
                         | {"irq": Out(1)})

    def elaborate(self, platform):
        m = Module()
        regmap: RegisterMap = self.regmap
        m.submodules.lite = lite = AxiLiteSlave(self.lite_address_bits, regmap.size // 4)
        pass_through(m, self, lite, axil_slave_members(self.lite_address_bits))
        core = Module()
        soft_reset = Signal()
        m.submodules.core = ResetInserter(soft_reset)(core)

        core.submodules.registers = regs = RegisterBlock(regmap)
        for name in ("addr", "write", "wdata", "read"):
            m.d.comb += getattr(regs, name).eq(getattr(lite, name))
        m.d.comb += [lite.hit.eq(regs.hit), lite.rdata.eq(regs.rdata)]
        m.d.comb += soft_reset.eq(regs.control_soft_reset)  # a register: its fan-out is the whole core

        core.submodules.master = master = AxiMaster(self.spec.port_bits, self.address_bits)
        pass_through(m, self, master, axi_master_members(self.address_bits, self.spec.port_bits))
        error = Signal()
        stopped = Module()
        core.submodules.stopped = ResetInserter(error)(stopped)
        stopped.submodules.engine = engine = build(self.spec)
        for name in ("rd_req", "rd_data", "wr_req", "wr_ack"):
            wiring.connect(core, getattr(engine, name), getattr(master, name))

        # Commands: CMD_DATA words assembled LSB first; the last one pushes the command.
        words = regmap.cmd_words
        command_bits = len(engine.cmd.payload)
        stopped.submodules.commands = commands = fifo.SyncFIFOBuffered(width=command_bits, depth=CMD_FIFO_DEPTH)
        partial = Signal(32 * (words - 1))
        word = Signal(range(words))
        last = Signal()
        core.d.comb += last.eq(regs.cmd_data_write & (word == words - 1))
        with core.If(regs.cmd_data_write):
            core.d.sync += [word.eq(0 if words == 1 else word + 1), partial.word_select(word, 32).eq(regs.cmd_data)
                            if words > 1 else []]
            with core.If(last):
                core.d.sync += word.eq(0)
        overflow = Signal()
        core.d.comb += [commands.w_en.eq(last), commands.w_data.eq(Cat(partial, regs.cmd_data)[:command_bits])]
        with core.If(last & ~commands.w_rdy):
            core.d.sync += overflow.eq(1)

        # The run.
        running, done, issued = Signal(), Signal(), Signal(32)
        # ``more``: issued != CMD_COUNT, a register (CMD_COUNT is written before start): ``take`` only selects
        # between compares of registers, so the engine's ready meets no 32-bit compare on its way back.
        more = Signal()
        # The FIFO's block RAM feeds a register stage (packed into the RAM's output register: a block RAM's
        # read port has 5.6 ns clock-to-out on ECP5 -6, which capped the wrapped xnor at 74 MHz), and that a
        # 2-entry queue in the fabric, which the engine reads: the stage loads on the queue's registered
        # w_rdy, so the engine's ready never reaches the RAM.
        stopped.submodules.next = upcoming = Queue(command_bits, 2)
        staged_valid, staged_command = staged(stopped, "staged_command", commands, upcoming.w_rdy)
        take = engine.cmd.valid & engine.cmd.ready
        stopped.d.comb += [upcoming.w_en.eq(staged_valid), upcoming.w_data.eq(staged_command), upcoming.r_en.eq(take)]
        core.d.comb += [engine.cmd.valid.eq(running & upcoming.r_rdy & more), engine.cmd.payload.eq(upcoming.r_data)]
        core.d.sync += more.eq(Mux(take, issued + 1 != regs.cmd_count, issued != regs.cmd_count))
        with core.If(take):
            core.d.sync += issued.eq(issued + 1)
        with core.If(regs.control_start):
            core.d.sync += [running.eq(1), done.eq(0), issued.eq(0), more.eq(regs.cmd_count != 0)]
        finished = running & ~regs.control_start & ~more & ~engine.busy & ~master.busy
        with core.If(finished | error):
            core.d.sync += running.eq(0)
        with core.If(finished & ~error):
            core.d.sync += done.eq(1)

        # Errors.
        read_error, write_error = Signal(), Signal()
        with core.If(master.read_error):
            core.d.sync += [error.eq(1), read_error.eq(1)]
        with core.If(master.write_error):
            core.d.sync += [error.eq(1), write_error.eq(1)]
        core.d.comb += [master.base.eq(regs.mem_base), master.stop.eq(error)]

        # Status, interrupts, identification, counters.
        core.d.comb += [
            regs.status_busy.eq(running | master.busy), regs.status_done.eq(done), regs.status_error.eq(error),
            regs.status_read_error.eq(read_error), regs.status_write_error.eq(write_error),
            regs.status_overflow.eq(overflow),
            regs.irq_status_done_set.eq(finished & ~error),
            regs.irq_status_error_set.eq((master.read_error | master.write_error) & ~error),
            regs.cmd_issued.eq(issued), regs.cmd_space.eq(CMD_FIFO_DEPTH - commands.level),
        ]
        m.d.comb += self.irq.eq(regs.control_irq_enable & (regs.irq_status_done | regs.irq_status_error))
        for register in regmap.registers:
            for f in register.fields:
                if register.name.startswith("ID_") or register.name == "GEOMETRY":
                    name = register.name.lower() if len(register.fields) == 1 else f"{register.name.lower()}_{f.name}"
                    core.d.comb += getattr(regs, name).eq(f.reset)
        shadow = Signal(32)
        for n, name in enumerate(regmap.counters):
            lo, hi = (getattr(regs, r.name.lower()) for r in regmap.counter(name))
            core.d.comb += [lo.eq(engine.counters[n][:32]), hi.eq(shadow)]
            with core.If(getattr(regs, f"counter_{name}_lo_read")):
                core.d.sync += shadow.eq(engine.counters[n][32:])
        return m


def wrapped_verilog(spec: Spec, address_bits: int = 32) -> str:
    """Deterministic Verilog of ``spec``'s engine in the AXI wrapper (top module :func:`wrapped_name`)."""
    return verilog.convert(AxiEngine(spec, address_bits), name=wrapped_name(spec), emit_src=False)


def export_wrapped(spec: Spec, out_dir: Path) -> list[Path]:
    """Write the wrapped Verilog (``axi_<module>.v``), the C header (``<module>_regs.h``) and the register-map
    page (``<module>_regs.md``) into ``out_dir`` (each untouched if unchanged); their paths."""
    regmap = register_map(spec)
    files = {f"{wrapped_name(spec)}.v": wrapped_verilog(spec), f"{module_name(spec)}_regs.h": c_header(regmap),
             f"{module_name(spec)}_regs.md": markdown(regmap)}
    paths = [Path(out_dir) / name for name in files]
    for path, text in zip(paths, files.values()):
        write_if_changed(path, text)
    return paths
