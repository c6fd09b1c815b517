"""The network IR: layers (``layers``), the graph with shape inference (``graph``)."""

from .graph import INPUT, Graph, Node
from .layers import (Add, ArgMax, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, GlobalAvgPool, Layer, MaxPool2d,
                     ReLU, ReLU6, Softmax)

__all__ = ["INPUT", "Graph", "Node", "Layer", "Add", "ArgMax", "AvgPool2d", "BatchNorm", "Conv2d", "Dense",
           "Flatten", "GlobalAvgPool", "MaxPool2d", "ReLU", "ReLU6", "Softmax"]
