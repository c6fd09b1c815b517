"""Cycle model of the mac_array: closed-form cycles and counters per command, equal to the RTL's.

Derived from the RTL's timing (rtl_gen.mac_array), with the default memory model of latency L (beats
and acknowledgements L cycles after their request, never a stall):

- every command: 1 cycle to be accepted (``commands``); ``Config`` is done in that cycle;
- a load of n beats: the unit starts a cycle after acceptance, requests one beat per cycle from the
  next cycle on, writes the last beat L cycles after its request and ends a cycle later: n + L + 2
  cycles of ``stall_memory``;
- a convolution of T steps: 6 cycles of parameter reads and pipeline fill (``stall_buffer``), T cycles
  of MACs (``mac_active``), then the drain: D = 1 + log2(atomic_c) cycles of dot product, 1 of
  accumulation and, with ``last``, 5 of requantization (``stall_postproc``: D + 1, or D + 6 with
  ``last``) and L + 1 cycles until the final write is acknowledged (``stall_memory``);
- a pooling of T window steps: the same front (6), T steps (``pp_active``), 3 cycles of reduction and
  division, L + 1 until acknowledged;
- an element-wise addition of n atoms: 1 cycle to start and 3 per atom to read its operands
  (``stall_buffer``), atomic_c lanes per atom (``pp_active``), 10 cycles of arithmetic and gathering,
  L + 1 until acknowledged.
"""

import numpy as np

from accel.isa.mac_array import COUNTERS, WORK, Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool
from accel.program import Command, Program
from accel.spec import MacArraySpec

from ..result import RunResult

def command_counters(spec: MacArraySpec, command: Command) -> dict[str, int]:
    """The counters one command adds."""
    latency = spec.mem_latency
    counts = dict.fromkeys(COUNTERS, 0)
    counts["commands"] = 1
    if isinstance(command, (LoadFeatures, LoadWeights)):
        beats = command.count * (spec.atomic_k if isinstance(command, LoadWeights) else command.groups)
        counts["stall_memory"] = beats + latency + 2
        counts["bytes_read"] = beats * spec.beat_bytes
    elif isinstance(command, Conv):
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
    counts["cycles"] = sum(counts[k] for k in WORK)
    return counts


def counters(spec: MacArraySpec, commands: list[Command]) -> dict[str, int]:
    """Total counters of a command sequence."""
    per_command = np.array([list(command_counters(spec, command).values()) for command in commands], np.int64)
    return dict(zip(COUNTERS, per_command.sum(axis=0).tolist())) if commands else dict.fromkeys(COUNTERS, 0)


def run(program: Program) -> RunResult:
    """Predicted cycles and counters of ``program`` (memory unchanged: the perf model moves no data)."""
    totals = counters(program.spec, program.commands)
    return RunResult(program, program.memory.flatten(), totals["cycles"], totals)
