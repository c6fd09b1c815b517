"""Cycle model of the mac_array: closed-form durations per command on a two-unit timeline, equal to the RTL.

Derived from the RTL's timing (rtl_gen.mac_array), with the default memory model of latency L (beats
and acknowledgements L cycles after their request, never a stall). A command is accepted in a cycle of
its own once its unit is free (and, with ``wait``, the other unit too — see accel.isa.mac_array), and
its unit is then busy from the next cycle for:

- a load of n beats: n + L + 2 cycles (one cycle to start, a request per cycle, the last beat written
  L cycles after its request, and a cycle to finish);
- a convolution of T steps: 6 cycles of parameter reads and pipeline fill (``stall_buffer``), T of MACs
  (``mac_active``), then the drain: D = 1 + log2(atomic_c) cycles of dot product, 1 of accumulation and,
  with ``last``, 5 of requantization (``stall_postproc``: D + 1, or D + 6 with ``last``) and L + 1 until
  the final write is acknowledged (``stall_memory``);
- a pooling of T window steps: the same front (6), T steps (``pp_active``), 3 cycles of reduction and
  division, L + 1 until acknowledged;
- an element-wise addition of n atoms: 1 cycle to start and 3 per atom to read its operands
  (``stall_buffer``), atomic_c lanes per atom (``pp_active``), 10 cycles of arithmetic and gathering,
  L + 1 until acknowledged.

Cycles in which the compute units are idle are ``stall_memory`` while a load runs, else ``stall_issue``.
"""

import numpy as np

from accel.isa.mac_array import COUNTERS, WORK, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool
from accel.program import Command, Program
from accel.spec import MacArraySpec

from ..result import RunResult

def command_counters(spec: MacArraySpec, command: Command) -> dict[str, int]:
    """What one command adds: its unit's busy cycles by class (``busy``), bytes moved, and a command."""
    latency = spec.mem_latency
    counts = dict.fromkeys(COUNTERS, 0)
    counts["commands"] = 1
    if isinstance(command, (LoadFeatures, LoadWeights)):
        beats = command.count * (spec.atomic_k if isinstance(command, LoadWeights) else command.groups)
        counts["busy"] = beats + latency + 2
        counts["bytes_read"] = beats * spec.beat_bytes
        return counts
    if isinstance(command, Conv):
        steps = command.out_h * command.out_w * command.ncg * command.kernel_h * command.kernel_w
        dot_latency = 1 + (spec.atomic_c - 1).bit_length()
        counts["stall_buffer"] = 6
        counts["mac_active"] = steps
        counts["stall_postproc"] = dot_latency + (6 if command.last else 1)
        if command.last:
            counts["stall_memory"] = latency + 1
            counts["bytes_written"] = command.out_h * command.out_w * spec.atomic_k
    elif isinstance(command, Pool):
        counts["stall_buffer"] = 6
        counts["pp_active"] = command.out_h * command.out_w * command.kernel_h * command.kernel_w
        counts["stall_postproc"] = 3
        counts["stall_memory"] = latency + 1
        counts["bytes_written"] = command.out_h * command.out_w * spec.atomic_c
    elif isinstance(command, Eltwise):
        if command.count:
            counts["stall_buffer"] = 1 + 3 * command.count
            counts["pp_active"] = command.count * spec.atomic_c
            counts["stall_postproc"] = 10
            counts["stall_memory"] = latency + 1
            counts["bytes_written"] = command.count * spec.atomic_c
    elif not isinstance(command, Config):
        raise TypeError(f"not a mac_array command: {command!r}")
    counts["busy"] = sum(counts[k] for k in WORK)
    return counts


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """Cycles common to two sorted lists of disjoint [start, end) intervals."""
    total, j = 0, 0
    for start, end in a:
        while j < len(b) and b[j][1] <= start:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            total += min(end, b[k][1]) - max(start, b[k][0])
            k += 1
    return total


def counters(spec: MacArraySpec, commands: list[Command]) -> dict[str, int]:
    """Total counters of a command sequence, from the timeline of the load and compute units."""
    totals = dict.fromkeys(COUNTERS, 0)
    accept = 0  # earliest cycle the next command can be accepted
    load_free = compute_free = 0  # first cycle each unit is free again
    loads, computes = [], []
    for command in commands:
        counts = command_counters(spec, command)
        is_load = isinstance(command, (LoadFeatures, LoadWeights))
        wait = isinstance(command, Config) or getattr(command, "wait", 0)
        if is_load:
            accept = max(accept, load_free, compute_free if wait else 0)
        else:
            accept = max(accept, compute_free, load_free if wait else 0)
        busy = (accept + 1, accept + 1 + counts.pop("busy"))
        if is_load:
            loads.append(busy)
            load_free = busy[1]
        elif not isinstance(command, Config):
            computes.append(busy)
            compute_free = busy[1]
        accept += 1
        for key, value in counts.items():
            totals[key] += value
    end = max(accept, load_free, compute_free)
    idle = end - sum(e - s for s, e in computes)
    waiting = sum(e - s for s, e in loads) - _overlap(loads, computes)
    totals["stall_memory"] += waiting
    totals["stall_issue"] = idle - waiting
    totals["cycles"] = end
    return totals


def run(program: Program) -> RunResult:
    """Predicted cycles and counters of ``program`` (memory unchanged: the perf model moves no data)."""
    totals = counters(program.spec, program.commands)
    return RunResult(program, program.memory.flatten(), totals["cycles"], totals)
