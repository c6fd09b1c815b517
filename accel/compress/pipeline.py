"""Compression before compiling: prune, then share, a float graph's Dense/Conv2d weights.

With training data, as ``accel compress`` does it (Deep Compression): pruning in :data:`.report.PRUNE_ROUNDS`
rounds of fine-tuning, then codebooks fine-tuned (:data:`.report.FINETUNE`); the result is cached as ``.npz``
under ``cache_dir("compressed")``, keyed by the content hash of the graph (architecture and parameters), the
data, the targets, the fine-tuning and the training code's version (fine-tuning takes seconds to minutes, a
cached result milliseconds). Without data (a zoo network's random weights have no task to tune on): one
magnitude cut (:func:`.prune.magnitude_masks`) and k-means codebooks.
"""

import copy
import os

import numpy as np

from .. import progress
from ..cache import cache_dir, content_hash
from ..nn import train
from ..nn.graph import Graph
from . import prune as prune_pass
from . import share as share_pass


def compress(graph: Graph, density: float | dict[str, float] | None, bits: int | None,
             data: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Graph, dict | None]:
    """A copy of ``graph`` pruned to ``density`` (one value, or one per weighted layer; None: not pruned) and
    weight-shared with ``2**bits``-entry codebooks (None: not shared), fine-tuned on ``data`` = (inputs, labels)
    when given; and each layer's :class:`.share.SharedWeight` (None when not shared)."""
    from .report import FINETUNE, PRUNE_ROUNDS

    graph, shared = copy.deepcopy(graph), None
    path = None
    if data is not None:
        params = [f"{n.name} {n.op!r} {n.inputs}".encode() + b"".join(np.ascontiguousarray(v).tobytes()
                                                                    for _, v in sorted(n.params.items()))
                  for n in graph.layers()]
        key = content_hash(*params, *(np.ascontiguousarray(d).tobytes() for d in data), repr((density, bits)),
                           repr(FINETUNE), str(PRUNE_ROUNDS), train.VERSION)
        path = cache_dir("compressed") / f"{graph.name}-{key}.npz"
        if path.exists():
            return _load(graph, path, bits)
    steps = ([f"pruning to {density:.0%} density" if not isinstance(density, dict) else
              f"pruning to {min(density.values()):.0%}..{max(density.values()):.0%} density"]
             if density is not None else []) + \
        ([f"sharing {2**bits}-entry codebooks"] if bits else [])
    with progress.step(f"{graph.name}: {', '.join(steps) or 'unchanged'}"):
        if density is not None:
            if data is not None:
                prune_pass.prune(graph, density, *data, FINETUNE, PRUNE_ROUNDS)
            else:
                for name, mask in prune_pass.magnitude_masks(graph, density).items():
                    graph[name].params["weight"] = graph[name].params["weight"] * mask
        if bits is not None:
            shared = share_pass.share(graph, bits, *(data or ()), FINETUNE if data is not None else None)
    if path is not None:
        _save(graph, shared, path)
    return graph, shared


def _save(graph: Graph, shared: dict | None, path) -> None:
    """Write the compressed parameters and codebooks to ``path`` atomically (test workers may race)."""
    arrays = {f"param/{n.name}/{k}": v for n in graph.layers() for k, v in n.params.items()}
    for name, weight in (shared or {}).items():
        arrays |= {f"shared/{name}/codebook": weight.codebook, f"shared/{name}/indices": weight.indices,
                   f"shared/{name}/frac_bits": np.array(weight.frac_bits)}
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as file:
        np.savez(file, **arrays)
    os.replace(partial, path)


def _load(graph: Graph, path, bits: int | None) -> tuple[Graph, dict | None]:
    shared = {} if bits is not None else None
    with np.load(path) as stored:
        for key, value in stored.items():
            kind, name, field = key.split("/")
            if kind == "param":
                graph[name].params[field] = value
        for name in {key.split("/")[1] for key in stored if key.startswith("shared/")}:
            shared[name] = share_pass.SharedWeight(stored[f"shared/{name}/codebook"],
                                                   int(stored[f"shared/{name}/frac_bits"]),
                                                   stored[f"shared/{name}/indices"])
    return graph, shared
