"""The convolution buffer: ``banks`` single-port-read SRAM banks, split per layer into features and weights."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import MacArraySpec

from ..lib.pipeline import registered

ENTRY_BITS = 24
READ_LATENCY = 4


class ConvBuffer(wiring.Component):
    """Banks of ``bank_entries`` atoms (atomic_c bytes each). Banks ``[0, feature_banks)`` hold feature
    atoms, linearly (atom ``a`` in bank ``a // E`` at entry ``a % E``); the others hold weight blocks in
    sets of atomic_k banks (block ``b``, lane ``k`` in bank ``feature_banks + (b // E)·atomic_k + k`` at
    entry ``b % E``). ``feature_banks`` must be a multiple of atomic_k.

    Timing: a read takes :data:`READ_LATENCY` cycles: the index presented in cycle t has its atom(s) at
    the output in cycle t + 4 (a read-address register per bank, so that the index's multiplexers and
    fanout do not meet the SRAMs' address setup; the SRAM read; a register per bank, so that no logic
    follows the SRAM's slow output; the bank multiplexer into an output register). One read per port every cycle; a write
    is registered (its bank decoded) and takes effect at the second clock edge after it is presented.

    Members
    -------
    feature_banks : ``In(range(banks + 1))``
        The split; stable while the buffer is used.
    write_en, write_weight, write_index, write_lane, write_data : ``In``
        Write an atom: feature atom ``write_index`` (``write_weight`` low) or lane ``write_lane`` of
        weight block ``write_index``.
    feature_index : ``In``; feature_data : ``Out(8·atomic_c)``
        Read feature atom ``feature_index``.
    weight_index : ``In``; weight_data : ``Out(ArrayLayout(8·atomic_c, atomic_k))``
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
            "feature_index": In(ENTRY_BITS),
            "feature_data": Out(atom),
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
        write_bank = Signal(range(spec.banks))  # only its low bits: a bank beyond the banks is never written
        m.d.comb += write_bank.eq(Mux(self.write_weight,
                                      (first_weight_set + write_upper) * spec.atomic_k + self.write_lane, write_upper))
        write_enables = Signal(spec.banks)
        write_entry_q, write_data_q = Signal(entry_bits), Signal.like(self.write_data)
        m.d.sync += [
            write_enables.eq(Cat(self.write_en & (write_bank == bank) for bank in range(spec.banks))),
            write_entry_q.eq(write_entry), write_data_q.eq(self.write_data),
        ]
        feature_entry, feature_bank = split(self.feature_index)
        weight_entry, weight_set = split(self.weight_index)

        # The SRAMs, each read every cycle, and their output registers.
        outputs = []
        for bank in range(spec.banks):
            mem = memory.Memory(shape=8 * spec.atomic_c, depth=spec.bank_entries, init=[])
            m.submodules[f"bank{bank}"] = mem
            write = mem.write_port()
            read = mem.read_port()
            is_feature = Signal(name=f"is_feature_{bank}")
            output = Signal.like(read.data, name=f"output_{bank}")
            read_entry = Signal(entry_bits, name=f"read_entry_{bank}")
            m.d.sync += [is_feature.eq(bank < self.feature_banks), output.eq(read.data),
                         read_entry.eq(Mux(is_feature, feature_entry, weight_entry))]
            m.d.comb += [
                write.addr.eq(write_entry_q),
                write.data.eq(write_data_q),
                write.en.eq(write_enables[bank]),
                read.addr.eq(read_entry),
            ]
            outputs.append(output)

        # The output multiplexers select with the bank (set) of the read, delayed to match; a bank
        # number beyond the banks is never read.
        feature_bank_q, weight_set_q = feature_bank, first_weight_set + weight_set
        for n in range(READ_LATENCY - 1):
            feature_bank_q = registered(m, 1, f"feature_bank_{n}", range(spec.banks), feature_bank_q)
            weight_set_q = registered(m, 1, f"weight_set_{n}", range(sets), weight_set_q)
        m.d.sync += self.feature_data.eq(Array(outputs)[feature_bank_q])
        for lane in range(spec.atomic_k):
            m.d.sync += self.weight_data[lane].eq(Array(outputs[lane::spec.atomic_k])[weight_set_q])
        return m
