"""The network IR: layers (``layers``), the graph with shape inference (``graph``), built-in networks
(``zoo``), SCALE-Sim topology files (``topology``) and graph passes (``passes``)."""

from .graph import INPUT, Graph, Node
from .layers import (Add, ArgMax, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, Flatten, GlobalAvgPool, Layer,
                     MaxPool2d, ReLU, ReLU6, Softmax)
from .passes import fold_batchnorm
from .topology import ConvLayerShape, bundled, bundled_names, load_topology
from .zoo import ZOO, build, param_count

__all__ = ["INPUT", "Graph", "Node", "Layer", "Add", "ArgMax", "AvgPool2d", "BatchNorm", "Concat", "Conv2d", "Dense",
           "Flatten", "GlobalAvgPool", "MaxPool2d", "ReLU", "ReLU6", "Softmax", "fold_batchnorm", "ConvLayerShape",
           "bundled", "bundled_names", "load_topology", "ZOO", "build", "param_count"]
