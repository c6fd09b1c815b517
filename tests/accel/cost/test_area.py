"""ASIC area of each engine's default spec == its memory bits and arithmetic units × the 45 nm table."""

import pytest

from accel.cost import area
from accel.spec import EieSpec, MacArraySpec, XnorSpec

SRAM_MM2_PER_KIB = 0.003667  # EIE Table II: 128 KB in 469,412 µm²


def test_mac_array():
    # 32 banks of 4 KiB; 8 × 8 MACs of an int8 multiply (282 µm²) and a 33-bit add (137 µm² · 33/32).
    a = area(MacArraySpec())
    assert a["memory_kib"] == 128
    assert a["memory_mm2"] == pytest.approx(128 * SRAM_MM2_PER_KIB)
    assert a["compute_mm2"] == pytest.approx(64 * (282 + 137 * 33 / 32) / 1e6)
    assert a["total_mm2"] == pytest.approx(a["memory_mm2"] + a["compute_mm2"])


def test_eie():
    # Per PE of 4: 1024 lines of 64 bits, 1024 pointers of 14 bits, 2 × 64 activations of 16 bits,
    # 64 accumulators of 44 bits, 16 codebook values of 16 bits; a 16-bit multiply and a 44-bit add.
    bits = 4 * (1024 * 64 + 1024 * 14 + 2 * 64 * 16 + 64 * 44 + 16 * 16)
    a = area(EieSpec())
    assert a["memory_kib"] == pytest.approx(bits / 8192)
    assert a["compute_mm2"] == pytest.approx(4 * (1128 + 137 * 44 / 32) / 1e6)


def test_xnor():
    # 2048 input words of 32 bits, 1024 weight entries of 128 bits, 128 thresholds of 4 × 32 bits;
    # 4 PEs of 32 lanes (4.5 µm²), a 20-bit accumulator add and a threshold compare (int32 adds).
    a = area(XnorSpec())
    assert a["memory_kib"] == (2048 * 32 + 1024 * 128 + 128 * 128) / 8192
    assert a["compute_mm2"] == pytest.approx(4 * (32 * 4.5 + 137 + 137) / 1e6)
