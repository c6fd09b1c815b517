"""The mac_array engine: command decode, the convolution buffer, the load and convolution units, counters."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring

from accel.isa.mac_array import COUNTERS, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool
from accel.program import command_width
from accel.spec import MacArraySpec

from ..lib.counters import count_events
from ..shell import command_layout, decode, shell_members
from .cbuf import ConvBuffer
from .conv import ConvUnit
from .eltwise import EltwiseUnit
from .load import LoadUnit


class MacArray(wiring.Component):
    """An NVDLA-like int8 convolution engine behind the engine shell (:mod:`rtl_gen.shell`).

    Two units run concurrently: the load unit (loads) and the compute unit (convolutions, poolings,
    element-wise additions). A command is accepted in a cycle of its own once its unit is free (with
    ``wait``, the other unit too: see :mod:`accel.isa.mac_array`) and starts the cycle after; ``Config``
    completes in the cycle it is accepted. The counters lag their events by one cycle (registered
    increments, :func:`~rtl_gen.lib.counters.count_events`).
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
        # Command issue: in order; loads go to the load unit, the rest to the compute units (see
        # accel.isa.mac_array for `wait`).
        word = self.cmd.payload
        opcode = word[:4]
        accept = self.cmd.valid & self.cmd.ready
        load_idle, compute_idle = Signal(), Signal()
        ready = {Config: load_idle & compute_idle}
        for op in (LoadFeatures, LoadWeights):
            ready[op] = load_idle & (~decode(op, word).wait | compute_idle)
        for op in (Conv, Pool, Eltwise):
            ready[op] = compute_idle & (~decode(op, word).wait | load_idle)
        # take[op]: a command of that type is accepted (spelled out per type, so that the few gates after
        # the unit states are all that lies before the command registers' enables)
        take = {op: self.cmd.valid & (opcode == op.opcode) & ready[op] for op in ready}
        with m.Switch(opcode):
            for op in ready:
                with m.Case(op.opcode):
                    m.d.comb += self.cmd.ready.eq(ready[op])
            with m.Default():  # not a command: dropped
                m.d.comb += self.cmd.ready.eq(1)
        with m.If(take[Config]):
            m.d.sync += feature_banks.eq(decode(Config, word).feature_banks)

        with m.FSM(name="load_fsm") as load_fsm:
            with m.State("IDLE"):
                m.d.comb += load_idle.eq(1)
                with m.If(take[LoadFeatures]):
                    fields = decode(LoadFeatures, word)
                    m.d.sync += [
                        load.start.eq(1), load.weight.eq(0), load.address.eq(fields.address),
                        load.index.eq(fields.entry), load.count.eq(fields.count), load.groups.eq(fields.groups),
                        load.src_stride.eq(fields.src_stride), load.dst_stride.eq(fields.dst_stride),
                    ]
                    m.next = "LOAD"
                with m.If(take[LoadWeights]):
                    fields = decode(LoadWeights, word)
                    m.d.sync += [
                        load.start.eq(1), load.weight.eq(1), load.address.eq(fields.address),
                        load.index.eq(fields.block), load.count.eq(fields.count * spec.atomic_k), load.groups.eq(1),
                    ]
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.sync += load.start.eq(0)
                with m.If(~load.busy):
                    m.next = "IDLE"

        with m.FSM(name="compute_fsm") as compute_fsm:
            with m.State("IDLE"):
                m.d.comb += compute_idle.eq(1)
                with m.If(take[Conv]):
                    m.d.sync += [conv.start.eq(1), conv_command.eq(word[:len(conv_command.as_value())]), pool.eq(0)]
                    m.next = "CONV"
                with m.If(take[Pool]):
                    fields = decode(Pool, word)
                    m.d.sync += [conv.start.eq(1), pool.eq(1), average.eq(fields.average), conv_command.eq(0)]
                    m.d.sync += [getattr(conv_command, name).eq(getattr(fields, name)) for name in (
                        "fbase", "in_h", "in_w", "kernel_h", "kernel_w", "stride", "y_off", "x_off", "out_h", "out_w",
                        "out_address")]
                    m.d.sync += [conv_command.ncg.eq(1), conv_command.first.eq(1), conv_command.last.eq(1)]
                    m.next = "CONV"
                with m.If(take[Eltwise]):
                    m.d.sync += [eltwise.start.eq(1), eltwise_command.eq(word[:len(eltwise_command.as_value())])]
                    m.next = "ELTWISE"
            with m.State("CONV"):
                m.d.sync += conv.start.eq(0)
                with m.If(~conv.busy):
                    m.next = "IDLE"
            with m.State("ELTWISE"):
                m.d.sync += eltwise.start.eq(0)
                with m.If(~eltwise.busy):
                    m.next = "IDLE"
        loading = load_fsm.ongoing("LOAD")
        converting, adding = compute_fsm.ongoing("CONV"), compute_fsm.ongoing("ELTWISE")
        computing = converting | adding
        m.d.comb += self.busy.eq(loading | computing)

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
            "commands": accept,
            "mac_active": converting & conv.mac_step,
            "pp_active": (converting & conv.pool_step) | (adding & eltwise.lane_step),
            "stall_memory": ~step & on_memory,
            "stall_buffer": computing & ~step & ~on_memory & ~fed_all,
            "stall_postproc": computing & ~step & ~on_memory & fed_all,
            "stall_issue": ~computing & ~loading & accept,
        }
        count_events(m, counts, classes | {
            "cycles": accept | loading | computing,
            "bytes_read": (self.rd_data.valid & self.rd_data.ready) * spec.beat_bytes,
            "bytes_written": (self.wr_req.valid & self.wr_req.ready) * spec.beat_bytes,
        }, most=spec.beat_bytes)
        return m
