"""One network partitioned across engines (``--engine auto``), in the spirit of the EIE paper: the
convolutional front (convolutions, pools, everything before the fully connected classifier) runs int8 on
the mac_array; the classifier (the trailing Flatten/Dense/ReLU chain), pruned and weight-shared, on eie.

A :class:`Partitioned` network is a sequence of :class:`Stage` — (engine, :class:`~.network.Network`) —
each a whole-network Program of its engine, run one after another over all images. Between two stages the
activations go through DRAM: the first stage's outputs are read at its memory port's width, converted
(:func:`int8_to_fixed`) and written as the next stage's inputs at its port's width (:class:`Transfer`).

The conversion is defined once here, in golden terms: an int8 activation q with scale s and zero point z
(Jacob et al. 2017) is the real value s·(q − z); eie's activation is that value in 16-bit fixed point with
``act_frac`` fraction bits, ``floor(s·(q − z)·2**act_frac + 1/2)`` (round half up) saturated to int16. The
next stage is compiled on the converted outputs of the previous stage's independent integer reference, so
the whole network's reference is those references chained (:meth:`Partitioned.reference`): the stages agree
with it stage by stage exactly when every stage is bit-exact against its own reference.
"""

import copy
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..nn.layers import Dense, Flatten, ReLU
from . import network as network_pass

DEEP_COMPRESSION_DENSITY = {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37,
                            "fc6": 0.09, "fc7": 0.09, "fc8": 0.25}
"""AlexNet's weight density per layer after pruning: Han et al., "Deep Compression", ICLR 2016, Table 4."""
CLASSIFIER_OPS = (Dense, ReLU, Flatten)
"""Operations of the trailing chain that runs on eie."""


def int8_to_fixed(q: np.ndarray, quant, act_frac: int) -> np.ndarray:
    """int8 activations ``q`` of quantization ``quant`` (an :class:`accel.int8.QuantParams`) as int16 fixed
    point with ``act_frac`` fraction bits: ``floor(scale·(q − zero_point)·2**act_frac + 1/2)``, saturated to
    int16 (the one conversion between the mac_array's and eie's number formats)."""
    real = quant.dequantize(q) * 2.0 ** act_frac
    return np.clip(np.floor(real + 0.5), -(2**15), 2**15 - 1).astype(np.int16)


@dataclass(frozen=True)
class Transfer:
    """Activations moved between two stages through DRAM, for all images: ``bytes_read`` at the producer's
    port (``read_beats`` of its beat), ``bytes_written`` at the consumer's (``write_beats``); one beat per
    cycle per port, read then written: ``cycles`` = read_beats + write_beats."""

    source: str
    target: str
    bytes_read: int
    bytes_written: int
    read_beats: int
    write_beats: int

    @property
    def cycles(self) -> int:
        return self.read_beats + self.write_beats

    def to_dict(self) -> dict:
        return {"from": self.source, "to": self.target, "bytes_read": self.bytes_read,
                "bytes_written": self.bytes_written, "bytes": self.bytes_read + self.bytes_written,
                "read_beats": self.read_beats, "write_beats": self.write_beats, "cycles": self.cycles}


@dataclass
class Stage:
    """One engine's part of a partitioned network."""

    engine: str
    network: "network_pass.Network"


@dataclass
class Partitioned:
    """A network as stages run one after another, the transfers between them (``transfers[i]`` feeds
    ``stages[i + 1]``) and ``info`` (model name, densities, sharing bits)."""

    stages: list[Stage]
    transfers: list[Transfer]
    info: dict = field(default_factory=dict)

    @property
    def images(self) -> int:
        return self.stages[0].network.images

    def reference(self) -> np.ndarray:
        """The whole network's integer reference: the last stage's, computed on its inputs, which are the
        previous stages' references converted."""
        return np.asarray(self.stages[-1].network.reference()).reshape(self.images, -1)


def split(graph) -> tuple[object | None, object | None]:
    """``graph`` cut before its trailing chain of :data:`CLASSIFIER_OPS` that holds a Dense layer: (the
    convolutional front, the classifier), either None when empty; each a graph of its own, the classifier
    reading the front's output as its input."""
    from ..nn.graph import Graph

    nodes = graph.layers()
    cut = len(nodes)
    while cut and isinstance(nodes[cut - 1].op, CLASSIFIER_OPS) and \
            nodes[cut - 1].inputs == [nodes[cut - 2].name if cut > 1 else "input"]:
        cut -= 1
    while cut < len(nodes) and isinstance(nodes[cut].op, ReLU):  # a ReLU before it stays with the front
        cut += 1
    if not any(isinstance(node.op, Dense) for node in nodes[cut:]):
        cut = len(nodes)
    if cut == len(nodes):
        return graph, None
    head = None
    if cut:
        head = Graph(f"{graph.name}-front", graph.nodes["input"].shape)
        for node in nodes[:cut]:
            head.add(node.name, copy.deepcopy(node.op), list(node.inputs), **node.params)
    tail = Graph(f"{graph.name}-classifier", graph.nodes[nodes[cut - 1].name].shape if cut else
                 graph.nodes["input"].shape)
    for i, node in enumerate(nodes[cut:]):
        tail.add(node.name, copy.deepcopy(node.op), "input" if i == 0 else list(node.inputs), **node.params)
    return head, tail


def densities(graph, prune: float | None) -> dict[str, float]:
    """The density each weighted layer of ``graph`` is pruned to: 1 − ``prune`` when given; else, for AlexNet,
    Deep Compression's per-layer densities (:data:`DEEP_COMPRESSION_DENSITY`); else the eie pass's default
    for Dense layers (:data:`~.network.EIE_DENSITY`) and none (1) for the others."""
    weighted = [node for node in graph.layers() if "weight" in node.params]
    if prune is not None:
        return {node.name: 1 - prune for node in weighted}
    if graph.name == "alexnet":
        return DEEP_COMPRESSION_DENSITY
    return {node.name: network_pass.EIE_DENSITY if isinstance(node.op, Dense) else 1.0 for node in weighted}


def classifier_spec(spec, layers):
    """``spec`` widened for the classifier ``layers``: ``max_cols`` to the widest input, ``n_pe`` doubled (up
    to its largest value) from the fewest PEs whose sparse-matrix SRAMs could hold every weight, until
    :func:`~.eie.fit_spec` keeps all layers resident; a :class:`UserError` if even that does not fit."""
    from . import eie

    widest = max(layer.shape[1] for layer in layers)
    if widest > spec.max_cols:
        spec = spec.with_overrides({"max_cols": str(widest)})
    largest = {f.name: f.metadata["hi"] for f in dataclasses.fields(spec)}
    entries = sum(layer.nonzeros() + layer.shape[1] for layer in layers)  # at least one per column (or padding)
    fewest = -(-entries // (largest["spmat_lines"] * spec.ENTRIES_PER_LINE))
    n_pe = max(spec.n_pe, 1 << max(0, fewest - 1).bit_length())
    while True:
        candidate = spec.with_overrides({"n_pe": str(n_pe)}) if n_pe != spec.n_pe else spec
        try:
            return eie.fit_spec(candidate, layers)
        except UserError:
            if n_pe >= largest["n_pe"]:
                raise
            n_pe *= 2


def check(model: str | None = None, *, prune: float | None = None, share: int | None = None, binarize: bool = False,
          calibrate: str | None = None, images: int | None = None) -> None:
    """Every check of :func:`compile`'s options that needs no loaded model (only its name, ``model``)."""
    if binarize:
        raise UserError("--binarize: not with --engine auto (it partitions int8 convolutions and pruned, shared "
                        "fully connected layers); expected --engine xnor")
    if share is not None and share > 4:
        raise UserError(f"--share: {share} bits is not allowed with --engine auto; expected at most 4 (eie's 4-bit "
                        f"codebook indices)")
    network_pass.check("mac_array", model, prune=prune, share=share, calibrate=calibrate, images=images)


def compile(specs: dict, model, *, images: int | None = None, seed: int = 0, prune: float | None = None,
            share: int | None = None, calibrate: str | None = None) -> Partitioned:
    """``model`` (an :class:`accel.nn.load.Model` with a float graph) partitioned over ``specs`` (engine name
    → spec, for ``mac_array`` and ``eie``): pruned (:func:`densities`) and weight-shared with ``share`` bits
    (default :data:`~.network.EIE_SHARE_BITS`) as a whole (fine-tuned for a digits model), then split: its
    front quantized to int8 and compiled for the mac_array, its classifier
    compiled for eie on the front's converted reference outputs; over ``images`` inputs as
    :func:`accel.compiler.network.compile` draws them."""
    from ..compress.pipeline import compress
    from ..nn import digits
    from ..nn.load import Model
    from . import eie

    check(model.name, prune=prune, share=share, calibrate=calibrate, images=images)
    if model.graph is None:  # (a binarized model was refused by the check)
        raise UserError(f"MODEL {model.name!r}: --engine auto partitions a float network (a zoo network, a digits "
                        f"model or a float ONNX file); expected --engine mac_array")
    head, tail = split(model.graph)
    if head is None or tail is None:
        raise UserError(f"MODEL {model.name!r}: has {'no layers before its' if head is None else 'no'} fully "
                        f"connected classifier; --engine auto runs a network with both on the mac_array and eie; "
                        f"expected --engine {'eie' if head is None else 'mac_array'}")
    density, bits = densities(model.graph, prune), network_pass.EIE_SHARE_BITS if share is None else share
    data = None
    if model.trained_on_digits:  # fine-tuned while pruning and sharing, as the single-engine passes do
        train = digits.load()[0]
        data = (train.inputs(model.input_shape), train.labels)
    graph, shared = compress(model.graph, density, bits, data)
    head, tail = split(graph)
    front = network_pass.compile("mac_array", specs["mac_array"],
                                 Model(model.name, graph=head, trained_on_digits=model.trained_on_digits),
                                 images=images, seed=seed, calibrate=calibrate)
    layers = eie.shared_layers(specs["eie"], tail, shared)
    spec = classifier_spec(specs["eie"], layers)
    out = front.program.spec
    xs = int8_to_fixed(np.asarray(front.reference()).reshape(front.images, -1), front.info["output_quant"],
                       spec.act_frac)
    classifier = eie.compile_network(spec, layers, xs)
    classifier.info.update(model=model.name, labels=front.info.get("labels"))  # the whole network's outputs
    written = classifier.program.memory["input"].size
    read = front.output.nbytes * front.images
    transfer = Transfer("mac_array", "eie", read, written, -(-read // out.beat_bytes),
                        -(-written // classifier.program.spec.beat_bytes))
    return Partitioned([Stage("mac_array", front), Stage("eie", classifier)], [transfer],
                       {"model": model.name, "densities": density, "share": bits})
