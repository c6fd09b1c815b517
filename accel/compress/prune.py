"""Magnitude pruning (Han et al., "Learning both Weights and Connections for Efficient Neural Networks",
NeurIPS 2015), optionally load-balanced over processing elements (ESE, Han et al., FPGA 2017).

The weights of every Dense and Conv2d layer are pruned: a layer of ``n`` weights keeps exactly its
``round(density · n)`` largest magnitudes (ties to the lower flat index). A weight is viewed as a matrix
with one row per output (Dense row, Conv2d output channel).

``balance_pes=N``: rows are interleaved over N PEs as EIE distributes them (row i on PE i mod N), and each
PE's share keeps the same number of weights, ``round(density · n / N)`` (at most its smallest share), so no
PE waits on a busier one (ESE's load-balance-aware pruning, which prunes each PE's sub-matrix to the same
sparsity).

:func:`prune` alternates pruning and fine-tuning with the masks held fixed, the density falling
geometrically to the target over ``steps`` rounds, as the iterative pruning of Han et al. does.
"""

import numpy as np

from ..errors import UserError
from ..nn.graph import Graph
from ..nn.layers import Conv2d, Dense
from ..nn.train import TrainConfig, train


def _keep_largest(magnitudes: np.ndarray, count: int) -> np.ndarray:
    """A mask of ``magnitudes``' shape keeping its ``count`` largest entries (ties to the lower flat index)."""
    order = np.argsort(-magnitudes, axis=None, kind="stable")
    mask = np.zeros(magnitudes.size, dtype=bool)
    mask[order[:count]] = True
    return mask.reshape(magnitudes.shape)


def layer_mask(weight: np.ndarray, density: float, balance_pes: int | None = None) -> np.ndarray:
    """The bool mask of ``weight`` (outputs first) keeping its largest magnitudes at ``density``."""
    rows = np.abs(weight).reshape(len(weight), -1)
    if balance_pes is None:
        return _keep_largest(rows, round(density * rows.size)).reshape(weight.shape)
    shares = [rows[pe::balance_pes] for pe in range(balance_pes)]
    count = min(round(density * rows.size / balance_pes), min(share.size for share in shares))
    mask = np.zeros(rows.shape, dtype=bool)
    for pe, share in enumerate(shares):
        mask[pe::balance_pes] = _keep_largest(share, count)
    return mask.reshape(weight.shape)


def _weight_layers(graph: Graph) -> list[str]:
    return [node.name for node in graph.layers() if isinstance(node.op, (Dense, Conv2d))]


def _check(density: float, balance_pes: int | None) -> None:
    if not 0 < density <= 1:
        raise UserError(f"prune: density {density} is not allowed; allowed: 0 < density <= 1")
    if balance_pes is not None and balance_pes < 1:
        raise UserError(f"prune: balance_pes {balance_pes} is not allowed; allowed: an integer >= 1")


def magnitude_masks(graph: Graph, density: float | dict[str, float],
                    balance_pes: int | None = None) -> dict[str, np.ndarray]:
    """The mask of every Dense/Conv2d weight of ``graph`` at ``density`` (one value, or one per layer)."""
    result = {}
    for name in _weight_layers(graph):
        target = density[name] if isinstance(density, dict) else density
        _check(target, balance_pes)
        result[name] = layer_mask(graph[name].params["weight"], target, balance_pes)
    return result


def prune(graph: Graph, density: float | dict[str, float], x: np.ndarray, labels: np.ndarray,
          config: TrainConfig, steps: int = 3, balance_pes: int | None = None) -> dict[str, np.ndarray]:
    """Prune ``graph`` in place to ``density`` in ``steps`` rounds of pruning and fine-tuning on
    ``(x, labels)`` with ``config``; the final masks (pruned weights are exactly zero)."""
    masks = {}
    for step in range(1, steps + 1):
        if isinstance(density, dict):
            target = {name: value ** (step / steps) for name, value in density.items()}
        else:
            target = density ** (step / steps)
        masks = magnitude_masks(graph, target, balance_pes)
        train(graph, x, labels, config, masks=masks)
    return masks
