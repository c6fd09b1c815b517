"""Whole networks as one Program: what every engine's network pass returns, and the dispatch to it.

A network Program holds every layer's weights (in the engine's encoding), the input images and the
activation buffers in one memory image, and all layers' commands (all images) in one stream: no host round
trip between layers. Each engine's network pass builds on its per-layer compiler:

- ``mac_array``: :func:`accel.compiler.mac_array_network.compile_network` (an int8 :class:`~accel.nn.qgraph.QGraph`);
- ``eie``: :func:`accel.compiler.eie.compile_network` (pruned, weight-shared dense layers);
- ``xnor``: :func:`accel.compiler.xnor.compile_network` (binarized layers).

A :class:`Network` says which commands belong to which layer, so that per-layer cycles and counters come
from the same perf model as the totals (:func:`sim.perf.layers`), and how to read the outputs back.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..program import Program


@dataclass(frozen=True)
class LayerRecord:
    """One layer of a network Program.

    ``op`` is one of conv, depthwise, dense, pool, gap, add, concat, flatten (xnor: also mvtu); ``shape`` a
    short human text of its input and output (``"16x8x8 -> 8x8x8 k3 s1 p1"``); ``mapping`` the mapping the
    compiler chose, as short text; ``macs`` the useful multiply-accumulates of the layer over all images;
    ``commands`` the [first, end) index ranges of its commands in the Program's command list (one range per
    image when images run one after another; a layer with no commands, like a flatten, has none).
    """

    name: str
    op: str
    shape: str
    mapping: str
    macs: int
    commands: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Readout:
    """Where each image's output lies in a final memory image and how to decode it, as plain numbers (so a
    network file can hold it): image n's output starts at byte ``addresses[n]``: ``pixels`` rows, each of
    ``groups`` groups of ``group`` little-endian elements of ``dtype`` (``<i1``, ``<i2`` or ``<i4``), of which
    the first ``lanes`` of each group are real; the first ``channels`` real elements of a row are the
    pixel's channels. The decoded output is ``scale · stored + offset``, channel-major ((channels, pixels)
    flattened), one row per image."""

    addresses: tuple[int, ...]
    dtype: str
    pixels: int
    groups: int
    group: int
    lanes: int
    channels: int
    scale: int = 1
    offset: int = 0

    DTYPES = ("<i1", "<i2", "<i4")

    @property
    def nbytes(self) -> int:
        """Bytes of one image's output."""
        return self.pixels * self.groups * self.group * np.dtype(self.dtype).itemsize

    def __call__(self, memory: np.ndarray) -> np.ndarray:
        """The outputs (images, channels · pixels) int64 from the final memory image ``memory``."""
        rows = []
        for address in self.addresses:
            raw = np.asarray(memory[address:address + self.nbytes]).view(self.dtype)
            values = raw.reshape(self.pixels, self.groups, self.group)[:, :, :self.lanes]
            values = values.reshape(self.pixels, -1)[:, :self.channels].T.reshape(-1)
            rows.append(self.scale * values.astype(np.int64) + self.offset)
        return np.stack(rows)


@dataclass
class Network:
    """A network compiled for one engine: the Program, its layers, how to read the outputs from a final
    memory image (``output(memory) -> (images, ...)`` integers) and the independent integer reference of
    the same outputs (``reference() -> same shape``, computed on first use only)."""

    program: Program
    layers: list[LayerRecord]
    output: Callable[[np.ndarray], np.ndarray]
    reference: Callable[[], np.ndarray]
    images: int
    info: dict = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)
