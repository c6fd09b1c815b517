"""mac_array commands. Field widths are the command port's; the RTL decodes exactly these bits.

Convolution-buffer (CBUF) addressing: feature space is a linear array of *atoms* (atomic_c bytes, one
channel group of one pixel); weight space is an array of *blocks* (atomic_k atoms, one per kernel lane).
``Config`` splits the banks: the first ``feature_banks`` hold features, the rest weights.

Issue and concurrency: commands are issued in order, at most one per cycle. The load unit (loads) and
the compute units (convolution and pooling; element-wise) run at the same time: a load is issued when
the load unit is free, a compute command when the compute units are free, ``Config`` when both are; with
``wait`` set a load also waits for the compute units to be free and a compute command for the load unit.
The compiler sets ``wait`` so that no command reads buffer contents that a running load is writing and no
load overwrites contents that a running computation reads (double buffering); all of them set, execution
is strictly one command after another. The golden executor rejects a Program in which a load and a
computation that may run at the same time touch the same atoms (the hardware would race).

DRAM layouts (byte addresses, little-endian):
- features: channel-group blocked ``(CG, H, W, atomic_c)``, one atom per memory beat;
- a kernel group's weights: 3 parameter blocks then ``(CG, R, S)`` weight blocks, each block atomic_k atoms
  in kernel order, each atom atomic_c bytes in channel order. Parameter blocks hold, per kernel lane, in
  the atom's low 4 bytes: the folded int32 bias, the int32 multiplier M0, the int8 shift.
"""

from dataclasses import dataclass

import numpy as np

from ..fixedpoint import OUTPUT_STAGES, SATURATE_STAGES, STAGES
from ..program import Command, bits

ENTRY = 24  # CBUF atom/block indices
DIM = 12  # heights and widths (spec MAX_DIM = 2048)
ADDR = 32  # DRAM byte addresses


@dataclass(frozen=True)
class Config(Command, engine="mac_array", opcode=1):
    """Split the convolution buffer: banks [0, feature_banks) features, the rest weights."""

    feature_banks: int = bits(8)


@dataclass(frozen=True)
class LoadFeatures(Command, engine="mac_array", opcode=2):
    """Copy ``groups`` runs of ``count`` atoms: run g from DRAM ``address + g·src_stride`` (bytes) to
    feature atoms from ``entry + g·dst_stride`` (a band of rows of every channel group in one command)."""

    address: int = bits(ADDR)
    entry: int = bits(ENTRY)
    count: int = bits(ENTRY)
    groups: int = bits(16)
    src_stride: int = bits(ADDR)
    dst_stride: int = bits(ENTRY)
    wait: int = bits(1)


@dataclass(frozen=True)
class LoadWeights(Command, engine="mac_array", opcode=3):
    """Copy ``count`` blocks (count × atomic_k atoms) from DRAM ``address`` to weight blocks from ``block``."""

    address: int = bits(ADDR)
    block: int = bits(ENTRY)
    count: int = bits(ENTRY)
    wait: int = bits(1)


@dataclass(frozen=True)
class Conv(Command, engine="mac_array", opcode=4):
    """Convolve resident features with one kernel group, for ``out_h × out_w`` output pixels.

    Input atom of channel group g, row y, column x: feature ``fbase + g·cg_stride + y·in_w + x``;
    outside ``0 <= y < in_h``, ``0 <= x < in_w`` it is ``pad_value`` in every lane (the input zero point).
    Output pixel (oy, ox) reads rows ``oy·stride + y_off + r`` and columns ``ox·stride + x_off + s``.
    Weights: parameter blocks at ``wbase`` … ``wbase + 2``, then block ``wbase + 3 + (g·R + r)·S + s``.
    ``first`` starts each pixel's accumulator at the bias; ``last`` requantizes (M0, shift, ``out_zp``,
    clamp to [``lo``, ``hi``]) and writes the output atom of pixel p to DRAM ``out_address + p·atomic_k``.
    A pixel's accumulator persists between commands without ``last`` (only with out_h·out_w == 1).

    Partial sums (input-channel and kernel passes): with ``psum_in`` (which needs ``first``) pixel p's
    accumulators start at the int32 partial sums held in feature atoms ``psum_entry + PSUM_ATOMS·p`` …
    ``+ PSUM_ATOMS − 1`` instead of the bias; with ``psum_out`` (which needs ``last``) they are not
    requantized but saturated to int32 and written raw, PSUM_ATOMS beats per pixel, to DRAM
    ``out_address + PSUM_ATOMS·p·atomic_c``. Either way, pixel p's partial sums are the atomic_k int32
    lanes little-endian, lane k at bytes 4k … 4k + 3 of the pixel's PSUM_ATOMS atoms taken in order (see
    :func:`psum_bytes`). With either flag set every pixel spends PSUM_ATOMS steps on its partial sums
    before its first MAC step (reads with ``psum_in``, empty steps without). The parameter blocks are read
    as always; the bias is unused with ``psum_in``, M0, shift, ``out_zp``, ``lo`` and ``hi`` with ``psum_out``.
    """

    fbase: int = bits(ENTRY)
    cg_stride: int = bits(ENTRY)
    ncg: int = bits(16)
    in_h: int = bits(DIM)
    in_w: int = bits(DIM)
    kernel_h: int = bits(4)
    kernel_w: int = bits(4)
    stride: int = bits(3)
    y_off: int = bits(8, signed=True)
    x_off: int = bits(8, signed=True)
    out_h: int = bits(DIM)
    out_w: int = bits(DIM)
    wbase: int = bits(ENTRY)
    pad_value: int = bits(8, signed=True)
    out_zp: int = bits(8, signed=True)
    lo: int = bits(8, signed=True)
    hi: int = bits(8, signed=True)
    out_address: int = bits(ADDR)
    first: int = bits(1)
    last: int = bits(1)
    wait: int = bits(1)
    psum_entry: int = bits(ENTRY, default=0)
    psum_in: int = bits(1, default=0)
    psum_out: int = bits(1, default=0)


PARAM_BLOCKS = 3
REQUANT_LATENCY = STAGES + OUTPUT_STAGES
"""Cycles of the requantizer (rtl_gen.mac_array.requant): the multiply's stages, then the offset and clamp's."""
RAW_LATENCY = SATURATE_STAGES
"""Cycles from the requantizer's input to its lanes saturated to int32 (the partial sums ``psum_out`` writes)."""
PSUM_ATOMS = 4
"""Feature atoms (and DRAM beats) holding one pixel's partial sums: atomic_k int32 lanes in atoms of
atomic_c bytes (atomic_k == atomic_c)."""


def psum_bytes(acc) -> np.ndarray:
    """Partial sums (pixels, atomic_k) as the bytes (pixels, PSUM_ATOMS · atomic_c) they occupy in atoms and
    DRAM: each lane saturated to int32, little-endian."""
    acc = np.clip(np.asarray(acc, np.int64), -(2**31), 2**31 - 1).astype("<i4")
    return acc.view(np.uint8).reshape(acc.shape[0], -1)

COUNTERS = ("cycles", "commands", "mac_active", "pp_active", "stall_memory", "stall_buffer", "stall_postproc",
            "stall_issue", "bytes_read", "bytes_written")
"""The engine's performance counters, in the order of its ``counters`` port. ``commands`` counts issued
commands. Every cycle from the first issue to the end of the last command is exactly one of, by
what the compute units do: issue MACs (``mac_active``) or pooling steps and element-wise lanes
(``pp_active``); wait on the memory port — a blocked write port, write acknowledgements, or, while idle,
a running load (``stall_memory``); read parameters, operands and partial sums (a ``Conv``'s partial-sum
steps) and fill the read pipeline before their last step (``stall_buffer``); drain their pipelines after it (``stall_postproc``); or nothing, while
commands are being issued (``stall_issue``). ``cycles`` is their sum."""
WORK = ("mac_active", "pp_active", "stall_memory", "stall_buffer", "stall_postproc", "stall_issue")
"""The classes that partition ``cycles``."""
COMPUTE_CYCLES = ("mac_active", "pp_active")
LOAD_CYCLES = ("stall_memory",)
"""The classes of :data:`WORK` a run reports as computing and as waiting on loads (``accel simulate --weights``)."""


@dataclass(frozen=True)
class Pool(Command, engine="mac_array", opcode=5):
    """Max or average pooling of one channel group of resident features (NVDLA's PDP).

    Feature addressing and window placement as :class:`Conv` with one channel group; positions outside
    the stored map are skipped (neither the max nor the average counts them). The average is the
    window sum divided by the number of positions inside, rounded half away from zero (TFLite). Output
    atom of pixel p goes to DRAM ``out_address + p·atomic_c``.
    """

    fbase: int = bits(ENTRY)
    in_h: int = bits(DIM)
    in_w: int = bits(DIM)
    kernel_h: int = bits(4)
    kernel_w: int = bits(4)
    stride: int = bits(3)
    y_off: int = bits(8, signed=True)
    x_off: int = bits(8, signed=True)
    out_h: int = bits(DIM)
    out_w: int = bits(DIM)
    average: int = bits(1)
    out_address: int = bits(ADDR)
    wait: int = bits(1)


@dataclass(frozen=True)
class Eltwise(Command, engine="mac_array", opcode=6):
    """Element-wise sum of feature atoms ``a_entry + i`` and ``b_entry + i`` for i < ``count``, with
    TFLite's int8 ADD arithmetic (:class:`accel.int8.AddRequant`); output atom i goes to DRAM
    ``out_address + i·atomic_c``."""

    a_entry: int = bits(ENTRY)
    b_entry: int = bits(ENTRY)
    count: int = bits(ENTRY)
    a_zp: int = bits(8, signed=True)
    a_m0: int = bits(32)
    a_shift: int = bits(8, signed=True)
    b_zp: int = bits(8, signed=True)
    b_m0: int = bits(32)
    b_shift: int = bits(8, signed=True)
    out_m0: int = bits(32)
    out_shift: int = bits(8, signed=True)
    out_zp: int = bits(8, signed=True)
    lo: int = bits(8, signed=True)
    hi: int = bits(8, signed=True)
    out_address: int = bits(ADDR)
    wait: int = bits(1)
