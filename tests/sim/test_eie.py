"""eie: compiler + golden against a dense fixed-point reference; RTL against golden (bits) and perf (cycles).

Random layers cover weight densities 1 %–100 %, activation densities 0 %–100 %, sizes that are not
multiples of N, empty columns, long zero runs that force padding entries, saturation, layers larger than
the register files (row batches, input chunks) and than the SRAMs (column blocks), and MLPs whose
activations stay on chip. The CI specs are small (256-line sparse-matrix SRAM, 512 pointers) so that
splitting happens on small layers, yet large enough (512 activations) to keep the pruned digits MLP on
chip; N = 4 runs the paper's queue depth 8, N = 8 a depth of 2 to provoke queue-full stalls.
"""

import numpy as np
import pytest

from accel.compiler.eie import SparseDense, lower_mlp, lower_mlp_batch, random_dense, reference
from accel.compress.encode import encode_csc
from accel.errors import UserError
from accel.isa.eie import WORK, Compute, LoadActs, LoadMatrix, LoadPointers, StoreActs
from accel.spec import EieSpec
from sim.golden.eie import run as golden
from sim.perf.eie import broadcast_schedule
from sim.perf.eie import run as perf

N4 = EieSpec(n_pe=4, queue_depth=8, act_regs=128, ptr_entries=512, spmat_lines=256)
N8 = EieSpec(n_pe=8, queue_depth=2, act_regs=64, ptr_entries=512, spmat_lines=256)
SPECS = {"n4": N4, "n8": N8}


def random_layer(rng: np.random.Generator, spec: EieSpec) -> tuple[str, SparseDense, np.ndarray]:
    """A random compressed layer and input of one of several kinds (the kind is returned for messages)."""
    kind = str(rng.choice(["random", "random", "random", "empty_columns", "long_runs", "dense", "large", "zeros"]))
    n_in, n_out = int(rng.integers(1, 160)), int(rng.integers(1, 160))
    weight_density = float(rng.choice([0.01, 0.05, rng.uniform(0.01, 1.0), 1.0]))
    act_density = float(rng.choice([0.0, 0.1, rng.uniform(0.0, 1.0), 1.0]))
    if kind == "dense":
        weight_density, act_density = 1.0, 1.0
    elif kind == "large":  # more rows and inputs than the register files hold
        n_in, n_out = int(rng.integers(400, 700)), int(rng.integers(300, 700))
        weight_density = float(rng.uniform(0.005, 0.03))
    elif kind == "zeros":
        act_density = 0.0
    elif kind == "long_runs":
        n_out = int(rng.integers(16 * spec.n_pe + 1, 40 * spec.n_pe))
    gain = float(rng.choice([0.5, 1.0, 1.0, 16.0]))  # 16: saturation
    layer, x = random_dense(rng, spec, n_in, n_out, weight_density, act_density, relu=bool(rng.integers(2)),
                            bias=bool(rng.random() < 0.7), gain=gain)
    indices = layer.indices.copy()
    if kind == "empty_columns":
        indices[:, rng.random(n_in) < 0.5] = 0
    elif kind == "long_runs":  # per column a few non-zeros far down: zero runs longer than 15 local rows
        indices[:] = 0
        for column in range(n_in):
            rows = rng.choice(n_out, size=min(n_out, int(rng.integers(0, 4))), replace=False)
            indices[rows, column] = rng.integers(1, 16, len(rows))
    layer = SparseDense(indices, layer.codebook, layer.bias, layer.relu)
    return kind, layer, x


def random_cases(spec: EieSpec, count: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        if rng.random() < 0.15:  # a small MLP: activations stay on chip between layers
            sizes = [int(s) for s in rng.integers(1, 200, int(rng.integers(3, 5)))]
            layers, x = [], None
            for n_in, n_out in zip(sizes, sizes[1:]):
                layer, x0 = random_dense(rng, spec, n_in, n_out, float(rng.uniform(0.05, 0.6)),
                                         float(rng.uniform(0.2, 1.0)), relu=True)
                layers.append(layer)
                x = x0 if x is None else x
            cases.append((f"mlp {sizes}", layers, x))
        else:
            kind, layer, x = random_layer(rng, spec)
            cases.append((f"{kind} {layer.shape}", [layer], x))
    return [(name, layers, x, lower_mlp(spec, layers, x)) for name, layers, x in cases]


def fig2_case(spec: EieSpec):
    """The 16 × 8 matrix of the paper's Fig. 2 on 4 PEs. PE0's rows (0, 4, 8, 12) are the ones Fig. 3 lists;
    the other PEs' rows are an illustrative pattern. W_i,j has codebook index (i + j) mod 15 + 1."""
    pattern = {0: [0, 2, 4, 5, 6], 4: [1, 4], 8: [0, 7], 12: [0, 2, 5, 7],
               1: [1, 3, 6], 5: [3], 9: [0, 6, 7], 13: [0, 1],
               2: [2, 4, 7], 6: [4, 6], 10: [4], 14: [7],
               3: [1, 5], 7: [0, 3, 6], 11: [2, 7], 15: [5]}
    indices = np.zeros((16, 8), np.uint8)
    for row, columns in pattern.items():
        for column in columns:
            indices[row, column] = (row + column) % 15 + 1
    codebook = np.array([0, -3000, -2500, -2000, -1500, -1000, -500, -250, 250, 500, 1000, 1500, 2000, 2500,
                         3000, 4000], np.int16)
    x = np.array([0, 300, 0, -200, 0, 0, 150, 0], np.int16)  # the LNZD skips columns 0, 2, 4, 5, 7
    layer = SparseDense(indices, codebook, None, relu=True, name="fig2")
    return layer, x


@pytest.mark.parametrize("name", SPECS)
def test_golden_equals_dense_reference(name):
    spec = SPECS[name]
    for description, layers, x, lowered in random_cases(spec, 150, seed=1):
        got = lowered.output(golden(lowered.program).memory)
        assert np.array_equal(got, reference(spec, layers, x)), description


def test_reference_matches_float_arithmetic():
    """The dense reference against float64 arithmetic: round half up, saturate, ReLU."""
    spec = N4
    rng = np.random.default_rng(3)
    for _ in range(50):
        layer, x = random_dense(rng, spec, 37, 29, 0.3, 0.7, relu=bool(rng.integers(2)), gain=4.0)
        codebook = layer.codebook.astype(np.float64) / 2**spec.weight_frac
        codebook[0] = 0
        real = codebook[layer.indices] @ (x / 2**spec.act_frac) + codebook[layer.bias]
        expected = np.clip(np.floor(real * 2**spec.act_frac + 0.5), -32768, 32767)
        expected = np.maximum(expected, 0) if layer.relu else expected
        assert np.array_equal(reference(spec, [layer], x), expected)


def test_small_specs_exercise_every_mapping():
    plans = [plan for spec in SPECS.values() for *_, lowered in random_cases(spec, 150, seed=1)
             for plan in lowered.plans]
    assert any(p.row_batches > 1 for p in plans)
    assert any(p.input_chunks > 1 for p in plans)
    assert any(p.split for p in plans)
    assert any(p.padding_entries > 0 for p in plans)
    assert any(p.on_chip_input for p in plans) and any(p.on_chip_output for p in plans)


@pytest.mark.parametrize("name", SPECS)
def test_perf_counters_partition_the_cycles(name):
    spec = SPECS[name]
    stalls = 0
    for description, *_, lowered in random_cases(spec, 60, seed=2):
        counts = perf(lowered.program).counters
        assert counts["cycles"] == sum(counts[k] for k in WORK), description
        assert counts["pe_busy"] + counts["pe_idle"] == spec.n_pe * counts["compute_cycles"], description
        assert counts["padding_entries"] <= counts["pe_busy"], description
        assert counts["ptr_reads"] == 2 * spec.n_pe * counts["broadcasts"], description
        stalls += counts["queue_full_stalls"]
    assert stalls > 0


def test_broadcast_schedule_closed_forms():
    """Balanced single-entry columns stream at one per cycle; one slow PE with a full queue throttles all."""
    push, take = broadcast_schedule(np.ones((4, 50), np.int64), depth=8)
    assert list(push) == list(range(3, 53)) and (take == push + 2).all()
    slow = np.ones((4, 50), np.int64)
    slow[2] = 5  # PE2 needs 5 cycles per column
    push, take = broadcast_schedule(slow, depth=2)
    assert take[2, -1] == take[2, 0] + 5 * 49  # PE2 never starves
    assert push[-1] - push[-2] == 5  # the broadcast runs at PE2's pace once its queue is full


def test_fig3_encoding_and_result():
    spec = EieSpec(n_pe=4, act_regs=16, ptr_entries=64, spmat_lines=64)
    layer, x = fig2_case(spec)
    csc = encode_csc(layer.indices, 4)
    assert csc.z[0].tolist() == [0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 2, 0]  # Fig. 3's relative row index
    assert csc.ptr[0].tolist() == [0, 3, 4, 6, 6, 8, 10, 11, 13]  # Fig. 3's column pointers
    expected_weights = [(0, 0), (8, 0), (12, 0), (4, 1), (0, 2), (12, 2), (0, 4), (4, 4), (0, 5), (12, 5),
                        (0, 6), (8, 7), (12, 7)]  # Fig. 3's virtual weights W_i,j
    assert csc.v[0].tolist() == [(i + j) % 15 + 1 for i, j in expected_weights]
    lowered = lower_mlp(spec, [layer], x)
    program = lowered.program
    pointers = next(c for c in program.commands if isinstance(c, LoadPointers))
    matrix = next(c for c in program.commands if isinstance(c, LoadMatrix))
    image = program.memory.flatten()
    stored = image[pointers.address:pointers.address + 2 * 4 * pointers.count].view("<u2").reshape(-1, 4)
    assert stored[:, 0].tolist() == [0, 3, 4, 6, 6, 8, 10, 11, 13]
    lines = image[matrix.address:matrix.address + 8 * 4 * matrix.count].reshape(matrix.count, 4, 8)
    pe0 = lines[:, 0].reshape(-1)[:13]
    assert (pe0 & 15).tolist() == csc.v[0].tolist() and (pe0 >> 4).tolist() == csc.z[0].tolist()
    assert np.array_equal(lowered.output(golden(program).memory), reference(spec, [layer], x))
    counts = perf(program).counters
    assert counts["broadcasts"] == 3  # a1, a3, a6 only


def test_lowering_errors_are_user_errors():
    spec = EieSpec(n_pe=4, max_cols=64)
    layer, x = random_dense(np.random.default_rng(0), spec, 65, 8, 0.5, 0.5)
    with pytest.raises(UserError, match="exceed eie.max_cols"):
        lower_mlp(spec, [layer], x)
    tiny = EieSpec(n_pe=1, spmat_lines=2, act_regs=64)
    dense, x = random_dense(np.random.default_rng(0), tiny, 4, 64, 1.0, 1.0)
    with pytest.raises(UserError, match="alone has more entries"):
        lower_mlp(tiny, [dense], x)
    with pytest.raises(UserError, match="4 inputs do not match"):
        lower_mlp(spec, [dense, dense], x)


def test_accumulator_width_is_derived_from_max_cols():
    for max_cols, width in [(1, 33), (2, 33), (3, 34), (4095, 44), (4096, 44), (2**20, 52)]:
        spec = EieSpec(max_cols=max_cols)
        assert spec.acc_width == width
        worst = (max_cols + 1) * 2**30  # every product −32768 · −32768 (the bias column's are smaller)
        assert worst <= 2 ** (width - 1) - 1  # fits
        assert worst > 2 ** (width - 2) - 1  # and one bit fewer would not


def rtl_check(spec, cases, tmp_path, stall=False):
    """``cases``: (description, expected output, lowered)."""
    from sim.rtl.execute import run as rtl

    results = rtl([lowered.program for *_, lowered in cases], stall=stall, seed=7, test_dir=tmp_path)
    for (description, expected, lowered), result in zip(cases, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory), description
        assert np.array_equal(lowered.output(result.memory), expected), description
        if stall:
            assert result.cycles >= perf(lowered.program).cycles, description
        else:
            assert result.counters == perf(lowered.program).counters, description


@pytest.mark.rtl
@pytest.mark.parametrize("name", SPECS)
def test_rtl_bits_and_cycles(name, tmp_path):
    """40 random layers and MLPs per spec and the Fig. 2 matrix: RTL memory == golden memory, RTL counters
    == perf counters."""
    spec = SPECS[name]
    cases = [(name, reference(spec, layers, x), lowered) for name, layers, x, lowered in random_cases(spec, 40, 100)]
    layer, x = fig2_case(spec)
    cases.append(("fig2", reference(spec, [layer], x), lower_mlp(spec, [layer], x)))
    rtl_check(spec, cases, tmp_path)


@pytest.mark.rtl
@pytest.mark.parametrize("name", SPECS)
def test_rtl_random_memory_stalls_keep_the_bits(name, tmp_path):
    spec = SPECS[name]
    cases = [(name, reference(spec, layers, x), lowered) for name, layers, x, lowered in random_cases(spec, 10, 200)]
    rtl_check(spec, cases, tmp_path, stall=True)


@pytest.fixture(scope="module")
def digits_mlps():
    from accel.compiler.eie import digits_mlp

    return {name: digits_mlp(spec) for name, spec in SPECS.items()}


@pytest.mark.rtl
@pytest.mark.parametrize("name", SPECS)
def test_rtl_pruned_digits_mlp_on_chip(name, digits_mlps, tmp_path):
    """The trained 64-300-100-10 digits MLP, pruned to 10 % and shared with 4-bit codebooks: all three
    layers on chip; RTL == golden == dense reference on test images, and the reference's test accuracy."""
    spec = SPECS[name]
    mlp = digits_mlps[name]
    xs = mlp.inputs(spec)
    scores = np.stack([reference(spec, mlp.layers, x) for x in xs])
    accuracy = float(np.mean(scores.argmax(axis=1) == mlp.labels))
    assert accuracy >= mlp.float_accuracy - 0.02
    single = lower_mlp(spec, mlp.layers, xs[0])
    plans, commands = single.plans, single.program.commands
    assert all(p.on_chip_output for p in plans[:2]) and all(p.on_chip_input for p in plans[1:])
    assert sum(isinstance(c, Compute) and c.last for c in commands) == 3
    assert sum(isinstance(c, (LoadActs, StoreActs)) for c in commands) == 2  # the image in, the scores out
    batch = lower_mlp_batch(spec, mlp.layers, xs[1:6])  # weights resident: each layer at its own ptr_base
    assert {c.ptr_base for c in batch.program.commands if isinstance(c, Compute)} != {0}
    rtl_check(spec, [("digit 0", scores[0], single), ("digits 1-5, weights resident", scores[1:6], batch)], tmp_path)


@pytest.mark.parametrize("name", SPECS)
def test_golden_resident_batch_equals_reference(name, digits_mlps):
    spec = SPECS[name]
    mlp = digits_mlps[name]
    xs = mlp.inputs(spec)[:40]
    lowered = lower_mlp_batch(spec, mlp.layers, xs)
    expected = np.stack([reference(spec, mlp.layers, x) for x in xs])
    assert np.array_equal(lowered.output(golden(lowered.program).memory), expected)
    with pytest.raises(UserError, match="exceed the register files"):
        lower_mlp_batch(EieSpec(n_pe=4, act_regs=64), mlp.layers, xs)


@pytest.mark.parametrize("backend", [["golden"], ["perf", "--check"]])
def test_cli_simulate_json(backend, capsys):
    import json

    from accel.cli import main

    args = ["simulate", "--engine", "eie", "--layer", "dense:in=150,out=70,weight_density=0.2,act_density=0.5",
            "--set", "n_pe=4", "--set", "act_regs=16", "--backend", *backend, "--seed", "3", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] is True and result["cycles"] > 0 and 0 < result["utilization"] <= 1
    assert 0 < result["load_efficiency"] <= 1 and result["padding_entries"] >= 0
    assert result["row_batches"] == [2] and result["input_chunks"] == [3]
    assert main(["simulate", "--engine", "eie", "--layer", "dense:weight_density=2", "--backend", *backend]) == 2
