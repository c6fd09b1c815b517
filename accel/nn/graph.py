"""The network IR: a graph of layers in topological (insertion) order, with shapes inferred as it grows.

::

    g = Graph("tiny", input_shape=(1, 8, 8))
    g.add("conv1", Conv2d(4, kernel=3, padding=1), weight=w, bias=b)   # input defaults to the last node
    g.add("relu1", ReLU())
    g.add("flat", Flatten())
    g.add("fc", Dense(10), weight=w2, bias=b2)
    y = g.run(x)          # float reference, x of shape (N, 1, 8, 8)

The graph input is the node named ``"input"``. Parameters are optional (a shape-only graph from a topology
file has none); when given, their shapes are checked. Impossible shapes raise :class:`UserError` naming the
layer.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from .layers import Layer, Shape

INPUT = "input"


@dataclass
class Node:
    name: str
    op: Layer | None  # None for the graph input
    inputs: list[str]
    shape: Shape
    params: dict[str, np.ndarray] = field(default_factory=dict)


class Graph:
    """A network: nodes in topological order, the first being the input."""

    def __init__(self, name: str, input_shape: Shape):
        self.name = name
        self.nodes: dict[str, Node] = {INPUT: Node(INPUT, None, [], tuple(input_shape))}

    @property
    def output(self) -> str:
        """The last node added."""
        return next(reversed(self.nodes))

    def add(self, name: str, op: Layer, inputs: list[str] | str | None = None, **params: np.ndarray) -> str:
        """Append layer ``op`` named ``name`` reading ``inputs`` (default: the last node); its name."""
        if name in self.nodes:
            raise UserError(f"layer '{name}': the name is already used in graph '{self.name}'")
        inputs = [self.output] if inputs is None else [inputs] if isinstance(inputs, str) else list(inputs)
        for source in inputs:
            if source not in self.nodes:
                raise UserError(f"layer '{name}': input '{source}' is not a layer of graph '{self.name}'")
        if len(inputs) != op.arity:
            raise UserError(f"layer '{name}' ({type(op).__name__}): takes {op.arity} input(s), got {len(inputs)}")
        shapes = [self.nodes[source].shape for source in inputs]
        shape = op.out_shape(name, shapes)
        expected = op.param_shapes(shapes)
        for key, value in params.items():
            if key not in expected:
                raise UserError(f"layer '{name}' ({type(op).__name__}): unexpected parameter '{key}'; "
                                f"expected {', '.join(expected) or 'none'}")
            if tuple(np.shape(value)) != expected[key]:
                raise UserError(f"layer '{name}' ({type(op).__name__}): parameter '{key}' has shape "
                                f"{tuple(np.shape(value))}, expected {expected[key]}")
        self.nodes[name] = Node(name, op, inputs, shape, {k: np.asarray(v) for k, v in params.items()})
        return name

    def __getitem__(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise UserError(f"graph '{self.name}' has no layer '{name}'") from None

    def layers(self) -> list[Node]:
        """Every node but the input, in order."""
        return [node for node in self.nodes.values() if node.op is not None]

    def in_shapes(self, node: Node) -> list[Shape]:
        return [self.nodes[source].shape for source in node.inputs]

    def macs(self) -> int:
        """Multiply-accumulates for one input."""
        return sum(node.op.macs(self.in_shapes(node)) for node in self.layers())

    def run(self, x: np.ndarray, until: str | None = None) -> np.ndarray:
        """Float reference: the output of node ``until`` (default: the graph output) for batch ``x``."""
        if tuple(x.shape[1:]) != self.nodes[INPUT].shape:
            raise UserError(f"graph '{self.name}': input batch has shape {x.shape[1:]}, expected "
                            f"{self.nodes[INPUT].shape}")
        if until is not None:
            self[until]  # a UserError for an unknown name
        values = {INPUT: x}
        for node in self.layers():
            missing = [p for p in node.op.param_shapes(self.in_shapes(node)) if p not in node.params]
            if missing:
                raise UserError(f"layer '{node.name}': parameter '{missing[0]}' is not set (shape-only graph)")
            values[node.name] = node.op.forward([values[s] for s in node.inputs], node.params)
            if node.name == until:
                break
        return values[until or self.output]

    def summary(self) -> str:
        """One line per layer: name, type, output shape, MACs."""
        lines = [f"{self.name}: input {self.nodes[INPUT].shape}"]
        for node in self.layers():
            lines.append(f"  {node.name:<24} {type(node.op).__name__:<14} {str(node.shape):<18} "
                         f"{node.op.macs(self.in_shapes(node)):>14,} MACs")
        lines.append(f"  total {self.macs():,} MACs")
        return "\n".join(lines)
