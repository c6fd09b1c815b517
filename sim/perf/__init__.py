"""Performance models: fast cycle and counter predictions equal to the RTL under the default memory model.

Each engine has a module ``sim.perf.<engine>`` with ``run(program) -> RunResult`` (cycles and counters) and
``command_profile(program) -> (ends, counts)``: the cycle by which each command has completed (``ends``,
int64, one per command) and each command's share of the additive counters (``counts``: counter name →
int64 array, one entry per command). :func:`layers` turns a profile into per-layer figures.
"""

from importlib import import_module

import numpy as np


def run(program):
    """Predict ``program``'s cycles and counters with its engine's performance model."""
    return import_module(f"sim.perf.{program.spec.name}").run(program)


def layers(program, records) -> list[dict[str, int]]:
    """Per-layer cycles and counters of a network Program (``records``: its
    :class:`~accel.compiler.network.LayerRecord` list).

    A layer's cycles are, summed over its command ranges, the growth of "cycles by which every command so
    far has completed" across the range: overlapped work is charged to the layer whose command finishes
    last, and the layers' cycles sum to the Program's cycles. Its counters are its commands' shares."""
    ends, counts = import_module(f"sim.perf.{program.spec.name}").command_profile(program)
    done = np.maximum.accumulate(np.concatenate([[0], np.asarray(ends, np.int64)]))  # done[i]: after i commands
    cumulative = {name: np.concatenate([[0], np.cumsum(values, dtype=np.int64)]) for name, values in counts.items()}
    result = []
    for record in records:
        row = dict.fromkeys(["cycles", *counts], 0)
        for first, end in record.commands:
            row["cycles"] += int(done[end] - done[first])
            for name, total in cumulative.items():
                row[name] += int(total[end] - total[first])
        result.append(row)
    return result
