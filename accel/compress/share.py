"""Weight sharing (Deep Compression, Han et al., ICLR 2016, §3): a per-layer codebook and an index per weight.

For every Dense and Conv2d layer, the non-zero weights are clustered by one-dimensional k-means into
``2**bits - 1`` entries, initialised linearly between their minimum and maximum (the initialisation Deep
Compression found best); entry 0 is exactly zero and holds every zero weight, pruned or not, as EIE's
hardware uses index 0 for zeros and padding. The codebook can then be fine-tuned, each entry moving by the
sum of its weights' gradients (:func:`accel.nn.train.train` with ``codebooks``), so pruned weights stay zero.

Codebook values are 16-bit fixed point with ``frac_bits`` chosen per layer from its largest entry: the most
fraction bits for which that entry still fits in int16. Layers differ in weight range by several octaves (the
first layer's weights are the largest); a per-layer format ("dynamic fixed point", as in Qiu et al.,
FPGA 2016) keeps 15 significant bits for the largest entry of every layer where one fixed format would not.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..nn.graph import Graph
from ..nn.layers import Conv2d, Dense
from ..nn.train import TrainConfig, train

CODEBOOK_BITS = 16  # width of a codebook entry (signed fixed point)


@dataclass(frozen=True)
class SharedWeight:
    """A layer's shared weight: ``codebook`` (2**bits,) int16 with entry 0 == 0, ``frac_bits`` of its fixed
    point format, ``indices`` (the weight's shape) uint8 into the codebook."""

    codebook: np.ndarray
    frac_bits: int
    indices: np.ndarray

    @property
    def bits(self) -> int:
        return (len(self.codebook) - 1).bit_length()

    def weight(self) -> np.ndarray:
        """The dequantized float weight, ``codebook[indices] / 2**frac_bits``."""
        return self.codebook[self.indices] / 2.0**self.frac_bits


def kmeans(weight: np.ndarray, bits: int, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``(codebook, indices)``: float codebook of ``2**bits`` entries, entry 0 zero and the others clustering
    the non-zero weights (linear initialisation, Lloyd iterations until no index changes)."""
    values = weight[weight != 0]
    codebook = np.zeros(2**bits)
    indices = np.zeros(weight.shape, dtype=np.uint8)
    if values.size == 0:
        return codebook, indices
    codebook[1:] = np.linspace(values.min(), values.max(), 2**bits - 1)
    assignment = None
    for _ in range(iterations):
        nearest = 1 + np.abs(values[:, None] - codebook[None, 1:]).argmin(axis=1)
        if assignment is not None and np.array_equal(nearest, assignment):
            break
        assignment = nearest
        sums = np.bincount(assignment, values, minlength=len(codebook))
        counts = np.bincount(assignment, minlength=len(codebook))
        codebook[1:] = np.where(counts[1:] > 0, sums[1:] / np.maximum(counts[1:], 1), codebook[1:])
    indices[weight != 0] = assignment
    return codebook, indices


def to_fixed_point(codebook: np.ndarray, indices: np.ndarray) -> SharedWeight:
    """The codebook rounded to int16 with as many fraction bits as its largest magnitude allows."""
    largest = float(np.max(np.abs(codebook)))
    top = 2 ** (CODEBOOK_BITS - 1) - 1
    frac_bits = int(np.floor(np.log2(top / largest))) if largest > 0 else CODEBOOK_BITS - 1
    fixed = np.round(codebook * 2.0**frac_bits).astype(np.int16)
    return SharedWeight(fixed, frac_bits, indices)


def share(graph: Graph, bits: int, x: np.ndarray | None = None, labels: np.ndarray | None = None,
          config: TrainConfig | None = None) -> dict[str, SharedWeight]:
    """Share the weights of every Dense/Conv2d layer of ``graph`` in place (``2**bits`` entries), fine-tuning
    the codebooks on ``(x, labels)`` with ``config`` when given; each layer's :class:`SharedWeight`."""
    if not 1 <= bits <= 8:
        raise UserError(f"share: {bits} bits is not allowed; allowed: 1 to 8 (a codebook of 2 to 256 entries)")
    layers = [node for node in graph.layers() if isinstance(node.op, (Dense, Conv2d))]
    codebooks = {node.name: kmeans(node.params["weight"], bits) for node in layers}
    if config is not None:
        train(graph, x, labels, config, codebooks=codebooks)
    result = {}
    for node in layers:
        result[node.name] = to_fixed_point(*codebooks[node.name])
        node.params["weight"] = result[node.name].weight()
    return result
