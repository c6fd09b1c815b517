"""The convolution buffer: ``banks`` single-port-read SRAM banks, split per layer into features and weights."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import MacArraySpec

ENTRY_BITS = 24


class ConvBuffer(wiring.Component):
    """Banks of ``bank_entries`` atoms (atomic_c bytes each). Banks ``[0, feature_banks)`` hold feature
    atoms, linearly (atom ``a`` in bank ``a // E`` at entry ``a % E``); the others hold weight blocks in
    sets of atomic_k banks (block ``b``, lane ``k`` in bank ``feature_banks + (b // E)·atomic_k + k`` at
    entry ``b % E``). ``feature_banks`` must be a multiple of atomic_k.

    Timing: reads take one cycle (data valid the cycle after ``*_en``; held while ``*_en`` is low);
    writes take effect at the next clock edge. One write and both reads can happen every cycle.

    Members
    -------
    feature_banks : ``In(range(banks + 1))``
        The split; stable while the buffer is used.
    write_en, write_weight, write_index, write_lane, write_data : ``In``
        Write an atom: feature atom ``write_index`` (``write_weight`` low) or lane ``write_lane`` of
        weight block ``write_index``.
    feature_en, feature_index : ``In``; feature_data : ``Out(8·atomic_c)``
        Read feature atom ``feature_index``.
    weight_en, weight_index : ``In``; weight_data : ``Out(ArrayLayout(8·atomic_c, atomic_k))``
        Read all atomic_k lanes of weight block ``weight_index``.
    """

    def __init__(self, spec: MacArraySpec):
        self.spec = spec
        atom = 8 * spec.atomic_c
        super().__init__({
            "feature_banks": In(range(spec.banks + 1)),
            "write_en": In(1),
            "write_weight": In(1),
            "write_index": In(ENTRY_BITS),
            "write_lane": In(range(spec.atomic_k)),
            "write_data": In(atom),
            "feature_en": In(1),
            "feature_index": In(ENTRY_BITS),
            "feature_data": Out(atom),
            "weight_en": In(1),
            "weight_index": In(ENTRY_BITS),
            "weight_data": Out(data.ArrayLayout(atom, spec.atomic_k)),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        entry_bits = (spec.bank_entries - 1).bit_length()
        sets = spec.banks // spec.atomic_k
        first_weight_set = self.feature_banks // spec.atomic_k  # feature_banks is a multiple of atomic_k

        def split(index):
            return index[:entry_bits], index[entry_bits:]

        write_entry, write_upper = split(self.write_index)
        write_bank = Mux(self.write_weight,
                         (first_weight_set + write_upper) * spec.atomic_k + self.write_lane, write_upper)
        feature_entry, feature_bank = split(self.feature_index)
        weight_entry, weight_set = split(self.weight_index)

        read_ports = []
        for bank in range(spec.banks):
            mem = memory.Memory(shape=8 * spec.atomic_c, depth=spec.bank_entries, init=[])
            m.submodules[f"bank{bank}"] = mem
            write = mem.write_port()
            read = mem.read_port()
            is_feature = bank < self.feature_banks
            m.d.comb += [
                write.addr.eq(write_entry),
                write.data.eq(self.write_data),
                write.en.eq(self.write_en & (write_bank == bank)),
                read.addr.eq(Mux(is_feature, feature_entry, weight_entry)),
                read.en.eq(Mux(is_feature, self.feature_en, self.weight_en)),
            ]
            read_ports.append(read)

        # The output multiplexers select with the bank (set) registered at the read.
        feature_bank_q = Signal.like(feature_bank)
        weight_set_q = Signal(range(sets))
        with m.If(self.feature_en):
            m.d.sync += feature_bank_q.eq(feature_bank)
        with m.If(self.weight_en):
            m.d.sync += weight_set_q.eq(first_weight_set + weight_set)
        with m.Switch(feature_bank_q):
            for bank in range(spec.banks):
                with m.Case(bank):
                    m.d.comb += self.feature_data.eq(read_ports[bank].data)
        for lane in range(spec.atomic_k):
            with m.Switch(weight_set_q):
                for s in range(sets):
                    with m.Case(s):
                        m.d.comb += self.weight_data[lane].eq(read_ports[s * spec.atomic_k + lane].data)
        return m
