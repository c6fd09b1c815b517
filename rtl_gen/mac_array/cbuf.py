"""The convolution buffer: ``banks`` single-port-read SRAM banks, split per layer into features and weights."""

import operator
from functools import reduce

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import MacArraySpec

from ..lib.pipeline import registered

ENTRY_BITS = 24
READ_LATENCY = 7
GROUP = 4
"""Banks per multiplexer of the first output stage and per copy of the write's entry and data."""


def _select(m, name: str, inputs: list, index: Signal, copy: int = 0) -> Signal:
    """``inputs[index]``, ``index`` given a cycle before the inputs, in two registered stages: a
    multiplexer per :data:`GROUP` inputs selects with the low bits; then the OR of their results, each
    masked by its bit of a one-hot register of the high bits. Each group has its own select register
    (the low bits if the index is in the group, else 0: distinct, so that synthesis keeps them apart),
    so that no select fans out to every multiplexer; the second stage has no select decoder between its
    register and the data. ``copy`` tells apart selections that share ``index``: each select register
    holds its value XOR ``copy`` (modulo the inputs it selects among, which are permuted to match), so
    that the copies are distinct logic, and synthesis does not merge them into one register of all their
    fanout."""
    low = (GROUP - 1).bit_length()
    width = min(GROUP, len(inputs))
    key = copy % width
    groups = []
    for n in range(0, len(inputs), GROUP):
        select = registered(m, 1, f"{name}_select_{n // GROUP}", low,
                            Mux(index[low:] == n // GROUP, index[:low], 0) ^ key)
        permuted = Array(inputs[n + (j ^ key)] for j in range(width))
        groups.append(registered(m, 1, f"{name}_{n // GROUP}", len(inputs[n]), permuted[select], reset_less=True))
    if len(groups) == 1:
        return registered(m, 1, name, len(groups[0]), groups[0], reset_less=True)
    key = copy % len(groups)
    high = registered(m, 1, f"{name}_high", range(len(groups)), index[low:])
    selected = registered(m, 1, f"{name}_selected", len(groups),
                          Cat(high == (j ^ key) for j in range(len(groups))))
    masked = (Mux(selected[j], groups[j ^ key], 0) for j in range(len(groups)))
    return registered(m, 1, name, len(groups[0]), reduce(operator.or_, masked), reset_less=True)


class ConvBuffer(wiring.Component):
    """Banks of ``bank_entries`` atoms (atomic_c bytes each). Banks ``[0, feature_banks)`` hold feature
    atoms, linearly (atom ``a`` in bank ``a // E`` at entry ``a % E``); the others hold weight blocks in
    sets of atomic_k banks (block ``b``, lane ``k`` in bank ``feature_banks + (b // E)·atomic_k + k`` at
    entry ``b % E``). ``feature_banks`` must be a multiple of atomic_k.

    Timing: a read takes :data:`READ_LATENCY` cycles: the index presented in cycle t has its atom(s) at
    the output in cycle t + 7 (an index register, so that the multiplexers in front of the buffer do not
    meet the route to the banks; a read-address register per bank, so that the index's fanout does not
    meet the SRAMs' address setup; the SRAM read; the SRAM's output register; a fabric register, which
    takes the route from the SRAM; a multiplexer per :data:`GROUP` banks into a register; the OR of
    those, each masked by its one-hot select bit, into the output register). One read per port every
    cycle. A write is registered twice (its bank decoded; a copy per :data:`GROUP` banks) and takes
    effect at the third clock edge after it is presented, the edge at which a read presented in the same
    cycle reads the SRAM: a read presented one or more cycles after a write returns its atom; one
    presented in the cycle of a write of the same entry returns undefined data on the FPGA (the banks
    have no read/write collision logic: ``no_rw_check``; simulation returns the old atom).

    No such read is used: a load and a computation that may run at the same time never touch the same
    atoms (:mod:`accel.isa.mac_array`; the golden executor rejects a Program that breaks this,
    :meth:`sim.golden.mac_array.MacArrayGolden.issue`), and a command that waits for the other unit
    presents its first access at least four cycles after that unit's last one (a load's last write:
    its unit is free two cycles later, a computation accepted then starts a cycle later and reads from
    the next; a computation's last read comes long before it is done).

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
        # The write, registered twice: with its bank decoded, then per group of GROUP banks a copy of the
        # entry and the data, loaded when the group is written (distinct registers, each near its banks).
        write_enables = Signal(spec.banks)
        write_entry_q, write_data_q = Signal(entry_bits), Signal.like(self.write_data)
        m.d.sync += [
            write_enables.eq(Cat(self.write_en & (write_bank == bank) for bank in range(spec.banks))),
            write_entry_q.eq(write_entry), write_data_q.eq(self.write_data),
        ]
        write_groups = []
        for n in range(0, spec.banks, GROUP):
            written = write_enables[n:n + GROUP].any()
            write_groups.append((registered(m, written, f"write_entry_{n // GROUP}", entry_bits, write_entry_q),
                                 registered(m, written, f"write_data_{n // GROUP}", len(write_data_q), write_data_q)))
        write_enables = registered(m, 1, "write_enables_q", spec.banks, write_enables)
        feature_entry, feature_bank = split(registered(m, 1, "feature_index_q", ENTRY_BITS, self.feature_index))
        weight_entry, weight_set = split(registered(m, 1, "weight_index_q", ENTRY_BITS, self.weight_index))

        # The SRAMs, each read every cycle, then their output registers (reset-less, so that they become
        # the SRAMs' own) and fabric registers.
        outputs = []
        for bank in range(spec.banks):
            mem = memory.Memory(shape=8 * spec.atomic_c, depth=spec.bank_entries, init=[],
                                attrs={"no_rw_check": 1})
            m.submodules[f"bank{bank}"] = mem
            write = mem.write_port()
            read = mem.read_port()
            is_feature = Signal(name=f"is_feature_{bank}")
            read_entry = Signal(entry_bits, name=f"read_entry_{bank}")
            m.d.sync += [is_feature.eq(bank < self.feature_banks),
                         read_entry.eq(Mux(is_feature, feature_entry, weight_entry))]
            m.d.comb += [
                write.addr.eq(write_groups[bank // GROUP][0]),
                write.data.eq(write_groups[bank // GROUP][1]),
                write.en.eq(write_enables[bank]),
                read.addr.eq(read_entry),
            ]
            output = registered(m, 1, f"output_{bank}", len(read.data), read.data, reset_less=True)
            outputs.append(registered(m, 1, f"fabric_{bank}", len(output), output, reset_less=True))

        # The output multiplexers select with the bank (set) of the read, delayed to meet the fabric
        # registers; a bank number beyond the banks is never read.
        feature_bank_q, weight_set_q = feature_bank, first_weight_set + weight_set
        for n in range(READ_LATENCY - 4):
            feature_bank_q = registered(m, 1, f"feature_bank_{n}", range(spec.banks), feature_bank_q)
            weight_set_q = registered(m, 1, f"weight_set_{n}", range(sets), weight_set_q)
        m.d.comb += self.feature_data.eq(_select(m, "feature_data", outputs, feature_bank_q))
        for lane in range(spec.atomic_k):
            m.d.comb += self.weight_data[lane].eq(
                _select(m, f"weight_data_{lane}", outputs[lane::spec.atomic_k], weight_set_q, copy=lane))
        return m
