"""The mac_array engine: command decode, the convolution buffer, the load and convolution units, counters."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring

from accel.isa.mac_array import COUNTERS, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool
from accel.program import command_width
from accel.spec import MacArraySpec

from ..lib.counters import count_events
from ..lib.queue import Queue
from ..shell import command_layout, decode, shell_members
from .cbuf import ConvBuffer
from .conv import ConvUnit
from .eltwise import EltwiseUnit
from .load import LoadUnit


class MacArray(wiring.Component):
    """An NVDLA-like int8 convolution engine behind the engine shell (:mod:`rtl_gen.shell`).

    Two units run concurrently: the load unit (loads) and the compute unit (convolutions, poolings,
    element-wise additions). Command words enter a 2-entry queue (``cmd.ready`` is its registered room) and
    can be issued from the cycle after; the queue's head is issued in a cycle of its own once its unit is
    free (with ``wait``, the other unit too: see :mod:`accel.isa.mac_array`), and its unit starts the cycle
    after; ``Config``, and an ``Eltwise`` of no atoms, complete in the cycle they are issued. ``busy`` is
    high while a command is queued or runs. The counters count from issue and lag their events by one cycle
    (registered increments, :func:`~rtl_gen.lib.counters.count_events`).
    """

    def __init__(self, spec: MacArraySpec):
        self.spec = spec
        super().__init__(shell_members(command_width("mac_array"), spec.port_bits, len(COUNTERS)))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.cbuf = cbuf = ConvBuffer(spec)
        m.submodules.load = load = LoadUnit(spec)
        m.submodules.conv = conv = ConvUnit(spec)
        m.submodules.eltwise = eltwise = EltwiseUnit(spec)

        feature_banks = Signal(range(spec.banks + 1), init=spec.banks // 2)
        conv_command = Signal(command_layout(Conv))
        pool, average = Signal(), Signal()
        eltwise_command = Signal(command_layout(Eltwise))
        m.d.comb += [
            cbuf.feature_banks.eq(feature_banks),
            conv.command.eq(conv_command), conv.pool.eq(pool), conv.average.eq(average),
            eltwise.command.eq(eltwise_command),
        ]

        # Memory port: loads read, convolutions write.
        m.d.comb += [
            self.rd_req.valid.eq(load.rd_req.valid),
            self.rd_req.payload.eq(load.rd_req.payload),
            load.rd_req.ready.eq(self.rd_req.ready),
            load.rd_data.valid.eq(self.rd_data.valid),
            load.rd_data.payload.eq(self.rd_data.payload),
            self.rd_data.ready.eq(load.rd_data.ready),
        ]
        m.d.comb += [
            cbuf.write_en.eq(load.write_en), cbuf.write_weight.eq(load.write_weight),
            cbuf.write_index.eq(load.write_index), cbuf.write_lane.eq(load.write_lane),
            cbuf.write_data.eq(load.write_data),
            cbuf.weight_index.eq(conv.weight_index),
            conv.weight_data.eq(cbuf.weight_data),
            conv.feature_data.eq(cbuf.feature_data), eltwise.feature_data.eq(cbuf.feature_data),
        ]
        # Command issue, in order (accel.isa.mac_array for `wait`). Words enter a 2-entry queue with their
        # opcode decoded; the head is issued (`take`) once its unit is free. Each unit's command registers
        # follow the head while the unit is idle, so `take` only starts the unit: from registers, 2 LUT levels
        # lie before the unit's start and state flags, and no command register's enable depends on it.
        word = self.cmd.payload
        opcode = word[:4]
        kinds = {"config": (Config,), "load": (LoadFeatures, LoadWeights), "compute": (Conv, Pool, Eltwise)}
        feature_load = decode(LoadFeatures, word)
        flags = {name: Cat(*(opcode == op.opcode for op in ops)).any() for name, ops in kinds.items()} | {
            "weights": opcode == LoadWeights.opcode, "pool": opcode == Pool.opcode, "eltwise": opcode == Eltwise.opcode,
            "empty_add": (opcode == Eltwise.opcode) & (decode(Eltwise, word).count == 0),
            # of a load, for the load unit (LoadWeights: count · atomic_k beats in one run)
            "empty_load": Mux(opcode == LoadWeights.opcode, decode(LoadWeights, word).count == 0,
                              (feature_load.count == 0) | (feature_load.groups == 0)),
            "one_beat": (opcode == LoadFeatures.opcode) & (feature_load.count == 1),
            "one_run": (opcode == LoadWeights.opcode) | (feature_load.groups == 1),
            "wait": Cat(*(decode(op, word).wait & (opcode == op.opcode)
                          for op in kinds["load"] + kinds["compute"])).any(),
        }
        queued = data.StructLayout({"word": len(word)} | {name: 1 for name in flags})
        m.submodules.commands = commands = Queue(queued.size, 2)
        m.d.comb += [commands.w_en.eq(self.cmd.valid), self.cmd.ready.eq(commands.w_rdy),
                     commands.w_data.eq(Cat(word, *flags.values()))]
        head = queued(commands.r_data)
        load_idle, compute_idle, adding = Signal(init=1), Signal(init=1), Signal()
        valid = commands.r_rdy
        take_config = valid & head.config & load_idle & compute_idle
        take_load = valid & head.load & load_idle & (~head.wait | compute_idle)
        take_compute = valid & head.compute & compute_idle & (~head.wait | load_idle)
        unknown = ~(head.config | head.load | head.compute)  # not a command: dropped
        m.d.comb += commands.r_en.eq(take_config | take_load | take_compute | unknown)
        issued = take_config | take_load | take_compute
        with m.If(take_config):
            m.d.sync += feature_banks.eq(decode(Config, head.word).feature_banks)

        # Load unit: busy from the cycle after `take_load` until it is done.
        m.d.sync += load.start.eq(take_load)
        with m.If(take_load):
            m.d.sync += load_idle.eq(0)
        with m.Elif(~load.busy):
            m.d.sync += load_idle.eq(1)
        with m.If(load_idle):
            features, weights = decode(LoadFeatures, head.word), decode(LoadWeights, head.word)
            m.d.sync += [
                load.weight.eq(head.weights),
                load.address.eq(Mux(head.weights, weights.address, features.address)),
                load.index.eq(Mux(head.weights, weights.block, features.entry)),
                load.count.eq(Mux(head.weights, weights.count * spec.atomic_k, features.count)),
                load.groups.eq(Mux(head.weights, 1, features.groups)),
                load.empty.eq(head.empty_load), load.one_beat.eq(head.one_beat), load.one_run.eq(head.one_run),
                load.src_stride.eq(features.src_stride), load.dst_stride.eq(features.dst_stride),
            ]

        # Compute units: a convolution or pooling, or an element-wise addition; an addition of no atoms
        # completes in the cycle it is issued, as Config does.
        started = take_compute & ~head.empty_add
        m.d.sync += [conv.start.eq(take_compute & ~head.eltwise), eltwise.start.eq(started & head.eltwise)]
        with m.If(started):
            m.d.sync += [compute_idle.eq(0), adding.eq(head.eltwise)]
        with m.Elif(~Mux(adding, eltwise.busy, conv.busy)):
            m.d.sync += [compute_idle.eq(1), adding.eq(0)]
        with m.If(compute_idle):
            pooling = decode(Pool, head.word)
            m.d.sync += [pool.eq(head.pool), average.eq(pooling.average),
                         eltwise_command.eq(head.word[:len(eltwise_command.as_value())])]
            with m.If(head.pool):
                m.d.sync += conv_command.eq(0)
                m.d.sync += [getattr(conv_command, name).eq(getattr(pooling, name)) for name in (
                    "fbase", "in_h", "in_w", "kernel_h", "kernel_w", "stride", "y_off", "x_off", "out_h", "out_w",
                    "out_address")]
                m.d.sync += [conv_command.ncg.eq(1), conv_command.first.eq(1), conv_command.last.eq(1)]
            with m.Else():
                m.d.sync += conv_command.eq(head.word[:len(conv_command.as_value())])
        loading = ~load_idle
        computing = ~compute_idle
        converting = computing & ~adding
        m.d.comb += self.busy.eq(loading | computing | valid)

        # The feature read port, write requests and acknowledgements belong to the compute unit that runs;
        # the write port's ready goes to both (only the running unit requests), so the units' pipeline
        # enables do not wait for the state decode.
        unit_ack = [conv.wr_ack, eltwise.wr_ack]
        with m.If(adding):
            m.d.comb += [cbuf.feature_index.eq(eltwise.feature_index),
                         self.wr_req.valid.eq(eltwise.wr_req.valid), self.wr_req.payload.eq(eltwise.wr_req.payload)]
        with m.Else():
            m.d.comb += [cbuf.feature_index.eq(conv.feature_index),
                         self.wr_req.valid.eq(conv.wr_req.valid), self.wr_req.payload.eq(conv.wr_req.payload)]
        m.d.comb += [
            conv.wr_req.ready.eq(self.wr_req.ready), eltwise.wr_req.ready.eq(self.wr_req.ready),
            conv.wr_ack.valid.eq(self.wr_ack.valid & ~adding), eltwise.wr_ack.valid.eq(self.wr_ack.valid & adding),
            self.wr_ack.ready.eq(Mux(adding, eltwise.wr_ack.ready, conv.wr_ack.ready)),
        ]
        m.d.comb += [ack.payload.eq(self.wr_ack.payload) for ack in unit_ack]

        # Counters: each cycle in exactly one class, by what the compute units do (accel.isa.mac_array.COUNTERS).
        counts = dict(zip(COUNTERS, self.counters))
        fed_all = Mux(adding, eltwise.fed_all, conv.fed_all)
        written_all = Mux(adding, eltwise.written_all, conv.written_all)
        step = (converting & (conv.mac_step | conv.pool_step)) | (adding & eltwise.lane_step)
        on_memory = Mux(computing, (self.wr_req.valid & ~self.wr_req.ready) | written_all, loading)
        classes = {
            "commands": issued,
            "mac_active": converting & conv.mac_step,
            "pp_active": (converting & conv.pool_step) | (adding & eltwise.lane_step),
            "stall_memory": ~step & on_memory,
            "stall_buffer": computing & ~step & ~on_memory & ~fed_all,
            "stall_postproc": computing & ~step & ~on_memory & fed_all,
            "stall_issue": ~computing & ~loading & issued,
        }
        count_events(m, counts, classes | {
            "cycles": issued | loading | computing,
            "bytes_read": (self.rd_data.valid & self.rd_data.ready) * spec.beat_bytes,
            "bytes_written": (self.wr_req.valid & self.wr_req.ready) * spec.beat_bytes,
        }, most=spec.beat_bytes)
        return m
