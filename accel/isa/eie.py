"""eie commands. Field widths are the command port's; the RTL decodes exactly these bits.

On-chip state (per PE p of N = n_pe): pointer SRAM (``ptr_entries`` pointers, even/odd banks), sparse-
matrix SRAM (``spmat_lines`` 64-bit lines), two activation register files of ``act_regs`` 16-bit entries
(one is the *source*, the other the *destination*; they swap at the end of every ``Compute`` with
``last``), accumulators for ``act_regs`` local rows; one 16-entry codebook shared by all PEs.

Vector element j (an input activation or an output row) lives in PE ``j mod N`` at local index ``j div N``.

DRAM layouts (byte addresses, little-endian, 8-byte beats):
- codebook: 16 int16 values (entry 0 is used as zero whatever is stored);
- pointers: ``(count, N)`` uint16 — pointer ``index + i`` of every PE in PE order, 4 per beat;
- sparse matrix: ``(count, N, 8)`` uint8 — line ``line + i`` of every PE in PE order, one line per beat;
  entry byte = ``v | z << 4`` (v the codebook index, 0 for padding; z the zero run before it);
- activations: int16 in element order, 4 per beat; a store writes zeros after the last element of its
  last beat.
"""

from dataclasses import dataclass

from ..program import Command, bits

ADDR = 32  # DRAM byte addresses
COL = 19  # vector positions: n_pe · act_regs <= 256 · 1024 = 2**18
PTR = 17  # pointer indices and counts: ptr_entries <= 65536
LINE = 13  # sparse-matrix lines and counts: spmat_lines <= 4096
ROWS = 11  # local rows per PE: act_regs <= 1024


SLOTS = 4
"""16-bit elements (pointers, activations, codebook entries) per 64-bit memory beat."""


def pointer_pace(n_pe: int) -> int:
    """Cycles the DMA takes to store one beat of pointers: 4 per beat, at most one write per pointer bank
    (even, odd) of each PE per cycle — 2 with one PE, else 1."""
    return SLOTS // min(SLOTS, 2 * n_pe)


def act_pace(n_pe: int) -> int:
    """Cycles to store (or read for a store) one beat of activations: 4 per beat, one register-file
    access per PE per cycle — 4 / N with N < 4 PEs, else 1."""
    return SLOTS // min(SLOTS, n_pe)


@dataclass(frozen=True)
class LoadCodebook(Command, engine="eie", opcode=1):
    """Copy the 16-entry codebook (4 beats) from DRAM ``address``."""

    address: int = bits(ADDR)


@dataclass(frozen=True)
class LoadPointers(Command, engine="eie", opcode=2):
    """Copy pointers ``index`` … ``index + count − 1`` of every PE (count · N uint16) from ``address``."""

    address: int = bits(ADDR)
    index: int = bits(PTR)
    count: int = bits(PTR)


@dataclass(frozen=True)
class LoadMatrix(Command, engine="eie", opcode=3):
    """Copy sparse-matrix lines ``line`` … ``line + count − 1`` of every PE (count · N beats) from ``address``."""

    address: int = bits(ADDR)
    line: int = bits(LINE)
    count: int = bits(LINE)


@dataclass(frozen=True)
class LoadActs(Command, engine="eie", opcode=4):
    """Copy ``count`` int16 activations from ``address`` into elements 0 … count − 1 of the source file."""

    address: int = bits(ADDR)
    count: int = bits(COL)


@dataclass(frozen=True)
class Compute(Command, engine="eie", opcode=5):
    """Multiply the sparse matrix by the non-zero source activations j in [``col_lo``, ``col_hi``).

    The broadcast sends each non-zero activation a_j (ascending j) with pointer index
    ``ptr_base + j − col_lo``; with ``bias`` it then sends the constant 1.0 (2**act_frac) with pointer
    index ``ptr_base + col_hi − col_lo`` (the bias column). Column k of PE p is its entries
    ``ptr[k]`` … ``ptr[k+1] − 1``; each non-padding entry adds ``codebook[v] · a`` to the accumulator of
    its local row. ``first`` clears the accumulators before; ``last`` then writes local rows
    0 … ``rows`` − 1 of every PE to the destination file (rounded, saturated, ReLU if ``relu``) and swaps
    the files, so the results become the next layer's source.
    """

    col_lo: int = bits(COL)
    col_hi: int = bits(COL)
    ptr_base: int = bits(PTR)
    rows: int = bits(ROWS)
    bias: int = bits(1)
    first: int = bits(1)
    last: int = bits(1)
    relu: int = bits(1)


@dataclass(frozen=True)
class StoreActs(Command, engine="eie", opcode=6):
    """Write source-file elements 0 … count − 1 as int16 to DRAM ``address`` (⌈count/4⌉ beats)."""

    address: int = bits(ADDR)
    count: int = bits(COL)


COUNTERS = ("cycles", "commands", "memory_cycles", "compute_cycles", "writeback_cycles", "pe_busy", "pe_idle",
            "padding_entries", "queue_full_stalls", "broadcasts", "ptr_reads", "spmat_reads", "bytes_read",
            "bytes_written")
"""The engine's performance counters, in the order of its ``counters`` port.

Every working cycle is exactly one of: a command accepted (``commands``), a load or store running
(``memory_cycles``), the broadcast and the PEs of a ``Compute`` running until all PEs are drained
(``compute_cycles``), or writing the accumulators back to the destination file (``writeback_cycles``);
``cycles`` is their sum. Summed over PEs during ``compute_cycles``: ``pe_busy`` — cycles a PE's
arithmetic unit takes an entry (non-zero or padding), ``pe_idle`` — all the others (waiting on an empty
queue, a column without entries in this PE, pipeline fill and drain); ``pe_busy + pe_idle =
n_pe · compute_cycles``. ``padding_entries``: padding entries processed (part of ``pe_busy``).
``queue_full_stalls``: cycles a broadcast waited because some queue was full. ``broadcasts``: activations
broadcast (bias included). ``ptr_reads``, ``spmat_reads``: reads of pointer banks and of sparse-matrix
lines, summed over PEs. ``bytes_read``, ``bytes_written``: memory-port traffic."""
WORK = ("commands", "memory_cycles", "compute_cycles", "writeback_cycles")
"""The classes that partition ``cycles``."""
COMPUTE_CYCLES = ("compute_cycles",)
LOAD_CYCLES = ("memory_cycles",)
"""The classes of :data:`WORK` a run reports as computing and as loading (``accel simulate --weights``)."""
