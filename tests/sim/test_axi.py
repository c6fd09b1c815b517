"""Each engine (small specs) in its AXI wrapper, run by accel.driver over cocotbext-axi's AxiLiteMaster and
AxiRam with random idle/backpressure on every channel: bits == golden, counters == perf up to the memory's
timing, bursts within AXI's rules, memory errors reported by the driver and recovered from.

The wrapper adds nothing to what the engine counts (rtl_gen.axi.wrapper): the one difference from the perf
model is the memory's timing (AXI RAM with random pauses instead of the harness's fixed latency), which
only the counters of :data:`MEMORY_TIMED` see. So every other counter equals perf exactly, and ``cycles``
differs from perf's by exactly the change in those counters.
"""

import numpy as np
import pytest

from accel.compiler import eie, mac_array, xnor
from accel.spec import EieSpec, MacArraySpec, XnorSpec
from rtl_gen.axi.master import MAX_BURST, PAGE
from sim import golden, perf

SPECS = {
    "eie": EieSpec(n_pe=4, queue_depth=8, act_regs=128, ptr_entries=512, spmat_lines=256),
    "mac_array": MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1),
    "xnor": XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, input_depth=2048, max_reduction=2048),
}
MEMORY_TIMED = {"eie": ("memory_cycles",), "xnor": ("stall_memory",),
                "mac_array": ("stall_memory", "stall_buffer", "stall_postproc", "stall_issue")}
"""Per engine, the counters whose cycles follow the memory's timing (accel.isa.<engine>.COUNTERS): the cycles
waiting on the memory port; on the mac_array also the other stall causes, because its units' operand fills,
drains and command issue overlap memory waits, and which of them a cycle is counted as depends on which
ends first (its memory-stall test in tests/sim checks only bits and total cycles)."""


def random_params(engine: str, rng: np.random.Generator) -> tuple[str, dict]:
    """A small random layer of ``engine`` (a kind of its LAYER_KINDS and its parameters)."""
    def n(lo, hi):
        return int(rng.integers(lo, hi + 1))

    if engine == "eie":
        return "dense", {"in": n(1, 120), "out": n(1, 80), "weight_density": float(rng.uniform(0.05, 1)),
                         "act_density": float(rng.uniform(0, 1)), "activation": str(rng.choice(["relu", "none"])),
                         "bias": n(0, 1)}
    r = int(rng.choice([1, 3]))
    if engine == "xnor":
        if rng.random() < 0.3:
            return "dense", {"in": n(1, 200), "out": n(1, 40), "input": "binary", "output": "bits"}
        return "conv", dict(h=n(3, 6), w=n(3, 6), c=n(1, 6), k=n(1, 16), r=r, stride=n(1, 2), pad=n(0, r // 2),
                            pad_value=int(rng.choice([-1, 1])), pool=1, input=str(rng.choice(["binary", "int8"])),
                            output=str(rng.choice(["bits", "dot"])))
    kind = str(rng.choice(["conv", "conv", "dense", "pool", "add"]))
    if kind == "conv":
        return kind, dict(h=n(3, 10), w=n(3, 10), c=n(1, 12), k=n(1, 12), r=r, s=0, stride=n(1, 2), pad=n(0, r // 2),
                          groups=1, activation=str(rng.choice(["none", "relu"])))
    if kind == "dense":
        return kind, {"in": n(1, 300), "out": n(1, 40), "activation": "none"}
    if kind == "pool":
        return kind, dict(h=n(4, 10), w=n(4, 10), c=n(1, 12), r=2, stride=2, pad=0, kind=str(rng.choice(["max", "avg"])))
    return kind, dict(h=n(2, 8), w=n(2, 8), c=n(1, 12))


def random_cases(engine: str, count: int, seed: int):
    compiler = {"eie": eie, "mac_array": mac_array, "xnor": xnor}[engine]
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        kind, params = random_params(engine, rng)
        cases.append((f"{kind} {params}", compiler.random_case(SPECS[engine], kind, params, rng)))
    return cases


def check_bursts(bursts: np.ndarray, beat: int, described: str) -> None:
    """INCR bursts of 1..256 beats that stay inside one 4 KB page."""
    for address, beats in bursts:
        assert 1 <= beats <= MAX_BURST, described
        assert address % PAGE + beats * beat <= PAGE, (described, hex(address), beats)


@pytest.mark.rtl
@pytest.mark.parametrize("engine", SPECS)
def test_random_layers_through_axi_with_backpressure(engine, tmp_path):
    """Random layers through the driver (interrupt and polling alternately), then a run whose reads all
    answer SLVERR, one whose writes do, and one more good run after them (the soft reset recovers)."""
    from sim.rtl.axi import run

    cases = random_cases(engine, 4, seed=11)
    programs = [case.program for _, case in cases]
    programs[-1:-1] = [programs[0], programs[1]]  # the failing runs, before the last good one
    fails = [""] * (len(cases) - 1) + ["read", "write", ""]
    runs = run(programs, backpressure=True, fails=fails, irqs=[n % 2 == 0 for n in range(len(programs))], seed=5,
               test_dir=tmp_path)
    descriptions = [d for d, _ in cases]
    descriptions[-1:-1] = ["read error", "write error"]
    beat = SPECS[engine].port_bits // 8
    coalesced = False
    for described, fail, result in zip(descriptions, fails, runs):
        check_bursts(result.bursts, beat, described)
        if fail:
            side = "read data" if fail == "read" else "a write response"
            assert result.error is not None and f"SLVERR/DECERR with {side}" in result.error, described
            continue
        assert result.error is None, (described, result.error)
        program = result.program
        assert np.array_equal(result.memory, golden.run(program).memory), described
        predicted = perf.run(program).counters
        timed = MEMORY_TIMED[engine]
        for name, value in predicted.items():
            if name not in timed and name != "cycles":
                assert result.counters[name] == value, (described, name)
        waited = sum(result.counters[name] - predicted[name] for name in timed)
        assert result.counters["cycles"] == predicted["cycles"] + waited, described
        coalesced |= bool((result.bursts[:, 1] > 1).any())
    assert coalesced, "sequential beats are issued as bursts"
