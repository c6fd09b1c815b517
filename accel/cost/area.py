"""ASIC area of an engine instance: its SRAM and register-file bits at the table's mm² per KiB, and its
arithmetic units at the table's µm² per unit.

Units counted per engine (s = spec): ``mac_array`` — the convolution buffer (banks · bank_kib KiB) and
atomic_c · atomic_k MACs (int8 multiply, accumulator add); ``eie`` — per PE the sparse-matrix SRAM
(spmat_lines 64-bit lines), the pointer SRAM (ptr_entries of ptr_width bits), two activation files (act_regs
of 16 bits), the accumulators (act_regs of acc_width bits), the codebook (16 of 16 bits), and a 16-bit
multiply with an accumulator add; ``xnor`` — input buffer, weight and threshold memories, pe · simd
XNOR-popcount lanes, pe accumulator adds and pe threshold compares (int32 adds). Control, queues, wiring
and the clock tree are not counted. FPGA resources are ``accel synth``'s report, not estimated here.
"""

from ..spec import EieSpec, MacArraySpec, Spec, XnorSpec
from .tables import Table, load_table


def _memory_bits(s: Spec) -> int:
    if isinstance(s, MacArraySpec):
        return s.banks * s.bank_kib * 1024 * 8
    if isinstance(s, EieSpec):
        per_pe = (s.spmat_lines * 64 + s.ptr_entries * s.ptr_width + 2 * s.act_regs * s.ACT_BITS
                  + s.act_regs * s.acc_width + s.CODEBOOK_ENTRIES * s.WEIGHT_BITS)
        return s.n_pe * per_pe
    return (s.input_depth * s.simd + s.weight_depth * s.pe * s.simd
            + s.threshold_depth * s.pe * s.THRESHOLD_SLOT)


def _compute_um2(t: Table, s: Spec) -> float:
    if isinstance(s, MacArraySpec):
        return s.atomic_c * s.atomic_k * (t.int_um2("mult", 8) + t.int_um2("add", s.acc_width))
    if isinstance(s, EieSpec):
        return s.n_pe * (t.int_um2("mult", s.WEIGHT_BITS) + t.int_um2("add", s.acc_width))
    return s.pe * (s.simd * t.area_um2["xnor_lane"] + t.int_um2("add", s.acc_width) + t.int_um2("add", 32))


def area(spec: Spec, table: "str | Table" = "45nm") -> dict[str, float]:
    """ASIC area estimate of ``spec`` (mac_array, eie or xnor): memory KiB, memory, compute and total mm²."""
    if not isinstance(spec, (MacArraySpec, EieSpec, XnorSpec)):
        raise TypeError(f"no area model for {spec.name}")
    t = load_table(table)
    kib = _memory_bits(spec) / 8 / 1024
    memory, compute = kib * t.sram_mm2_per_kib, _compute_um2(t, spec) / 1e6
    return {"memory_kib": kib, "memory_mm2": memory, "compute_mm2": compute, "total_mm2": memory + compute}
