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
  L + 1 until the final write is acknowledged (``stall_memory``). With ``psum_in`` or ``psum_out`` every
  pixel first spends PSUM_ATOMS = 4 partial-sum steps (``stall_buffer``); with ``psum_out`` the drain
  after the accumulation is RAW = 4 cycles to the int32-saturated sums, PSUM_ATOMS beats out of their
  capture register and 1 in the output queue (D + 10), and the output credits never run out either (a
  pixel's 4 are taken by its partial-sum steps and return 19 + D + its MAC steps later, far fewer than
  the queue holds);
- a pooling of T window steps: the same front, T steps (``pp_active``), POOL = 9 cycles of reduction
  and division and 1 in the output queue, L + 1 until acknowledged;
- an element-wise addition of n atoms: 1 cycle to start and 9 per atom to read its operands
  (``stall_buffer``; the buffer's read latency is 7), atomic_c lanes per atom (``pp_active``), 30 cycles
  of arithmetic, gathering and output queue, L + 1 until acknowledged; one of no atoms completes at issue,
  as ``Config`` does.

Cycles in which the compute units are idle are ``stall_memory`` while a load runs, else ``stall_issue``.
"""

import functools
from operator import attrgetter

import numpy as np

from accel.isa.mac_array import (COUNTERS, PSUM_ATOMS, RAW_LATENCY as RAW, REQUANT_LATENCY as REQUANT, WORK, Config, Conv,
                                 Eltwise, LoadFeatures, LoadWeights, Pool)
from accel.program import Command, Program
from accel.spec import DotProductSpec, MacArraySpec

from ..result import RunResult

FRONT = 14
"""Cycles from a convolution's or pooling's start to its first step in the MAC cells or the reducer."""
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
    return tuple(_rows(spec, [command])[0].tolist())


_FIELDS = {LoadFeatures: attrgetter("count", "groups"), LoadWeights: attrgetter("count"),
           Conv: attrgetter("out_h", "out_w", "ncg", "kernel_h", "kernel_w", "last", "psum_in", "psum_out"),
           Pool: attrgetter("out_h", "out_w", "kernel_h", "kernel_w"), Eltwise: attrgetter("count")}


def _rows(spec: MacArraySpec, commands: list[Command]) -> np.ndarray:
    """Each command's busy cycles and counters of :data:`_PER_COMMAND` (one row each), computed per command
    type on arrays of its fields."""
    latency, ak, ac = spec.mem_latency, spec.atomic_k, spec.atomic_c
    rows = np.zeros((len(commands), 8), np.int64)
    index_of = {}
    for i, command in enumerate(commands):
        index_of.setdefault(type(command), []).append(i)
    for kind, index in index_of.items():
        if kind is Config:
            continue
        if kind not in _FIELDS:
            raise TypeError(f"not a mac_array command: {commands[index[0]]!r}")
        get = _FIELDS[kind]
        f = np.array([get(commands[i]) for i in index], np.int64).reshape(len(index), -1)
        zero = np.zeros(len(index), np.int64)
        if kind in (LoadFeatures, LoadWeights):
            beats = f[:, 0] * (f[:, 1] if kind is LoadFeatures else ak)
            columns = [beats + latency + 2, zero, zero, zero, zero, zero, beats * spec.beat_bytes, zero]
        elif kind is Conv:
            pixels, steps, last = f[:, 0] * f[:, 1], f[:, 0] * f[:, 1] * f[:, 2] * f[:, 3] * f[:, 4], f[:, 5]
            psum_out = f[:, 7] == 1
            front = FRONT + np.where((f[:, 6] == 1) | psum_out, PSUM_ATOMS * pixels, 0)
            drain = _dot_product_latency(ac) + np.where(
                psum_out, 1 + RAW + PSUM_ATOMS + 1, np.where(last, 1 + REQUANT + 1, 1))
            memory = np.where(last, latency + 1, 0)
            columns = [front + steps + drain + memory, steps, zero, memory, front, drain, zero,
                       np.where(last, pixels * ak * np.where(psum_out, PSUM_ATOMS, 1), 0)]
        elif kind is Pool:
            steps = f[:, 0] * f[:, 1] * f[:, 2] * f[:, 3]
            columns = [FRONT + steps + POOL + 1 + latency + 1, zero, steps, zero + latency + 1, zero + FRONT,
                       zero + POOL + 1, zero, f[:, 0] * f[:, 1] * ac]
        else:  # Eltwise; one of no atoms completes at issue
            count = f[:, 0]
            lanes, operands, some = count * ac, 1 + 9 * count, count > 0
            columns = [np.where(some, operands + lanes + ELTWISE + latency + 1, 0), zero, lanes,
                       np.where(some, latency + 1, 0), np.where(some, operands, 0), np.where(some, ELTWISE, 0), zero,
                       lanes]
        rows[index] = np.stack(columns, axis=1)
    return rows


_UNIT = {LoadFeatures: 0, LoadWeights: 0, Config: 1, Conv: 2, Pool: 2, Eltwise: 2}
"""Which unit runs a command: the load unit (0), both (1: Config), the compute units (2)."""


def _timeline(spec: MacArraySpec, commands: list[Command]):
    """The two-unit timeline: each command's row of :func:`command_counters`, the cycle its unit starts it
    and the cycle it has completed (``Config`` and empty commands: the cycle after their issue), whether it
    is a computation, and the cycle the last command completes."""
    rows = _rows(spec, commands)
    issue = 0  # earliest cycle the next command can be issued
    load_free = compute_free = 0  # first cycle each unit is free again
    starts, ends = [], []
    units = [_UNIT[type(command)] for command in commands]
    waits = [getattr(command, "wait", 1) for command in commands]
    for unit, wait, busy in zip(units, waits, rows[:, 0].tolist()):
        if unit == 0:  # a load
            issue = max(issue, load_free, compute_free) if wait else max(issue, load_free)
            load_free = issue + 1 + busy
            ends.append(load_free)
        elif unit == 1:  # Config
            issue = max(issue, load_free, compute_free)
            ends.append(issue + 1)
        else:
            issue = max(issue, compute_free, load_free) if wait else max(issue, compute_free)
            compute_free = issue + 1 + busy
            ends.append(compute_free)
        starts.append(issue + 1)
        issue += 1
    end = max(issue, load_free, compute_free)
    return rows, np.array(starts, np.int64), np.array(ends, np.int64), np.array(units) == 2, end


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
