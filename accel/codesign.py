"""Compression × hardware co-exploration: the digits models through each compression step, on every engine
that runs the result, with accuracy measured and cycles, energy and area from the perf and cost models.

A *point* is a model, a compression and an engine:

- ``eie``: ``digits-mlp`` pruned to ``1 − prune`` of its weights (iterative, with fine-tuning) and
  weight-shared with ``2**share``-entry codebooks (``share`` at most 4: the engine's 4-bit indices); the whole
  test set as one Program with the weights resident (:func:`accel.compiler.eie.lower_mlp_batch`). Accuracy: the
  engine's fixed-point arithmetic on every test image (what golden and RTL compute, bit for bit).
- ``mac_array``: ``digits-mlp`` or ``digits-cnn``, optionally pruned and shared the same way, then quantized
  to int8 (:func:`accel.compress.quantize.quantize`, calibrated on the training images); every Conv, Dense
  and pooling layer lowered on its own (:mod:`accel.compiler.mac_array`) for one image — its cycles and
  counts do not depend on the data (the array multiplies zeros like any other weight). Accuracy: the
  integer-only inference of the int8 graph on every test image.
- ``xnor``: the binarized counterparts ``digits-bnn-mlp`` and ``digits-bnn-cnn`` (pruning and sharing do
  not apply) on the engine's memories fitted to them, the whole test set as one Program
  (:func:`accel.compiler.xnor.model_case`). Accuracy: the integer-only forward (thresholds,
  XNOR-popcount) on every test image, which golden and RTL equal bit for bit.

eie and xnor load their weights once for the whole test set (``images`` in a record), the mac_array
once per image (one layer at a time through DRAM): that is how each engine runs a network here, and the
DRAM energy per inference shows it.

Per point, per inference: ``cycles`` (perf model, equal to the RTL's), ``energy_pj`` and its breakdown by
level (:mod:`accel.cost`, counts × table), and ``area_mm2`` (the ASIC estimate of the spec the Program
targets). :func:`front` is the Pareto front over error (1 − accuracy), cycles, energy and area; :func:`plot`
draws every point and the front in one figure.
"""

import copy
import functools
from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .explore import pareto
from .spec import EieSpec, MacArraySpec, Spec, XnorSpec

OBJECTIVES = ("error", "cycles", "energy_pj", "area_mm2")
"""What the front minimizes: test error (1 − measured accuracy), cycles, energy and area per inference."""
SPECS: dict[str, Spec] = {"eie": EieSpec(n_pe=8), "mac_array": MacArraySpec(), "xnor": XnorSpec()}
"""The engine instances of a sweep unless given: eie with 8 PEs (so the MLP's 300 hidden activations stay on
chip: n_pe · act_regs >= 300), the other two at their defaults."""


@dataclass(frozen=True)
class Compression:
    """One compression of a digits model: ``prune`` (the fraction of each layer's weights removed, 0 for
    none), ``share`` (codebook index bits, None for none), ``int8`` (post-training quantization) or
    ``binarize`` (the model's BNN counterpart)."""

    prune: float = 0.0
    share: int | None = None
    int8: bool = False
    binarize: bool = False

    @property
    def label(self) -> str:
        if self.binarize:
            return "binarize"
        parts = [f"prune {self.prune:.0%}"] if self.prune else []
        parts += [f"share {self.share}b"] if self.share else []
        parts += ["int8"] if self.int8 else []
        return " + ".join(parts) or "float"


def points(prunes: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9), shares: tuple[int | None, ...] = (None, 2, 4),
           models: tuple[str, ...] = ("digits-mlp", "digits-cnn")) -> list[tuple[str, str, Compression]]:
    """(engine, model, compression) of every point of the grid: per model each prune × share on the
    mac_array (int8) and, for ``digits-mlp`` with a codebook of at most 4 bits, on eie; each model's
    binarized counterpart on xnor."""
    from .nn.models import BINARIZED

    for fraction in prunes:
        if not 0 <= fraction < 1:
            raise UserError(f"prune: {fraction} is not allowed; allowed: the fraction of weights removed, 0 <= prune < 1")
    for bits in shares:
        if bits is not None and not 1 <= bits <= 8:
            raise UserError(f"share: {bits} is not allowed; allowed: codebook index bits 1 to 8, or None")
    result = []
    for model in models:
        if model not in BINARIZED:
            raise UserError(f"model: {model!r} is not allowed; expected one of {', '.join(BINARIZED)}")
        for fraction in prunes:
            for bits in shares:
                if model == "digits-mlp" and bits is not None and bits <= 4:
                    result.append(("eie", model, Compression(fraction, bits)))
                result.append(("mac_array", model, Compression(fraction, bits, int8=True)))
        result.append(("xnor", BINARIZED[model], Compression(binarize=True)))
    return result


@functools.lru_cache(maxsize=8)
def _pruned(model: str, fraction: float, seed: int):
    """The trained ``model``, its ``fraction`` of each layer's weights pruned with fine-tuning (a copy)."""
    from .compress import prune as prune_pass
    from .compress.report import FINETUNE, PRUNE_ROUNDS
    from .nn import digits, models
    from .progress import step

    graph = copy.deepcopy(models.model(model, seed))
    if fraction:
        train, _ = digits.load()
        with step(f"{model}: pruning {fraction:.0%} of each layer's weights"):
            prune_pass.prune(graph, 1 - fraction, models.inputs(graph, train), train.labels,
                             FINETUNE, PRUNE_ROUNDS)
    return graph


@functools.lru_cache(maxsize=8)
def _compressed(model: str, fraction: float, bits: int | None, seed: int):
    """(graph, shared weights or None, float test accuracy) of ``model`` pruned and shared."""
    from .compress import share as share_pass
    from .compress.report import FINETUNE
    from .nn import digits, models
    from .progress import step

    graph, shared = copy.deepcopy(_pruned(model, fraction, seed)), None
    train, test = digits.load()
    if bits:
        with step(f"{model}: sharing {2**bits}-entry codebooks"):
            shared = share_pass.share(graph, bits, models.inputs(graph, train), train.labels, FINETUNE)
    return graph, shared, digits.accuracy(graph.run(models.inputs(graph, test)), test.labels)


def _priced(program, counters: dict, per: int, table) -> dict:
    from .cost import area, energy

    spent = energy(program, counters, table)
    return dict(images=per, cycles=counters["cycles"] / per, energy_pj=spent.total_pj / per,
                energy_breakdown={level: pj / per for level, pj in spent.breakdown.items()},
                area_mm2=area(program.spec, table)["total_mm2"], spec=program.spec.to_dict())


def _eie(spec: EieSpec, model: str, c: Compression, seed: int, table) -> dict:
    from sim import perf

    from .compiler.eie import DigitsMlp, lower_mlp_batch, reference, shared_layers
    from .nn import digits

    graph, shared, float_accuracy = _compressed(model, c.prune, c.share, seed)
    _, test = digits.load()
    mlp = DigitsMlp(shared_layers(spec, graph, shared), test.pixels.reshape(len(test.labels), -1), test.labels,
                    float_accuracy)
    xs = mlp.inputs(spec)
    program = lower_mlp_batch(spec, mlp.layers, xs).program
    scores = np.stack([reference(spec, mlp.layers, x) for x in xs])  # the engine's arithmetic, bit for bit
    return dict(accuracy=digits.accuracy(scores, mlp.labels), float_accuracy=float_accuracy,
                **_priced(program, perf.run(program).counters, len(xs), table))


def int8_layers(spec: MacArraySpec, qgraph, image: np.ndarray) -> dict:
    """Every Conv, Dense and pooling layer of int8 graph ``qgraph`` on int8 ``image`` (one input, without
    the batch axis) lowered on its own (:class:`accel.compiler.mac_array.Lowered`), by layer name; Flatten is
    a reshape and costs nothing."""
    from .compiler.mac_array import lower, lower_pool
    from .nn.qgraph import QConv, QDense, QFlatten, QPool

    values, lowered = {"input": image}, {}
    for op in qgraph.ops:
        x = values[op.input]
        if isinstance(op, (QConv, QDense)):
            lowered[op.name] = lower(spec, op, x, qgraph.tensors[op.input].zero_point)
        elif isinstance(op, QPool):
            lowered[op.name] = lower_pool(spec, op, x)
        elif not isinstance(op, QFlatten):
            raise UserError(f"layer '{op.name}' ({type(op).__name__}): not allowed in a digits model on the "
                            f"mac_array; allowed: Conv, Dense, pooling, Flatten")
        values[op.name] = op.run(x[None], qgraph)[0]
    return lowered


def _mac_array(spec: MacArraySpec, model: str, c: Compression, seed: int, table) -> dict:
    from sim import perf

    from .compress.quantize import quantize
    from .nn import digits, models

    graph, _, float_accuracy = _compressed(model, c.prune, c.share, seed)
    train, test = digits.load()
    qgraph = quantize(graph, models.inputs(graph, train))
    x = qgraph.quantize_input(models.inputs(graph, test))
    rows = [_priced(layer.program, perf.run(layer.program).counters, 1, table)
            for layer in int8_layers(spec, qgraph, x[0]).values()]
    return dict(accuracy=digits.accuracy(qgraph.run(x), test.labels), float_accuracy=float_accuracy,
                images=1, cycles=sum(r["cycles"] for r in rows), energy_pj=sum(r["energy_pj"] for r in rows),
                energy_breakdown={level: sum(r["energy_breakdown"][level] for r in rows)
                                  for level in rows[0]["energy_breakdown"]},
                area_mm2=rows[0]["area_mm2"], spec=rows[0]["spec"])


def _xnor(spec: XnorSpec, model: str, c: Compression, seed: int, table) -> dict:
    from sim import perf

    from .compiler.xnor import model_case
    from .compress.report import compression_report
    from .nn import digits

    _, test = digits.load()
    case = model_case(spec, model, images=len(test.labels), seed=seed)
    return dict(accuracy=case.info["accuracy"], float_accuracy=compression_report(model, seed=seed).steps[0].accuracy,
                **_priced(case.program, perf.run(case.program).counters, case.info["images"], table))


_ENGINES = {"eie": _eie, "mac_array": _mac_array, "xnor": _xnor}


def evaluate(engine: str, model: str, compression: Compression, spec: Spec | None = None, seed: int = 0,
             table: str = "45nm") -> dict:
    """One point (see the module docstring): ``engine``, ``model``, ``compression`` (its ``label`` and
    fields), ``accuracy`` (measured on the digits test set), ``float_accuracy`` (the float model after
    pruning and sharing; for xnor the float model it binarizes), ``error``, and per inference ``cycles``,
    ``energy_pj``, ``energy_breakdown`` (pJ per level), ``area_mm2``, the ``images`` per Program run and the
    ``spec`` the Program targets."""
    if engine not in _ENGINES:
        raise UserError(f"engine: {engine!r} is not allowed; expected one of {', '.join(_ENGINES)}")
    result = _ENGINES[engine](spec or SPECS[engine], model, compression, seed, table)
    return dict(engine=engine, model=model, compression=compression.label, prune=compression.prune,
                share=compression.share, int8=compression.int8, binarize=compression.binarize,
                error=1 - result["accuracy"], **result)


def sweep(grid: list[tuple[str, str, Compression]] | None = None, specs: dict[str, Spec] | None = None,
          seed: int = 0, table: str = "45nm") -> list[dict]:
    """:func:`evaluate` of every point of ``grid`` (default :func:`points`), on ``specs`` (default
    :data:`SPECS`), with a progress bar; each model is compressed once per prune fraction and share bits."""
    from .progress import bar

    specs = SPECS | (specs or {})
    grid = points() if grid is None else grid
    records = []
    with bar("co-exploration points", len(grid)) as advance:
        for engine, model, compression in grid:
            records.append(evaluate(engine, model, compression, specs[engine], seed, table))
            advance()
    return records


def front(records: list[dict], objectives: tuple[str, ...] = OBJECTIVES) -> list[dict]:
    """The records on the Pareto front over ``objectives`` (all minimized), across models and engines: the
    digits task is the same, so every point is an alternative to every other."""
    return [records[i] for i in pareto(records, list(objectives))]


MARKERS = {"eie": "o", "mac_array": "s", "xnor": "^"}


def plot(records: list[dict], axes) -> None:
    """One Pareto plot on matplotlib ``axes``: energy per inference (x, log) against test error (y, log), the
    marker by engine, the colour by cycles per inference (log), the size by area; the points of the
    four-objective :func:`front` ringed in black and labelled with their model and compression."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    best = {id(r) for r in front(records)}
    norm = LogNorm(min(r["cycles"] for r in records), max(r["cycles"] for r in records))
    biggest = max(r["area_mm2"] for r in records)
    for engine, marker in MARKERS.items():
        mine = [r for r in records if r["engine"] == engine]
        if not mine:
            continue
        scatter = axes.scatter([r["energy_pj"] for r in mine], [100 * r["error"] for r in mine],
                               c=[r["cycles"] for r in mine], norm=norm, cmap="viridis", marker=marker,
                               s=[20 + 120 * r["area_mm2"] / biggest for r in mine], label=engine, alpha=0.8)
        ringed = [r for r in mine if id(r) in best]
        axes.scatter([r["energy_pj"] for r in ringed], [100 * r["error"] for r in ringed], marker=marker,
                     s=[90 + 120 * r["area_mm2"] / biggest for r in ringed], facecolors="none", edgecolors="black",
                     linewidths=1.5)
    for n, r in enumerate(sorted((r for r in records if id(r) in best), key=lambda r: r["energy_pj"])):
        axes.annotate(f"{r['model'].removeprefix('digits-')} on {r['engine']}: {r['compression']}",
                      (r["energy_pj"], 100 * r["error"]), fontsize=7, xytext=(40, -14 - 11 * n),
                      textcoords="offset points", arrowprops=dict(arrowstyle="-", lw=0.5))
    axes.figure.colorbar(scatter, ax=axes, label="cycles per inference")
    axes.set_xscale("log")
    axes.set_yscale("log")
    errors = [100 * r["error"] for r in records]
    axes.set_yticks([t for t in (0.5, 1, 2, 5, 10, 20, 50, 100) if min(errors) / 2 <= t <= 2 * max(errors)])
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set(xlabel="energy per inference (pJ)", ylabel="test error (%, log)",
             title="digits: compression × engine (ringed: Pareto front over error, cycles, energy, area;"
                   " size: area)")
    axes.title.set_fontsize(8)
    axes.legend(fontsize=7, markerscale=0.8)
    axes.grid(True, which="both", alpha=0.3)
