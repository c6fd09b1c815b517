"""Binarized networks: the ±1 form of a binarized-trained graph, integer thresholds, integer-only inference.

A BNN (Courbariaux et al., "Binarized Neural Networks", 2016) computes with weights and activations in
{-1, +1}. Its layers are Dense/Conv2d without bias, each followed by BatchNorm and :class:`Sign` (hidden
layers) or by nothing (the output layer); MaxPool2d and Flatten may sit between them, and a binary-input
Conv2d has no padding (a zero pad is neither +1 nor -1). The first layer reads integer inputs.

:func:`export` turns a graph trained with ``TrainConfig(binarized=True)`` (latent float weights) into a
graph whose :meth:`Graph.run` is the float ±1 forward: every weight becomes sign(W), and XNOR-Net's scale
alpha = mean |W| per output channel (Rastegari et al., "XNOR-Net", ECCV 2016), with which the layer was
trained, folds into the BatchNorm that follows, since BN(alpha·d) is BN with gamma·alpha and mean/alpha.
The output layer's alpha (one per class, all within a few percent after training) only scales the scores
and is dropped, so the scores are integers; accuracy is measured on the exported graph.

:func:`thresholds` folds each BatchNorm + Sign into an integer comparison on the layer's integer dot product
(FINN's streamlining, Umuroglu et al., "FINN", FPGA 2017): +1 iff dot >= T where gamma > 0 and iff dot <= T
where gamma < 0 (``Threshold.up`` is the direction). T is read off the float BatchNorm at every reachable
dot, so the comparison equals the float forward bit for bit; a constant channel (gamma 0, or a BatchNorm
whose sign never changes in reach) gets a T outside the reachable range.

:func:`integer_forward` runs the ±1 graph on integers only: the first layer multiplies the integer input
(``x_float = x · input_scale``, ``0 <= x <= input_max``) by ±1 weights; later layers hold bits (True for
+1) and compute dot = 2·popcount(xnor(a, w)) − N; max-pooling bits is OR; the output layer's dot products
are the scores.
"""

import copy
import math
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..nn.graph import Graph, Node
from ..nn.layers import BatchNorm, Conv2d, Dense, Flatten, MaxPool2d
from ..nn.train import Sign, im2col, sign, windows, xnor_alpha


@dataclass(frozen=True)
class Threshold:
    """Per output channel: the output is +1 iff ``dot >= t`` (``up``) or iff ``dot <= t`` (not ``up``)."""

    t: np.ndarray  # int64 (K,)
    up: np.ndarray  # bool (K,)

    def apply(self, dot: np.ndarray) -> np.ndarray:
        """Bits (True for +1) of integer dot products (N, K, ...)."""
        channel = (1, -1) + (1,) * (dot.ndim - 2)
        return np.where(self.up.reshape(channel), dot >= self.t.reshape(channel), dot <= self.t.reshape(channel))


def _binary_layer(node: Node) -> bool:
    if not isinstance(node.op, (Dense, Conv2d)):
        return False
    if node.op.bias:
        raise UserError(f"layer '{node.name}' ({type(node.op).__name__}): a binary layer has no bias "
                        f"(a BatchNorm after it provides the offset)")
    return True


def export(graph: Graph) -> Graph:
    """The ±1 form of ``graph``, trained binarized: sign(W) weights, alpha folded into the BatchNorms."""
    result = copy.deepcopy(graph)
    for node in result.layers():
        if _binary_layer(node):
            weight = node.params["weight"]
            node.params["weight"] = sign(weight)
            after = [n for n in result.layers() if n.inputs == [node.name]]
            if len(after) == 1 and isinstance(after[0].op, BatchNorm):
                alpha = xnor_alpha(weight)
                after[0].params["gamma"] = after[0].params["gamma"] * alpha
                after[0].params["mean"] = after[0].params["mean"] / alpha
    return result


def fold_threshold(norm: Node, scale: float, reach: int) -> Threshold:
    """The threshold equal to sign(BatchNorm(dot · scale)) for every integer dot in [-reach, reach]."""
    dots = np.arange(-reach, reach + 1)
    channels = len(norm.params["gamma"])
    bits = norm.op.forward([np.repeat((dots * scale)[:, None], channels, axis=1)], norm.params) >= 0
    up = ~bits[0] | bits[-1]  # rising, or constant
    t = np.where(up, dots[bits.argmax(axis=0)], dots[(~bits).argmax(axis=0) - 1])
    threshold = Threshold(np.where(bits.any(axis=0), t, reach + 1), up)
    if not np.array_equal(threshold.apply(dots[:, None]), bits):
        raise AssertionError(f"layer '{norm.name}': BatchNorm output is not monotone in the dot product")
    return threshold


def thresholds(graph: Graph, input_scale: float, input_max: int) -> dict[str, Threshold]:
    """The :class:`Threshold` of every BatchNorm of ±1 ``graph``, by layer name."""
    result, scale, amax, reach = {}, input_scale, input_max, None
    layers = graph.layers()
    for node, after in zip(layers, layers[1:] + [None]):
        if _binary_layer(node):
            reach = amax * math.prod(node.params["weight"].shape[1:])
        elif isinstance(node.op, BatchNorm):
            if reach is None or after is None or not isinstance(after.op, Sign):
                raise UserError(f"layer '{node.name}' (BatchNorm): in a binarized network it follows a Dense "
                                f"or Conv2d and precedes a Sign")
            result[node.name] = fold_threshold(node, scale, reach)
        elif isinstance(node.op, Sign):
            scale, amax, reach = 1.0, 1, None
    return result


def xnor_popcount(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Dot products of ±1 vectors given as bits (True for +1): ``a`` (M, N), ``w`` (K, N) → (M, K) int64,
    each ``2 · popcount(xnor(a, w)) − N`` over bytes packed with :func:`numpy.packbits`."""
    n = a.shape[1]
    a, w = np.packbits(a, axis=1), np.packbits(w, axis=1)
    padding = 8 * a.shape[1] - n  # zero bits at the end of both operands: they agree
    agree = np.bitwise_count(~(a[:, None, :] ^ w[None, :, :])).sum(axis=2, dtype=np.int64) - padding
    return 2 * agree - n


def _dot(node: Node, value: np.ndarray) -> np.ndarray:
    op, weight = node.op, node.params["weight"]
    if not np.all(np.abs(weight) == 1):
        raise UserError(f"layer '{node.name}' ({type(op).__name__}): weights are not ±1; export the trained "
                        f"graph first")
    binary, weight = value.dtype == bool, weight.reshape(len(weight), -1)
    if isinstance(op, Dense):
        rows = value
    elif binary and op.padding != (0, 0):
        raise UserError(f"layer '{node.name}' (Conv2d): padding {op.padding} on ±1 inputs is not supported "
                        f"(a zero pad is neither +1 nor -1); use padding 0")
    else:
        rows = im2col(value, op)
    dot = xnor_popcount(rows, weight > 0) if binary else rows @ weight.astype(np.int64).T
    if isinstance(op, Dense):
        return dot
    _, oh, ow = op.out_shape(node.name, [value.shape[1:]])
    return dot.reshape(len(value), oh, ow, -1).transpose(0, 3, 1, 2)


def integer_forward(graph: Graph, x: np.ndarray, input_scale: float, input_max: int,
                    until: str | None = None) -> np.ndarray:
    """Integer-only inference of ±1 ``graph`` on integer inputs ``x``: the output layer's int64 scores, or
    the value of layer ``until`` (bits after a BatchNorm or Sign, integer dot products after Dense/Conv2d)."""
    folded = thresholds(graph, input_scale, input_max)
    value = np.asarray(x)
    if not np.issubdtype(value.dtype, np.integer) or value.min() < 0 or value.max() > input_max:
        raise UserError(f"input: integer_forward takes integers 0 to {input_max}, got {value.dtype} values "
                        f"from {value.min()} to {value.max()}")
    value = value.astype(np.int64)
    for node in graph.layers():
        op = node.op
        if _binary_layer(node):
            value = _dot(node, value)
        elif isinstance(op, BatchNorm):
            value = folded[node.name].apply(value)
        elif isinstance(op, Sign):
            value = value if value.dtype == bool else value >= 0
        elif isinstance(op, MaxPool2d):
            fill = False if value.dtype == bool else np.iinfo(np.int64).min
            value = windows(value, op.kernel, op.stride, op.padding, fill).max(axis=(-2, -1))
        elif isinstance(op, Flatten):
            value = value.reshape(len(value), -1)
        else:
            raise UserError(f"layer '{node.name}' ({type(op).__name__}): integer BNN inference supports "
                            f"Dense, Conv2d, BatchNorm + Sign, Sign, MaxPool2d and Flatten")
        if node.name == until:
            break
    return value
