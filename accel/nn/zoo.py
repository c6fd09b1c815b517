"""Built-in networks with the layer shapes of their papers, as shape-only :class:`Graph` s.

``ZOO[name]()`` builds one without parameters; :func:`build` with ``params="random"`` also fills
He-initialised float32 weights (:func:`init_random`) so :meth:`Graph.run` works. Every network ends in its
last fully-connected layer (logits, no softmax); dropout and local response normalisation are left out
(identity at inference, no MACs). Convolutions followed by BatchNorm have no bias, as in the papers' code.
"""

from collections.abc import Callable

import numpy as np

from ..errors import UserError
from .graph import Graph
from .layers import (Add, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Layer, MaxPool2d, ReLU, ReLU6)

IMAGENET = (3, 224, 224)
MNIST = (1, 28, 28)


def _conv_bn(g: Graph, name: str, k: int, kernel: int, stride: int = 1, groups: int = 1,
             act: type[Layer] | None = ReLU, inputs: str | None = None) -> str:
    """Conv2d ("same" padding, no bias) → BatchNorm → ``act``; the name of the last node."""
    g.add(name, Conv2d(k, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False), inputs)
    g.add(f"{name}_bn", BatchNorm())
    if act is not None:
        g.add(f"{name}_relu", act())
    return g.output


def _classifier(g: Graph, widths: list[int], first: int = 1) -> Graph:
    """Flatten, then Dense layers ``fc{first}``, ``fc{first + 1}``… of the given widths with ReLU between."""
    g.add("flatten", Flatten())
    for i, width in enumerate(widths, first):
        g.add(f"fc{i}", Dense(width))
        if i < first + len(widths) - 1:
            g.add(f"fc{i}_relu", ReLU())
    return g


def lenet_300_100() -> Graph:
    """LeNet-300-100: 784-300-100-10 fully connected (LeCun et al. 1998; Han et al. NIPS 2015, Table 1)."""
    return _classifier(Graph("lenet-300-100", MNIST), [300, 100, 10])


def lenet_5() -> Graph:
    """LeNet-5 as in Caffe's examples/mnist/lenet.prototxt, which Han et al. (Deep Compression, ICLR 2016) prune:
    conv 20 5×5, max-pool 2, conv 50 5×5, max-pool 2, fc 500, ReLU, fc 10 (no activation after the convs)."""
    g = Graph("lenet-5", MNIST)
    g.add("conv1", Conv2d(20, 5))
    g.add("pool1", MaxPool2d(2))
    g.add("conv2", Conv2d(50, 5))
    g.add("pool2", MaxPool2d(2))
    return _classifier(g, [500, 10])


def alexnet() -> Graph:
    """AlexNet (Krizhevsky et al. 2012) as Caffe's bvlc_alexnet, the model Han et al. compress: 227×227 input,
    conv1 96 11×11/4; conv2, conv4 and conv5 split over the paper's two GPUs, written as ``groups=2``
    (0.72 G MACs, 61 M parameters; one tower with full channels would be 1.14 G MACs)."""
    g = Graph("alexnet", (3, 227, 227))
    for i, (k, kernel, stride, groups, pool) in enumerate(
            [(96, 11, 4, 1, True), (256, 5, 1, 2, True), (384, 3, 1, 1, False), (384, 3, 1, 2, False),
             (256, 3, 1, 2, True)], 1):
        g.add(f"conv{i}", Conv2d(k, kernel, stride, padding=0 if i == 1 else kernel // 2, groups=groups))
        g.add(f"conv{i}_relu", ReLU())
        if pool:
            g.add(f"pool{i}", MaxPool2d(3, 2))
    return _classifier(g, [4096, 4096, 1000], first=6)


def vgg16() -> Graph:
    """VGG-16, configuration D of Simonyan & Zisserman (ICLR 2015): 13 conv 3×3 in 5 stages, 3 fc."""
    g = Graph("vgg16", IMAGENET)
    for stage, (k, count) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for i in range(1, count + 1):
            g.add(f"conv{stage}_{i}", Conv2d(k, 3, padding=1))
            g.add(f"conv{stage}_{i}_relu", ReLU())
        g.add(f"pool{stage}", MaxPool2d(2))
    return _classifier(g, [4096, 4096, 1000], first=6)


def _resnet(name: str, blocks: list[int], bottleneck: bool) -> Graph:
    """ResNet of He et al. (CVPR 2016), Table 1: stem, four stages of residual blocks, global pool, fc 1000.

    A block's first convolution has stride 2 in conv3_1, conv4_1 and conv5_1 — for bottlenecks that is the
    first 1×1, as in the authors' Caffe models (torchvision's "v1.5" moves it to the 3×3). A shortcut is a
    1×1 projection + BatchNorm where the shape changes (option B), the identity elsewhere.
    """
    g = Graph(name, IMAGENET)
    _conv_bn(g, "conv1", 64, 7, stride=2)
    x = g.add("pool1", MaxPool2d(3, 2, padding=1))
    channels = 64
    for stage, count in enumerate(blocks, 2):
        width = 64 * 2 ** (stage - 2)
        out = 4 * width if bottleneck else width
        for i in range(1, count + 1):
            block = f"conv{stage}_{i}"
            stride = 2 if i == 1 and stage > 2 else 1
            kernels = [1, 3, 1] if bottleneck else [3, 3]
            y = x
            for j, kernel in enumerate(kernels):
                last = j == len(kernels) - 1
                y = _conv_bn(g, f"{block}{'abc'[j]}", out if last else width, kernel, stride if j == 0 else 1,
                             act=None if last else ReLU, inputs=y)
            shortcut = x
            if stride != 1 or channels != out:
                shortcut = _conv_bn(g, f"{block}_proj", out, 1, stride, act=None, inputs=x)
            g.add(f"{block}_add", Add(), [y, shortcut])
            x = g.add(f"{block}_relu", ReLU())
            channels = out
    g.add("pool5", GlobalAvgPool())
    return _classifier(g, [1000])


def resnet18() -> Graph:
    """ResNet-18: basic blocks [2, 2, 2, 2] (He et al. 2016, Table 1)."""
    return _resnet("resnet18", [2, 2, 2, 2], bottleneck=False)


def resnet50() -> Graph:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3] (He et al. 2016, Table 1)."""
    return _resnet("resnet50", [3, 4, 6, 3], bottleneck=True)


def mobilenet_v1() -> Graph:
    """MobileNet-v1, width 1.0, 224×224 (Howard et al. 2017, Table 1): conv 3×3/2, 13 depthwise-separable
    blocks (depthwise 3×3 + BN + act, pointwise 1×1 + BN + act), global average pool, fc 1000.

    The activation is ReLU6 as in TensorFlow's reference model (tf-slim mobilenet_v1) and the int8 MobileNets
    of Jacob et al. 2017; the paper writes ReLU. Shapes and MACs are the same either way.
    """
    g = Graph("mobilenet-v1", IMAGENET)
    _conv_bn(g, "conv1", 32, 3, stride=2, act=ReLU6)
    channels = 32
    # (pointwise filters, depthwise stride) per block. Table 1 gives the last depthwise conv stride 2 on 7×7, a
    # known typo (mobilenet.csv copies it); the released model, and the 7×7 output of the table, have stride 1.
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for i, (k, stride) in enumerate(blocks, 2):
        _conv_bn(g, f"conv{i}_dw", channels, 3, stride, groups=channels, act=ReLU6)
        _conv_bn(g, f"conv{i}_pw", k, 1, act=ReLU6)
        channels = k
    g.add("pool", GlobalAvgPool())
    return _classifier(g, [1000])


ZOO: dict[str, Callable[[], Graph]] = {
    "lenet-300-100": lenet_300_100,
    "lenet-5": lenet_5,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet-v1": mobilenet_v1,
}

# The parameters of each layer type that training learns; BatchNorm's mean and var are statistics.
_LEARNED = {"weight", "bias", "gamma", "beta"}


def param_count(graph: Graph) -> int:
    """Learned parameters: weights, biases, BatchNorm gamma and beta (running statistics excluded, as in
    PyTorch's ``parameters()``)."""
    return sum(int(np.prod(shape)) for node in graph.layers()
               for key, shape in node.op.param_shapes(graph.in_shapes(node)).items() if key in _LEARNED)


def init_random(graph: Graph, seed: int = 0) -> None:
    """Fill every parameter of ``graph`` in place with float32 values from ``seed``.

    Weights are He-initialised, ``N(0, 2 / fan_in)`` with ``fan_in = (C / groups)·R·S`` or the Dense input
    width (He et al., ICCV 2015); biases are zero. BatchNorm gets statistics of a trained layer rather than
    the identity: gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1), mean ~ N(0, 0.1), var ~ U(0.5, 1.5).
    """
    rng = np.random.default_rng(seed)

    def normal(shape, std):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def uniform(shape):  # U(0.5, 1.5)
        return rng.random(shape, dtype=np.float32) + np.float32(0.5)

    draw = {
        "weight": lambda shape: normal(shape, np.sqrt(2 / np.prod(shape[1:]))),
        "bias": lambda shape: np.zeros(shape, np.float32),
        "gamma": uniform,
        "beta": lambda shape: normal(shape, 0.1),
        "mean": lambda shape: normal(shape, 0.1),
        "var": uniform,
    }
    for node in graph.layers():
        node.params = {key: draw[key](shape) for key, shape in node.op.param_shapes(graph.in_shapes(node)).items()}


def build(name: str, params: str | None = None, seed: int = 0) -> Graph:
    """The zoo network ``name``: shape-only (``params=None``) or with ``params="random"`` (:func:`init_random`)."""
    if name not in ZOO:
        raise UserError(f"network '{name}' is not in the zoo; known: {', '.join(ZOO)}")
    if params not in (None, "random"):
        raise UserError(f"network '{name}': params {params!r} is not allowed; use None (shape-only) or 'random'")
    graph = ZOO[name]()
    if params == "random":
        init_random(graph, seed)
    return graph
