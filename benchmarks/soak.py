"""Soak: thousands of random layers per engine through the three executors, to find the rare disagreement.

Per engine (mac_array, eie, xnor), on three small specs (the two CI specs of tests/sim and one more):

- *RTL*: ``--rtl-layers`` random layers shared by the specs, up to ``--batch`` in one Verilator simulation
  (each simulation first elaborates the harness, about a minute on a busy machine), each batch run twice:
  with the default memory model (RTL memory == golden memory bit for bit, every RTL counter == the perf
  model's) and with random stalls on the memory port (RTL memory == golden memory; the counters
  that do not depend on timing — commands, bytes read and written — equal the perf model's, the cycles are
  at least the perf model's and still the sum of the engine's work counters);
- *golden*: ``--golden-layers`` random layers, the golden model's output == the independent reference's.

Layers are drawn from every layer kind of the engine's compiler (``LAYER_KINDS``, built by its
``random_case``) with small random sizes and the edge values: strides 1–4, padding, grouped and depthwise
convolutions, kernels up to the limit, non-square kernels, 1×1 maps, channel counts that are not multiples
of the atomic sizes, max/avg pooling, residual adds, int8 extremes (inputs −128/127, weights ±127) and
all-zero activations on the mac_array; weight and activation densities 0 and 1, MLPs and layers larger than
the register files on eie; binary and int8 inputs, bit and dot outputs, pooling and pad values on xnor.
A draw the compiler rejects (a UserError: e.g. too large for the spec) is drawn again and counted; so is
one beyond the harness's command limit or, on the RTL, an 8 KiB memory image (the testbench loads and reads
back every beat). A layer whose building or golden run raises anything else, or whose RTL simulation fails,
is an *error*, listed like a mismatch.

Every layer is one line, ``ENGINE/SPEC KIND:KEY=VALUE,... seed=N [variant=V] [stall_seed=N]``, kept in
the JSON; ``--replay LINE`` runs that one layer again on golden, perf and RTL (stalled with the same stall
seed) and prints what differs. A mismatch or error also carries the equivalent ``accel simulate`` command.

Run from the repository root (progress on stderr; the RTL part takes most of the time)::

    .venv/bin/python benchmarks/soak.py [--rtl-layers 1000] [--golden-layers 10000] [--engines mac_array eie xnor]
        [--seed 0] [--batch 500] [--out benchmarks/results/soak.json]
    .venv/bin/python benchmarks/soak.py --replay \
        "mac_array/4x4 conv:h=5,w=3,c=7,k=9,r=3,s=0,stride=2,pad=1,groups=1,activation=relu seed=12"
"""

import argparse
import importlib
import shlex
import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from accel import int8
from accel.compiler import Case, parse_layer
from accel.compiler.mac_array import lower
from accel.errors import UserError
from accel.isa import counters as counter_names
from accel.nn.qgraph import QDense
from accel.nn.random_layers import random_layer
from accel.spec import EieSpec, MacArraySpec, XnorSpec
from report import table, write_json

SPECS = {  # the small specs of tests/sim (quick to build, small buffers force every tiling), and a third spec
    # per engine with another memory latency and the other edges: a 1-entry queue and other fraction bits on
    # eie, a 32-bit port on xnor
    "mac_array": {"4x4": MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1), "8x8": MacArraySpec(),
                  "4x4-lat2": MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1, mem_latency=2)},
    "eie": {"n4": EieSpec(n_pe=4, queue_depth=8, act_regs=128, ptr_entries=512, spmat_lines=256),
            "n8": EieSpec(n_pe=8, queue_depth=2, act_regs=64, ptr_entries=512, spmat_lines=256),
            "n2-lat20": EieSpec(n_pe=2, queue_depth=1, act_regs=64, ptr_entries=256, spmat_lines=128, act_frac=5,
                                weight_frac=9, mem_latency=20)},
    "xnor": {"8x8": XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, input_depth=2048,
                             max_reduction=2048),
             "4x32": XnorSpec(pe=4, simd=32, weight_depth=512, threshold_depth=128, input_depth=1024,
                              max_reduction=4096),
             "16x16-p32": XnorSpec(pe=16, simd=16, weight_depth=256, threshold_depth=64, input_depth=1024,
                                   max_reduction=1024, port_bits=32, mem_latency=3)},
}
WORDS = {"mac_array": 1 << 15, "eie": 1 << 14, "xnor": 1 << 14}  # harness memory beats, as tests/sim use
COMMANDS = 4096  # commands the harness holds per Program
TIMING_FREE = ("commands", "bytes_read", "bytes_written")  # counters memory stalls must not change
DEFAULT_OUT = Path(__file__).parent / "results" / "soak.json"
BATCH = 500  # layers per RTL simulation: each simulation first elaborates the harness (about a minute)
MAX_REJECTED = 1000  # consecutive rejected draws before the soak gives up on a generator
SIMULATION_FAILED = "RTL simulation failed"
RTL_IMAGE_BYTES = 8192  # largest memory image of an RTL layer: the testbench loads and reads back every beat


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _geometry(rng: np.random.Generator, spec, *, square: bool = False, half_pad: bool = False) -> dict:
    """Kernel, stride, padding (below the kernel, or at most half of it with ``half_pad``) and a map that
    gives at least one output: 1×1 maps, kernels up to the limit, and unless ``square`` non-square kernels
    (``s`` != 0) now and then."""
    r = _choice(rng, [1, 1, 2, 3, 3, 3, 5, 7, spec.MAX_KERNEL])
    s = 0 if square else _choice(rng, [0] * 5 + [1, 2, 3, 5])
    pad = int(rng.integers(0, min(r, s or r) // 2 + 1 if half_pad else min(r, s or r)))
    h, w = (1, 1) if rng.random() < 0.1 else (int(rng.integers(1, 13)), int(rng.integers(1, 13)))
    geometry = dict(h=max(h, r - 2 * pad), w=max(w, (s or r) - 2 * pad), r=r, s=s, stride=int(rng.integers(1, 5)),
                    pad=pad)
    if square:
        del geometry["s"]
    return geometry


def _channels(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 25)) if rng.random() < 0.85 else int(rng.integers(25, 65))


def draw_mac_array(rng: np.random.Generator, spec: MacArraySpec) -> tuple[str, dict, str]:
    kind = _choice(rng, ["conv", "conv", "conv", "depthwise", "depthwise", "dense", "dense", "pool", "pool", "add"])
    variant = _choice(rng, ["random"] * 6 + ["extremes", "zeros"])
    activation = _choice(rng, ["none", "relu", "relu6"])
    if kind == "conv":
        c, k = _channels(rng), _channels(rng)
        divisors = [g for g in range(1, min(c, k) + 1) if c % g == 0 and k % g == 0]
        groups = 1 if rng.random() < 0.6 else _choice(rng, divisors)
        return kind, dict(_geometry(rng, spec), c=c, k=k, groups=groups, activation=activation), variant
    if kind == "depthwise":
        return kind, dict(_geometry(rng, spec, square=True), c=_channels(rng), activation=activation), variant
    if kind == "dense":
        n_in = int(rng.integers(1, 100)) if rng.random() < 0.8 else int(rng.integers(100, 1500))
        return kind, {"in": n_in, "out": _channels(rng), "activation": activation}, variant
    if kind == "pool":
        geometry = _geometry(rng, spec, square=True, half_pad=True)
        return kind, dict(geometry, c=_channels(rng), kind=_choice(rng, ["max", "avg"])), "random"
    return kind, dict(h=int(rng.integers(1, 17)), w=int(rng.integers(1, 17)), c=_channels(rng)), "random"


def _density(rng: np.random.Generator, options) -> float:
    value = _choice(rng, options)
    return round(float(rng.uniform(0, 1)), 3) if value is None else value


def draw_eie(rng: np.random.Generator, spec: EieSpec) -> tuple[str, dict, str]:
    common = dict(weight_density=_density(rng, [0.0, 0.01, 0.05, None, None, 1.0]),
                  act_density=_density(rng, [0.0, 0.1, None, None, 1.0]), bias=int(rng.integers(2)))
    if rng.random() < 0.3:  # now and then wider than the register files: hidden layers to DRAM and back
        wide = rng.random() < 0.2
        sizes = [int(rng.integers(1, 700 if wide else 150)) for _ in range(int(rng.integers(2, 5)))]
        if wide:
            common["weight_density"] = min(common["weight_density"], 0.02)
        return "mlp", dict(common, sizes="-".join(map(str, sizes))), "random"
    n_in, n_out = int(rng.integers(1, 200)), int(rng.integers(1, 200))
    if rng.random() < 0.15:  # larger than the register files: row batches, input chunks, column blocks
        n_in, n_out = int(rng.integers(200, 700)), int(rng.integers(200, 500))
        common["weight_density"] = min(common["weight_density"], 0.05)
    return "dense", dict(common, **{"in": n_in, "out": n_out, "activation": _choice(rng, ["relu", "none"])}), "random"


def draw_xnor(rng: np.random.Generator, spec: XnorSpec) -> tuple[str, dict, str]:
    io = dict(input=_choice(rng, ["binary", "binary", "int8"]), output=_choice(rng, ["bits", "bits", "dot"]))
    if rng.random() < 0.35:
        n_in = int(rng.integers(1, 300)) if rng.random() < 0.8 else int(rng.integers(300, 2000))
        return "dense", dict(io, **{"in": n_in, "out": int(rng.integers(1, 100))}), "random"
    geometry = _geometry(rng, spec, square=True)
    pool = 1 if io["output"] == "dot" or rng.random() < 0.6 else int(rng.integers(2, spec.MAX_POOL + 1))
    return "conv", dict(geometry, **io, c=_channels(rng), k=int(rng.integers(1, 41)), pad_value=_choice(rng, [-1, 1]),
                        pool=pool), "random"


DRAW = {"mac_array": draw_mac_array, "eie": draw_eie, "xnor": draw_xnor}
VARIANTS = {("mac_array", kind, variant) for kind in ("conv", "depthwise", "dense")
            for variant in ("extremes", "zeros")}
"""(engine, kind, variant) of the layers :func:`mac_array_variant_case` builds, besides ``random_case``'s."""


def mac_array_variant_case(spec: MacArraySpec, kind: str, p: dict, rng: np.random.Generator, variant: str) -> Case:
    """A conv, depthwise or dense layer like ``random_case``'s with inputs and weights at the int8 extremes
    (``extremes``: inputs −128/127, weights ±127) or with all-zero activations (``zeros``: every input the
    zero point), lowered, with its reference from :mod:`accel.int8`."""
    if kind == "dense":
        shape = dict(c=p["in"], k=p["out"], dense=True)
    else:
        groups = p["c"] if kind == "depthwise" else p["groups"]
        shape = dict(c=p["c"], h=p["h"], w=p["w"], k=p["c"] if kind == "depthwise" else p["k"], r=p["r"],
                     s=p.get("s") or p["r"], stride=p["stride"], pad=p["pad"], groups=groups)
    op, x, x_zp = random_layer(rng, **shape, activation=p["activation"], extremes=variant == "extremes")
    if variant == "zeros":
        x = np.full_like(x, x_zp)
    lowered = lower(spec, op, x, x_zp)

    def reference():
        if isinstance(op, QDense):
            return int8.dense(x[None], x_zp, op.weight, op.bias, op.requant)[0][:, None, None]
        return int8.conv2d(x[None], x_zp, op.weight, op.bias, op.requant, stride=op.stride, padding=op.padding,
                           groups=op.groups)[0]

    return Case(lowered.program, lowered.output, reference, lowered.macs)


@dataclass(frozen=True)
class Layer:
    """One random layer: enough to build it again (and to stall its RTL run the same way)."""

    engine: str
    spec: str
    kind: str
    params: dict
    seed: int
    variant: str = "random"
    stall_seed: int | None = None

    def layer_text(self) -> str:
        return f"{self.kind}:" + ",".join(f"{key}={value}" for key, value in self.params.items())

    def line(self) -> str:
        """The one-line form ``--replay`` reads."""
        extra = f" variant={self.variant}" if self.variant != "random" else ""
        extra += f" stall_seed={self.stall_seed}" if self.stall_seed is not None else ""
        return f"{self.engine}/{self.spec} {self.layer_text()} seed={self.seed}{extra}"

    @classmethod
    def parse(cls, line: str) -> "Layer":
        """The layer of a :meth:`line`; a :class:`UserError` names what is wrong."""
        words = line.split()
        engine, _, spec = words[0].partition("/") if words else ("", "", "")
        if spec not in SPECS.get(engine, {}):
            raise UserError(f"--replay: '{words[0] if words else ''}' is not ENGINE/SPEC; expected one of "
                            f"{', '.join(f'{e}/{s}' for e in SPECS for s in SPECS[e])}")
        if len(words) < 3:
            raise UserError("--replay: expected 'ENGINE/SPEC KIND:KEY=VALUE,... seed=N [variant=V] [stall_seed=N]'")
        kind, params = parse_layer(words[1], importlib.import_module(f"accel.compiler.{engine}").LAYER_KINDS)
        fields = {}
        for word in words[2:]:
            key, _, value = word.partition("=")
            if key == "variant" and (engine, kind, value) in VARIANTS:
                fields[key] = value
            elif key in ("seed", "stall_seed") and value.isdigit():
                fields[key] = int(value)
            else:
                raise UserError(f"--replay: '{word}' is not one of seed=N, stall_seed=N (N >= 0) or variant=V "
                                f"(V one of {', '.join(sorted({v for _, _, v in VARIANTS}))} on mac_array "
                                f"conv, depthwise or dense layers)")
        if "seed" not in fields:
            raise UserError("--replay: seed=N is missing")
        return cls(engine, spec, kind, params, **fields)

    def case(self) -> Case:
        spec = SPECS[self.engine][self.spec]
        rng = np.random.default_rng(self.seed)
        if self.variant != "random":
            return mac_array_variant_case(spec, self.kind, self.params, rng, self.variant)
        return importlib.import_module(f"accel.compiler.{self.engine}").random_case(spec, self.kind, self.params, rng)

    def command(self) -> str:
        """The ``accel simulate`` command of the same layer and data (its stall pattern differs: the CLI
        seeds the stalls with ``--seed``); none for a variant the CLI cannot draw."""
        if self.variant != "random":
            return f"benchmarks/soak.py --replay {shlex.quote(self.line())}"
        spec = SPECS[self.engine][self.spec]
        default = type(spec)().to_dict()
        sets = "".join(f" --set {key}={value}" for key, value in spec.to_dict().items() if default[key] != value)
        stall = " --stall" if self.stall_seed is not None else ""
        return (f"accel simulate --engine {self.engine} --layer {shlex.quote(self.layer_text())}{sets} "
                f"--backend {'rtl' if self.stall_seed is not None else 'golden'}{stall} --seed {self.seed}")


def draw_layers(engine: str, names: list[str], count: int, rng: np.random.Generator,
                max_bytes: int | None = None) -> tuple[list, int, list]:
    """``count`` random layers of ``engine`` on specs drawn evenly from ``names``, as (Layer, Case);
    how many draws were rejected (by the compiler, beyond the harness's command limit, or with a memory image
    over ``max_bytes``, by default the harness's memory); and those whose building raised anything but a
    UserError (a bug; not counted in ``count``), as (Layer, error)."""
    out, rejected, streak, crashed = [], 0, 0, []
    while len(out) < count:
        name = names[int(rng.integers(len(names)))]
        spec = SPECS[engine][name]
        kind, params, variant = DRAW[engine](rng, spec)
        layer = Layer(engine, name, kind, params, int(rng.integers(2**31)), variant)
        try:
            case = layer.case()
            fits = len(case.program.commands) <= COMMANDS and \
                case.program.memory.size <= (max_bytes or WORDS[engine] * spec.port_bits // 8)
        except UserError:
            fits = False
        except Exception as error:  # noqa: BLE001 — a crash of the compiler is a finding
            crashed.append((layer, f"building the layer raised {_error(error)}"))
            continue
        if fits:
            out.append((layer, case))
            streak = 0
            continue
        rejected, streak = rejected + 1, streak + 1
        if streak >= MAX_REJECTED:
            raise RuntimeError(f"{engine}: {MAX_REJECTED} draws in a row rejected, the last {layer.line()}")
    return out, rejected, crashed


class Progress:
    """Layers done, layers/s and ETA on stderr, at most every few seconds."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.start, self.shown = label, total, time.monotonic(), 0.0

    def update(self, done: int, found: dict):
        now = time.monotonic()
        if now - self.shown < 5 and done < self.total:
            return
        self.shown = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate else float("inf")
        print(f"[soak] {self.label}: {done}/{self.total} layers, {rate:.2f} layers/s, ETA {eta / 60:.1f} min, "
              f"{len(found['mismatched'])} mismatches, {len(found['raised'])} errors", file=sys.stderr, flush=True)


def _error(exception: BaseException) -> str:
    return "".join(traceback.format_exception_only(exception)).strip().splitlines()[-1][:500]


def golden_problems(case: Case) -> list[str]:
    """What differs between the golden model's output and the independent reference."""
    from sim import golden

    got = case.output(golden.run(case.program).memory)
    expected = np.asarray(case.expected)
    if got.shape != expected.shape:
        return [f"golden output shape {got.shape} != reference {expected.shape}"]
    wrong = np.flatnonzero(got.reshape(-1) != expected.reshape(-1))
    if wrong.size:
        first = int(wrong[0])
        return [f"golden != reference at {wrong.size} of {expected.size} outputs (first: flat index {first}, "
                f"golden {got.reshape(-1)[first]}, reference {expected.reshape(-1)[first]})"]
    return []


def rtl_problems(engine: str, program, plain, stalled) -> list[str]:
    """What differs between two RTL runs of ``program`` (without and with memory stalls), the golden
    model's memory and the perf model's counters."""
    from sim import golden, perf

    reference = golden.run(program).memory
    predicted = perf.run(program).counters
    problems = []
    for name, result in (("RTL", plain), ("stalled RTL", stalled)):
        wrong = np.flatnonzero(result.memory != reference)
        if wrong.size:
            problems.append(f"{name} memory != golden in {wrong.size} bytes (first at {int(wrong[0])}: "
                            f"{result.memory[wrong[0]]} vs {reference[wrong[0]]})")
    differ = [f"{key} {plain.counters[key]} vs {value}" for key, value in predicted.items()
              if plain.counters[key] != value]
    if differ:
        problems.append("RTL counters != perf: " + ", ".join(differ))
    work = importlib.import_module(f"accel.isa.{engine}").WORK
    counts = stalled.counters
    for key in TIMING_FREE:
        if counts[key] != predicted[key]:
            problems.append(f"stalled RTL {key} {counts[key]} != perf {predicted[key]}")
    if counts["cycles"] < predicted["cycles"]:
        problems.append(f"stalled RTL cycles {counts['cycles']} < perf {predicted['cycles']}")
    if counts["cycles"] != sum(counts[key] for key in work):
        problems.append(f"stalled RTL cycles {counts['cycles']} != sum of {', '.join(work)} "
                        f"{sum(counts[key] for key in work)}")
    return problems


def finding(layer: Layer, problems: list[str]) -> dict:
    """A layer's mismatch or error, with how to replay it (printed at once)."""
    print(f"[soak] FOUND {layer.line()}: {'; '.join(problems)}", file=sys.stderr, flush=True)
    return dict(layer=layer.line(), problems=problems, command=layer.command())


def soak_golden(engine: str, count: int, rng: np.random.Generator) -> dict:
    start = time.monotonic()
    progress = Progress(f"{engine} golden", count)
    layers, found, rejected = [], dict(mismatched=[], raised=[]), 0
    while len(layers) < count:
        drawn, more, crashed = draw_layers(engine, list(SPECS[engine]), min(100, count - len(layers)), rng)
        rejected += more
        for layer, case in drawn:
            try:
                problems = golden_problems(case)
            except Exception as error:  # noqa: BLE001 — a crash of the golden model is a finding too
                found["raised"].append(finding(layer, [f"golden raised {_error(error)}"]))
            else:
                if problems:
                    found["mismatched"].append(finding(layer, problems))
            layers.append(layer)
        found["raised"] += [finding(layer, [error]) for layer, error in crashed]
        progress.update(len(layers), found)
    return summary(layers, found, rejected, time.monotonic() - start)


def run_batch(engine: str, programs: list, stall_seed: int) -> list[list[str]]:
    """Problems of each of ``programs`` run in one RTL simulation without and one with stalls; if a
    simulation fails as a whole, each half is run alone, down to the layers that make it fail (their
    problem: ``RTL simulation failed: ...``)."""
    from sim.rtl.execute import run as rtl

    try:
        plain = rtl(programs, seed=stall_seed, words=WORDS[engine])
        stalled = rtl(programs, stall=True, seed=stall_seed, words=WORDS[engine])
    except Exception as error:  # noqa: BLE001 — find the layer that makes the simulation fail
        if len(programs) == 1:
            return [[f"{SIMULATION_FAILED}: {_error(error)}"]]
        half = len(programs) // 2
        return run_batch(engine, programs[:half], stall_seed) + run_batch(engine, programs[half:], stall_seed)
    return [rtl_problems(engine, program, a, b) for program, a, b in zip(programs, plain, stalled)]


def soak_rtl(engine: str, count: int, batch_size: int, rng: np.random.Generator) -> dict:
    """``count`` layers shared evenly by the engine's specs, in batches of at most ``batch_size``."""
    start = time.monotonic()
    progress = Progress(f"{engine} RTL", count)
    names = list(SPECS[engine])
    layers, found, rejected = [], dict(mismatched=[], raised=[]), 0
    for number, name in enumerate(names):
        share = count * (number + 1) // len(names) - count * number // len(names)
        for first in range(0, share, batch_size):
            drawn, more, crashed = draw_layers(engine, [name], min(batch_size, share - first), rng, RTL_IMAGE_BYTES)
            rejected += more
            stall_seed = int(rng.integers(1, 2**31))
            print(f"[soak] {engine} RTL: simulating {len(drawn)} layers on {name}, without and with stalls (seed "
                  f"{stall_seed})", file=sys.stderr, flush=True)
            batch = [replace(layer, stall_seed=stall_seed) for layer, _ in drawn]
            for layer, problems in zip(batch, run_batch(engine, [case.program for _, case in drawn], stall_seed)):
                if problems:
                    kind = "raised" if problems[0].startswith(SIMULATION_FAILED) else "mismatched"
                    found[kind].append(finding(layer, problems))
                layers.append(layer)
            found["raised"] += [finding(layer, [error]) for layer, error in crashed]
            progress.update(len(layers), found)
    return summary(layers, found, rejected, time.monotonic() - start)


def summary(layers: list[Layer], found: dict, rejected: int, seconds: float) -> dict:
    """The record of one check: counts, time, layers by spec and kind, findings, every layer's line."""
    kinds = {}
    for layer in layers:
        kind = f"{layer.engine}/{layer.spec} {layer.kind}" + (f"/{layer.variant}" if layer.variant != "random" else "")
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(layers=len(layers), mismatches=len(found["mismatched"]), errors=len(found["raised"]),
                wall_seconds=round(seconds, 1), layers_per_second=round(len(layers) / seconds, 2) if seconds else None,
                rejected_draws=rejected, kinds=dict(sorted(kinds.items())), **found,
                layer_lines=[layer.line() for layer in layers])


def replay(line: str) -> int:
    """Run one layer again: golden against the reference, RTL with and without stalls against golden and
    perf; print what differs. 0 if nothing does."""
    from sim import perf
    from sim.rtl.execute import run as rtl

    layer = Layer.parse(line)
    case = layer.case()
    program = case.program
    print(f"{layer.line()}: {len(program.commands)} commands, {program.memory.size} bytes, "
          f"perf {perf.run(program).cycles} cycles")
    problems = golden_problems(case)
    seed = layer.stall_seed if layer.stall_seed is not None else layer.seed
    plain = rtl([program], seed=seed, words=WORDS[layer.engine])[0]
    stalled = rtl([program], stall=True, seed=seed, words=WORDS[layer.engine])[0]
    problems += rtl_problems(layer.engine, program, plain, stalled)
    print(f"RTL {plain.cycles} cycles, stalled RTL {stalled.cycles} cycles")
    print("\n".join(problems) or "no mismatch")
    return 1 if problems else 0


COLUMNS = [("engine", "engine", "{}"), ("check", "check", "{}"), ("layers", "layers", "{:,}"),
           ("mismatches", "mismatches", "{}"), ("errors", "errors", "{}"), ("rejected_draws", "rejected", "{}"),
           ("wall_seconds", "wall s", "{:.0f}"), ("layers_per_second", "layers/s", "{:.2f}")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtl-layers", type=int, default=1000, help="random layers per engine on the RTL")
    parser.add_argument("--golden-layers", type=int, default=10000, help="random layers per engine on golden")
    parser.add_argument("--engines", nargs="+", choices=list(SPECS), default=list(SPECS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=BATCH, help="layers per RTL simulation")
    parser.add_argument("--replay", metavar="LINE", help="run one layer line of a result again and exit")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.replay:
        try:
            return replay(args.replay)
        except UserError as error:
            print(f"soak: error: {error}", file=sys.stderr)
            return 2
    results, rows = {}, []
    for engine in args.engines:
        engine_rng = np.random.default_rng([args.seed, list(SPECS).index(engine)])
        rtl_rng, golden_rng = engine_rng.spawn(2)
        results[engine] = dict(rtl=soak_rtl(engine, args.rtl_layers, args.batch, rtl_rng),
                               golden=soak_golden(engine, args.golden_layers, golden_rng))
        rows += [dict(engine=engine, check=check, **results[engine][check]) for check in ("rtl", "golden")]
        write_json(args.out, "soak", seed=args.seed, batch=args.batch, complete=engine == args.engines[-1],
                   specs={name: {key: spec.to_dict() for key, spec in SPECS[name].items()} for name in results},
                   engines=results)
    print(table(rows, COLUMNS))
    for row in rows:
        for found in row["mismatched"] + row["raised"]:
            print(f"{row['engine']} {row['check']}: {found['layer']}\n  {'; '.join(found['problems'])}\n"
                  f"  replay: {found['command']}")
    return 1 if any(row["mismatches"] or row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
