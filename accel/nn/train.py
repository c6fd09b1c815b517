"""A small numpy trainer for classifier graphs: backward passes, softmax cross-entropy, Adam, minibatches.

Inputs: a :class:`Graph` whose output is the logits, a float batch ``x`` (N, *input shape) and integer
``labels`` (N,). Supported layers: Dense, Conv2d (groups 1, dilation 1; im2col), ReLU, MaxPool2d, Flatten,
BatchNorm and :class:`Sign`, each with one input. :func:`train` updates the graph's parameters in place and
is deterministic from ``TrainConfig.seed`` (batch order; :func:`init_params` draws the initial weights).

- ``masks`` (layer name → bool array shaped like its weight): pruned weights stay exactly zero while the
  others are fine-tuned (Han et al., "Learning both Weights and Connections", NeurIPS 2015).
- ``codebooks`` (layer name → ``(codebook, indices)``): the weight is ``codebook[indices]`` and the codebook
  is what trains, each entry's gradient being the sum of the gradients of its weights; entry 0 stays zero
  (Deep Compression, Han et al., ICLR 2016, §3.1). The codebook arrays are updated in place.
- ``binarized`` (BNN, Courbariaux et al. 2016): Dense and Conv2d compute with ``alpha · sign(W)``, alpha the
  mean |W| per output channel (XNOR-Net, Rastegari et al. 2016), and Sign layers output ±1. The backward
  pass is the straight-through estimator: weight gradients reach the latent float weights unchanged, which
  are clipped to [-1, 1] after each step; Sign passes the gradient where |x| <= 1 (hardtanh).

BatchNorm trains on batch statistics. After training its ``mean``/``var`` are set to the statistics of the
whole training set (one full-batch pass), which :meth:`Graph.run` then uses.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

from ..errors import UserError
from .graph import INPUT, Graph
from .layers import BatchNorm, Conv2d, Dense, Flatten, Layer, MaxPool2d, ReLU

VERSION = "1"  # of the training code: part of every cached model's key; change it when results would change

TRAINABLE = {Dense: ("weight", "bias"), Conv2d: ("weight", "bias"), BatchNorm: ("gamma", "beta")}


def sign(x: np.ndarray) -> np.ndarray:
    """+1.0 where ``x >= 0``, else -1.0 (sign(0) = +1, as in BNN and FINN)."""
    return np.where(x >= 0, 1.0, -1.0)


def xnor_alpha(weight: np.ndarray) -> np.ndarray:
    """XNOR-Net's scale per output channel (axis 0): ``mean |W|``, so that ``W ≈ alpha · sign(W)``."""
    return np.abs(weight).reshape(len(weight), -1).mean(axis=1)


def _binary_weight(weight: np.ndarray) -> np.ndarray:
    return sign(weight) * xnor_alpha(weight).reshape(-1, *(1,) * (weight.ndim - 1))


@dataclass(frozen=True)
class Sign(Layer):
    """BNN activation: :func:`sign` of each element (shape unchanged)."""

    def out_shape(self, name, shapes):
        return shapes[0]

    def forward(self, inputs, params):
        return sign(inputs[0])


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters: Adam (Kingma & Ba 2015), its step size ``lr`` decayed to 0 by a cosine over the run."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0  # L2 penalty on Dense/Conv2d weights (added to their gradient)
    seed: int = 0
    binarized: bool = False


def init_params(graph: Graph, seed: int) -> None:
    """Set every parameter: weights He-normal (std sqrt(2 / fan-in)), biases 0, BatchNorm the identity."""
    rng = np.random.default_rng(seed)
    for node in graph.layers():
        for key, shape in node.op.param_shapes(graph.in_shapes(node)).items():
            if key == "weight":
                node.params[key] = rng.normal(0.0, math.sqrt(2.0 / math.prod(shape[1:])), shape)
            else:
                node.params[key] = np.full(shape, 1.0 if key in ("gamma", "var") else 0.0)


# Window gathering shared by convolution and pooling, and its adjoint for the backward pass.

def windows(x: np.ndarray, kernel, stride, padding, fill=0) -> np.ndarray:
    """The (N, C, OH, OW, R, S) windows of ``x`` (N, C, H, W) zero-padded (or ``fill``-padded): a view."""
    (ph, pw), (sh, sw) = padding, stride
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::sh, ::sw]


def im2col(x: np.ndarray, op: Conv2d) -> np.ndarray:
    """The windows of ``x`` (N, C, H, W) that convolution ``op`` sees, one row of C·R·S per output pixel
    (N·OH·OW rows, in N, OH, OW order)."""
    win = windows(x, op.kernel, op.stride, op.padding)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, math.prod(win.shape[1:2] + win.shape[4:]))


def _unwindows(dwin: np.ndarray, shape, stride, padding) -> np.ndarray:
    """Adjoint of :func:`windows`: sum the window gradients (N, C, OH, OW, R, S) into the input ``shape``."""
    _, _, oh, ow, r, s = dwin.shape
    (ph, pw), (sh, sw) = padding, stride
    n, c, h, w = shape
    dx = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for i in range(r):
        for j in range(s):
            dx[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += dwin[..., i, j]
    return dx[:, :, ph:ph + h, pw:pw + w]


# Each forward returns (output, backward); backward maps the output gradient to (input gradient, grads).

def _dense(op, p, x):
    y = x @ p["weight"].T + (p["bias"] if op.bias else 0)

    def backward(dy):
        grads = {"weight": dy.T @ x} | ({"bias": dy.sum(axis=0)} if op.bias else {})
        return dy @ p["weight"], grads
    return y, backward


def _conv(op, p, x):
    cols = im2col(x, op)
    n, c, (_, oh, ow) = len(x), x.shape[1], op.out_shape("", [x.shape[1:]])
    r, s = op.kernel
    weight = p["weight"].reshape(op.out_channels, -1)
    y = cols @ weight.T + (p["bias"] if op.bias else 0)

    def backward(dy):
        dy = dy.transpose(0, 2, 3, 1).reshape(-1, op.out_channels)
        grads = {"weight": (dy.T @ cols).reshape(p["weight"].shape)} | ({"bias": dy.sum(axis=0)} if op.bias else {})
        dwin = (dy @ weight).reshape(n, oh, ow, c, r, s).transpose(0, 3, 1, 2, 4, 5)
        return _unwindows(dwin, x.shape, op.stride, op.padding), grads
    return y.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2), backward


def _maxpool(op, p, x):
    win = windows(x, op.kernel, op.stride, op.padding, fill=-np.inf)
    flat = win.reshape(*win.shape[:4], -1)
    arg = flat.argmax(axis=-1)[..., None]

    def backward(dy):
        dflat = np.zeros(flat.shape)
        np.put_along_axis(dflat, arg, dy[..., None], axis=-1)
        return _unwindows(dflat.reshape(win.shape), x.shape, op.stride, op.padding), {}
    return np.take_along_axis(flat, arg, axis=-1)[..., 0], backward


def _batchnorm(op, p, x):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    channel = (1, -1) + (1,) * (x.ndim - 2)
    std = np.sqrt(x.var(axis=axes) + op.eps).reshape(channel)
    xhat = (x - x.mean(axis=axes).reshape(channel)) / std

    def backward(dy):
        dxhat = dy * p["gamma"].reshape(channel)
        dx = (dxhat - dxhat.mean(axis=axes, keepdims=True)
              - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / std
        return dx, {"gamma": (dy * xhat).sum(axis=axes), "beta": dy.sum(axis=axes)}
    return xhat * p["gamma"].reshape(channel) + p["beta"].reshape(channel), backward


def _relu(op, p, x):
    return np.maximum(x, 0), lambda dy: (dy * (x > 0), {})


def _flatten(op, p, x):
    return x.reshape(len(x), -1), lambda dy: (dy.reshape(x.shape), {})


def _sign(op, p, x):
    return sign(x), lambda dy: (dy * (np.abs(x) <= 1), {})


_FORWARD = {Dense: _dense, Conv2d: _conv, MaxPool2d: _maxpool, BatchNorm: _batchnorm, ReLU: _relu,
            Flatten: _flatten, Sign: _sign}


def _check(graph: Graph) -> None:
    for node in graph.layers():
        kind = type(node.op).__name__
        if type(node.op) not in _FORWARD:
            raise UserError(f"layer '{node.name}' ({kind}): the trainer supports "
                            f"{', '.join(t.__name__ for t in _FORWARD)}")
        if isinstance(node.op, Conv2d) and (node.op.groups != 1 or node.op.dilation != (1, 1)):
            raise UserError(f"layer '{node.name}' (Conv2d): the trainer supports groups 1 and dilation 1, "
                            f"got groups {node.op.groups}, dilation {node.op.dilation}")


def _forward(graph: Graph, x: np.ndarray, binarized: bool):
    """Every node's output (BatchNorm on batch statistics) and every layer's backward function."""
    values, backwards = {INPUT: x}, {}
    for node in graph.layers():
        params = node.params
        if binarized and isinstance(node.op, (Dense, Conv2d)):
            params = params | {"weight": _binary_weight(params["weight"])}
        values[node.name], backwards[node.name] = _FORWARD[type(node.op)](node.op, params, values[node.inputs[0]])
    return values, backwards


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of ``logits`` (N, classes) and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    grad = np.exp(log_p)
    grad[rows, labels] -= 1
    return float(-log_p[rows, labels].mean()), grad / len(labels)


def loss_and_grads(graph: Graph, x: np.ndarray, labels: np.ndarray, binarized: bool = False):
    """``(loss, grads)``: ``grads[layer][param]`` is d loss / d param (for ``binarized``, of the binary one)."""
    values, backwards = _forward(graph, x, binarized)
    loss, grad = cross_entropy(values[graph.output], labels)
    pending, grads = {graph.output: grad}, {}
    for node in reversed(graph.layers()):
        if node.name in pending:
            dx, grads[node.name] = backwards[node.name](pending.pop(node.name))
            source = node.inputs[0]
            pending[source] = pending[source] + dx if source in pending else dx
    return loss, grads


def train(graph: Graph, x: np.ndarray, labels: np.ndarray, config: TrainConfig,
          masks: dict[str, np.ndarray] | None = None,
          codebooks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> list[float]:
    """Train ``graph`` in place on ``(x, labels)``; the mean loss of each epoch.

    BLAS runs single-threaded here: the matrices are small, and threads made training several times slower
    on two cores.
    """
    _check(graph)
    with threadpool_limits(1, user_api="blas"):
        return _train(graph, x, labels, config, masks or {}, codebooks or {})


def _train(graph, x, labels, config, masks, codebooks):
    nodes = {node.name: node for node in graph.layers()}
    variables = {}  # (layer, param) -> the array Adam updates in place
    for node in nodes.values():
        for key in TRAINABLE.get(type(node.op), ()):
            if key == "weight" and node.name in codebooks:
                codebook, indices = codebooks[node.name]
                node.params[key], variables[node.name, key] = codebook[indices], codebook
            elif key in node.params:
                mask = masks.get(node.name, 1.0) if key == "weight" else 1.0
                node.params[key] = variables[node.name, key] = np.asarray(node.params[key], np.float64) * mask
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in variables.items()}
    rng = np.random.default_rng(config.seed)
    steps = config.epochs * math.ceil(len(labels) / config.batch_size)
    step, history = 0, []
    for _ in range(config.epochs):
        order, losses = rng.permutation(len(labels)), []
        for start in range(0, len(labels), config.batch_size):
            batch = order[start:start + config.batch_size]
            loss, grads = loss_and_grads(graph, x[batch], labels[batch], config.binarized)
            losses.append(loss)
            step += 1
            lr = config.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
            for (name, key), var in variables.items():
                grad = grads[name][key]
                if key == "weight" and name in codebooks:
                    codebook, indices = codebooks[name]
                    grad = np.bincount(indices.ravel(), grad.ravel(), minlength=len(codebook))
                    grad[0] = 0.0
                elif key == "weight":
                    grad = (grad + config.weight_decay * var) * masks.get(name, 1.0)
                _adam(var, grad, *moments[name, key], step, lr)
                if config.binarized and key == "weight":
                    np.clip(var, -1.0, 1.0, out=var)
                if key == "weight" and name in codebooks:
                    nodes[name].params[key] = codebook[indices]
        history.append(float(np.mean(losses)))
    _set_population_statistics(graph, x, config.binarized)
    return history


def _adam(var, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    var -= lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)


def _set_population_statistics(graph: Graph, x: np.ndarray, binarized: bool) -> None:
    norms = [node for node in graph.layers() if isinstance(node.op, BatchNorm)]
    if norms:
        values, _ = _forward(graph, x, binarized)
        for node in norms:
            inputs = values[node.inputs[0]]
            axes = (0,) if inputs.ndim == 2 else (0, 2, 3)
            node.params["mean"], node.params["var"] = inputs.mean(axis=axes), inputs.var(axis=axes)
