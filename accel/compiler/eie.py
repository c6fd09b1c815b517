"""Lowering of compressed (pruned, weight-shared) Dense layers and MLPs onto the eie engine.

A :class:`SparseDense` layer is a matrix of 4-bit codebook indices (0 is zero), its 16-entry int16
codebook and optionally bias indices into the same codebook: the bias is an extra column of the matrix
that the broadcast feeds the constant 1.0 (EIE, Section III). Lowering (Section IV's batching):

- *row batches*: outputs beyond the destination register files (n_pe · act_regs) run as separate passes,
  each re-loading the input and storing its slice of the output;
- *input chunks*: inputs beyond the source register files are loaded a chunk at a time, partial sums
  staying in the accumulators between chunks (``first`` / ``last``);
- *column blocks*: a chunk's columns whose entries do not fit the sparse-matrix SRAM or whose pointers do
  not fit the pointer SRAM are split into blocks loaded one after another (the paper assumes the matrix
  fits; :class:`Plan` says when a split happened).

An MLP keeps its activations on chip between layers (the register files swap roles) whenever a layer's
output fits the register files; otherwise it goes through DRAM. :func:`lower_mlp_batch` runs many input
vectors with every layer's weights resident at once (each layer at its own pointer index and SRAM line).
:func:`digits_mlp` prunes and weight-shares the trained digits MLP (``accel.compress``) into eie layers.
"""

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..compress.encode import EieCsc, encode_csc
from ..errors import UserError
from ..isa.eie import ADDR, Compute, LoadActs, LoadCodebook, LoadMatrix, LoadPointers, StoreActs
from ..program import MemoryImage, Program
from ..spec import EieSpec, shown
from . import LayerRecord, Network, Readout, check_memory

INT16 = (-(2**15), 2**15 - 1)


@dataclass(frozen=True)
class SparseDense:
    """A compressed Dense layer: ``indices`` (out, in) uint8 in 0..15 (a numpy array, or a scipy.sparse matrix
    that is never made dense), ``codebook`` (16,) int16 with ``weight_frac`` fraction bits of the spec,
    ``bias`` (out,) uint8 codebook indices or None, ``relu``."""

    indices: np.ndarray
    codebook: np.ndarray
    bias: np.ndarray | None = None
    relu: bool = False
    name: str = "dense"

    @property
    def shape(self) -> tuple[int, int]:
        return self.indices.shape

    def matrix(self) -> np.ndarray:
        """The index matrix the engine stores: the bias column appended when there is a bias."""
        if self.bias is None:
            return self.indices
        if sparse.issparse(self.indices):
            return sparse.hstack([self.indices, sparse.csr_array(self.bias[:, None])], format="csr")
        return np.concatenate([self.indices, self.bias[:, None]], axis=1)

    def nonzeros(self, columns=slice(None)) -> int:
        """Non-zero weights (of ``columns``; the bias not counted)."""
        chosen = self.indices[:, columns]
        return int(chosen.count_nonzero() if sparse.issparse(chosen) else np.count_nonzero(chosen))


@dataclass
class Plan:
    """How a layer was mapped: row batches, input chunks, column blocks (all chunks), entries stored."""

    name: str
    shape: tuple[int, int]
    row_batches: int = 0
    input_chunks: int = 0
    column_blocks: int = 0
    on_chip_input: bool = False
    on_chip_output: bool = False
    entries: int = 0
    padding_entries: int = 0

    @property
    def split(self) -> bool:
        """Whether some chunk's columns needed more than one block (the matrix exceeded an SRAM)."""
        return self.column_blocks > self.row_batches * self.input_chunks


@dataclass
class Lowered:
    """A lowered layer or network: the Program, its plans and where its output is."""

    program: Program
    plans: list[Plan]
    outputs: int
    batch: int = 0  # 0: one input vector; else the number of vectors of a batch
    info: dict = field(default_factory=dict)
    ranges: list[list[tuple[int, int]]] = field(default_factory=list)
    """Per layer, the [first, end) ranges of its commands (filled by :func:`lower_mlp_batch`)."""

    def output(self, memory: np.ndarray) -> np.ndarray:
        """The int16 output vector (a batch: one row per input) from a final memory image."""
        region = self.program.memory["output"]
        values = memory[region.address:region.end].view("<i2")
        if not self.batch:
            return values[:self.outputs].copy()
        return values.reshape(self.batch, -1)[:, :self.outputs].copy()


def check_layer(spec: EieSpec, layer: SparseDense) -> None:
    """A :class:`UserError` naming what makes ``layer`` unfit for ``spec``."""
    out, n_in = layer.shape
    if out < 1 or n_in < 1:
        raise UserError(f"layer '{layer.name}': shape {layer.shape} is not allowed; expected at least 1 × 1")
    if n_in > spec.max_cols:
        raise UserError(f"layer '{layer.name}': {n_in} inputs exceed eie.max_cols = {spec.max_cols} (which sets "
                        f"the accumulator width); expected in <= max_cols")
    values = layer.indices.data if sparse.issparse(layer.indices) else layer.indices
    if values.size and (values.min() < 0 or values.max() > 15):
        raise UserError(f"layer '{layer.name}': codebook indices must be in 0..15")
    if len(layer.codebook) != spec.CODEBOOK_ENTRIES or layer.codebook[0] != 0:
        raise UserError(f"layer '{layer.name}': the codebook must have 16 int16 entries with entry 0 == 0")


class _Builder:
    """Accumulates the memory image and command list of one Program."""

    def __init__(self, spec: EieSpec):
        self.spec = spec
        self.memory = MemoryImage(alignment=64)
        self.commands: list = []

    def _blocks(self, csc: EieCsc, lo: int, hi: int, name: str) -> list[tuple[int, int]]:
        """Column blocks [a, b) of [lo, hi): the most columns whose pointers and entries fit."""
        spec = self.spec
        ptr = np.stack(csc.ptr)  # (N, cols + 1)
        blocks, a = [], lo
        while a < hi:
            fits = [np.searchsorted(ptr[p], ptr[p, a] + spec.spmat_entries, side="right") - 1
                    for p in range(spec.n_pe)]
            b = int(min(hi, a + spec.ptr_entries - 1, *fits))
            if b <= a:
                raise UserError(f"layer '{name}': column {a} alone has more entries in one PE than the "
                                f"{spec.spmat_entries}-entry sparse-matrix SRAM holds; expected a larger spmat_lines")
            blocks.append((int(a), int(b)))
            a = b
        return blocks

    def _block_data(self, csc: EieCsc, a: int, b: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Pointers (b − a + 1, N) uint16 and lines (count, N, 8) uint8 of block [a, b)."""
        n = self.spec.n_pe
        ptr = np.stack(csc.ptr)[:, a:b + 1]
        starts = ptr[:, 0]
        rel = (ptr - starts[:, None]).T.astype("<u2")
        lengths = ptr[:, -1] - starts
        lines = max(1, -(-int(lengths.max()) // 8))
        data = np.zeros((n, lines * 8), np.uint8)
        for p in range(n):
            s, e = int(starts[p]), int(ptr[p, -1])
            data[p, :e - s] = csc.v[p][s:e] | (csc.z[p][s:e] << 4)
        return rel, data.reshape(n, lines, 8).transpose(1, 0, 2), lines

    def layer(self, layer: SparseDense, index: int, source: str | None, store: str | None) -> Plan:
        """Emit ``layer``; its input from DRAM region ``source`` (None: already the source file) and its
        output to DRAM region ``store`` (None: left in the source file for the next layer)."""
        spec = self.spec
        check_layer(spec, layer)
        out, n_in = layer.shape
        cap = spec.vector_capacity
        matrix = layer.matrix()
        has_bias = layer.bias is not None
        plan = Plan(layer.name, layer.shape, row_batches=-(-out // cap), input_chunks=-(-n_in // cap),
                    on_chip_input=source is None, on_chip_output=store is None)
        if source is None and (plan.row_batches > 1 or plan.input_chunks > 1):
            raise AssertionError("an on-chip input needs one row batch and one input chunk")
        codebook = self.memory.add(f"codebook{index}", np.asarray(layer.codebook, "<i2"))
        self.commands.append(LoadCodebook(codebook.address))
        pointer_blobs, matrix_blobs, emitted = [], [], []
        for rb in range(plan.row_batches):
            rows = matrix[rb * cap:(rb + 1) * cap]
            csc = encode_csc(rows, spec.n_pe)
            plan.entries += csc.entries
            plan.padding_entries += csc.padding_entries
            local_rows = -(-rows.shape[0] // spec.n_pe)
            for chunk in range(plan.input_chunks):
                lo, hi = chunk * cap, min(n_in, (chunk + 1) * cap)
                last_chunk = chunk == plan.input_chunks - 1
                if source is not None:
                    emitted.append(("acts", lo, hi - lo))
                blocks = self._blocks(csc, lo, hi + (1 if has_bias and last_chunk else 0), layer.name)
                plan.column_blocks += len(blocks)
                for number, (a, b) in enumerate(blocks):
                    pointers, lines, count = self._block_data(csc, a, b)
                    pointer_blobs.append(pointers.reshape(-1))
                    matrix_blobs.append(lines.reshape(-1))
                    first = chunk == 0 and number == 0
                    last = last_chunk and number == len(blocks) - 1
                    compute = Compute(col_lo=a - lo, col_hi=min(b, hi) - lo, ptr_base=0, rows=local_rows,
                                      bias=int(b > hi), first=int(first), last=int(last), relu=int(layer.relu))
                    emitted.append(("block", len(pointer_blobs) - 1, b - a + 1, count, compute))
            if store is not None:
                emitted.append(("store", rb * cap, rows.shape[0]))
        pointer_offsets = self._concat(f"pointers{index}", pointer_blobs, 2)
        matrix_offsets = self._concat(f"matrix{index}", matrix_blobs, 1)
        for item in emitted:
            if item[0] == "acts":
                _, lo, count = item
                self.commands.append(LoadActs(self.memory[source].address + 2 * lo, count))
            elif item[0] == "block":
                _, blob, pointers, lines, compute = item
                self.commands.append(LoadPointers(pointer_offsets[blob], 0, pointers))
                self.commands.append(LoadMatrix(matrix_offsets[blob], 0, lines))
                self.commands.append(compute)
            else:
                _, first_row, count = item
                self.commands.append(StoreActs(self.memory[store].address + 2 * first_row, count))
        return plan

    def _concat(self, name: str, blobs: list[np.ndarray], itemsize: int) -> list[int]:
        """Place ``blobs`` back to back in region ``name``, each starting on a beat; their addresses."""
        padded, offsets, offset = [], [], 0
        for blob in blobs:
            raw = blob.astype(f"<u{itemsize}").view(np.uint8)
            size = -(-raw.size // 8) * 8
            padded.append(np.concatenate([raw, np.zeros(size - raw.size, np.uint8)]))
            offsets.append(offset)
            offset += size
        region = self.memory.add(name, np.concatenate(padded) if padded else np.zeros(8, np.uint8))
        return [region.address + o for o in offsets]


def lower_mlp(spec: EieSpec, layers: list[SparseDense], x: np.ndarray) -> Lowered:
    """Lower ``layers`` applied in turn to the int16 input ``x`` (act_frac fraction bits) to one Program.

    The output of a layer stays on chip as the next layer's input when it fits the register files."""
    if not layers:
        raise UserError("mlp: expected at least one layer")
    for before, after in zip(layers, layers[1:]):
        if before.shape[0] != after.shape[1]:
            raise UserError(f"layer '{after.name}': {after.shape[1]} inputs do not match the {before.shape[0]} "
                            f"outputs of '{before.name}'")
    x = np.asarray(x)
    if x.shape != (layers[0].shape[1],):
        raise UserError(f"mlp: input of shape {x.shape} does not match {layers[0].shape[1]} inputs")
    builder = _Builder(spec)
    cap = spec.vector_capacity
    builder.memory.add("input", np.asarray(x, "<i2"))
    plans, source = [], "input"
    for index, layer in enumerate(layers):
        last = index == len(layers) - 1
        # The next layer reads its input on chip only if it computes its rows in one batch.
        on_chip = not last and layer.shape[0] <= cap and layers[index + 1].shape[0] <= cap
        store = None
        if not on_chip:
            store = "output" if last else f"activations{index}"
            builder.memory.reserve(store, -(-layer.shape[0] // 4) * 8)
        plans.append(builder.layer(layer, index, source, store))
        source = store
    outputs = layers[-1].shape[0]
    program = Program(spec, builder.commands, builder.memory)
    return Lowered(program, plans, outputs)


def _padded(vectors: np.ndarray) -> np.ndarray:
    """Rows padded to whole beats (4 int16 each), as a DMA of each row reads or writes them."""
    rows, length = vectors.shape
    out = np.zeros((rows, -(-length // 4) * 4), "<i2")
    out[:, :length] = vectors
    return out


def lower_mlp_batch(spec: EieSpec, layers: list[SparseDense], xs: np.ndarray) -> Lowered:
    """Lower ``layers`` applied to every row of ``xs`` with all weights resident on chip.

    Every layer's pointers and sparse matrix are loaded once, each at its own pointer index and line
    (``Compute.ptr_base``); then per input vector: load it, run the layers (reloading only the 16-entry
    codebook of each), store the result. A :class:`UserError` says what does not fit on chip."""
    xs = np.asarray(xs)
    if xs.ndim != 2 or not layers or xs.shape[1] != layers[0].shape[1]:
        raise UserError(f"mlp batch: inputs of shape {xs.shape} do not match {layers[0].shape[1] if layers else '?'} "
                        f"inputs; expected (vectors, inputs)")
    builder = _Builder(spec)
    cap = spec.vector_capacity
    inputs = builder.memory.add("input", _padded(xs))
    plans, resident, line_base, ptr_base = [], [], 0, 0
    for index, layer in enumerate(layers):
        check_layer(spec, layer)
        out, n_in = layer.shape
        if index and layers[index - 1].shape[0] != n_in:
            raise UserError(f"layer '{layer.name}': {n_in} inputs do not match the {layers[index - 1].shape[0]} "
                            f"outputs of '{layers[index - 1].name}'")
        if max(out, n_in) > cap:
            raise UserError(f"layer '{layer.name}': {max(out, n_in)} activations exceed the register files "
                            f"(n_pe · act_regs = {cap}); expected a larger n_pe or act_regs to keep the MLP on chip")
        csc = encode_csc(layer.matrix(), spec.n_pe)
        columns = layer.matrix().shape[1]
        pointers, lines, count = builder._block_data(csc, 0, columns)
        if line_base + count > spec.spmat_lines or ptr_base + columns + 1 > spec.ptr_entries:
            raise UserError(f"layer '{layer.name}': the weights of the MLP do not fit on chip together "
                            f"({line_base + count} of {spec.spmat_lines} sparse-matrix lines, {ptr_base + columns + 1} "
                            f"of {spec.ptr_entries} pointers); expected larger spmat_lines or ptr_entries")
        pointer_region = builder.memory.add(f"pointers{index}", (pointers + line_base * 8).astype("<u2"))
        matrix_region = builder.memory.add(f"matrix{index}", lines)
        codebook = builder.memory.add(f"codebook{index}", np.asarray(layer.codebook, "<i2"))
        builder.commands += [LoadPointers(pointer_region.address, ptr_base, columns + 1),
                             LoadMatrix(matrix_region.address, line_base, count)]
        compute = Compute(col_lo=0, col_hi=n_in, ptr_base=ptr_base, rows=-(-out // spec.n_pe),
                          bias=int(layer.bias is not None), first=1, last=1, relu=int(layer.relu))
        resident.append((codebook.address, compute))
        plans.append(Plan(layer.name, layer.shape, 1, 1, 1, index > 0, index < len(layers) - 1, csc.entries,
                          csc.padding_entries))
        line_base, ptr_base = line_base + count, ptr_base + columns + 1
    outputs = layers[-1].shape[0]
    stride_in, stride_out = inputs.size // len(xs), -(-outputs // 4) * 8
    output = builder.memory.reserve("output", stride_out * len(xs))
    ranges = [[(2 * index, 2 * index + 2)] for index in range(len(layers))]  # the resident weights' loads
    for i in range(len(xs)):
        first = len(builder.commands)
        builder.commands.append(LoadActs(inputs.address + i * stride_in, xs.shape[1]))
        for index, (codebook, compute) in enumerate(resident):
            start = first if index == 0 else len(builder.commands)  # the first layer loads the input
            builder.commands += [LoadCodebook(codebook), compute]
            if index == len(resident) - 1:  # the last layer stores the output
                builder.commands.append(StoreActs(output.address + i * stride_out, outputs))
            ranges[index].append((start, len(builder.commands)))
    return Lowered(Program(spec, builder.commands, builder.memory), plans, outputs, batch=len(xs), ranges=ranges)


def lower_dense(spec: EieSpec, layer: SparseDense, x: np.ndarray) -> Lowered:
    """Lower one compressed Dense layer applied to int16 ``x`` to a Program."""
    return lower_mlp(spec, [layer], x)


def reference(spec: EieSpec, layers: list[SparseDense], x: np.ndarray) -> np.ndarray:
    """The int16 output of ``layers`` on ``x``, computed densely (independent of the engine's data flow).

    Each layer: exact integer sum ``codebook[W] @ x + codebook[bias] · 2**act_frac``, then rounding to
    nearest with ties up by ``weight_frac`` bits (floor division of the biased sum), saturation to int16,
    ReLU if the layer has it."""
    y = np.asarray(x, np.int64)
    for layer in layers:
        codebook = np.asarray(layer.codebook, np.int64).copy()
        codebook[0] = 0
        if sparse.issparse(layer.indices):
            weights = sparse.csr_array(layer.indices, dtype=np.int64)
            weights.data = codebook[weights.data]
            acc = weights @ y
        else:
            acc = codebook[layer.indices] @ y
        if layer.bias is not None:
            acc = acc + codebook[layer.bias] * (1 << spec.act_frac)
        scale = 1 << spec.weight_frac
        rounded = np.floor_divide(acc + scale // 2, scale)
        y = np.clip(rounded, *INT16)
        if layer.relu:
            y = np.where(y > 0, y, 0)
    return y.astype(np.int16)


def random_indices(rng: np.random.Generator, rows: int, cols: int, density: float) -> np.ndarray:
    """A (rows, cols) uint8 matrix of codebook indices 1..15 where a uniform draw is below ``density``, else
    0 (generated in slices of rows, so even VGG-6's 4096 × 25088 stays small in memory)."""
    indices = np.zeros((rows, cols), np.uint8)
    step = max(1, (1 << 22) // max(cols, 1))
    for lo in range(0, rows, step):
        hi = min(rows, lo + step)
        mask = rng.random((hi - lo, cols), dtype=np.float32) < density
        indices[lo:hi][mask] = rng.integers(1, 16, int(mask.sum()), dtype=np.uint8)
    return indices


def random_dense(rng: np.random.Generator, spec: EieSpec, n_in: int, n_out: int, weight_density: float,
                 act_density: float, *, relu: bool = True, bias: bool = True, gain: float = 1.0,
                 name: str = "dense") -> tuple[SparseDense, np.ndarray]:
    """A random compressed Dense layer and input: weights non-zero with ``weight_density``, activations
    with ``act_density``; codebook values scaled so outputs mostly stay in range (times ``gain``)."""
    indices = random_indices(rng, n_out, n_in, weight_density)
    x = random_activations(rng, spec, n_in, act_density)
    terms = max(1.0, weight_density * act_density * n_in)
    limit = min(2**15 - 1, max(1, int(gain * 4 * (1 << spec.weight_frac) / np.sqrt(terms))))
    codebook = rng.integers(-limit, limit + 1, 16)
    codebook[0] = 0
    bias_indices = rng.integers(0, 16, n_out).astype(np.uint8) if bias else None
    layer = SparseDense(indices, codebook.astype(np.int16), bias_indices, relu, name)
    return layer, x


def random_activations(rng: np.random.Generator, spec: EieSpec, n: int, density: float) -> np.ndarray:
    """``n`` int16 activations, non-zero with ``density``, of magnitude up to 4.0 (``act_frac`` fraction bits)."""
    mask = rng.random(n) < density
    amplitude = 1 << (spec.act_frac + 2)
    x = rng.integers(-amplitude, amplitude + 1, n)
    return (np.where(x == 0, 1, x) * mask).astype(np.int16)


def layer_macs(layers: list[SparseDense], xs: np.ndarray, spec: EieSpec) -> list[int]:
    """Per layer, its products of a non-zero weight and a non-zero activation (bias column included) over
    the input vectors ``xs`` (vectors, inputs)."""
    macs = [0] * len(layers)
    for x in xs:
        y = np.asarray(x)
        for number, layer in enumerate(layers):
            macs[number] += layer.nonzeros(y != 0)
            if layer.bias is not None:
                macs[number] += int(np.count_nonzero(layer.bias))
            if number + 1 < len(layers):  # the next layer's input
                y = reference(spec, [layer], y)
    return macs


def useful_macs(layers: list[SparseDense], x: np.ndarray, spec: EieSpec) -> int:
    """Products of a non-zero weight and a non-zero activation (bias column included)."""
    return sum(layer_macs(layers, [x], spec))


LAYER_KINDS = {
    "dense": {"in": 256, "out": 64, "weight_density": 0.1, "act_density": 0.35, "activation": "relu", "bias": 1},
    "mlp": {"sizes": "256-128-64", "weight_density": 0.1, "act_density": 0.35, "bias": 1},
}
"""``accel simulate --layer`` kinds for the eie engine and their defaults (``mlp``: ReLU between layers)."""


def check_case(spec: EieSpec, kind: str, p: dict) -> tuple[list[int], list[bool]]:
    """The widths (input, then each layer's output) and ReLUs of layer ``kind`` with parameters ``p``, after
    every check that needs no data: a :class:`UserError` naming the first parameter or limit it breaks."""
    for key in ("weight_density", "act_density"):
        if not 0 <= p[key] <= 1:
            raise UserError(f"--layer {kind}: {key}={p[key]} is not allowed; expected 0 <= {key} <= 1")
    if p["bias"] not in (0, 1):
        raise UserError(f"--layer {kind}: bias={p['bias']} is not allowed; expected 0 (none) or 1 (a bias column)")
    if kind == "dense":
        for key in ("in", "out"):
            if p[key] < 1:
                raise UserError(f"--layer dense: {key}={p[key]} is not allowed; expected >= 1")
        if p["activation"] not in ("relu", "none"):
            raise UserError(f"--layer dense: activation={p['activation']!r} is not one of relu, none")
        sizes, relus = [p["in"], p["out"]], [p["activation"] == "relu"]
    else:
        try:
            sizes = [int(s) for s in p["sizes"].split("-")]
        except ValueError:
            sizes = []
        if len(sizes) < 2 or min(sizes) < 1:
            raise UserError(f"--layer mlp: sizes={shown(p['sizes'])} is not allowed; expected widths >= 1 like "
                            f"256-128-64")
        relus = [True] * (len(sizes) - 2) + [False]
    for number, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), 1):
        if n_in > spec.max_cols:
            raise UserError(f"--layer {kind}: layer {number} has {n_in} inputs; expected at most eie.max_cols = "
                            f"{spec.max_cols}")
        # The random weights are drawn as a dense matrix of indices, a byte each, before CSC encoding.
        check_memory(f"--layer {kind}: layer {number} ({n_out} × {n_in} weights)", n_out * n_in + 2 * n_out, ADDR)
    return sizes, relus


def random_case(spec: EieSpec, kind: str, p: dict, rng: np.random.Generator):
    """A random compressed layer (or MLP) of ``kind`` with parameters ``p`` (see :data:`LAYER_KINDS`),
    lowered, with its dense reference result (computed when first asked for); ``info`` holds the mapping,
    ``load_efficiency`` and ``padding_entries`` (from the performance model, which the RTL matches). Every
    parameter is checked (:func:`check_case`) before any data is drawn."""
    from . import Case

    sizes, relus = check_case(spec, kind, p)
    layers, x = [], None
    for number, (n_in, n_out, relu) in enumerate(zip(sizes, sizes[1:], relus)):
        layer, x0 = random_dense(rng, spec, n_in, n_out, p["weight_density"], p["act_density"], relu=relu,
                                 bias=bool(p["bias"]), name=f"fc{number + 1}")
        layers.append(layer)
        x = x0 if x is None else x
    lowered = lower_mlp(spec, layers, x)
    return Case(lowered.program, lowered.output, lambda: reference(spec, layers, x), useful_macs(layers, x, spec),
                case_info(lowered))


def file_case(spec: EieSpec, path, seed: int = 0):
    """The layer in the eie ``.npz`` at ``path`` (:mod:`accel.compiler.layer_files`) on ``spec`` with the file's
    fraction bits, on its input or random activations (``act_density`` of :data:`LAYER_KINDS`, ``seed``),
    lowered; ``info`` adds the file, the fraction bits and where the input came from."""
    from . import Case
    from .layer_files import load_eie

    read = load_eie(path)
    spec = read.spec(spec)
    layer, x = read.layer, read.x
    if x is None:
        x = random_activations(np.random.default_rng(seed), spec, layer.shape[1], LAYER_KINDS["dense"]["act_density"])
    lowered = lower_dense(spec, layer, x)
    info = case_info(lowered) | dict(weights=str(path), shape=list(layer.shape), nonzeros=layer.nonzeros(),
                                     weight_frac=spec.weight_frac, act_frac=spec.act_frac,
                                     input="file" if read.x is not None else "random")
    return Case(lowered.program, lowered.output, lambda: reference(spec, [layer], x), useful_macs([layer], x, spec),
                info)


def case_info(lowered: Lowered) -> dict:
    """Mapping facts and the performance model's load efficiency and padding entries of ``lowered``."""
    from sim.perf import run as perf  # lazily, for the CLI: accel never imports sim at load time

    counters = perf(lowered.program).counters
    busy, idle = counters["pe_busy"], counters["pe_idle"]
    plans = lowered.plans
    return {
        "load_efficiency": busy / (busy + idle) if busy + idle else 0.0,
        "padding_entries": counters["padding_entries"],
        "row_batches": [p.row_batches for p in plans],
        "input_chunks": [p.input_chunks for p in plans],
        "column_blocks": [p.column_blocks for p in plans],
        "split": any(p.split for p in plans),
        "stored_entries": sum(p.entries for p in plans),
        "stored_padding_entries": sum(p.padding_entries for p in plans),
    }


def engine_codebook(codebook: np.ndarray, frac_bits: int, spec: EieSpec, name: str) -> np.ndarray:
    """A fixed-point codebook with ``frac_bits`` fraction bits in the engine's format (``weight_frac``),
    rounded to nearest (ties away from zero), a shorter one (fewer sharing bits) padded with unused zero
    entries to the engine's 16; a :class:`UserError` if a value leaves int16 or there are more entries."""
    if len(codebook) > spec.CODEBOOK_ENTRIES:
        raise UserError(f"layer '{name}': a codebook of {len(codebook)} entries is not allowed; expected at most "
                        f"{spec.CODEBOOK_ENTRIES} (4-bit indices)")
    scaled = np.zeros(spec.CODEBOOK_ENTRIES)
    scaled[:len(codebook)] = np.round(np.asarray(codebook, np.float64) * 2.0 ** (spec.weight_frac - frac_bits))
    if scaled.min() < INT16[0] or scaled.max() > INT16[1]:
        raise UserError(f"layer '{name}': codebook value {np.abs(codebook).max() / 2.0**frac_bits:.4g} does not fit "
                        f"int16 with eie.weight_frac = {spec.weight_frac}; expected a smaller weight_frac")
    return scaled.astype(np.int16)


def nearest_entries(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """uint8 indices of the ``codebook`` entries nearest to each of ``values`` (how a float bias becomes EIE's
    bias column, which shares the layer's codebook)."""
    return np.abs(np.asarray(values)[:, None] - codebook[None, :]).argmin(axis=1).astype(np.uint8)


def shared_layers(spec: EieSpec, graph, shared: dict) -> list[SparseDense]:
    """The Dense layers of a pruned, weight-shared MLP ``graph`` (accel.compress.share's ``shared``) as eie
    layers: its codebooks in the engine's format, each bias rounded to the nearest entry of its layer's
    codebook (the bias column shares the codebook), ReLU where the graph has one after the layer."""
    from ..nn.layers import Dense, ReLU

    relu_after = {node.inputs[0] for node in graph.layers() if isinstance(node.op, ReLU)}
    layers = []
    for node in graph.layers():
        if not isinstance(node.op, Dense):
            continue
        weight = shared[node.name]
        codebook = engine_codebook(weight.codebook, weight.frac_bits, spec, node.name)
        bias = None
        if node.op.bias:
            bias = nearest_entries(node.params["bias"], codebook / 2.0**spec.weight_frac)
        layers.append(SparseDense(weight.indices.astype(np.uint8), codebook, bias, node.name in relu_after,
                                  node.name))
    return layers


@dataclass
class DigitsMlp:
    """The trained digits MLP, pruned and weight-shared, as eie layers, with its test images."""

    layers: list[SparseDense]
    pixels: np.ndarray  # (n, 64) uint8, 0..16
    labels: np.ndarray  # (n,)
    float_accuracy: float  # of the pruned, shared float model

    def inputs(self, spec: EieSpec) -> np.ndarray:
        """The test images as int16 activations (:func:`pixel_activations`)."""
        return pixel_activations(spec, self.pixels)


def pixel_activations(spec: EieSpec, pixels: np.ndarray) -> np.ndarray:
    """Digits pixels (0..16) / 16 as int16 activations with act_frac fraction bits (exact for act_frac >= 4),
    one row per image."""
    x = np.asarray(pixels, np.int64).reshape(len(pixels), -1)
    return (x << (spec.act_frac - 4) if spec.act_frac >= 4 else x >> (4 - spec.act_frac)).astype(np.int16)


def digits_mlp(spec: EieSpec, density: float = 0.1, bits: int = 4, seed: int = 0) -> DigitsMlp:
    """The ``digits-mlp`` model (64-300-100-10) trained from ``seed``, pruned to ``density`` with fine-tuning
    and weight-shared with ``2**bits``-entry codebooks (Deep Compression), as eie layers."""
    if bits > 4:
        raise UserError(f"digits-mlp: {bits}-bit sharing is not allowed on eie; expected at most 4 (4-bit indices)")
    graph, shared, pixels, labels, accuracy = _compressed_digits_mlp(density, bits, seed)
    return DigitsMlp(shared_layers(spec, graph, shared), pixels, labels, accuracy)


@functools.lru_cache(maxsize=4)
def _compressed_digits_mlp(density: float, bits: int, seed: int):
    """(graph, shared weights, test pixels, test labels, float accuracy) — computed once per process."""
    from ..compress.pipeline import compress
    from ..nn import digits
    from ..nn.models import inputs, model

    train, test = digits.load()
    trained = model("digits-mlp", seed)
    graph, shared = compress(trained, density, bits, (inputs(trained, train), train.labels))
    accuracy = digits.accuracy(graph.run(inputs(graph, test)), test.labels)
    return graph, shared, test.pixels.reshape(len(test.labels), -1), test.labels, accuracy


MODELS = ("digits-mlp",)
"""Trained models ``model_case`` can lower (``accel simulate --engine eie --model NAME``)."""


def model_case(spec: EieSpec, name: str, seed: int = 0):
    """The whole test set of trained model ``name`` (pruned to 10 %, 4-bit weight sharing) as one Program
    with the weights resident on chip, its reference scores and, in ``info``, the test accuracy of the
    engine's arithmetic (equal to the golden and RTL results whenever they are bit exact) and of the
    compressed float model."""
    from . import Case

    if name not in MODELS:
        raise UserError(f"--model: {name!r} is not a model the eie engine runs; known: {', '.join(MODELS)}")
    mlp = digits_mlp(spec, seed=seed)
    xs = mlp.inputs(spec)
    lowered = lower_mlp_batch(spec, mlp.layers, xs)
    expected = np.stack([reference(spec, mlp.layers, x) for x in xs])  # its accuracy is reported
    info = case_info(lowered)
    info.update(model=name, images=len(xs), test_accuracy=float(np.mean(expected.argmax(axis=1) == mlp.labels)),
                float_accuracy=mlp.float_accuracy, layers=[list(layer.shape) for layer in mlp.layers],
                weight_density=[layer.nonzeros() / layer.indices.size for layer in mlp.layers])
    return Case(lowered.program, lowered.output, lambda: expected, sum(layer_macs(mlp.layers, xs, spec)), info)


def fit_spec(spec: EieSpec, layers: list[SparseDense]) -> EieSpec:
    """``spec`` with ``act_regs``, ``spmat_lines`` and ``ptr_entries`` enlarged, where needed, to the smallest
    powers of two that keep every layer's activations and weights of the MLP ``layers`` on chip together
    (as :func:`lower_mlp_batch` places them); a :class:`UserError` names the parameter if even its largest
    value is too small."""
    width = max(max(layer.shape) for layer in layers)
    lines = pointers = 0
    for layer in layers:
        csc = encode_csc(layer.matrix(), spec.n_pe)
        lines += max(1, -(-max(int(ptr[-1]) for ptr in csc.ptr) // spec.ENTRIES_PER_LINE))
        pointers += layer.matrix().shape[1] + 1
    needs = {"act_regs": -(-width // spec.n_pe), "spmat_lines": lines, "ptr_entries": pointers}
    fitted = {key: max(getattr(spec, key), 1 << max(n - 1, 0).bit_length()) for key, n in needs.items()}
    return spec.with_overrides({key: str(value) for key, value in fitted.items() if value != getattr(spec, key)})


def network_layers(spec: EieSpec, graph, density: float, bits: int,
                   data: tuple[np.ndarray, np.ndarray] | None = None) -> list[SparseDense]:
    """The Dense layers of the float MLP ``graph`` pruned to ``density`` and weight-shared with
    ``2**bits``-entry codebooks (:func:`accel.compress.pipeline.compress`, fine-tuned on ``data`` when given);
    a :class:`UserError` names the first layer the eie engine does not run."""
    from ..compress.pipeline import compress
    from ..nn.layers import Dense, Flatten, ReLU

    for node in graph.layers():
        if not isinstance(node.op, (Dense, ReLU, Flatten)):
            raise UserError(f"layer '{node.name}' ({type(node.op).__name__}): the eie engine runs MLPs (Dense, "
                            f"ReLU, Flatten); expected --engine mac_array for this network")
    if bits > 4:
        raise UserError(f"--share: {bits} bits is not allowed on eie; expected at most 4 (4-bit codebook indices)")
    return shared_layers(spec, *compress(graph, density, bits, data))


def compile_network(spec: EieSpec, layers: list[SparseDense], xs: np.ndarray):
    """The MLP ``layers`` on every int16 input vector of ``xs`` (vectors, inputs) as one network Program
    with all weights resident on chip (:func:`lower_mlp_batch`, on :func:`fit_spec` of ``spec``); the
    reference is the dense integer forward (:func:`reference`)."""
    spec = fit_spec(spec, layers)
    xs = np.asarray(xs)
    lowered = lower_mlp_batch(spec, layers, xs)
    records = []
    for layer, plan, macs, ranges in zip(layers, lowered.plans, layer_macs(layers, xs, spec), lowered.ranges):
        out, n_in = layer.shape
        density = layer.nonzeros() / layer.indices.size
        mapping = (f"resident, {density:.0%} weights, {plan.entries} entries ({plan.padding_entries} padding); "
                   f"input {'on chip' if plan.on_chip_input else 'DRAM'}, "
                   f"output {'on chip' if plan.on_chip_output else 'DRAM'}")
        records.append(LayerRecord(layer.name, "dense", f"{n_in} -> {out}" + (" relu" if layer.relu else ""),
                                   mapping, macs, tuple(ranges)))
    region = lowered.program.memory["output"]
    stride = region.size // len(xs)
    readout = Readout(tuple(region.address + n * stride for n in range(len(xs))), "<i2", 1, 1, stride // 2,
                      lowered.outputs, lowered.outputs)
    return Network(lowered.program, records, readout,
                   lambda: np.stack([reference(spec, layers, x) for x in xs]).astype(np.int64), len(xs),
                   {"fitted_spec": {key: getattr(spec, key) for key in ("act_regs", "spmat_lines", "ptr_entries")}})
