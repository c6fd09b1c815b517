"""Trained workloads: small networks for the digits data set, trained once and cached.

=================  ==========================================================================================
``digits-mlp``     64-300-100-10 MLP with ReLU (LeNet-300-100's shape for 8x8 inputs)
``digits-cnn``     conv 8 3x3 pad 1, ReLU, max-pool 2, conv 16 3x3 pad 1, ReLU, max-pool 2, flatten, dense 10
``digits-bnn-mlp`` binarized 64-300-100-10: ±1 weights, BatchNorm + Sign between layers, integer scores
``digits-bnn-cnn`` binarized conv 16 3x3 pad 1, max-pool 2, conv 32 3x3, flatten, dense 10 (BN + Sign after
                   each conv)
=================  ==========================================================================================

:func:`model` returns the trained graph (for a BNN its ±1 form, :func:`accel.compress.binarize.export`). Its
parameters are cached as ``.npz`` under ``cache_dir("models")``, keyed by the content hash of the
architecture, the seed, the hyperparameters, the data split and the training code's version. Training prints
the test accuracy on stderr; each model trains in a few seconds.
"""

import dataclasses
import os
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import progress
from ..cache import cache_dir, content_hash
from ..compress.binarize import export
from ..errors import UserError
from . import digits, train
from .graph import INPUT, Graph
from .layers import BatchNorm, Conv2d, Dense, Flatten, MaxPool2d, ReLU
from .train import Sign, TrainConfig


def _mlp(name: str, binary: bool) -> Graph:
    graph = Graph(name, (64,))
    for i, width in enumerate((300, 100), 1):
        graph.add(f"fc{i}", Dense(width, bias=not binary))
        if binary:
            graph.add(f"bn{i}", BatchNorm())
        graph.add(f"act{i}", Sign() if binary else ReLU())
    graph.add("fc3", Dense(digits.CLASSES, bias=not binary))
    return graph


def _cnn(name: str) -> Graph:
    graph = Graph(name, (1, 8, 8))
    for i, channels in enumerate((8, 16), 1):
        graph.add(f"conv{i}", Conv2d(channels, 3, padding=1))
        graph.add(f"relu{i}", ReLU())
        graph.add(f"pool{i}", MaxPool2d(2))
    graph.add("flatten", Flatten())
    graph.add("fc", Dense(digits.CLASSES))
    return graph


def _bnn_cnn(name: str) -> Graph:
    graph = Graph(name, (1, 8, 8))
    graph.add("conv1", Conv2d(16, 3, padding=1, bias=False))  # integer inputs: zero padding is exact
    graph.add("bn1", BatchNorm())
    graph.add("sign1", Sign())
    graph.add("pool1", MaxPool2d(2))
    graph.add("conv2", Conv2d(32, 3, bias=False))  # ±1 inputs: no padding
    graph.add("bn2", BatchNorm())
    graph.add("sign2", Sign())
    graph.add("flatten", Flatten())
    graph.add("fc", Dense(digits.CLASSES, bias=False))
    return graph


@dataclass(frozen=True)
class Workload:
    """An architecture and how it is trained."""

    build: Callable[[str], Graph]
    config: TrainConfig


MODELS = {
    "digits-mlp": Workload(lambda name: _mlp(name, binary=False),
                           TrainConfig(epochs=100, batch_size=128, lr=1e-3, weight_decay=1e-4)),
    "digits-cnn": Workload(_cnn, TrainConfig(epochs=60, batch_size=64, lr=3e-3)),
    "digits-bnn-mlp": Workload(lambda name: _mlp(name, binary=True),
                               TrainConfig(epochs=60, batch_size=64, lr=1e-2, binarized=True)),
    "digits-bnn-cnn": Workload(_bnn_cnn, TrainConfig(epochs=40, batch_size=64, lr=1e-2, binarized=True)),
}

# The binarized counterpart of each float model (same task, BNN architecture).
BINARIZED = {"digits-mlp": "digits-bnn-mlp", "digits-cnn": "digits-bnn-cnn"}


def workload(name: str) -> Workload:
    """The architecture and training of model ``name``; a :class:`UserError` listing the models otherwise."""
    if name not in MODELS:
        raise UserError(f"model: {name!r} is not a known model; known: {', '.join(MODELS)}")
    return MODELS[name]


def inputs(graph: Graph, split: digits.Split) -> np.ndarray:
    """The images of ``split`` shaped for ``graph``'s input."""
    return split.inputs(graph.nodes[INPUT].shape)


def model(name: str, seed: int = 0) -> Graph:
    """The trained model ``name`` (a key of :data:`MODELS`), its weights initialised and trained from ``seed``."""
    entry = workload(name)
    graph = entry.build(name)
    config = dataclasses.replace(entry.config, seed=seed)
    architecture = "\n".join(f"{node.name} {node.op!r} {node.inputs}" for node in graph.layers())
    key = content_hash(architecture, repr(config), repr(graph.nodes[INPUT].shape), "digits.load() defaults",
                       train.VERSION)
    path = cache_dir("models") / f"{name}-{key}.npz"
    trained = not path.exists()
    if trained:
        train_split, _ = digits.load()
        train.init_params(graph, seed)
        with progress.step(f"training {name} (seed {seed})"):
            train.train(graph, inputs(graph, train_split), train_split.labels, config)
        _save(path, {f"{n.name}/{k}": v for n in graph.layers() for k, v in n.params.items()})
    else:
        with np.load(path) as stored:
            for stored_name, value in stored.items():
                layer, param = stored_name.split("/")
                graph[layer].params[param] = value
    result = export(graph) if config.binarized else graph
    if trained:
        _, test = digits.load()
        accuracy = digits.accuracy(result.run(inputs(result, test)), test.labels)
        print(f"[accel] {name}: test accuracy {accuracy:.2%}", file=sys.stderr, flush=True)
    return result


def _save(path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically (concurrent test workers may train the same model)."""
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as file:
        np.savez(file, **arrays)
    os.replace(partial, path)
