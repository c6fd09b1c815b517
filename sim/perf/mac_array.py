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


def _timeline(spec: MacArraySpec, commands: list[Command]):
    """The two-unit timeline: each command's row of :func:`command_counters`, the cycle its unit starts it
    and the cycle it has completed (``Config`` and empty commands: the cycle after their issue), whether it
    is a computation, and the cycle the last command completes."""
    issue = 0  # earliest cycle the next command can be issued
    load_free = compute_free = 0  # first cycle each unit is free again
    rows, starts, ends, compute = [], [], [], []
    for command in commands:
        row = command_counters(spec, command)
        rows.append(row)
        if isinstance(command, (LoadFeatures, LoadWeights)):
            issue = max(issue, load_free, compute_free if command.wait else 0)
            load_free = issue + 1 + row[0]
            ends.append(load_free)
        elif isinstance(command, Config):
            issue = max(issue, load_free, compute_free)
            ends.append(issue + 1)
        else:
            issue = max(issue, compute_free, load_free if command.wait else 0)
            compute_free = issue + 1 + row[0]
            ends.append(compute_free)
        starts.append(issue + 1)
        compute.append(isinstance(command, (Conv, Pool, Eltwise)))
        issue += 1
    end = max(issue, load_free, compute_free)
    return (np.array(rows, np.int64).reshape(-1, 8), np.array(starts, np.int64), np.array(ends, np.int64),
            np.array(compute, bool), end)


def command_profile(program: Program) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The cycle by which each command of ``program`` has completed and each command's share of the
    counters (see :mod:`sim.perf`): its own :func:`command_counters`, and the cycles the compute units
    are idle before it starts (for the first computation: from cycle 0; for the last command: also
    those after the last computation) as ``stall_memory`` while a load runs, else ``stall_issue``."""
    return _profile(program.spec, program.commands)[:2]


def _profile(spec: MacArraySpec, commands: list[Command]):
    rows, starts, ends, compute, end = _timeline(spec, commands)
    counts = dict(zip(_PER_COMMAND, rows[:, 1:].T.copy()))
    counts["commands"] = np.ones(len(commands), np.int64)
    loads = ~compute & (ends > starts) & (rows[:, 0] > 0)
    load_start, load_end = starts[loads], ends[loads]  # disjoint and in order: one load unit
    done = np.concatenate([[0], np.cumsum(load_end - load_start)])

    def loading(t):  # load-unit busy cycles before cycle t
        i = np.searchsorted(load_end, t, side="right")
        partial = np.where(i < len(load_start), np.clip(t - load_start[np.minimum(i, len(load_start) - 1)], 0, None), 0)
        return done[i] + partial

    # Idle gaps of the compute units: before each computation (since the previous one ended) and at the end.
    index = np.flatnonzero(compute & (ends > starts))
    gap_start = np.concatenate([[0], ends[index]])
    gap_end = np.concatenate([starts[index], [end]])
    owner = np.concatenate([index, [len(commands) - 1]])
    waiting, idle = loading(gap_end) - loading(gap_start), gap_end - gap_start
    counts["stall_memory"] = counts["stall_memory"] + np.bincount(owner, waiting, len(commands)).astype(np.int64)
    counts["stall_issue"] = np.bincount(owner, idle - waiting, len(commands)).astype(np.int64)
    return ends, counts, end


def counters(spec: MacArraySpec, commands: list[Command]) -> dict[str, int]:
    """Total counters of a command sequence, from the timeline of the load and compute units."""
    if not commands:
        return dict.fromkeys(COUNTERS, 0)
    _, counts, end = _profile(spec, commands)
    totals = {name: int(values.sum()) for name, values in counts.items()}
    return {name: end if name == "cycles" else totals[name] for name in COUNTERS}


def run(program: Program) -> RunResult:
    """Predicted cycles and counters of ``program`` (memory unchanged: the perf model moves no data)."""
    totals = counters(program.spec, program.commands)
    return RunResult(program, program.memory.flatten(), totals["cycles"], totals)
