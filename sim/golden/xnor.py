"""Golden executor of xnor Programs: each command's effect on the on-chip memories and DRAM, in numpy.

It defines the bits (see :mod:`accel.isa.xnor` for every command's meaning). An ``Mvtu`` gathers all its
input words at once, counts XNOR agreements with one matrix product per plane and applies the thresholds,
pooling and output packing exactly as the RTL does. Commands that would touch memory outside the buffers
or the image, or exceed the spec's derived widths, raise ``ValueError`` (compiler bugs).
"""

import numpy as np

from accel.isa.xnor import TARGETS, Load, Mvtu
from accel.program import Program
from accel.spec import XnorSpec

from ..result import RunResult


def to_bits(data: np.ndarray, count: int, width: int) -> np.ndarray:
    """The first ``count`` entries of ``width`` bits of the little-endian bit stream ``data`` (uint8 bytes)."""
    bits = np.unpackbits(data, bitorder="little")[:count * width]
    return bits.reshape(count, width)


def from_bits(bits: np.ndarray) -> np.ndarray:
    """A flat 0/1 array as little-endian bytes (the last byte zero-padded)."""
    return np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little")


def window_steps(c: Mvtu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (py, px, qy, qx, j, r, s, f) of the loop nest (nf aside): the input word of the step,
    whether it lies inside the stored map, and the within-pixel word j·cf + f (for the pad pixel)."""
    py, px, qy, qx, j, r, s, f = np.ix_(np.arange(c.out_h), np.arange(c.out_w), np.arange(c.pool),
                                        np.arange(c.pool), np.arange(c.planes), np.arange(c.kernel),
                                        np.arange(c.kernel), np.arange(c.cf))
    y = (py * c.pool + qy) * c.stride + r - c.pad
    x = (px * c.pool + qx) * c.stride + s - c.pad
    inside = (y >= 0) & (y < c.in_h) & (x >= 0) & (x < c.in_w)
    word = (c.origin + py * c.pool_row_step + qy * c.row_step + r * c.row_stride + px * c.pool_col_step
            + qx * c.col_step + s * c.col_stride + j * c.cf + f)
    within = j * c.cf + f
    shape = np.broadcast_shapes(word.shape, inside.shape)
    return np.broadcast_to(word, shape), np.broadcast_to(inside, shape), np.broadcast_to(within, shape)


class XnorGolden:
    """Executes a Program command by command; ``memory`` is the external memory image."""

    def __init__(self, program: Program):
        spec: XnorSpec = program.spec
        self.spec = spec
        self.program = program
        self.memory = program.memory.flatten()
        self.buffers = {
            "input": np.zeros((spec.input_depth, spec.simd), np.uint8),
            "weights": np.zeros((spec.weight_depth, spec.pe * spec.simd), np.uint8),
            "thresholds": np.zeros((spec.threshold_depth, spec.pe * spec.THRESHOLD_SLOT), np.uint8),
        }

    def run(self) -> RunResult:
        for command in self.program.commands:
            getattr(self, type(command).__name__)(command)
        return RunResult(self.program, self.memory)

    def _dram(self, address: int, size: int) -> np.ndarray:
        if address % self.spec.beat_bytes or address < 0 or address + size > self.memory.size:
            raise ValueError(f"DRAM access {address:#x}+{size}: not beat-aligned or outside the "
                             f"{self.memory.size}-byte image")
        return self.memory[address:address + size]

    def _check(self, what: str, index: np.ndarray | int, size: int):
        index = np.asarray(index)
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{what} {int(index.min())}..{int(index.max())} outside 0..{size - 1}")

    def Load(self, c: Load):
        if c.target >= len(TARGETS):
            raise ValueError(f"load target {c.target} is not one of {TARGETS}")
        buffer = self.buffers[TARGETS[c.target]]
        width = buffer.shape[1]
        self._check(f"{TARGETS[c.target]} entries", np.arange(c.entry, c.entry + c.count), len(buffer))
        beats = -(-c.count * width // self.spec.port_bits)
        data = self._dram(c.address, beats * self.spec.beat_bytes)
        buffer[c.entry:c.entry + c.count] = to_bits(data, c.count, width)

    def Mvtu(self, c: Mvtu):
        spec = self.spec
        pe, simd = spec.pe, spec.simd
        if c.planes < 1 or (c.planes > 1 and c.planes > spec.input_bits):
            raise ValueError(f"planes {c.planes}: expected 1 (±1 inputs) or 2..input_bits = {spec.input_bits}")
        words_per_position = c.kernel * c.kernel * c.cf
        if words_per_position * simd > spec.max_reduction:
            raise ValueError(f"reduction {words_per_position * simd} exceeds max_reduction {spec.max_reduction}")
        if c.dot and c.pool != 1:
            raise ValueError("an integer (dot) output needs pool 1")
        if not c.dot and c.pixel_chunks < c.nf:
            raise ValueError(f"pixel_chunks {c.pixel_chunks} is below nf {c.nf}")
        if min(c.out_h, c.out_w, c.nf, c.pool, c.planes, c.kernel, c.cf) == 0:
            raise ValueError("an Mvtu needs at least one step of every loop")
        word, inside, within = window_steps(c)
        address = np.where(inside, word, c.pad_base + within)
        self._check("input words", address, spec.input_depth)
        pixels, positions = c.out_h * c.out_w, c.pool * c.pool
        a = self.buffers["input"][address].reshape(pixels * positions, c.planes, -1).astype(np.float64)

        n, rs, f = np.ix_(np.arange(c.nf), np.arange(c.kernel * c.kernel), np.arange(c.cf))
        entry = c.wbase + n * c.sf + rs * c.cf + f  # (nf, k², cf)
        self._check("weight entries", entry, spec.weight_depth)
        w = self.buffers["weights"][entry].reshape(c.nf, words_per_position, pe, simd)
        w = w.transpose(0, 2, 1, 3).reshape(c.nf * pe, -1).astype(np.float64)  # channel n·pe + p

        agree = np.einsum("xjl,kl->xjk", a, w) + np.einsum("xjl,kl->xjk", 1 - a, 1 - w)
        agree = np.rint(agree).astype(np.int64)
        acc = (agree * (2 ** np.arange(c.planes - 1, -1, -1))[None, :, None]).sum(axis=1)

        tentries = c.tbase + np.arange(c.nf)
        self._check("threshold entries", tentries, spec.threshold_depth)
        slots = self.buffers["thresholds"][tentries].reshape(c.nf * pe, spec.THRESHOLD_SLOT)
        values = (slots.astype(np.int64) << np.arange(spec.THRESHOLD_SLOT)).sum(axis=1)
        t = values & (2**spec.threshold_width - 1)
        up = slots[:, 31].astype(bool)
        d = acc - t[None, :]  # (pixels·positions, channels)

        if c.dot:
            chunk_bits = -(-pe * spec.OUTPUT_INT_BITS // spec.port_bits) * spec.port_bits
            chunks = np.zeros((pixels * c.nf, chunk_bits // 32), np.int64)
            chunks[:, :pe] = d.reshape(pixels * c.nf, pe)
            out = chunks.astype("<i4").view(np.uint8).reshape(-1)
        else:
            bits = np.where(up[None, :], d >= 0, d < 0).reshape(pixels, positions, -1).any(axis=1)
            per_pixel = np.zeros((pixels, c.pixel_chunks * pe), bool)
            per_pixel[:, :c.nf * pe] = bits
            stream = per_pixel.reshape(-1)
            padded = np.zeros(-(-stream.size // spec.port_bits) * spec.port_bits, np.uint8)
            padded[:stream.size] = stream
            out = from_bits(padded)
        self._dram(c.out_address, out.size)[:] = out


def run(program: Program) -> RunResult:
    """Execute ``program`` bit-exactly; the final memory image."""
    return XnorGolden(program).run()
