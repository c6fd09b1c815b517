"""xnor commands. Field widths are the command port's; the RTL decodes exactly these bits.

On-chip memories (sizes from :class:`accel.spec.XnorSpec`):

- the *input buffer*: ``input_depth`` words of ``simd`` bits;
- the *weight memory*: ``weight_depth`` entries of ``pe × simd`` bits, PE p's word in bits
  [p·simd, (p+1)·simd);
- the *threshold memory*: ``threshold_depth`` entries of ``pe`` 32-bit slots; slot p holds PE p's threshold
  T (unsigned, low ``threshold_width`` bits) and its direction ``up`` (bit 31).

DRAM layouts (byte addresses, little-endian): every memory's entries back to back as one bit stream
(entry e at bits [e·width, (e+1)·width)), so a load of n entries reads ⌈n·width / port_bits⌉ beats.
A feature map is stored pixel by pixel (row-major), each pixel as ``planes × cf`` words of ``simd`` bits:
plane j (most significant bit first) of channel fold f is word ``j·cf + f``; a binary map has one plane,
bit = 1 for +1, channels beyond the real ones 0.
"""

from dataclasses import dataclass

from ..program import Command, bits

ENTRY = 20  # on-chip entry indices and counts (spec depths <= 2**16)
ADDR = 32  # DRAM byte addresses
DIM = 10  # heights and widths (spec MAX_DIM = 1023)

TARGETS = ("input", "weights", "thresholds")
"""``Load.target`` values: the memory a load writes."""


@dataclass(frozen=True)
class Load(Command, engine="xnor", opcode=1):
    """Copy ``count`` entries of memory ``TARGETS[target]`` from DRAM ``address`` (a beat boundary) to
    entries ``entry`` … ``entry + count − 1``."""

    target: int = bits(2)
    address: int = bits(ADDR)
    entry: int = bits(ENTRY)
    count: int = bits(ENTRY)


@dataclass(frozen=True)
class Mvtu(Command, engine="xnor", opcode=2):
    """A matrix-vector-threshold pass over the resident input map: a convolution (a dense layer is a 1×1
    one of a 1×1 map), optionally followed by a max-pool of its output bits (an OR).

    Loop nest (outermost first): output row ``py`` < out_h, column ``px`` < out_w, neuron fold ``n`` < nf,
    pool window row ``qy`` and column ``qx`` < pool, plane ``j`` < planes, kernel row ``r`` and column
    ``s`` < kernel, channel fold ``f`` < cf: one step, one cycle, per innermost iteration.

    Input word of a step: convolution row ``y = (py·pool + qy)·stride + r − pad`` and column
    ``x = (px·pool + qx)·stride + s − pad``; inside ``0 <= y < in_h``, ``0 <= x < in_w`` it is word
    ``origin + py·pool_row_step + qy·row_step + r·row_stride + px·pool_col_step + qx·col_step +
    s·col_stride + j·cf + f`` (the compiler sets origin = base − pad·(row_stride + col_stride), the steps
    to stride·row_stride and pool·stride·row_stride, etc.), outside it is word ``pad_base + j·cf + f``
    (a stored pad pixel: the pad value, +1 or −1, or 0 for integer inputs).
    Weight entry of a step: ``wbase + n·sf + (r·kernel + s)·cf + f`` (the same for every plane);
    thresholds: entry ``tbase + n``.

    Each PE p counts the agreeing bits c of its weight word and the input word and accumulates the counts
    (the ±1 algebra, a·w = 2·c − simd per word, is the compiler's, folded into T): its accumulator starts
    with c at the first step of a pool-window position and becomes ``2·acc + c`` at the first step of every
    later plane (Horner over planes, most significant first) and ``acc + c`` otherwise. After the
    position's last step ``d = acc − T``; with ``dot`` set, output (pixel, n) is ``d`` for every PE (int32,
    channel n·pe + p, each chunk of pe values padded with zeros to whole beats); else the position's bit
    is ``(d >= 0) if up else (d < 0)`` and the output bit of channel n·pe + p is the OR of the pool
    window's bits. Output bits stream from ``out_address`` in (py, px, n, p) order, pe bits per chunk
    (bit i of the stream is bit i % 8 of byte i // 8); each pixel's nf chunks are followed by
    ``pixel_chunks − nf`` chunks of zeros (so a pixel fills whole input words of the next layer), the last
    beat padded with zeros.
    """

    origin: int = bits(ENTRY + 2, signed=True)
    row_stride: int = bits(ENTRY)
    col_stride: int = bits(ENTRY)
    row_step: int = bits(ENTRY)
    col_step: int = bits(ENTRY)
    pool_row_step: int = bits(ENTRY)
    pool_col_step: int = bits(ENTRY)
    pad_base: int = bits(ENTRY)
    cf: int = bits(ENTRY)
    planes: int = bits(4)
    in_h: int = bits(DIM)
    in_w: int = bits(DIM)
    stride: int = bits(3)
    pad: int = bits(3)
    kernel: int = bits(3)
    pool: int = bits(3)
    out_h: int = bits(DIM)
    out_w: int = bits(DIM)
    nf: int = bits(ENTRY)
    sf: int = bits(ENTRY)
    wbase: int = bits(ENTRY)
    tbase: int = bits(ENTRY)
    dot: int = bits(1)
    pixel_chunks: int = bits(ENTRY)
    out_address: int = bits(ADDR)


COUNTERS = ("cycles", "commands", "active", "stall_memory", "stall_output", "stall_pipeline",
            "bytes_read", "bytes_written")
"""The engine's performance counters, in the order of its ``counters`` port. Every cycle with work is
exactly one of: a command accepted (``commands``), a step entering the XNOR–popcount datapath (``active``:
pe × simd binary MACs), waiting on the memory port — loads, a refused write, write acknowledgements
(``stall_memory``), the datapath held because a complete chunk waits for the MVTU's output register, which the
packer has not yet emptied (``stall_output``), or starting the window unit, filling and draining the pipeline
(``stall_pipeline``). ``cycles`` is their sum."""
WORK = COUNTERS[1:6]
"""The classes that partition ``cycles``."""
COMPUTE_CYCLES = ("active",)
LOAD_CYCLES = ("stall_memory",)
"""The classes of :data:`WORK` a run reports as computing and as waiting on loads (``accel simulate --weights``)."""
