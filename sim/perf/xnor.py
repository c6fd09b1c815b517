"""Cycle model of the xnor engine: closed-form cycles and counters per command, equal to the RTL's.

Derived from the RTL's timing (rtl_gen.xnor), with the default memory model of latency L (beats and
acknowledgements L cycles after their request, never a stall):

- every command: 1 cycle to be accepted (``commands``);
- a load of n entries of w bits (port P): the loader starts a cycle after acceptance and requests from the
  next cycle on. Entries at least a beat wide take k = w/P beats each, one request per cycle: n·k + L + 2
  cycles. Narrower entries come e = P/w to a beat, unpacked one per cycle, so requests go every e cycles:
  (B − 1)·e + L + r + 2 cycles for B = ⌈n/e⌉ beats, r entries in the last (``stall_memory``);
- an Mvtu of S steps (one per cycle, ``active``): 3 cycles to start the window unit and pass its first
  step through the step queue, then after the last
  step the pipeline drains — memory read, operand register, ⌈log2 simd⌉ popcount levels, accumulator,
  threshold, pool/output register, packer — 6 + ⌈log2 simd⌉ cycles, plus m − 1 more for an integer
  output of m beats per chunk (``stall_pipeline``); the final write is acknowledged L + 1 cycles later
  (``stall_memory``). Output chunks (every g steps) wait in the MVTU's output register for the packer,
  and the datapath holds while the next chunk is complete and that register is still occupied, one cycle
  more than the register's wait (:class:`rtl_gen.xnor.mvtu.Mvtu`): see :func:`chunk_stalls`. An integer
  chunk takes m write cycles (g = planes·sf). A binary output pads each pixel with z = pixel_chunks − nf
  zero chunks, one per cycle: z more drain cycles, and its chunks come every g = pool²·planes·sf steps.

FINN's model (Umuroglu et al. 2017) is ⌈K/PE⌉·⌈R·R·C/SIMD⌉ cycles per output pixel; :func:`departures`
splits the difference between it and this model into its causes (padding of synapse folds, pool
cropping, pipeline fill and drain, output stalls); loads are separate commands.
"""

import numpy as np

from accel.isa.xnor import COUNTERS, TARGETS, WORK, Load, Mvtu
from accel.program import Command, Program
from accel.spec import XnorSpec

from ..result import RunResult

START_CYCLES = 3
"""Cycles between an Mvtu's acceptance and its first step entering the datapath: the window unit starts,
forms the step, the step queue hands it on."""


def target_width(spec: XnorSpec, target: int) -> int:
    return {"input": spec.simd, "weights": spec.pe * spec.simd,
            "thresholds": spec.pe * spec.THRESHOLD_SLOT}[TARGETS[target]]


def load_cycles(spec: XnorSpec, width: int, count: int) -> tuple[int, int]:
    """(cycles after acceptance, beats read) of a load of ``count`` entries of ``width`` bits."""
    latency, port = spec.mem_latency, spec.port_bits
    if count == 0:
        return 2, 0
    if width >= port:
        beats = count * width // port
        return beats + latency + 2, beats
    e = port // width
    beats = -(-count // e)
    last = count - (beats - 1) * e
    return (beats - 1) * e + latency + last + 2, beats


def popcount_levels(spec: XnorSpec) -> int:
    return max(1, (spec.simd - 1).bit_length())


def int_beats(spec: XnorSpec) -> int:
    return -(-spec.pe * spec.OUTPUT_INT_BITS // spec.port_bits)


def chunk_stalls(count: int, gap: int, period: int) -> tuple[int, int]:
    """(held cycles, final wait) of ``count`` output chunks, completed every ``gap`` cycles of an advancing
    datapath, the packer taking one at most every ``period`` cycles.

    Chunk k + 1 reaches the threshold stage ``gap`` cycles after chunk k moved on; the datapath then holds
    until the cycle after chunk k is accepted, so chunks go out at most every p = max(period, 2) cycles. While
    the packer sets the pace (p > gap) the pipeline runs ahead of it by up to p − 2 cycles: the held cycles
    are (count − 1)·(p − gap) less those, and the final chunk waits in the output register the rest (drain
    cycles, as the datapath advances meanwhile).
    """
    p = max(period, 2)
    held = max(0, (count - 1) * (p - gap) - (p - 2))
    return held, (count - 1) * max(0, p - gap) - held


def mvtu_steps(c: Mvtu) -> int:
    return c.out_h * c.out_w * c.nf * c.pool * c.pool * c.planes * c.kernel * c.kernel * c.cf


def command_counters(spec: XnorSpec, command: Command) -> dict[str, int]:
    """The counters one command adds."""
    counts = dict.fromkeys(COUNTERS, 0)
    counts["commands"] = 1
    if isinstance(command, Load):
        cycles, beats = load_cycles(spec, target_width(spec, command.target), command.count)
        counts["stall_memory"] = cycles
        counts["bytes_read"] = beats * spec.beat_bytes
    elif isinstance(command, Mvtu):
        steps = mvtu_steps(command)
        chunks = command.out_h * command.out_w * command.nf
        counts["active"] = steps
        counts["stall_pipeline"] = START_CYCLES + 6 + popcount_levels(spec)
        counts["stall_memory"] = spec.mem_latency + 1
        if command.dot:
            m = int_beats(spec)
            gap = command.planes * command.kernel * command.kernel * command.cf
            held, wait = chunk_stalls(chunks, gap, m)
            counts["stall_pipeline"] += m - 1 + wait
            counts["stall_output"] = held
            counts["bytes_written"] = chunks * m * spec.beat_bytes
        else:
            pixels = command.out_h * command.out_w
            zeros = command.pixel_chunks - command.nf
            gap = command.pool * command.pool * command.planes * command.kernel * command.kernel * command.cf
            if command.nf == 1:  # every chunk ends a pixel: the packer takes one every zeros + 1 cycles
                held, wait = chunk_stalls(pixels, gap, zeros + 1)
            else:
                # Within a pixel the packer takes a chunk a cycle: chunks of one step each are held a cycle.
                # A pixel's first chunk waits w cycles while the zeros go out, so its second, gap steps
                # later, is held w + 1 − gap cycles; the last chunk, inside its pixel, never waits.
                first_wait = max(1, zeros + 2 - max(gap, 2))
                held = chunks - pixels if gap == 1 else 0
                held += (pixels - 1) * max(0, first_wait + 1 - gap)
                wait = 0
            counts["stall_pipeline"] += zeros + wait
            counts["stall_output"] = held
            bits = pixels * command.pixel_chunks * spec.pe
            counts["bytes_written"] = -(-bits // spec.port_bits) * spec.beat_bytes
    else:
        raise TypeError(f"not an xnor command: {command!r}")
    counts["cycles"] = sum(counts[k] for k in WORK)
    return counts


def counters(spec: XnorSpec, commands: list[Command]) -> dict[str, int]:
    """Total counters of a command sequence."""
    totals = dict.fromkeys(COUNTERS, 0)
    for command in commands:
        for key, value in command_counters(spec, command).items():
            totals[key] += value
    return totals


def departures(spec: XnorSpec, command: Mvtu, k: int, n: int, conv_pixels: int) -> dict[str, int]:
    """Where an Mvtu's cycles depart from FINN's ideal for its layer — ⌈k/PE⌉·⌈n/SIMD⌉ cycles per plane and
    convolution pixel, k output channels of n = R·R·C inputs each — by cause; the values sum to the
    command's cycles:

    - ``ideal``: FINN's model;
    - ``synapse_padding``: synapse folds beyond ⌈n/SIMD⌉ — each window pixel's channels take whole words;
    - ``channel_padding``: neuron folds beyond ⌈k/PE⌉ (none: the packer pads pixels with zero chunks);
    - ``pool_crop``: window positions computed minus convolution pixels (negative where a pool drops the
      last rows or columns);
    - ``pipeline``: starting the window unit, filling and draining the datapath and the packer;
    - ``output``: datapath held by integer writes or zero chunks;
    - ``memory`` and ``command``: the final acknowledgement and the command's acceptance.
    """
    counts = command_counters(spec, command)
    nf_ideal, sf_ideal = -(-k // spec.pe), -(-n // spec.simd)
    positions = command.out_h * command.out_w * command.pool * command.pool
    planes = command.planes
    parts = {
        "ideal": nf_ideal * sf_ideal * planes * conv_pixels,
        "synapse_padding": command.nf * planes * positions * (command.sf - sf_ideal),
        "pool_crop": command.nf * planes * sf_ideal * (positions - conv_pixels),
        "channel_padding": planes * sf_ideal * conv_pixels * (command.nf - nf_ideal),
        "pipeline": counts["stall_pipeline"],
        "output": counts["stall_output"],
        "memory": counts["stall_memory"],
        "command": counts["commands"],
    }
    assert sum(parts.values()) == counts["cycles"]
    return parts


def command_profile(program: Program) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the cycle by which each command has completed, each command's share of every counter but
    ``cycles``): see :func:`sim.perf.layers`. Commands run one at a time."""
    rows = [command_counters(program.spec, command) for command in program.commands]
    counts = {key: np.array([row[key] for row in rows], np.int64) for key in COUNTERS if key != "cycles"}
    return np.cumsum([row["cycles"] for row in rows], dtype=np.int64), counts


def run(program: Program) -> RunResult:
    """Predicted cycles and counters of ``program`` (memory unchanged: the perf model moves no data)."""
    totals = counters(program.spec, program.commands)
    return RunResult(program, program.memory.flatten(), totals["cycles"], totals)
