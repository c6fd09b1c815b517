"""MODEL as ``accel compile`` and ``accel run`` take it: a trained digits model, a zoo network, a SCALE-Sim
topology file or an ONNX file, loaded into one :class:`Model`.

=============================  ==================================================================================
``digits-mlp`` … (``models``)  trained on scikit-learn's digits (cached); its test set comes with it
``lenet-5`` … (``zoo``)        random weights from the seed (:func:`accel.nn.zoo.init_random`)
``FILE.csv``                   a SCALE-Sim topology (or a bundled one by name, e.g. ``Resnet18``): layer shapes only
``FILE.onnx``                  a float model (quantized by the compiler where an engine needs int8) or an int8
                               QDQ / QOperator model as onnxruntime writes it
=============================  ==================================================================================

Which engine runs which form is the compiler's business (:func:`accel.compiler.network.compile`).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..spec import shown
from . import digits, models, topology, zoo
from .graph import Graph
from .qgraph import QGraph

ALIASES = {"lenet5": "lenet-5", "mobilenet": "mobilenet-v1"}
"""Other names of zoo networks (as issue texts and papers write them)."""


@dataclass
class Model:
    """A loaded MODEL: exactly one of ``graph`` (float, or ±1 for a binarized digits model), ``qgraph`` (an
    int8 ONNX model) and ``layers`` (a topology's shapes) is set; a model not trained on the digits has no
    test set: its inputs are drawn at random."""

    name: str
    graph: Graph | None = None
    qgraph: QGraph | None = None
    layers: list[topology.ConvLayerShape] | None = None
    trained_on_digits: bool = False
    """Whether the model was trained on the digits (and :attr:`test` is their test set)."""

    @property
    def test(self) -> digits.Split | None:
        """The digits test set of a digits model (loaded on first use: it imports scikit-learn), else None."""
        return digits.load()[1] if self.trained_on_digits else None

    @property
    def binarized(self) -> bool:
        """Whether the graph is a binarized (±1) digits network."""
        return self.name in models.BINARIZED.values()

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.graph is not None:
            return tuple(self.graph.nodes["input"].shape)
        if self.qgraph is not None:
            return tuple(self.qgraph.input_shape)
        first = self.layers[0]
        return (first.c, first.h, first.w)

    def test_images(self, images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``images`` test images (N, 8, 8) uint8 and their labels: all of them in order when ``images`` covers
        the test set, else a draw without replacement from ``seed``."""
        count = len(self.test.labels)
        pick = np.arange(count) if images >= count else \
            np.sort(np.random.default_rng(seed).choice(count, size=images, replace=False))
        return self.test.pixels[pick], self.test.labels[pick]


def load(text: str, seed: int = 0) -> Model:
    """The model ``text`` names (see the module docstring); ``seed`` trains a digits model or draws a zoo
    network's weights. A :class:`UserError` says what MODEL may be."""
    name = ALIASES.get(text, text)
    if name in models.MODELS:
        return Model(name, graph=models.model(name, seed), trained_on_digits=True)
    if name in zoo.ZOO:
        return Model(name, graph=zoo.build(name, "random", seed))
    if text in topology.bundled_names():
        return Model(text, layers=topology.bundled(text))
    path = Path(text)
    if path.suffix == ".csv":
        return Model(path.stem, layers=topology.load_topology(path))
    if path.suffix == ".onnx":
        return _onnx(path)
    raise UserError(f"MODEL: {shown(text)} is not a known model; expected one of {', '.join(models.MODELS)}, a zoo "
                    f"network ({', '.join(zoo.ZOO)}), a topology ({', '.join(topology.bundled_names())} or a .csv "
                    f"file) or an .onnx file")


def _onnx(path: Path) -> Model:
    from . import onnx_import

    proto = onnx_import.read_model(path)
    if onnx_import.is_quantized(proto):
        return Model(path.stem, qgraph=onnx_import.import_quantized(proto))
    return Model(path.stem, graph=onnx_import.import_float(proto))
