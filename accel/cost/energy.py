"""Energy of a run: action counts × per-action energy (:mod:`accel.cost.tables`), broken down by level.

The counts come from the engine's performance counters (:mod:`accel.isa`; the perf model equals the RTL
on them) and, where a counter covers several actions or none, from the Program's commands, whose fields
fix what the datapath does per step. Per engine (s = spec):

- ``mac_array``: MACs = ``mac_active`` · atomic_c · atomic_k (an int8 multiply and an accumulator add
  each); convolution-buffer reads of one bank entry (atomic_c bytes, a bank of bank_kib KiB): a feature
  atom per convolution step (``mac_active``) and per pooling step (``pp_active`` less the element-wise
  lanes), two per element-wise atom; a weight atom per kernel lane (atomic_k) per convolution step and per
  parameter block (3 per Conv); buffer writes: one per loaded atom (LoadFeatures count · groups,
  LoadWeights count · atomic_k); requantization: an int32 multiply per output value of a Conv with
  ``last``; pooling: an int8 add per lane per pooling step; element-wise: three int32 multiplies per lane
  (two operand rescales, the output's); DRAM: ``bytes_read + bytes_written``.
- ``eie``: sparse-matrix reads of a 64-bit line (``spmat_reads``), pointer reads (``ptr_reads``, ptr_width
  bits, a bank of half the pointers); per entry a PE takes (``pe_busy``, padding included: its arithmetic
  runs on codebook value 0): a 16-bit codebook read, a 16-bit multiply, an accumulator add and the
  accumulator file's read and write (act_regs entries of acc_width bits); a source-file read per
  broadcast activation (``broadcasts`` less the bias items, whose value is a constant); the write-back of
  a Compute with ``last``: rows · n_pe accumulator reads and destination writes; loads and stores write
  or read their SRAM or register file once per element; DRAM traffic.
- ``xnor``: pe · simd binary MAC lanes per step (``active``), pe accumulator adds per step, a weight
  entry (pe · simd bits) and an input word (simd bits) read per step; per output position (out_h · out_w
  · nf · pool² per Mvtu) a threshold entry (pe · 32 bits) read and pe compares (an int32 add);
  loads write their entries; DRAM traffic.

A read is counted when the datapath uses its data: the RTL's buffer read ports have no enable (the
convolution buffer's) or follow the pipeline's advance (the xnor threshold memory, the eie source files),
so it also reads in cycles whose data is dropped, which a design with gated reads would not spend; a
convolution step at a padding position counts its feature read (the sequencer issues one every step).
Register files and small SRAMs take the SRAM law at their size (extrapolated below its smallest point);
a write costs a read. Only dynamic energy is counted: no leakage and no clock tree, so idle cycles cost
nothing here.
"""

from dataclasses import dataclass

from ..isa import eie as eie_isa
from ..isa import mac_array as mac_isa
from ..isa import xnor as xnor_isa
from ..program import Program
from .tables import Table, load_table

LEVELS = ("dram", "sram", "register_file", "compute")
"""Levels of the breakdown: off-chip memory, on-chip SRAM buffers, register files, arithmetic."""


@dataclass(frozen=True)
class Action:
    """``count`` actions ``name`` at memory level ``level``, each costing ``pj`` picojoules."""

    name: str
    level: str
    count: int
    pj: float

    @property
    def energy_pj(self) -> float:
        return self.count * self.pj


@dataclass(frozen=True)
class Energy:
    """The actions of one run and the table that priced them."""

    table: str
    actions: tuple[Action, ...]

    @property
    def total_pj(self) -> float:
        return sum(a.energy_pj for a in self.actions)

    @property
    def breakdown(self) -> dict[str, float]:
        """pJ per level of :data:`LEVELS`."""
        return {level: sum(a.energy_pj for a in self.actions if a.level == level) for level in LEVELS}

    @property
    def counts(self) -> dict[str, int]:
        return {a.name: a.count for a in self.actions}

    def to_dict(self) -> dict:
        """What ``accel simulate`` reports: ``energy_pj``, ``energy_breakdown`` (pJ per level),
        ``energy_table`` and ``energy_actions`` (count and pJ each, per action)."""
        return {"energy_pj": self.total_pj, "energy_breakdown": self.breakdown, "energy_table": self.table,
                "energy_actions": {a.name: {"level": a.level, "count": a.count, "pj": a.pj} for a in self.actions}}


def _kib(entries: int, bits: int) -> float:
    return entries * bits / 8 / 1024


def _total(commands, kind: type, field: str) -> int:
    """The sum of ``field`` over the commands of type ``kind``."""
    return sum(getattr(c, field) for c in commands if isinstance(c, kind))


def _dram(t: Table, counters: dict[str, int]) -> Action:
    return Action("dram_bytes", "dram", counters["bytes_read"] + counters["bytes_written"], t.dram_pj(1))


def _mac_array(t: Table, program: Program, counters: dict[str, int]) -> list[Action]:
    s, commands = program.spec, program.commands
    atom = t.sram_pj(s.bank_kib, 8 * s.atomic_c)
    convs = [c for c in commands if isinstance(c, mac_isa.Conv)]
    adds = [c for c in commands if isinstance(c, mac_isa.Eltwise)]
    lanes = sum(c.count for c in adds) * s.atomic_c
    pool_steps = counters["pp_active"] - lanes
    loaded = sum(c.count * (s.atomic_k if isinstance(c, mac_isa.LoadWeights) else c.groups)
                 for c in commands if isinstance(c, (mac_isa.LoadFeatures, mac_isa.LoadWeights)))
    steps = counters["mac_active"]
    return [
        _dram(t, counters),
        Action("cbuf_feature_reads", "sram", steps + pool_steps + 2 * sum(c.count for c in adds), atom),
        Action("cbuf_weight_reads", "sram", (steps + mac_isa.PARAM_BLOCKS * len(convs)) * s.atomic_k, atom),
        Action("cbuf_writes", "sram", loaded, atom),
        Action("macs", "compute", steps * s.atomic_c * s.atomic_k,
               t.int_pj("mult", 8) + t.int_pj("add", s.acc_width)),
        Action("requantizations", "compute", sum(c.out_h * c.out_w for c in convs if c.last) * s.atomic_k,
               t.int_pj("mult", 32)),
        Action("pool_lanes", "compute", pool_steps * s.atomic_c, t.int_pj("add", 8)),
        Action("eltwise_lanes", "compute", lanes, 3 * t.int_pj("mult", 32)),
    ]


def _eie(t: Table, program: Program, counters: dict[str, int]) -> list[Action]:
    s, commands = program.spec, program.commands
    bits = s.ACT_BITS
    spmat = t.sram_pj(_kib(s.spmat_lines, 64), 64)
    ptr = t.sram_pj(_kib(s.ptr_entries // 2, s.ptr_width), s.ptr_width)
    act = t.sram_pj(_kib(s.act_regs, bits), bits)
    acc = t.sram_pj(_kib(s.act_regs, s.acc_width), s.acc_width)
    codebook = t.sram_pj(_kib(s.CODEBOOK_ENTRIES, s.WEIGHT_BITS), s.WEIGHT_BITS)
    computes = [c for c in commands if isinstance(c, eie_isa.Compute)]
    written_back = sum(c.rows for c in computes if c.last) * s.n_pe
    entries = counters["pe_busy"]
    source_reads = counters["broadcasts"] - sum(c.bias for c in computes)
    return [
        _dram(t, counters),
        Action("spmat_reads", "sram", counters["spmat_reads"], spmat),
        Action("spmat_writes", "sram", _total(commands, eie_isa.LoadMatrix, "count") * s.n_pe, spmat),
        Action("ptr_reads", "sram", counters["ptr_reads"], ptr),
        Action("ptr_writes", "sram", _total(commands, eie_isa.LoadPointers, "count") * s.n_pe, ptr),
        Action("act_reads", "register_file", source_reads + _total(commands, eie_isa.StoreActs, "count"), act),
        Action("act_writes", "register_file", written_back + _total(commands, eie_isa.LoadActs, "count"), act),
        Action("acc_accesses", "register_file", 2 * entries + written_back, acc),
        Action("codebook_reads", "register_file", entries, codebook),
        Action("codebook_writes", "register_file",
               sum(isinstance(c, eie_isa.LoadCodebook) for c in commands) * s.CODEBOOK_ENTRIES, codebook),
        Action("macs", "compute", entries, t.int_pj("mult", s.WEIGHT_BITS) + t.int_pj("add", s.acc_width)),
    ]


def _xnor(t: Table, program: Program, counters: dict[str, int]) -> list[Action]:
    s, commands = program.spec, program.commands
    widths = {"input": s.simd, "weights": s.pe * s.simd, "thresholds": s.pe * s.THRESHOLD_SLOT}
    depths = {"input": s.input_depth, "weights": s.weight_depth, "thresholds": s.threshold_depth}
    pj = {m: t.sram_pj(_kib(depths[m], widths[m]), widths[m]) for m in xnor_isa.TARGETS}
    loads = [c for c in commands if isinstance(c, xnor_isa.Load)]
    positions = sum(c.out_h * c.out_w * c.nf * c.pool * c.pool for c in commands if isinstance(c, xnor_isa.Mvtu))
    steps = counters["active"]
    return [_dram(t, counters)] + [
        Action(f"{m}_writes", "sram", sum(c.count for c in loads if xnor_isa.TARGETS[c.target] == m), pj[m])
        for m in xnor_isa.TARGETS] + [
        Action("input_reads", "sram", steps, pj["input"]),
        Action("weight_reads", "sram", steps, pj["weights"]),
        Action("threshold_reads", "sram", positions, pj["thresholds"]),
        Action("xnor_lanes", "compute", steps * s.pe * s.simd, t.energy_pj["xnor_lane"]),
        Action("accumulations", "compute", steps * s.pe, t.int_pj("add", s.acc_width)),
        Action("threshold_compares", "compute", positions * s.pe, t.int_pj("add", 32)),
    ]


_ENGINES = {"mac_array": _mac_array, "eie": _eie, "xnor": _xnor}


def energy(program: Program, counters: dict[str, int], table: "str | Table" = "45nm") -> Energy:
    """The energy of running ``program`` with these performance ``counters`` (its perf model's or the
    RTL's), priced by ``table`` (a built-in name, a JSON file or a :class:`~accel.cost.tables.Table`)."""
    t = load_table(table)
    return Energy(t.name, tuple(_ENGINES[program.spec.name](t, program, counters)))
