"""Whole networks as one Program: what every engine's network pass returns, and the dispatch to it.

A network Program holds every layer's weights (in the engine's encoding), the input images and the
activation buffers in one memory image, and all layers' commands (all images) in one stream: no host round
trip between layers. Each engine's network pass builds on its per-layer compiler:

- ``mac_array``: :func:`accel.compiler.mac_array_network.compile_network` (an int8 :class:`~accel.nn.qgraph.QGraph`);
- ``eie``: :func:`accel.compiler.eie.compile_network` (pruned, weight-shared dense layers);
- ``xnor``: :func:`accel.compiler.xnor.compile_network` (binarized layers).

A :class:`~accel.compiler.Network` (defined in :mod:`accel.compiler` beside ``Case``, so the engines' passes
need not import this dispatcher) says which commands belong to which layer, so that per-layer cycles and counters come
from the same perf model as the totals (:func:`sim.perf.layers`), and how to read the outputs back.
"""

import numpy as np

from ..errors import UserError
from ..spec import shown
from . import Network


ENGINES = ("eie", "mac_array", "xnor")
"""Engines with a network pass (what ``accel compile`` and ``accel run`` take)."""
EIE_DENSITY = 0.1
"""Weight density the eie pass prunes Dense layers to when ``--prune`` is not given."""
EIE_SHARE_BITS = 4
"""Weight-sharing bits of the eie pass when ``--share`` is not given (its 4-bit codebook indices)."""
RANDOM_CALIBRATION = 16
"""Random inputs that calibrate a float model without a data set when ``--calibrate`` is not given."""


def check(engine: str, model: str | None = None, *, prune: float | None = None, share: int | None = None,
          binarize: bool = False, calibrate: str | None = None, images: int | None = None) -> None:
    """Every check of :func:`compile`'s options that needs no loaded model (only its name, ``model``): a
    :class:`UserError` naming the first option that is wrong, before any model is trained or read."""
    if engine not in ENGINES:
        raise UserError(f"--engine: {shown(engine)} is not an engine with a network pass; expected one of "
                        f"{', '.join(ENGINES)}")
    from ..compress.report import check as check_compression
    from ..nn.load import ALIASES
    from ..nn.models import BINARIZED

    check_compression(prune, share, binarize)
    if engine == "xnor" and (prune is not None or share is not None):
        raise UserError("--prune, --share: the xnor engine runs ±1 weights; expected --binarize (or a BNN model)")
    if engine != "xnor" and (binarize or ALIASES.get(model, model) in BINARIZED.values()):
        what = "--binarize" if binarize else f"MODEL {model!r}"
        raise UserError(f"{what}: a binarized network runs on xnor; expected --engine xnor")
    if calibrate is not None:
        if engine != "mac_array":
            raise UserError(f"--calibrate: not on {engine} (it calibrates int8 quantization); allowed on mac_array")
        calibration_count(calibrate)
    if images is not None and images < 1:
        raise UserError(f"--images: {images} is not allowed; expected at least 1")


def compile(engine: str, spec, model, *, images: int | None = None, seed: int = 0, prune: float | None = None,
            share: int | None = None, binarize: bool = False, calibrate: str | None = None) -> Network:
    """``model`` (an :class:`accel.nn.load.Model`) compiled for ``engine`` on ``spec``, in the form that engine
    runs — ``eie``: its Dense layers pruned (to 1 − ``prune``, default 10 % density) and weight-shared
    (``share`` bits, default 4); ``xnor``: the binarized network (a BNN model, or ``binarize`` for the
    counterpart of a digits model); ``mac_array``: the int8 network (post-training quantized, calibrated by
    ``calibrate``: ``digits`` or ``random:N``, after ``prune`` / ``share`` when given) — over ``images``
    inputs: test images drawn from ``seed`` for a digits model (default 100), else random ones (default 1).
    ``info`` holds the model's name and, for a digits model, the images' labels. A :class:`UserError` names
    what runs where when the engine does not run the model."""
    check(engine, model.name, prune=prune, share=share, binarize=binarize, calibrate=calibrate, images=images)
    if model.layers is not None:
        raise UserError(f"MODEL {model.name!r}: a topology file holds unconnected layer shapes; expected a network "
                        f"(a zoo name, a digits model or an ONNX file)")
    count = images or (100 if model.trained_on_digits else 1)
    network = {"eie": _eie, "xnor": _xnor, "mac_array": _mac_array}[engine](
        spec, model, count, np.random.default_rng(seed), seed, prune, share, binarize, calibrate)
    labels = model.test_images(count, seed)[1].tolist() if model.trained_on_digits else None
    network.info.update(model=model.name, labels=labels)
    return network


def _pixels(model, count: int, seed: int) -> np.ndarray | None:
    """The test images a digits model runs on (after the engine's checks: they load the data set)."""
    return model.test_images(count, seed)[0] if model.trained_on_digits else None


def _eie(spec, model, count, rng, seed, prune, share, binarize, calibrate) -> Network:
    from . import eie

    if model.graph is None:
        raise UserError(f"MODEL {model.name!r}: an int8 model runs on mac_array; eie runs float MLPs it prunes "
                        f"and weight-shares; expected --engine mac_array")
    density = 1 - prune if prune is not None else EIE_DENSITY
    bits = share if share is not None else EIE_SHARE_BITS
    if model.name == "digits-mlp":
        layers = eie.digits_mlp(spec, density, bits, seed).layers
    else:
        layers = eie.network_layers(spec, model.graph, density, bits)
    pixels = _pixels(model, count, seed)
    if pixels is not None:
        xs = eie.pixel_activations(spec, pixels)
    else:  # activations in [0, 1), as images are
        xs = rng.integers(0, 1 << spec.act_frac, (count, layers[0].shape[1])).astype(np.int16)
    return eie.compile_network(spec, layers, xs)


def _xnor(spec, model, count, rng, seed, prune, share, binarize, calibrate) -> Network:
    from ..nn import digits, models
    from . import xnor

    if binarize and not model.binarized:
        if model.name not in models.BINARIZED:
            raise UserError(f"--binarize: {model.name!r} has no trained binarized counterpart; expected one of "
                            f"{', '.join(models.BINARIZED)}")
        graph = models.model(models.BINARIZED[model.name], seed)
    elif model.binarized:
        graph = model.graph
    else:
        raise UserError(f"MODEL {model.name!r}: xnor runs binarized networks; expected a BNN model "
                        f"({', '.join(models.BINARIZED.values())}) or --binarize, or --engine "
                        f"{'mac_array' if model.graph is None else 'mac_array or eie'}")
    shape = graph.nodes["input"].shape
    pixels = _pixels(model, count, seed)
    return xnor.compile_network(spec, graph, pixels.reshape(-1, *shape), 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)


def _mac_array(spec, model, count, rng, seed, prune, share, binarize, calibrate) -> Network:
    from ..compress.pipeline import compress
    from ..compress.quantize import quantize
    from ..nn import digits
    from . import mac_array_network

    qgraph = model.qgraph
    if qgraph is None:
        graph = model.graph
        if prune is not None or share is not None:
            data = None
            if model.trained_on_digits:
                train = digits.load()[0]
                data = (train.inputs(graph.nodes["input"].shape), train.labels)
            graph, _ = compress(graph, None if prune is None else 1 - prune, share, data)
        qgraph = quantize(graph, calibration(model, calibrate, rng))
    elif prune is not None or share is not None:
        raise UserError(f"--prune, --share: MODEL {model.name!r} is already int8; expected a float model")
    pixels = _pixels(model, count, seed)
    real = pixels.reshape(-1, *qgraph.input_shape) / digits.PIXEL_MAX if pixels is not None else \
        rng.random((count, *qgraph.input_shape))
    return mac_array_network.compile_network(spec, qgraph, qgraph.quantize_input(real))


def calibration(model, calibrate: str | None, rng: np.random.Generator) -> np.ndarray:
    """The float inputs that calibrate ``model``'s activation ranges: ``digits`` (the training images),
    ``random:N`` (N uniform in [0, 1)); by default the training images of a digits model, else
    :data:`RANDOM_CALIBRATION` random ones."""
    from ..nn import digits

    shape = model.input_shape
    if calibrate is None:
        calibrate = "digits" if model.trained_on_digits else f"random:{RANDOM_CALIBRATION}"
    if calibrate == "digits":
        train = digits.load()[0]
        if int(np.prod(shape)) != train.pixels[0].size:
            raise UserError(f"--calibrate digits: MODEL {model.name!r} takes inputs of shape {shape}, not 8x8 "
                            f"images; expected random:N")
        return train.inputs(shape)
    return rng.random((calibration_count(calibrate), *shape))


def calibration_count(calibrate: str) -> int | None:
    """The N of ``random:N`` (None for ``digits``); a :class:`UserError` for anything else."""
    if calibrate == "digits":
        return None
    kind, _, count = calibrate.partition(":")
    if kind != "random" or not count.isdigit() or not 1 <= int(count) <= 1 << 20:
        raise UserError(f"--calibrate: {shown(calibrate)} is not allowed; expected digits or random:N with "
                        f"1 <= N <= {1 << 20}")
    return int(count)
