"""Golden executor of mac_array Programs: each command's effect, vectorised per command in numpy.

The convolution buffer is modelled as its two spaces (feature atoms, weight blocks) after ``Config``;
a ``Conv`` gathers its input atoms (pad value outside the stored rows and columns), accumulates exactly
from the folded bias (or stored partial sums), saturates the accumulator to int32 and requantizes with
:mod:`accel.fixedpoint` (or writes it raw as partial sums).
Commands that would touch memory outside the buffer or the image raise ``ValueError`` (compiler bugs),
and so do a load and a computation that may run at the same time (:mod:`accel.isa.mac_array`) and touch
the same buffer atoms: the hardware would race (see :meth:`MacArrayGolden.issue`).
"""

import numpy as np

from accel.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier
from accel.int8 import AddRequant, rounded_average
from accel.isa.mac_array import PARAM_BLOCKS, PSUM_ATOMS, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool, psum_bytes
from accel.program import Program
from accel.spec import MacArraySpec

from ..result import RunResult


def conv_input_indices(c: Conv | Pool):
    """For every (pixel, group, r, s): the feature entry read and whether it lies inside the stored map."""
    oy, ox = np.divmod(np.arange(c.out_h * c.out_w), c.out_w)
    r = np.arange(c.kernel_h)
    s = np.arange(c.kernel_w)
    iy = oy[:, None, None] * c.stride + c.y_off + r[None, :, None]
    ix = ox[:, None, None] * c.stride + c.x_off + s[None, None, :]
    inside = (iy >= 0) & (iy < c.in_h) & (ix >= 0) & (ix < c.in_w)
    groups = np.arange(getattr(c, "ncg", 1))[None, :, None, None]
    entry = c.fbase + groups * getattr(c, "cg_stride", 0) + (iy * c.in_w + ix)[:, None]
    return entry, np.broadcast_to(inside[:, None], entry.shape)


def decode_params(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bias, M0 and shift per kernel lane from the three parameter blocks (atoms' low bytes, little-endian)."""
    words = np.ascontiguousarray(blocks[:, :, :4]).view("<i4")[:, :, 0].astype(np.int64)
    return words[0], words[1], words[2].astype(np.int8).astype(np.int64)


class MacArrayGolden:
    """Executes a Program command by command; ``memory`` is the external memory image."""

    def __init__(self, program: Program):
        spec: MacArraySpec = program.spec
        self.spec = spec
        self.program = program
        self.memory = program.memory.flatten()
        self.atoms = spec.banks * spec.bank_entries
        self.features = np.zeros((0, spec.atomic_c), np.int8)
        self.weights = np.zeros((0, spec.atomic_k, spec.atomic_c), np.int8)
        self.acc = None
        self.unit = "load"  # the unit of the command being executed
        self.running = {}  # per unit, per space: what its commands that may still run touch
        for unit in ("load", "compute"):
            self._finished(unit)

    def run(self) -> RunResult:
        for command in self.program.commands:
            self.issue(command)
            getattr(self, type(command).__name__)(command)
        return RunResult(self.program, self.memory)

    def issue(self, command) -> None:
        """Forget the commands that have finished when ``command`` is accepted: those of its own unit
        (issue is in order and a unit runs one command at a time) and, with ``wait``, those of the other
        unit; ``Config`` waits for both. The commands left may run while ``command`` runs: what it
        touches (:meth:`_touch`) must not be what they touch."""
        load = isinstance(command, (LoadFeatures, LoadWeights))
        self.unit = "load" if load else "compute"
        other = "compute" if load else "load"
        for unit in (self.unit, other) if isinstance(command, Config) or command.wait else (self.unit,):
            self._finished(unit)

    def _finished(self, unit: str) -> None:
        self.running[unit] = {space: np.zeros(self.atoms, bool) for space in ("features", "weights")}

    def _touch(self, space: str, index) -> None:
        """The command being executed writes (a load) or reads (a computation) ``index`` of ``space``
        (``features``: atoms; ``weights``: blocks); raises ``ValueError`` if a command of the other unit
        that may still run touches one of them."""
        other = "compute" if self.unit == "load" else "load"
        clash = np.arange(self.atoms)[index][self.running[other][space][index]]
        if clash.size:
            raise ValueError(f"{space} {clash[0]}: a {self.unit} may run while a {other} that touches it runs "
                             f"(its wait flag is needed)")
        self.running[self.unit][space][index] = True

    def _dram(self, address: int, size: int) -> np.ndarray:
        if address < 0 or address + size > self.memory.size:
            raise ValueError(f"DRAM access {address:#x}+{size} outside the {self.memory.size}-byte image")
        return self.memory[address:address + size]

    def _check(self, what: str, first: int, count: int, size: int):
        if first < 0 or first + count > size:
            raise ValueError(f"{what} {first}..{first + count - 1} outside 0..{size - 1}")

    def Config(self, c: Config):
        spec = self.spec
        if not 1 <= c.feature_banks < spec.banks or c.feature_banks % spec.atomic_k:
            raise ValueError(f"feature_banks {c.feature_banks}: expected a multiple of atomic_k below {spec.banks}")
        self.features = np.zeros((c.feature_banks * spec.bank_entries, spec.atomic_c), np.int8)
        weight_sets = (spec.banks - c.feature_banks) // spec.atomic_k
        self.weights = np.zeros((weight_sets * spec.bank_entries, spec.atomic_k, spec.atomic_c), np.int8)

    def LoadFeatures(self, c: LoadFeatures):
        ac = self.spec.atomic_c
        for g in range(c.groups):
            entry = c.entry + g * c.dst_stride
            self._check("feature atoms", entry, c.count, len(self.features))
            data = self._dram(c.address + g * c.src_stride, c.count * ac).view(np.int8)
            self.features[entry:entry + c.count] = data.reshape(c.count, ac)
            self._touch("features", slice(entry, entry + c.count))

    def LoadWeights(self, c: LoadWeights):
        spec = self.spec
        self._check("weight blocks", c.block, c.count, len(self.weights))
        data = self._dram(c.address, c.count * spec.atomic_k * spec.atomic_c).view(np.int8)
        self.weights[c.block:c.block + c.count] = data.reshape(c.count, spec.atomic_k, spec.atomic_c)
        self._touch("weights", slice(c.block, c.block + c.count))

    def _gather(self, c: Conv | Pool, pad_value: int):
        """Input atoms (pixel, group, r, s, lane) of a window command, and which lie inside the map."""
        entry, inside = conv_input_indices(c)
        self._check("feature atoms", int(entry[inside].min(initial=0)), 1, len(self.features))
        self._check("feature atoms", int(entry[inside].max(initial=0)), 1, len(self.features))
        self._touch("features", entry[inside])
        return np.where(inside[..., None], self.features[np.where(inside, entry, 0)], np.int8(pad_value)), inside

    def _store(self, address: int, atoms: np.ndarray):
        self._dram(address, atoms.size)[:] = atoms.astype(np.int8).reshape(-1).view(np.uint8)

    def Conv(self, c: Conv):
        spec = self.spec
        pixels = c.out_h * c.out_w
        x, _ = self._gather(c, c.pad_value)
        blocks = c.ncg * c.kernel_h * c.kernel_w
        self._check("weight blocks", c.wbase, PARAM_BLOCKS + blocks, len(self.weights))
        self._touch("weights", slice(c.wbase, c.wbase + PARAM_BLOCKS + blocks))
        bias, m0, shift = decode_params(self.weights[c.wbase:c.wbase + PARAM_BLOCKS])
        w = self.weights[c.wbase + PARAM_BLOCKS:c.wbase + PARAM_BLOCKS + blocks]
        w = w.reshape(c.ncg, c.kernel_h, c.kernel_w, spec.atomic_k, spec.atomic_c)
        partial = np.einsum("pgrsc,grskc->pk", x.astype(np.int64), w.astype(np.int64))
        if c.psum_in and not c.first:
            raise ValueError("a Conv with psum_in starts its pixels (first=1)")
        if c.psum_out and not c.last:
            raise ValueError("a Conv with psum_out ends its pixels (last=1)")
        if c.psum_in:
            atoms = pixels * PSUM_ATOMS
            self._check("feature atoms", c.psum_entry, atoms, len(self.features))
            self._touch("features", slice(c.psum_entry, c.psum_entry + atoms))
            stored = self.features[c.psum_entry:c.psum_entry + atoms].reshape(pixels, -1)
            self.acc = np.ascontiguousarray(stored).view("<i4").astype(np.int64) + partial
        elif c.first:
            self.acc = bias[None, :] + partial
        else:
            if self.acc is None or pixels != 1 or self.acc.shape[0] != 1:
                raise ValueError("an accumulating Conv (first=0) continues a single-pixel Conv")
            self.acc = self.acc + partial
        if c.last and c.psum_out:
            self._store(c.out_address, psum_bytes(self.acc).view(np.int8))
        elif c.last:
            acc = np.clip(self.acc, INT32_MIN, INT32_MAX)
            out = multiply_by_quantized_multiplier(acc, m0[None, :], shift[None, :]) + c.out_zp
            self._store(c.out_address, np.clip(out, c.lo, c.hi))

    def Pool(self, c: Pool):
        x, inside = self._gather(c, 0)
        x, inside = x[:, 0].astype(np.int64), inside[:, 0, :, :, None]  # (pixel, r, s, lane)
        if c.average:
            sums = np.where(inside, x, 0).sum(axis=(1, 2))
            counts = np.broadcast_to(inside, x.shape).sum(axis=(1, 2))
            out = rounded_average(sums, counts)
        else:
            out = np.where(inside, x, -128).max(axis=(1, 2))
        self._store(c.out_address, out)

    def Eltwise(self, c: Eltwise):
        self._check("feature atoms", c.a_entry, c.count, len(self.features))
        self._check("feature atoms", c.b_entry, c.count, len(self.features))
        self._touch("features", slice(c.a_entry, c.a_entry + c.count))
        self._touch("features", slice(c.b_entry, c.b_entry + c.count))
        add = AddRequant(c.a_zp, c.a_m0, c.a_shift, c.b_zp, c.b_m0, c.b_shift, c.out_m0, c.out_shift, c.out_zp,
                         c.lo, c.hi)
        self._store(c.out_address, add.apply(self.features[c.a_entry:c.a_entry + c.count],
                                             self.features[c.b_entry:c.b_entry + c.count]))


def run(program: Program) -> RunResult:
    """Execute ``program`` bit-exactly; the final memory image."""
    return MacArrayGolden(program).run()
