"""Energy of one layer per engine == the layer's action counts, worked out by hand from its shape, × the
45 nm table's entries; and the breakdown adds up to the total."""

import importlib

import numpy as np
import pytest

from accel.compiler import parse_layer
from accel.cost import energy
from accel.spec import EieSpec, MacArraySpec, XnorSpec
from sim import perf

# Horowitz 45 nm (accel/cost/horowitz45.json), written out again here.
INT8_MULT, INT16_MULT, INT32_ADD, INT32_MULT, XNOR_LANE, DRAM_BYTE = \
    0.2, 0.8, 0.1, 3.1, 0.03 / 8, 1300 / 8


def sram(kib, bits):
    """The SRAM law fitted here by numpy to Horowitz's 8 KB, 32 KB, 1 MB points (10, 20, 100 pJ per 64 bits)."""
    b, log_a = np.polyfit(np.log([8, 32, 1024]), np.log([10, 20, 100]), 1)
    return np.exp(log_a) * kib ** b * bits / 64


def run(spec, layer):
    compiler = importlib.import_module(f"accel.compiler.{spec.name}")
    kind, params = parse_layer(layer, compiler.LAYER_KINDS)
    program = compiler.random_case(spec, kind, params, np.random.default_rng(0)).program
    counters = perf.run(program).counters
    return program, counters, energy(program, counters)


def commands(program, kind):
    return [c for c in program.commands if type(c).__name__ == kind]


def test_mac_array_conv():
    # 8×8 map, 8 channels in (one channel group of atomic_c = 8) and out (one kernel group), 3×3, pad 1.
    program, counters, e = run(MacArraySpec(), "conv:h=8,w=8,c=8,k=8,r=3,stride=1,pad=1")
    pixels, taps, convs = 8 * 8, 9, len(commands(program, "Conv"))
    loaded = sum(c.count * c.groups for c in commands(program, "LoadFeatures")) + \
        8 * sum(c.count for c in commands(program, "LoadWeights"))
    counts = {"macs": pixels * taps * 8 * 8, "cbuf_feature_reads": pixels * taps,
              "cbuf_weight_reads": (pixels * taps + 3 * convs) * 8, "cbuf_writes": loaded,
              "requantizations": pixels * 8, "dram_bytes": 8 * 8 * 8 + counters["bytes_read"]}
    assert {k: v for k, v in e.counts.items() if v} == counts
    atom = sram(4, 64)  # a bank of 4 KiB, 8 bytes wide
    # The accumulators are 33 bits (MacArraySpec.acc_width): above 32, the int32 add grows with the width.
    hand = (counts["macs"] * (INT8_MULT + INT32_ADD * 33 / 32) + counts["requantizations"] * INT32_MULT
            + (counts["cbuf_feature_reads"] + counts["cbuf_weight_reads"] + loaded) * atom
            + counts["dram_bytes"] * DRAM_BYTE)
    assert e.total_pj == pytest.approx(hand, rel=1e-9)
    assert sum(e.breakdown.values()) == pytest.approx(e.total_pj, rel=1e-12)
    assert e.breakdown["dram"] == pytest.approx(counts["dram_bytes"] * DRAM_BYTE)


def test_eie_dense():
    # 8 × 8 dense weights and activations on 4 PEs: 2 rows per PE, 8 columns and the bias column.
    spec = EieSpec()
    program, counters, e = run(spec, "dense:in=8,out=8,weight_density=1,act_density=1")
    entries = 8 * (8 + 1)
    (line_loads,) = [c.count for c in commands(program, "LoadMatrix")]
    (ptr_loads,) = [c.count for c in commands(program, "LoadPointers")]
    counts = {"macs": entries, "codebook_reads": entries, "acc_accesses": 2 * entries + 8,
              "act_reads": 8 + 8, "act_writes": 8 + 8, "ptr_reads": 2 * 9 * 4, "codebook_writes": 16,
              "spmat_reads": 4 * 3, "spmat_writes": 4 * line_loads, "ptr_writes": 4 * ptr_loads,
              "dram_bytes": counters["bytes_read"] + 8 * 2}
    assert e.counts == counts
    assert line_loads == 3  # 18 entries per PE, 8 to a line
    acc_bits = spec.acc_width  # 44: above 32, the int32 add grows with the width
    hand = (entries * (INT16_MULT + INT32_ADD * acc_bits / 32 + sram(16 * 2 / 1024, 16))
            + counts["acc_accesses"] * sram(64 * acc_bits / 8 / 1024, acc_bits)
            + 32 * sram(64 * 2 / 1024, 16) + 16 * sram(16 * 2 / 1024, 16)
            + (counts["ptr_reads"] + counts["ptr_writes"]) * sram(512 * 14 / 8 / 1024, 14)
            + (counts["spmat_reads"] + counts["spmat_writes"]) * sram(8, 64)
            + counts["dram_bytes"] * DRAM_BYTE)
    assert e.total_pj == pytest.approx(hand, rel=1e-9)


def test_xnor_dense():
    # 64 inputs, 8 outputs on 4 PEs × 32 SIMD: 2 synapse folds × 2 neuron folds = 4 steps.
    spec = XnorSpec()
    program, counters, e = run(spec, "dense:in=64,out=8")
    counts = {"xnor_lanes": 4 * 128, "accumulations": 4 * 4, "input_reads": 4, "weight_reads": 4,
              "threshold_reads": 2, "threshold_compares": 8, "input_writes": 4, "weights_writes": 4,
              "thresholds_writes": 2, "dram_bytes": counters["bytes_read"] + 8}
    assert e.counts == counts
    assert spec.acc_width == 20  # its adds cost int32 adds, the next width in the table
    hand = (512 * XNOR_LANE + (16 + 8) * INT32_ADD
            + 8 * sram(2048 * 32 / 8 / 1024, 32) + 8 * sram(1024 * 128 / 8 / 1024, 128)
            + 4 * sram(128 * 128 / 8 / 1024, 128) + counts["dram_bytes"] * DRAM_BYTE)
    assert e.total_pj == pytest.approx(hand, rel=1e-9)


@pytest.mark.rtl
@pytest.mark.parametrize("spec,layer,words", [  # the specs and harness sizes of tests/sim: their builds are reused
    (MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1), "conv:h=6,w=6,c=9,k=5,r=3,pad=1", 1 << 12),
    (EieSpec(n_pe=4, act_regs=128, ptr_entries=512, spmat_lines=256), "dense:in=40,out=24", 1 << 14),
    (XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, max_reduction=2048), "conv:h=6,w=6,c=16,k=16,r=3",
     1 << 14),
], ids=["mac_array", "eie", "xnor"])
def test_counts_from_the_rtl_equal_the_perf_model(spec, layer, words):
    """The counts behind the energy come from counters the RTL counts as the perf model predicts them."""
    from sim.rtl.execute import run as rtl

    program, _, predicted = run(spec, layer)
    measured = energy(program, rtl([program], words=words)[0].counters)
    assert measured == predicted
