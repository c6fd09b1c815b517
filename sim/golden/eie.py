"""Golden executor of eie Programs: the engine's on-chip state and each command's effect, in numpy.

The fixed-point arithmetic is defined here, once (the RTL matches it bit for bit):

- activations and codebook values are int16 with ``act_frac`` and ``weight_frac`` fraction bits;
  codebook entry 0 is zero whatever the program stored there (padding entries use it and write nothing);
- each product ``codebook[v] · a`` is exact (int32) and the accumulators add them exactly (their width,
  ``EieSpec.acc_width``, is derived so no allowed layer overflows); the bias column's activation is the
  constant 1.0 = ``2**act_frac``;
- write-back: ``y = floor((acc + 2**(weight_frac − 1)) / 2**weight_frac)`` (round to nearest, ties toward
  +∞; no rounding term when weight_frac = 0), then saturate to [−32768, 32767], then ReLU (max(y, 0)) if
  asked — the result has act_frac fraction bits again.

Commands that would touch memory outside the SRAMs, the register files or the image raise ``ValueError``
(compiler bugs).
"""

from dataclasses import dataclass

import numpy as np

from accel.isa.eie import Compute, LoadActs, LoadCodebook, LoadMatrix, LoadPointers, StoreActs
from accel.program import Program
from accel.spec import EieSpec

from ..result import RunResult

INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def write_back(acc: np.ndarray, spec: EieSpec, relu: bool) -> np.ndarray:
    """Accumulators (weight_frac + act_frac fraction bits) → int16 activations (act_frac), as defined above."""
    acc = np.asarray(acc, np.int64)
    if spec.weight_frac:
        acc = (acc + (1 << (spec.weight_frac - 1))) >> spec.weight_frac
    y = np.clip(acc, INT16_MIN, INT16_MAX)
    return np.maximum(y, 0) if relu else y


@dataclass
class ComputeTrace:
    """What one ``Compute`` does, as the timing model needs it.

    ``values``: the broadcast activations in order (bias last), ``start``/``end``: (n_pe, K) entry ranges
    of each PE for each broadcast item, ``padding``: padding entries among them (all PEs).
    """

    values: np.ndarray
    start: np.ndarray
    end: np.ndarray
    padding: int = 0


class EieGolden:
    """Executes a Program command by command; ``memory`` is the external memory image."""

    def __init__(self, program: Program):
        spec: EieSpec = program.spec
        self.spec, self.program = spec, program
        self.memory = program.memory.flatten()
        n = spec.n_pe
        self.codebook = np.zeros(spec.CODEBOOK_ENTRIES, np.int64)
        self.ptr = np.zeros((n, spec.ptr_entries), np.int64)
        self.spmat = np.zeros((n, spec.spmat_entries), np.uint8)
        self.files = np.zeros((2, n, spec.act_regs), np.int64)
        self.source = 0
        self.acc = np.zeros((n, spec.act_regs), np.int64)
        self.traces: list[ComputeTrace | None] = []

    def run(self) -> RunResult:
        for command in self.program.commands:
            self.traces.append(getattr(self, type(command).__name__)(command))
        return RunResult(self.program, self.memory)

    def _dram(self, address: int, size: int) -> np.ndarray:
        if address < 0 or address + size > self.memory.size:
            raise ValueError(f"DRAM access {address:#x}+{size} outside the {self.memory.size}-byte image")
        return self.memory[address:address + size]

    def _beats(self, elements: int, per_beat: int) -> int:
        return -(-elements // per_beat)

    def LoadCodebook(self, c: LoadCodebook):
        self.codebook[:] = self._dram(c.address, 32).view("<i2")
        self.codebook[0] = 0

    def LoadPointers(self, c: LoadPointers):
        n = self.spec.n_pe
        if c.index + c.count > self.spec.ptr_entries:
            raise ValueError(f"{c}: pointers beyond the {self.spec.ptr_entries}-entry pointer SRAM")
        beats = self._beats(c.count * n, 4)
        words = self._dram(c.address, beats * 8).view("<u2")[:c.count * n]
        self.ptr[:, c.index:c.index + c.count] = words.reshape(c.count, n).T

    def LoadMatrix(self, c: LoadMatrix):
        n, lines = self.spec.n_pe, self.spec.spmat_lines
        if c.line + c.count > lines:
            raise ValueError(f"{c}: lines beyond the {lines}-line sparse-matrix SRAM")
        data = self._dram(c.address, c.count * n * 8).reshape(c.count, n, 8)
        self.spmat.reshape(n, lines, 8)[:, c.line:c.line + c.count] = data.transpose(1, 0, 2)

    def _elements(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        if count > self.spec.vector_capacity:
            raise ValueError(f"{count} elements exceed the register files ({self.spec.vector_capacity})")
        e = np.arange(count)
        return e % self.spec.n_pe, e // self.spec.n_pe

    def LoadActs(self, c: LoadActs):
        pe, local = self._elements(c.count)
        values = self._dram(c.address, self._beats(c.count, 4) * 8).view("<i2")[:c.count]
        self.files[self.source, pe, local] = values

    def StoreActs(self, c: StoreActs):
        pe, local = self._elements(c.count)
        out = np.zeros(self._beats(c.count, 4) * 4, "<i2")
        out[:c.count] = self.files[self.source, pe, local]
        self._dram(c.address, out.size * 2)[:] = out.view(np.uint8)

    def trace(self, c: Compute) -> ComputeTrace:
        """The broadcast items of ``c`` and every PE's entry range for each (state before ``c``)."""
        spec = self.spec
        if not c.col_lo <= c.col_hi <= spec.vector_capacity:
            raise ValueError(f"{c}: column range outside the {spec.vector_capacity}-element register files")
        source = self.files[self.source].T.reshape(-1)[c.col_lo:c.col_hi]  # element j = local·N + pe
        columns = np.flatnonzero(source)
        values = source[columns]
        if c.bias:
            columns = np.append(columns, c.col_hi - c.col_lo)
            values = np.append(values, 1 << spec.act_frac)
        index = c.ptr_base + columns
        if index.size and index[-1] + 1 >= spec.ptr_entries:
            raise ValueError(f"{c}: pointer index {index[-1] + 1} beyond the {spec.ptr_entries}-entry pointer SRAM")
        start, end = self.ptr[:, index], self.ptr[:, index + 1]
        if (start > end).any() or (end > spec.spmat_entries).any():
            raise ValueError(f"{c}: pointers out of order or beyond the sparse-matrix SRAM")
        return ComputeTrace(values, start, end)

    def Compute(self, c: Compute) -> ComputeTrace:
        spec = self.spec
        trace = self.trace(c)
        if c.first:
            self.acc[:] = 0
        for pe in range(spec.n_pe):
            start, end = trace.start[pe], trace.end[pe]
            lengths = end - start
            total = int(lengths.sum())
            if total == 0:
                continue
            item = np.repeat(np.arange(len(start)), lengths)
            first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            offset = np.arange(total) - np.repeat(first, lengths)
            entries = self.spmat[pe, start[item] + offset]
            v, z = (entries & 15).astype(np.int64), (entries >> 4).astype(np.int64)
            steps = np.cumsum(z + 1)
            base = np.repeat(np.concatenate(([0], steps))[first], lengths)
            rows = steps - base - 1
            if rows.max() >= spec.act_regs:
                raise ValueError(f"{c}: PE {pe} row {rows.max()} beyond the {spec.act_regs} accumulators")
            real = v != 0
            trace.padding += int(total - np.count_nonzero(real))
            products = self.codebook[v[real]] * trace.values[item[real]]
            # float64 sums are exact here: every partial sum is an integer below 2**51 (acc_width <= 52).
            self.acc[pe] += np.bincount(rows[real], products.astype(np.float64),
                                        minlength=spec.act_regs).astype(np.int64)
        if c.last:
            if c.rows > spec.act_regs:
                raise ValueError(f"{c}: {c.rows} rows exceed the {spec.act_regs}-entry register files")
            self.files[1 - self.source, :, :c.rows] = write_back(self.acc[:, :c.rows], spec, bool(c.relu))
            self.source = 1 - self.source
        return trace


def run(program: Program) -> RunResult:
    return EieGolden(program).run()
