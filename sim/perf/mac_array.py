"""Cycle model of the mac_array: closed-form durations per command on a two-unit timeline, equal to the RTL.

Derived from the RTL's timing (rtl_gen.mac_array), with the default memory model of latency L (beats
and acknowledgements L cycles after their request, never a stall). A command is issued in a cycle of
its own once its unit is free (and, with ``wait``, the other unit too — see accel.isa.mac_array), and
its unit is then busy from the next cycle for:

- a load of n beats: n + L + 2 cycles (one cycle to start, a request per cycle, the last beat written
  L cycles after its request, and a cycle to finish);
- a convolution of T steps: FRONT = 14 cycles of parameter reads and pipeline fill (``stall_buffer``: the
  sequencer's start, its two stages and its 3 parameter steps, then the first step's 7-cycle buffer read
  and its operand registers), T of MACs (``mac_active``), then the drain: D = 3 + log2(atomic_c) cycles
  of dot product (``DotProductSpec.latency``), 1 of accumulation and, with ``last``, REQUANT = 14 of
  requantization and 1 in the output queue (``stall_postproc``: D + 1, or D + 16 with ``last``) and
  L + 1 until the final write is acknowledged (``stall_memory``);
- a pooling of T window steps: the same front, T steps (``pp_active``), POOL = 9 cycles of reduction
  and division and 1 in the output queue, L + 1 until acknowledged;
- an element-wise addition of n atoms: 1 cycle to start and 9 per atom to read its operands
  (``stall_buffer``; the buffer's read latency is 7), atomic_c lanes per atom (``pp_active``), 30 cycles
  of arithmetic, gathering and output queue, L + 1 until acknowledged; one of no atoms completes at issue,
  as ``Config`` does.

Cycles in which the compute units are idle are ``stall_memory`` while a load runs, else ``stall_issue``.
"""

import functools

import numpy as np

from accel.isa.mac_array import COUNTERS, WORK, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool
from accel.program import Command, Program
from accel.spec import DotProductSpec, MacArraySpec

from ..result import RunResult

FRONT = 14
"""Cycles from a convolution's or pooling's start to its first step in the MAC cells or the reducer."""
REQUANT = 14
"""Requantizer latency (rtl_gen.mac_array.requant.LATENCY)."""
POOL = 9
"""Pooling reducer latency: 1 to take a step, 1 to reduce and rtl_gen.mac_array.pool.DIVIDE_STAGES to
divide."""
ELTWISE = 30
"""Element-wise addition: lane arithmetic (rtl_gen.mac_array.eltwise.LANE_STAGES), the gathering and the
output queue."""

_PER_COMMAND = ("mac_active", "pp_active", "stall_memory", "stall_buffer", "stall_postproc", "bytes_read",
                "bytes_written")


@functools.cache
def _dot_product_latency(lanes: int) -> int:
    """The dot product's latency (a spec made once per width, not once per command)."""
    return DotProductSpec(lanes=lanes).latency


def command_counters(spec: MacArraySpec, command: Command) -> tuple[int, ...]:
    """What one command adds: its unit's busy cycles, then the counters of :data:`_PER_COMMAND`."""
    latency = spec.mem_latency
    if isinstance(command, (LoadFeatures, LoadWeights)):
        beats = command.count * (spec.atomic_k if isinstance(command, LoadWeights) else command.groups)
        return beats + latency + 2, 0, 0, 0, 0, 0, beats * spec.beat_bytes, 0
    if isinstance(command, Conv):
        steps = command.out_h * command.out_w * command.ncg * command.kernel_h * command.kernel_w
        drain = _dot_product_latency(spec.atomic_c) + (1 + REQUANT + 1 if command.last else 1)
        memory, written = (latency + 1, command.out_h * command.out_w * spec.atomic_k) if command.last else (0, 0)
        return FRONT + steps + drain + memory, steps, 0, memory, FRONT, drain, 0, written
    if isinstance(command, Pool):
        steps = command.out_h * command.out_w * command.kernel_h * command.kernel_w
        return (FRONT + steps + POOL + 1 + latency + 1, 0, steps, latency + 1, FRONT, POOL + 1, 0,
                command.out_h * command.out_w * spec.atomic_c)
    if isinstance(command, Eltwise):
        if not command.count:
            return 0, 0, 0, 0, 0, 0, 0, 0
        lanes, operands = command.count * spec.atomic_c, 1 + 9 * command.count
        return (operands + lanes + ELTWISE + latency + 1, 0, lanes, latency + 1, operands, ELTWISE, 0,
                command.count * spec.atomic_c)
    if isinstance(command, Config):
        return 0, 0, 0, 0, 0, 0, 0, 0
    raise TypeError(f"not a mac_array command: {command!r}")


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
    issue = 0  # earliest cycle the next command can be issued
    load_free = compute_free = 0  # first cycle each unit is free again
    loads, computes, rows = [], [], []
    for command in commands:
        row = command_counters(spec, command)
        rows.append(row)
        if isinstance(command, (LoadFeatures, LoadWeights)):
            issue = max(issue, load_free, compute_free if command.wait else 0)
            load_free = issue + 1 + row[0]
            loads.append((issue + 1, load_free))
        elif isinstance(command, Config):
            issue = max(issue, load_free, compute_free)
        else:
            issue = max(issue, compute_free, load_free if command.wait else 0)
            compute_free = issue + 1 + row[0]
            computes.append((issue + 1, compute_free))
        issue += 1
    totals = dict(zip(_PER_COMMAND, np.array(rows, np.int64).reshape(-1, 8)[:, 1:].sum(axis=0).tolist()))
    end = max(issue, load_free, compute_free)
    idle = end - sum(e - s for s, e in computes)
    waiting = sum(e - s for s, e in loads) - _overlap(loads, computes)
    totals["stall_memory"] += waiting
    totals |= {"cycles": end, "commands": len(commands), "stall_issue": idle - waiting}
    return {name: totals[name] for name in COUNTERS}


def run(program: Program) -> RunResult:
    """Predicted cycles and counters of ``program`` (memory unchanged: the perf model moves no data)."""
    totals = counters(program.spec, program.commands)
    return RunResult(program, program.memory.flatten(), totals["cycles"], totals)
