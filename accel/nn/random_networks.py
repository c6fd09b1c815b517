"""Small float networks with random weights, and random int8 versions of whole networks, for tests and
benchmarks of network compilers.

The blocks exercise what a network pass must get right: a residual connection (an input kept alive across
layers), an inception block (a channel concat of branches whose channel counts are not multiples of the
engines' atomic sizes, a pooling branch, global average pooling, a dense head) and a depthwise separable
block (strided depthwise, pointwise, flatten, dense). Quantize them with
:func:`accel.compress.quantize.quantize`. :func:`random_qgraph` makes a large network (the zoo's ResNet-50)
int8 without a float forward pass.
"""

import numpy as np

from ..int8 import AddRequant, QuantParams
from .graph import INPUT, Graph
from .layers import (Add, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, Flatten, GlobalAvgPool, MaxPool2d, ReLU,
                     ReLU6, Softmax)
from .qgraph import QAdd, QConcat, QConv, QDense, QFlatten, QGraph, QPool
from .random_layers import random_requant


def _conv(g: Graph, rng, name: str, k: int, kernel: int, source: str, stride: int = 1, groups: int = 1,
          relu: bool = True) -> str:
    """A He-initialised convolution ("same" padding) with a ReLU unless ``relu`` is false; its output's name."""
    c = g[source].shape[0]
    fan_in = c // groups * kernel * kernel
    g.add(name, Conv2d(k, kernel, stride, kernel // 2, groups=groups), source,
          weight=rng.normal(0, np.sqrt(2 / fan_in), (k, c // groups, kernel, kernel)), bias=rng.normal(0, 0.1, k))
    return g.add(f"{name}_relu", ReLU()) if relu else name


def _dense(g: Graph, rng, name: str, k: int) -> str:
    f = g[g.output].shape[0]
    return g.add(name, Dense(k), weight=rng.normal(0, np.sqrt(1 / f), (k, f)), bias=rng.normal(0, 0.1, k))


def residual_block(rng: np.random.Generator, c: int = 6, k: int = 12, size: int = 8) -> Graph:
    """conv 3×3 → conv 3×3 → conv 3×3, added to the first conv's output, ReLU: (c, size, size) → (k, ...)."""
    g = Graph("residual-block", (c, size, size))
    first = _conv(g, rng, "conv1", k, 3, INPUT)
    _conv(g, rng, "conv3", k, 3, _conv(g, rng, "conv2", k, 3, first), relu=False)
    g.add("add", Add(), [first, "conv3"])
    g.add("add_relu", ReLU())
    return g


def inception_block(rng: np.random.Generator, c: int = 5, size: int = 9, classes: int = 10) -> Graph:
    """GoogLeNet's inception module, small: branches 1×1 (3 channels), 1×1 → 3×3 (5), 3×3 max-pool → 1×1 (6),
    concatenated (14 channels), then a 3×3 conv, global average pooling and a dense layer."""
    g = Graph("inception-block", (c, size, size))
    one = _conv(g, rng, "b1", 3, 1, INPUT)
    three = _conv(g, rng, "b2", 5, 3, _conv(g, rng, "b2_reduce", 4, 1, INPUT))
    g.add("b3_pool", MaxPool2d(3, 1, 1), INPUT)
    pooled = _conv(g, rng, "b3", 6, 1, "b3_pool")
    g.add("concat", Concat(3), [one, three, pooled])
    _conv(g, rng, "mix", 7, 3, "concat")
    g.add("gap", GlobalAvgPool())
    g.add("flatten", Flatten())
    _dense(g, rng, "fc", classes)
    return g


def separable_block(rng: np.random.Generator, c: int = 10, size: int = 10, k: int = 13, classes: int = 5) -> Graph:
    """MobileNet's depthwise separable block: depthwise 3×3 stride 2, pointwise to k, then flatten and a
    dense layer reading the (k, size/2, size/2) map C-major."""
    g = Graph("separable-block", (c, size, size))
    _conv(g, rng, "pointwise", k, 1, _conv(g, rng, "depthwise", c, 3, INPUT, stride=2, groups=c))
    g.add("flatten", Flatten())
    _dense(g, rng, "fc", classes)
    return g


def random_qgraph(graph: Graph, rng: np.random.Generator) -> QGraph:
    """An int8 version of ``graph`` (shapes only suffice) with random int8 weights: every tensor quantized
    with one random zero point (scale 1), requantizations as :func:`~accel.nn.random_layers.random_layer`
    chooses them; BatchNorm is taken as folded, a ReLU/ReLU6 after a Conv2d, Dense or Add is fused into
    it, a Softmax at the end is dropped."""
    params = QuantParams(1.0, int(rng.integers(-20, 20)))
    alias, ops = {}, []
    for node in graph.layers():
        inputs = [alias.get(s, s) for s in node.inputs]
        op = node.op
        if isinstance(op, (BatchNorm, Softmax)):
            alias[node.name] = inputs[0]
            continue
        if isinstance(op, (ReLU, ReLU6)):
            producer = ops[-1]
            if producer.name != inputs[0] or not isinstance(producer, (QConv, QDense, QAdd)):
                raise ValueError(f"random_qgraph: '{node.name}' does not follow a Conv2d, Dense or Add")
            lo = max(-128, params.zero_point)
            hi = 127 if isinstance(op, ReLU) else min(127, params.zero_point + 6)
            requant = producer.requant
            ops[-1] = type(producer)(**{**vars(producer), "requant": type(requant)(**{**vars(requant), "lo": lo,
                                                                                        "hi": hi})})
            alias[node.name] = producer.name
            continue
        shapes = graph.in_shapes(node)
        if isinstance(op, (Conv2d, Dense)):
            k = node.shape[0]
            per_group = shapes[0][0] // getattr(op, "groups", 1)
            kernel = getattr(op, "kernel", (1, 1))
            weight = np.maximum(rng.integers(-128, 128, (k, per_group, *kernel), dtype=np.int8), -127)
            bias, requant = random_requant(rng, k, weight[0].size, out=params)
            if isinstance(op, Dense):
                ops.append(QDense(node.name, inputs[0], weight[:, :, 0, 0], bias, requant))
            else:
                ops.append(QConv(node.name, inputs[0], weight, bias, requant, op.stride, op.padding, op.groups))
        elif isinstance(op, Add):
            ops.append(QAdd(node.name, *inputs, AddRequant.from_params(params, params, params)))
        elif isinstance(op, (MaxPool2d, AvgPool2d)):
            kind = "max" if isinstance(op, MaxPool2d) else "avg"
            ops.append(QPool(node.name, inputs[0], kind, op.kernel, op.stride, op.padding))
        elif isinstance(op, GlobalAvgPool):
            ops.append(QPool(node.name, inputs[0], "avg", shapes[0][1:], shapes[0][1:]))
        elif isinstance(op, Flatten):
            ops.append(QFlatten(node.name, inputs[0]))
        elif isinstance(op, Concat):
            ops.append(QConcat(node.name, tuple(inputs)))
        else:
            raise ValueError(f"random_qgraph: {type(op).__name__} ('{node.name}') has no int8 form here")
    tensors = {name: params for name in [INPUT, *(op.name for op in ops)]}
    return QGraph(graph.name, graph.nodes[INPUT].shape, tensors, ops)
