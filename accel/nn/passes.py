"""Graph-to-graph passes on the network IR, each a function named by what it does (as FINN's transformations).

Every pass returns a new :class:`Graph` and leaves its argument untouched; each is checked against the
float reference :meth:`Graph.run` of the graph it was given.
"""

from dataclasses import replace

import numpy as np

from .graph import INPUT, Graph, Node
from .layers import BatchNorm, Conv2d, Dense


def fold_batchnorm(graph: Graph) -> Graph:
    """``graph`` with every BatchNorm folded into the Conv2d or Dense that feeds it.

    BatchNorm computes ``y = gamma · (x - mean) / sqrt(var + eps) + beta`` per output channel; with
    ``a = gamma / sqrt(var + eps)`` the layer ``x ↦ W·x + b`` followed by it is ``x ↦ W'·x + b'`` where

        ``W' = a · W`` (row/filter ``k`` scaled by ``a[k]``),   ``b' = a · (b - mean) + beta``

    (``b = 0`` if the layer had no bias; the folded layer always has one) — Jacob et al. 2017, section 3.2.
    A BatchNorm is folded when its input is a Conv2d or Dense whose only consumer it is; the BatchNorm node
    disappears, the folded layer keeps its name and takes the BatchNorm's place in the order, and the
    BatchNorm's consumers read it. Other BatchNorms stay. In a shape-only graph the folding is structural
    (the layer gains a bias); if only one of the two layers has parameters, the BatchNorm stays.
    """
    consumers: dict[str, list[str]] = {}
    for node in graph.layers():
        for source in node.inputs:
            consumers.setdefault(source, []).append(node.name)
    folded = {}  # BatchNorm name -> the layer it is folded into
    for node in graph.layers():
        source = graph.nodes[node.inputs[0]]
        if (isinstance(node.op, BatchNorm) and isinstance(source.op, (Conv2d, Dense))
                and consumers[source.name] == [node.name] and _params_match(source, node)):
            folded[node.name] = source.name
    moved = set(folded.values())

    result = Graph(graph.name, graph.nodes[INPUT].shape)
    for node in graph.layers():
        if node.name in moved:
            continue  # emitted at its BatchNorm's place
        if node.name in folded:
            layer, bn = graph.nodes[folded[node.name]], node
            result.add(layer.name, replace(layer.op, bias=True), [folded.get(s, s) for s in layer.inputs],
                       **_fold(layer, bn))
        else:
            result.add(node.name, node.op, [folded.get(s, s) for s in node.inputs], **node.params)
    return result


def _params_match(layer: Node, bn: Node) -> bool:
    """Both shape-only, or the layer's weight and all of the BatchNorm's parameters set."""
    if not layer.params and not bn.params:
        return True
    return "weight" in layer.params and set(bn.params) == set(BatchNorm.params)


def _fold(layer: Node, bn: Node) -> dict[str, np.ndarray]:
    """The folded weight and bias (empty for a shape-only pair), computed in float64, stored in the weight's dtype."""
    if not layer.params:
        return {}
    weight = layer.params["weight"]
    p = {key: value.astype(np.float64) for key, value in bn.params.items()}
    scale = p["gamma"] / np.sqrt(p["var"] + bn.op.eps)
    bias = layer.params.get("bias", np.zeros(weight.shape[0])).astype(np.float64)
    return {"weight": (weight * scale.reshape(-1, *[1] * (weight.ndim - 1))).astype(weight.dtype),
            "bias": (scale * (bias - p["mean"]) + p["beta"]).astype(weight.dtype)}
