"""Simulation harness: an engine, the memory model behind its memory port and a command feeder, in HDL.

Nothing runs in Python per cycle while a Program executes: the testbench fills the memory and the
command store through back-door ports, raises ``start`` and waits for ``done``. The command store is a ring:
a Program longer than it streams in, the testbench refilling the half the engine has consumed whenever
``hungry`` rises (at most one command is consumed per cycle, so the half still queued lasts the refill and
the engine never waits for a command). A watchdog raises ``hung`` after ``watchdog`` cycles in which no
command was issued and no memory-port stream moved; ``issued``, ``streams`` and ``busy`` then tell where
the engine is stuck.

Memory model (DESIGN.md): a read request accepted in cycle t returns its beat in cycle t + latency, a
write accepted in cycle t is acknowledged in cycle t + latency, one beat per cycle each way. With
``stall`` set, xorshift generators (seeded from ``seed``) refuse requests and hold back data and
acknowledgements at random (about half the cycles each); results must not change, only timing.
"""

from amaranth.hdl import Cat, Module, Shape, Signal
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

STREAMS = ("cmd", "rd_req", "rd_data", "wr_req", "wr_ack")
"""The engine's streams, in the order of the harness's ``streams`` port (valid, ready per stream)."""
PERIOD_NS = 10
"""The clock period of :func:`clock_wrapper` (100 MHz)."""

class Xorshift(wiring.Component):
    """A 32-bit xorshift generator; ``bit`` is a pseudo-random bit per cycle.

    Members
    -------
    seed : ``In(32)``; load : ``In(1)``  (load the seed, made non-zero)
    bit : ``Out(1)``
    """

    seed: In(32)
    load: In(1)
    bit: Out(1)

    def elaborate(self, platform):
        m = Module()
        state = Signal(32, init=1)
        x = state ^ (state << 13)[:32]
        x = x ^ (x >> 17)
        x = x ^ (x << 5)[:32]
        with m.If(self.load):
            m.d.sync += state.eq(self.seed | 1)
        with m.Else():
            m.d.sync += state.eq(x)
        m.d.comb += self.bit.eq(state[31])
        return m


class DelayedResponses(wiring.Component):
    """``latency``-cycle delay line into a first-word-fall-through queue, for read data or write acks.

    Members
    -------
    accept : ``In(1)`` — a request was accepted this cycle (it counts as in flight from now on)
    push : ``In(1)``; data : ``In(width)`` — its response enters the delay line (0 or 1 cycles later)
    out : ``Out(stream.Signature(width))`` — responses in order, ``latency`` cycles after their request
    hold : ``In(1)`` — withhold ``out`` this cycle
    space : ``Out(1)`` — another request can be accepted (room for latency + 16 responses in flight, so
    the delay never limits throughput)
    """

    def __init__(self, width: int, latency: int):
        self.width, self.latency = width, latency
        self.depth = latency + 16
        super().__init__({"accept": In(1), "push": In(1), "data": In(width), "out": Out(stream.Signature(width)),
                          "hold": In(1), "space": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = fifo.SyncFIFO(width=self.width, depth=self.depth)
        valid, payload = self.push, self.data
        for n in range(self.latency - 1):
            v, d = Signal(name=f"valid_{n}"), Signal(self.width, name=f"data_{n}")
            m.d.sync += [v.eq(valid), d.eq(payload)]
            valid, payload = v, d
        in_flight = Signal(range(self.depth + 1))
        m.d.sync += in_flight.eq(in_flight + self.accept - (self.out.valid & self.out.ready))
        m.d.comb += [
            queue.w_en.eq(valid), queue.w_data.eq(payload),
            self.out.valid.eq(queue.r_rdy & ~self.hold), self.out.payload.eq(queue.r_data),
            queue.r_en.eq(self.out.valid & self.out.ready),
            self.space.eq(in_flight < self.depth),
        ]
        return m


class Harness(wiring.Component):
    """``engine`` with a ``words``-beat memory model and a ``commands``-deep command store.

    Members
    -------
    mem_addr, mem_wdata, mem_we : ``In``; mem_rdata : ``Out``
        Back door to the memory (beat index; read combinationally, write at the clock edge).
    cmd_addr, cmd_wdata, cmd_we : ``In``
        Back door to the command store (command ``i`` goes to slot ``i % commands``).
    count : ``In(32)``; start : ``In(1)``; done : ``Out(1)``
        Feed commands 0 … count − 1 from ``start`` (count grows as commands are written); ``done`` once all
        were accepted and the engine is idle.
    issued : ``Out(32)``; hungry : ``Out(1)``
        Commands accepted so far; at most half the store is still queued (time to write the other half).
    stall, seed : ``In``
        Random stalls on the memory port, and their seed (taken at ``start``).
    block : ``In(1)``
        Refuse every read request (a hang, to test the watchdog).
    watchdog : ``In(32)``; hung : ``Out(1)``
        ``hung`` once ``watchdog`` cycles passed without a transfer on any of :data:`STREAMS`.
    streams : ``Out(2 * len(STREAMS))``; busy : ``Out(1)``
        Each stream's valid (bit 2n) and ready (bit 2n + 1); the engine's busy.
    counters : ``Out(ArrayLayout(48, n))``
        The engine's performance counters.
    """

    def __init__(self, engine: wiring.Component, port_bits: int, words: int, commands: int, latency: int):
        assert commands & (commands - 1) == 0, "the command ring's size is a power of two"
        self.engine, self.port_bits, self.words, self.commands, self.latency = engine, port_bits, words, commands, latency
        cmd_bits = len(engine.cmd.payload)
        super().__init__({
            "mem_addr": In(range(words)), "mem_wdata": In(port_bits), "mem_we": In(1), "mem_rdata": Out(port_bits),
            "cmd_addr": In(range(commands)), "cmd_wdata": In(cmd_bits), "cmd_we": In(1),
            "count": In(32), "start": In(1), "done": Out(1), "issued": Out(32), "hungry": Out(1),
            "stall": In(1), "seed": In(32), "block": In(1), "watchdog": In(32), "hung": Out(1),
            "streams": Out(2 * len(STREAMS)), "busy": Out(1),
            "counters": Out(engine.counters.shape()),
        })

    def elaborate(self, platform):
        m = Module()
        engine = m.submodules.engine = self.engine
        beat_shift = (self.port_bits // 8 - 1).bit_length()

        # Memory: the engine's reads and writes, and the back door.
        m.submodules.mem = mem = memory.Memory(shape=self.port_bits, depth=self.words, init=[])
        backdoor_read, backdoor_write = mem.read_port(domain="comb"), mem.write_port()
        engine_read, engine_write = mem.read_port(), mem.write_port()
        m.d.comb += [
            backdoor_read.addr.eq(self.mem_addr), self.mem_rdata.eq(backdoor_read.data),
            backdoor_write.addr.eq(self.mem_addr), backdoor_write.data.eq(self.mem_wdata),
            backdoor_write.en.eq(self.mem_we),
        ]

        randoms = []
        for n in range(4):
            generator = Xorshift()
            m.submodules[f"random{n}"] = generator
            m.d.comb += [generator.seed.eq(self.seed + n * 0x9E3779B9), generator.load.eq(self.start)]
            randoms.append(self.stall & generator.bit)
        refuse_read, hold_data, refuse_write, hold_ack = randoms

        # Reads: the memory's synchronous read is the first cycle of the latency.
        m.submodules.read_data = reads = DelayedResponses(self.port_bits, self.latency - 1)
        read = engine.rd_req.valid & engine.rd_req.ready
        m.d.comb += [
            engine.rd_req.ready.eq(reads.space & ~refuse_read & ~self.block),
            engine_read.addr.eq(engine.rd_req.payload >> beat_shift),
            engine_read.en.eq(1),
            reads.data.eq(engine_read.data),
            reads.hold.eq(hold_data),
        ]
        read_q = Signal()
        m.d.sync += read_q.eq(read)
        m.d.comb += [reads.accept.eq(read), reads.push.eq(read_q)]
        wiring.connect(m, reads.out, engine.rd_data)

        # Writes.
        m.submodules.write_acks = acks = DelayedResponses(1, self.latency)
        write = engine.wr_req.valid & engine.wr_req.ready
        m.d.comb += [
            engine.wr_req.ready.eq(acks.space & ~refuse_write),
            engine_write.addr.eq(engine.wr_req.payload.address >> beat_shift),
            engine_write.data.eq(engine.wr_req.payload.data),
            engine_write.en.eq(write),
            acks.accept.eq(write), acks.push.eq(write), acks.data.eq(1), acks.hold.eq(hold_ack),
        ]
        wiring.connect(m, acks.out, engine.wr_ack)

        # Command feeder.
        m.submodules.cmd_store = store = memory.Memory(shape=len(engine.cmd.payload), depth=self.commands, init=[])
        store_read, store_write = store.read_port(domain="comb"), store.write_port()
        next_command = Signal(32)
        running = Signal()
        m.d.comb += [
            store_write.addr.eq(self.cmd_addr), store_write.data.eq(self.cmd_wdata), store_write.en.eq(self.cmd_we),
            store_read.addr.eq(next_command[:(self.commands - 1).bit_length()]),
            engine.cmd.payload.eq(store_read.data),
            engine.cmd.valid.eq(running & (next_command < self.count)),
            self.done.eq(running & (next_command == self.count) & ~engine.busy),
            self.issued.eq(next_command),
            self.hungry.eq(self.count - next_command <= self.commands // 2),
            self.counters.eq(engine.counters),
        ]
        with m.If(self.start):
            m.d.sync += [running.eq(1), next_command.eq(0)]
        with m.Elif(engine.cmd.valid & engine.cmd.ready):
            m.d.sync += next_command.eq(next_command + 1)

        # Watchdog.
        streams = [getattr(engine, name) for name in STREAMS]
        quiet = Signal(32)
        with m.If(self.start | Cat(s.valid & s.ready for s in streams).any()):
            m.d.sync += quiet.eq(0)
        with m.Elif(running & ~self.done & ~self.hung):
            m.d.sync += quiet.eq(quiet + 1)
        m.d.comb += [
            self.hung.eq(running & (quiet >= self.watchdog)),
            self.streams.eq(Cat(Cat(s.valid, s.ready) for s in streams)),
            self.busy.eq(engine.busy),
        ]
        return m


def clock_wrapper(harness: Harness, verilog: str, inner: str, top: str, period_ns: int = PERIOD_NS) -> str:
    """``verilog`` (the harness converted as module ``inner``) and a module ``top`` around it that drives its
    clock itself (built with Verilator ``--timing``), so no testbench code runs on clock edges; ``clk``
    becomes an output for the testbench to wait on. One timescale covers every module."""
    ports, connections = ["output reg clk", "input rst"], [".clk(clk)", ".rst(rst)"]
    for name, member in harness.signature.members.items():
        width = Shape.cast(member.shape).width
        direction = "input" if member.flow == In else "output"
        ports.append(f"{direction} {f'[{width - 1}:0] ' if width > 1 else ''}{name}")
        connections.append(f".{name}({name})")
    return "\n".join([
        "`timescale 1ns/1ps",
        verilog,
        f"module {top}({', '.join(ports)});",
        "  initial clk = 1'b0;",
        f"  always #{period_ns // 2} clk = ~clk;",
        f"  {inner} harness({', '.join(connections)});",
        "endmodule",
        "",
    ])
