"""Cycle model of the eie engine: cycles and counters per command, equal to the RTL's.

Derived from the RTL's timing (rtl_gen.eie), with the default memory model of latency L (beats and
acknowledgements L cycles after their request, never a stall); a command's cycles start with the cycle it
is accepted (``commands``):

- a load of B beats, each stored in K cycles (K = 1, except pointers with one PE: 2, activations with
  N < 4 PEs: 4 / N, and written into the PEs a cycle after it arrives): B·K + L + 2 cycles (1 if B = 0);
  a store of B beats: B·K + L + 3 (1 if B = 0);
- a Compute broadcasting K items (its non-zero activations, then the bias): the broadcast pushes item k
  in cycle P_k = max(P_{k−1} + 1, max_p pop_{p,k−D} + 1) (P_0 = 3, D = queue_depth: the queue must have
  room); PE p pops it in pop_{p,k} = max(P_k + 1, x_{p,k−1}) and its entry walker takes it in
  x_{p,k} = max(P_k + 2, x_{p,k−1} + d_{p,k−1}), d = max(1, entries of the column in this PE), issuing its
  entries in the d cycles after; a PE is idle the cycle after its walker finished the last column or 7
  cycles after its last entry (stages C, C2, C3, D, D2, E), whichever is later, and the Compute ends the cycle
  after all are idle (the engine registers their idle test): compute_cycles =
  max_p max(x_{p,K−1} + d_{p,K−1} + 1, last entry + 7) + 1 (3 if K = 0); with ``last`` the write-back takes
  rows + 2 cycles (a read per row, rounding, then saturation and the write).

The recurrence is evaluated in blocks of D items (vectorised over the block and the PEs): within a block,
the queue constraint only looks at pops of the previous block, so P is a running maximum and x a running
maximum of prefix sums. Functional state (what is non-zero, the pointers) comes from the golden model.
"""

import numpy as np

from accel.isa.eie import (COUNTERS, SLOTS, WORK, Compute, LoadActs, LoadCodebook, LoadMatrix, LoadPointers,
                           StoreActs, act_pace, pointer_pace)
from accel.program import Program
from accel.spec import EieSpec

from ..golden.eie import ComputeTrace, EieGolden
from ..result import RunResult

DRAIN = 7  # cycles from a PE's last issued entry until it is idle (stages C, C2, C3, D, D2, E)
START = 2  # cycles from a Compute's acceptance to its first search (start register, candidate registers)
END = 1  # cycles from all idle to the Compute's end (the engine's registered idle test)


def broadcast_schedule(durations: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Push cycles P (K,) and entry-walker start cycles x (N, K) for columns of ``durations`` d (N, K)."""
    n, k_items = durations.shape
    push = np.zeros(k_items, np.int64)
    take = np.zeros((n, k_items), np.int64)
    pop = np.zeros((n, k_items), np.int64)
    last_push = START  # P_{-1}, so that P_0 = START + 1
    free = np.full(n, -(1 << 60), np.int64)  # x_{k-1} + d_{k-1}: when the walker can take the next column
    previous_take = np.full(n, -(1 << 60), np.int64)  # x_{k-1}
    for b0 in range(0, k_items, depth):
        b1 = min(k_items, b0 + depth)
        ks = np.arange(b0, b1)
        room = np.full(b1 - b0, -(1 << 60), np.int64)
        if b0 >= depth:
            room = pop[:, b0 - depth:b1 - depth].max(axis=0) + 1
        # P_k − k is the running maximum of (room_k − k), starting from P_{b0−1} − (b0 − 1).
        push[b0:b1] = np.maximum.accumulate(np.maximum(room - ks, last_push - (b0 - 1))) + ks
        last_push = int(push[b1 - 1])
        # x_k − T_k is the running maximum of (P_k + 2 − T_k), starting from free − T_b0 (T: prefix sums of d).
        d = durations[:, b0:b1]
        before = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(d, axis=1)[:, :-1]], axis=1)
        x = np.maximum.accumulate(np.maximum(push[b0:b1] + 2 - before, free[:, None]), axis=1) + before
        take[:, b0:b1] = x
        previous = np.concatenate([previous_take[:, None], x[:, :-1]], axis=1)
        pop[:, b0:b1] = np.maximum(push[b0:b1] + 1, previous)
        free = x[:, -1] + d[:, -1]
        previous_take = x[:, -1]
    return push, take


def line_reads(start: np.ndarray, end: np.ndarray) -> int:
    """Sparse-matrix line reads: a line is read when an entry's line differs from the last line read
    (entries are walked in increasing order, so: distinct lines, counted per run)."""
    nonempty = end > start
    first = np.where(nonempty, start >> 3, 0)
    last = np.where(nonempty, (end - 1) >> 3, -1)
    spans = np.where(nonempty, last - first + 1, 0).sum()
    # The last line of the previous non-empty column (pointers never decrease along the broadcast).
    previous_last = np.maximum.accumulate(np.concatenate([np.full((len(start), 1), -1), last[:, :-1]], axis=1), axis=1)
    shared = nonempty & (first == previous_last)
    return int(spans - shared.sum())


def compute_counters(spec: EieSpec, command: Compute, trace: ComputeTrace) -> dict[str, int]:
    counts = dict.fromkeys(COUNTERS, 0)
    entries = trace.end - trace.start
    items = entries.shape[1]
    if items == 0:
        counts["compute_cycles"] = START + END
    else:
        durations = np.maximum(entries, 1)
        push, take = broadcast_schedule(durations, spec.queue_depth)
        # A PE is idle the cycle after its walker's last column, or DRAIN cycles after its last entry.
        walked = take[:, -1] + durations[:, -1] + 1
        issued = np.where(entries > 0, take + entries, -1).max(axis=1) + DRAIN
        counts["compute_cycles"] = int(np.maximum(walked, issued).max()) + END
        counts["queue_full_stalls"] = int(push[-1] - push[0] - (items - 1))
    busy = int(entries.sum())
    counts["pe_busy"] = busy
    counts["pe_idle"] = spec.n_pe * counts["compute_cycles"] - busy
    counts["padding_entries"] = trace.padding
    counts["broadcasts"] = items
    counts["ptr_reads"] = 2 * spec.n_pe * items
    counts["spmat_reads"] = line_reads(trace.start, trace.end)
    if command.last:
        counts["writeback_cycles"] = command.rows + 2
    return counts


def memory_counters(spec: EieSpec, command) -> dict[str, int]:
    counts = dict.fromkeys(COUNTERS, 0)
    n, latency = spec.n_pe, spec.mem_latency
    if isinstance(command, LoadCodebook):
        beats, pace = 4, 1
    elif isinstance(command, LoadPointers):
        beats, pace = -(-command.count * n // SLOTS), pointer_pace(n)
    elif isinstance(command, LoadMatrix):
        beats, pace = command.count * n, 1
    elif isinstance(command, (LoadActs, StoreActs)):
        beats, pace = -(-command.count // SLOTS), act_pace(n)
    else:
        raise TypeError(f"not an eie command: {command!r}")
    store = isinstance(command, StoreActs)
    counts["memory_cycles"] = beats * pace + latency + (3 if store else 2) if beats else 1
    counts["bytes_written" if store else "bytes_read"] = beats * spec.beat_bytes
    return counts


def command_counts(program: Program):
    """Each command's counters in order (``cycles`` is its own duration: eie runs commands one at a time)."""
    spec: EieSpec = program.spec
    machine = EieGolden(program)
    for command in program.commands:
        trace = getattr(machine, type(command).__name__)(command)
        counts = compute_counters(spec, command, trace) if isinstance(command, Compute) else \
            memory_counters(spec, command)
        counts["commands"] = 1
        counts["cycles"] = sum(counts[k] for k in WORK)
        yield counts


def command_profile(program: Program) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the cycle by which each command has completed, each command's share of every counter but
    ``cycles``): see :func:`sim.perf.layers`."""
    rows = list(command_counts(program))
    counts = {key: np.array([row[key] for row in rows], np.int64) for key in COUNTERS if key != "cycles"}
    return np.cumsum([row["cycles"] for row in rows], dtype=np.int64), counts


def run(program: Program) -> RunResult:
    """Predicted cycles and counters of ``program`` (memory unchanged: the perf model moves no data)."""
    totals = dict.fromkeys(COUNTERS, 0)
    for counts in command_counts(program):
        for key in COUNTERS:
            totals[key] += int(counts[key])
    return RunResult(program, program.memory.flatten(), totals["cycles"], totals)
