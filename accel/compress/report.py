"""The compression report of a trained digits model: size and test accuracy after each step.

Steps: ``float`` → ``pruned`` (:mod:`.prune`, iterative with fine-tuning) → ``pruned+shared``
(:mod:`.share`, codebook fine-tuned), or ``float`` → ``binarized`` (:mod:`.binarize`: the BNN counterpart,
its accuracy from integer-only inference). Each step reports, over the Dense/Conv2d weights: density,
bits per weight (all storage of the weights, overheads included, divided by the number of weights) and
the compression ratio against fp32 weights.

Storage accounting, per layer:

- float: 32 bits per weight.
- sparse (pruned): Deep Compression's format (Han et al., ICLR 2016, §2): the non-zeros in the weight's
  row-major order, each with its value (fp32; or a ``bits``-wide codebook index once shared) and the
  distance to the previous one in 8 bits (Conv2d) or 5 bits (Dense); a gap larger than the field holds adds
  a filler zero entry. A layer is stored dense instead when that is smaller (e.g. shared but not pruned).
- shared: plus the codebook, ``2**bits`` entries of 16 bits.
- binarized: 1 bit per weight, plus per output channel of a hidden layer its threshold (signed, as wide as
  the layer's largest threshold needs) and 1 direction bit; BatchNorm is folded into these.

Biases (fp32) are not weights and are counted only in ``size_bytes``. As anchors, Deep Compression reports
35x for AlexNet and 49x for VGG-16, of which pruning and sharing with this accounting give 27x and 31x
(its Fig. 1) and Huffman coding of values and indices the rest (not done here).
"""

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import progress
from ..errors import UserError
from ..nn import digits
from ..nn.graph import INPUT, Graph, Node
from ..nn.layers import Conv2d, Dense
from ..nn.models import BINARIZED, inputs, model, workload
from ..nn.train import TrainConfig
from . import binarize as binarize_pass
from . import prune as prune_pass
from . import share as share_pass

# Fine-tuning after each pruning round and of the codebooks (L2 helps pruning: Han et al. 2015, §3.1).
FINETUNE = TrainConfig(epochs=20, batch_size=64, lr=3e-3, weight_decay=1e-4)
PRUNE_ROUNDS = 5
RELATIVE_INDEX_BITS = {Dense: 5, Conv2d: 8}  # Deep Compression §2


@dataclass(frozen=True)
class LayerSize:
    """The stored size of one layer's weight."""

    name: str
    kind: str
    shape: tuple[int, ...]
    weights: int
    nonzeros: int
    bits: int


@dataclass(frozen=True)
class Step:
    """One point of the pipeline: its test accuracy and the size of every weight layer."""

    name: str
    accuracy: float
    layers: list[LayerSize]

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def density(self) -> float:
        return sum(layer.nonzeros for layer in self.layers) / self.weights

    @property
    def bits_per_weight(self) -> float:
        return sum(layer.bits for layer in self.layers) / self.weights

    @property
    def compression_ratio(self) -> float:
        return 32 / self.bits_per_weight

    def to_dict(self) -> dict:
        return {"step": self.name, "accuracy": self.accuracy, "density": self.density,
                "bits_per_weight": self.bits_per_weight, "compression_ratio": self.compression_ratio}


@dataclass(frozen=True)
class Report:
    """The steps of compressing ``model`` trained from ``seed``; its ``biases`` (fp32) count in ``size_bytes``."""

    model: str
    seed: int
    biases: int
    steps: list[Step]

    def to_dict(self) -> dict:
        final = self.steps[-1]
        weight_bits = sum(layer.bits for layer in final.layers)
        return {"model": self.model, "seed": self.seed, "float_accuracy": self.steps[0].accuracy,
                **final.to_dict(), "weights": final.weights, "biases": self.biases,
                "size_bytes": (weight_bits + 32 * self.biases) / 8, "fp32_bytes": 4 * (final.weights + self.biases),
                "steps": [step.to_dict() for step in self.steps],
                "layers": [dataclasses.asdict(layer) for layer in final.layers]}

    def table(self) -> str:
        lines = [f"{self.model} (seed {self.seed}), digits test accuracy after each step:",
                 f"  {'step':<14} {'accuracy':>8} {'density':>8} {'bits/weight':>12} {'ratio':>7}"]
        for step in self.steps:
            lines.append(f"  {step.name:<14} {step.accuracy:>8.2%} {step.density:>8.1%} "
                         f"{step.bits_per_weight:>12.3f} {step.compression_ratio:>6.1f}x")
        lines.append(f"  {'layer':<10} {'kind':<7} {'shape':<16} {'weights':>8} {'nonzeros':>8} {'bits/weight':>12}")
        for layer in self.steps[-1].layers:
            lines.append(f"  {layer.name:<10} {layer.kind:<7} {str(layer.shape):<16} {layer.weights:>8} "
                         f"{layer.nonzeros:>8} {layer.bits / layer.weights:>12.3f}")
        return "\n".join(lines)


def _weight_nodes(graph: Graph) -> list[Node]:
    return [node for node in graph.layers() if isinstance(node.op, (Dense, Conv2d))]


def sparse_entries(weight: np.ndarray, field_bits: int) -> int:
    """Non-zeros plus the filler zeros a ``field_bits`` relative index needs, in row-major order."""
    positions = np.flatnonzero(weight)
    gaps = np.diff(positions, prepend=-1)
    return len(positions) + int(np.sum((gaps - 1) // 2**field_bits))


def _sizes(graph: Graph, value_bits: int, shared: dict[str, share_pass.SharedWeight] | None = None):
    """Every weight layer stored dense or sparse (whichever is smaller) at ``value_bits`` per value, plus its
    codebook if ``shared``."""
    result = []
    for node in _weight_nodes(graph):
        weight = node.params["weight"]
        field_bits = RELATIVE_INDEX_BITS[type(node.op)]
        sparse = sparse_entries(weight, field_bits) * (value_bits + field_bits)
        codebook = len(shared[node.name].codebook) * share_pass.CODEBOOK_BITS if shared else 0
        result.append(LayerSize(node.name, type(node.op).__name__, weight.shape, weight.size,
                                int(np.count_nonzero(weight)), min(weight.size * value_bits, sparse) + codebook))
    return result


def _binary_size(node: Node, threshold: binarize_pass.Threshold | None) -> LayerSize:
    weight = node.params["weight"]
    bits = weight.size
    if threshold is not None:
        width = int(np.max(np.abs(threshold.t))).bit_length() + 1  # signed, as wide as the largest needs
        bits += len(threshold.t) * (width + 1)
    return LayerSize(node.name, type(node.op).__name__, weight.shape, weight.size, weight.size, bits)


def _accuracy(graph: Graph, test: digits.Split) -> float:
    return digits.accuracy(graph.run(inputs(graph, test)), test.labels)


def _float_step(graph: Graph, test: digits.Split) -> Step:
    return Step("float", _accuracy(graph, test), _sizes(graph, 32))


def check(prune: float | None, share: int | None, binarize: bool) -> None:
    """A :class:`UserError` naming the first compression option that is out of range or not combinable."""
    if prune is not None and not 0 <= prune < 1:
        raise UserError(f"prune: {prune} is not allowed; allowed: the fraction of weights removed, 0 <= prune < 1")
    if share is not None and not 1 <= share <= 8:
        raise UserError(f"share: {share} is not allowed; allowed: codebook index bits 1 to 8")
    if binarize and (prune is not None or share is not None):
        raise UserError("binarize: cannot be combined with prune or share; allowed: binarize alone")


def compression_report(name: str, prune: float | None = None, share: int | None = None,
                       binarize: bool = False, seed: int = 0) -> Report:
    """Train (or load) model ``name`` from ``seed``, remove the fraction ``prune`` of each layer's weights,
    share them with ``share``-bit indices, or binarize (implied by a BNN model); report each step."""
    binarize = binarize or workload(name).config.binarized
    check(prune, share, binarize)
    train_split, test = digits.load()
    if binarize:
        float_name = next((f for f, b in BINARIZED.items() if b == name), name)
        return _binarized_report(float_name, BINARIZED[float_name], seed, test)
    graph = model(name, seed)
    steps = [_float_step(graph, test)]
    finetune = dataclasses.replace(FINETUNE, seed=seed)
    x = inputs(graph, train_split)
    if prune:
        graph = copy.deepcopy(graph)
        with progress.step(f"pruning {name}: {prune:.0%} of each layer's weights, {PRUNE_ROUNDS} rounds"):
            prune_pass.prune(graph, 1 - prune, x, train_split.labels, finetune, PRUNE_ROUNDS)
        steps.append(Step("pruned", _accuracy(graph, test), _sizes(graph, 32)))
    if share:
        graph = copy.deepcopy(graph)
        with progress.step(f"sharing {name}'s weights: {2**share}-entry codebooks"):
            shared = share_pass.share(graph, share, x, train_split.labels, finetune)
        steps.append(Step("pruned+shared" if prune else "shared", _accuracy(graph, test), _sizes(graph, share, shared)))
    biases = sum(node.params["bias"].size for node in _weight_nodes(graph) if node.op.bias)
    return Report(name, seed, biases, steps)


def _binarized_report(float_name: str, bnn_name: str, seed: int, test: digits.Split) -> Report:
    steps = [_float_step(model(float_name, seed), test)]
    bnn = model(bnn_name, seed)
    pixels = test.pixels.reshape(len(test.labels), *bnn.nodes[INPUT].shape)
    scores = binarize_pass.integer_forward(bnn, pixels, 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)
    folded = binarize_pass.thresholds(bnn, 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)
    after = {node.inputs[0]: node.name for node in bnn.layers()}
    sizes = [_binary_size(node, folded.get(after.get(node.name))) for node in _weight_nodes(bnn)]
    steps.append(Step("binarized", digits.accuracy(scores, test.labels), sizes))
    return Report(bnn_name, seed, 0, steps)
