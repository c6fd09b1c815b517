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
