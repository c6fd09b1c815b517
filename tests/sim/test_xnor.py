"""xnor: compiler + golden against an independent float ±1 reference; RTL against golden (bits) and perf
(cycles); the binarized digits MLP and CNN end to end.

Random layers cover odd channel counts and map sizes, kernels 1/3/5, strides 1–3, padding with +1 or −1,
max-pools of 2 and 3, integer (bit-serial) inputs of 2–8 planes, integer (dot) outputs, dense layers on
flattened maps, thresholds beyond the reachable range at both ends and falling thresholds (negative
BatchNorm scales). The small spec (8 PEs × 8 SIMD) has weight entries of exactly one memory beat, input
words of an eighth, thresholds and integer chunks of 4 beats (whose writes hold the datapath); the wider
one (4 × 32) weights and thresholds of 2 beats and input words of half a beat.
"""

import numpy as np
import pytest

from accel.compiler.xnor import BinaryLayer, graph_layers, lower, reference
from accel.compress.binarize import Threshold
from accel.errors import UserError
from accel.isa.xnor import WORK, Mvtu
from accel.spec import XnorSpec
from sim.golden.xnor import run as golden
from sim.perf.xnor import command_counters, departures, mvtu_steps
from sim.perf.xnor import run as perf

SMALL = XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, input_depth=2048, max_reduction=2048)
WIDE = XnorSpec(pe=4, simd=32, weight_depth=512, threshold_depth=128, input_depth=1024, max_reduction=4096)
SPECS = {"8x8": SMALL, "4x32": WIDE}


def random_threshold(rng, k: int, reach: int, centre: np.ndarray) -> Threshold:
    """Thresholds around ``centre`` (the dot's mean), 15 % beyond ±reach (constant outputs), 30 % falling."""
    spread = max(1, int(np.sqrt(reach)))
    t = centre + rng.integers(-spread, spread + 1, k)
    extreme = rng.random(k) < 0.15
    t = np.where(extreme, rng.choice([-reach - 3, -reach, reach, reach + 7], k), t)
    return Threshold(t.astype(np.int64), rng.random(k) < 0.7)


def random_network(rng, spec: XnorSpec):
    """(description, layers, input map, planes, im2col) of one random layer or two (the second dense)."""
    planes = 1 if rng.random() < 0.6 else int(rng.integers(2, 9))
    dense = rng.random() < 0.25
    if dense:
        c, h, w, r, stride, pad, pool = int(rng.integers(1, 300)), 1, 1, 1, 1, 0, 1
    else:
        r = int(rng.choice([1, 3, 3, 5]))
        stride, pool = int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 3]))
        pad = int(rng.integers(0, r // 2 + 1))
        c = int(rng.integers(1, 40))
        need = (r - 2 * pad) + (pool - 1) * stride
        h, w = (int(rng.integers(max(1, need), need + 9)) for _ in range(2))
    k = int(rng.integers(1, 45))
    x = rng.random((c, h, w)) < 0.5 if planes == 1 else rng.integers(0, 2**planes, (c, h, w))
    weight = rng.choice(np.array([-1, 1], np.int8), (k, c, r, r))
    reach = r * r * c * (2**planes - 1)
    centre = 0 if planes == 1 else (2**planes - 1) // 2 * weight.reshape(k, -1).sum(axis=1)
    dot_out = rng.random() < 0.2 and pool == 1
    threshold = None if dot_out else random_threshold(rng, k, reach, centre)
    first = BinaryLayer("first", weight, threshold, stride=stride, pad=pad, pad_value=int(rng.choice([-1, 1])),
                        pool=pool)
    layers = [first]
    if not dot_out and rng.random() < 0.3:
        oh = ((h + 2 * pad - r) // stride + 1) // pool
        ow = ((w + 2 * pad - r) // stride + 1) // pool
        k2 = int(rng.integers(1, 12))
        w2 = rng.choice(np.array([-1, 1], np.int8), (k2, k * oh * ow))
        t2 = random_threshold(rng, k2, k * oh * ow, 0) if rng.random() < 0.5 else None
        layers.append(BinaryLayer("second", w2, t2))
    described = dict(c=c, h=h, w=w, k=k, r=r, stride=stride, pad=pad, pool=pool, planes=planes,
                     dot=dot_out, layers=len(layers))
    return described, layers, x, planes, bool(rng.random() < 0.3)


def random_cases(spec: XnorSpec, count: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        described, layers, x, planes, im2col = random_network(rng, spec)
        try:
            lowered = lower(spec, layers, [x], planes, im2col=im2col)
        except UserError:  # too large for this spec's memories: draw again
            continue
        cases.append((described, layers, x, planes, lowered))
    return cases


@pytest.mark.parametrize("name", SPECS)
def test_golden_equals_float_reference(name):
    for described, layers, x, planes, lowered in random_cases(SPECS[name], 150, seed=1):
        got = lowered.output(golden(lowered.program).memory)
        assert np.array_equal(got, reference(layers, x, planes)), described


def test_random_layers_cover_the_features():
    cases = random_cases(SMALL, 150, seed=1)
    commands = [c for *_, lowered in cases for c in lowered.program.commands if isinstance(c, Mvtu)]
    assert any(c.pad and c.stride > 1 for c in commands) and any(c.pool > 1 for c in commands)
    assert any(c.planes > 1 for c in commands) and any(c.dot for c in commands)
    assert {layers[0].pad_value for _, layers, *_ in cases if layers[0].pad} == {-1, 1}
    thresholds = [layers[0].threshold for _, layers, *_ in cases if layers[0].threshold is not None]
    assert any((~t.up).any() for t in thresholds)
    # Pixels padded with zero chunks faster than the datapath delivers them: the RTL batches hold such layers.
    rtl_commands = [c for seed in (100, 101) for *_, lowered in random_cases(WIDE, 15, seed)
                    for c in lowered.program.commands if isinstance(c, Mvtu)]
    assert any(not c.dot and command_counters(WIDE, c)["stall_output"] for c in rtl_commands)


def test_perf_counters_partition_the_cycles():
    for spec in SPECS.values():
        for *_, lowered in random_cases(spec, 30, seed=2):
            counts = perf(lowered.program).counters
            assert counts["cycles"] == sum(counts[k] for k in WORK)
            mvtus = [c for c in lowered.program.commands if isinstance(c, Mvtu)]
            assert counts["active"] == sum(mvtu_steps(c) for c in mvtus)
            for c, plan in zip(mvtus, lowered.plans):
                layer, f = plan.layer, plan.folding
                n = layer.r * layer.r * (layer.c if layer.channel_mask is None else int(layer.channel_mask.sum()))
                parts = departures(spec, c, layer.k, n, f.conv_h * f.conv_w)
                assert sum(parts.values()) == command_counters(spec, c)["cycles"]
                assert parts["channel_padding"] == 0


def test_layers_that_do_not_fit_are_clear_errors():
    rng = np.random.default_rng(0)
    big = BinaryLayer("big", rng.choice(np.array([-1, 1], np.int8), (600, 300, 1, 1)), None)
    with pytest.raises(UserError, match="layer 'big': needs .* weight entries; xnor.weight_depth = 512"):
        lower(SMALL, [big], [np.zeros((300, 1, 1), bool)])
    wide = BinaryLayer("wide", np.ones((4, 300, 3, 3), np.int8), None)
    with pytest.raises(UserError, match="padded reduction 2736 bits exceeds xnor.max_reduction = 2048"):
        lower(SMALL, [wide], [np.zeros((300, 5, 5), bool)], im2col=False)
    with pytest.raises(UserError, match="kernel 9 is not allowed"):
        lower(SMALL, [BinaryLayer("k9", np.ones((4, 3, 9, 9), np.int8), None)], [np.zeros((3, 9, 9), bool)],
              im2col=False)
    with pytest.raises(UserError, match="pool 2 is not allowed on an integer output"):
        lower(SMALL, [BinaryLayer("p", np.ones((4, 3, 3, 3), np.int8), None, pool=2)], [np.zeros((3, 9, 9), bool)])


def test_spec_widths_are_derived():
    spec = XnorSpec(simd=64, max_reduction=4096)
    lo, hi = spec.acc_range
    assert (lo, hi) == (0, 255 * 4096)
    assert 2 ** (spec.acc_width - 1) <= hi < 2**spec.acc_width
    assert hi + 1 < 2**spec.threshold_width and -(2 ** (spec.diff_width - 1)) <= -(hi + 1)
    assert spec.popcount_width == 7 and spec.lanes == 4 * 64
    with pytest.raises(UserError, match="xnor.pe: 128 is not allowed"):
        XnorSpec(pe=128, port_bits=64)


# The binarized digits networks (accel.nn.models), thresholds from accel.compress.binarize.

DIGITS = {"digits-bnn-mlp": (64, 1, 1), "digits-bnn-cnn": (1, 8, 8)}


def digits_case(name: str, images: int, spec: XnorSpec = WIDE):
    from accel.nn import digits, models

    graph = models.model(name)
    layers, planes = graph_layers(graph, 1 / digits.PIXEL_MAX, digits.PIXEL_MAX)
    _, test = digits.load()
    pixels = test.pixels[:images].astype(np.int64)
    lowered = lower(spec, layers, [p.reshape(DIGITS[name]) for p in pixels], planes)
    return graph, test, pixels, lowered


@pytest.mark.parametrize("name", DIGITS)
def test_golden_digits_network_equals_integer_and_float_forward(name):
    from accel.compress.binarize import integer_forward
    from accel.nn import digits

    graph, test, pixels, lowered = digits_case(name, len(digits.load()[1].labels))
    memory = golden(lowered.program).memory
    scores = np.stack([lowered.output(memory, n).reshape(-1) for n in range(len(pixels))])
    shape = graph.nodes["input"].shape
    assert np.array_equal(scores, integer_forward(graph, pixels.reshape(-1, *shape), 1 / 16, 16))
    assert np.array_equal(scores, graph.run(pixels.reshape(-1, *shape) / 16))
    assert digits.accuracy(scores, test.labels) > 0.85


@pytest.mark.rtl
@pytest.mark.parametrize("batch", range(2))
@pytest.mark.parametrize("name", SPECS)
def test_rtl_bits_and_cycles(name, batch, tmp_path):
    """15 random layers per batch (60 in all): RTL memory == golden memory == reference, RTL counters == perf."""
    from sim.rtl.execute import run as rtl

    spec = SPECS[name]
    cases = random_cases(spec, 15, seed=100 + batch)
    results = rtl([lowered.program for *_, lowered in cases], test_dir=tmp_path)
    for (described, layers, x, planes, lowered), result in zip(cases, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory), described
        assert np.array_equal(lowered.output(result.memory), reference(layers, x, planes)), described
        assert result.counters == perf(lowered.program).counters, described


@pytest.mark.rtl
def test_rtl_integer_outputs_faster_than_the_port_hold_the_datapath(tmp_path):
    """Dense layers of 1–3 synapse folds with integer outputs: once the datapath has run ahead of the port (by
    up to 2 cycles, :func:`sim.perf.xnor.chunk_stalls`), each 4-beat chunk holds it."""
    from sim.rtl.execute import run as rtl

    rng = np.random.default_rng(5)
    cases = []
    for k, n, planes in ((20, 7, 1), (30, 24, 1), (33, 8, 3)):
        layer = BinaryLayer("dot", rng.choice(np.array([-1, 1], np.int8), (k, n, 1, 1)), None)
        x = rng.random((n, 1, 1)) < 0.5 if planes == 1 else rng.integers(0, 2**planes, (n, 1, 1))
        cases.append((layer, x, planes, lower(SMALL, [layer], [x, x[::-1].copy()], planes)))
    results = rtl([lowered.program for *_, lowered in cases], test_dir=tmp_path)
    for (layer, x, planes, lowered), result in zip(cases, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory)
        assert np.array_equal(lowered.output(result.memory), reference([layer], x, planes))
        assert result.counters == perf(lowered.program).counters
        assert result.counters["stall_output"] > 0


@pytest.mark.rtl
def test_rtl_chunks_of_one_step_each_are_held(tmp_path):
    """1×1 layers of one synapse fold on maps: every step completes a chunk, and a chunk that meets its
    predecessor in the MVTU's output register waits a cycle (bits, one or two neuron folds; integers)."""
    from sim.rtl.execute import run as rtl

    rng = np.random.default_rng(9)
    cases = []
    for k, c, h, w, thresholded in ((5, 6, 4, 4, True), (12, 3, 3, 5, True), (6, 4, 3, 3, False)):
        weight = rng.choice(np.array([-1, 1], np.int8), (k, c, 1, 1))
        layer = BinaryLayer("step", weight, random_threshold(rng, k, c, 0) if thresholded else None)
        x = rng.random((c, h, w)) < 0.5
        cases.append((layer, x, lower(SMALL, [layer], [x, x[::-1].copy()])))
    results = rtl([lowered.program for *_, lowered in cases], test_dir=tmp_path)
    for (layer, x, lowered), result in zip(cases, results):
        assert all(c.planes * c.kernel * c.kernel * c.cf * c.pool * c.pool == 1
                   for c in lowered.program.commands if isinstance(c, Mvtu))
        assert np.array_equal(result.memory, golden(lowered.program).memory)
        assert np.array_equal(lowered.output(result.memory), reference([layer], x, 1))
        assert result.counters == perf(lowered.program).counters
        assert result.counters["stall_output"] > 0


@pytest.mark.rtl
@pytest.mark.parametrize("name", SPECS)
def test_rtl_random_memory_stalls_keep_the_bits(name, tmp_path):
    from sim.rtl.execute import run as rtl

    spec = SPECS[name]
    cases = random_cases(spec, 10, seed=200)
    results = rtl([lowered.program for *_, lowered in cases], stall=True, seed=7, test_dir=tmp_path)
    for (described, *_, lowered), result in zip(cases, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory), described
        assert result.cycles > perf(lowered.program).cycles


@pytest.mark.rtl
@pytest.mark.parametrize("name", DIGITS)
def test_rtl_digits_network_end_to_end(name, tmp_path):
    """Six test images through every layer on the RTL: scores == integer-only forward, cycles == perf."""
    from accel.compress.binarize import integer_forward
    from sim.rtl.execute import run as rtl

    graph, test, pixels, lowered = digits_case(name, 6)
    (result,) = rtl([lowered.program], test_dir=tmp_path)
    scores = np.stack([lowered.output(result.memory, n).reshape(-1) for n in range(len(pixels))])
    shape = graph.nodes["input"].shape
    assert np.array_equal(scores, integer_forward(graph, pixels.reshape(-1, *shape), 1 / 16, 16))
    assert result.counters == perf(lowered.program).counters


@pytest.mark.parametrize("layer", ["conv:h=9,w=7,c=5,k=11,r=3,stride=2,pad=1,pad_value=1",
                                   "conv:h=8,w=8,c=3,k=20,pool=2,input=int8", "dense:in=100,out=9,output=dot"])
@pytest.mark.parametrize("backend", [["golden"], ["perf", "--check"]])
def test_cli_simulate_json(layer, backend, capsys):
    import json

    from accel.cli import main

    assert main(["simulate", "--engine", "xnor", "--layer", layer, "--backend", *backend, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] is True and result["cycles"] > 0 and result["bytes_written"] > 0
    assert result["counters"]["active"] >= result["finn_ideal_cycles"] > 0


def test_model_case_reference_is_the_integer_forward():
    from accel.compiler.xnor import model_case

    for name in DIGITS:
        case = model_case(XnorSpec(), name, images=5, seed=3)
        assert np.array_equal(case.output(golden(case.program).memory), case.expected)
        assert case.program.spec.weight_depth >= XnorSpec().weight_depth
    with pytest.raises(UserError, match="'digits-mlp' is not a binarized model"):
        model_case(XnorSpec(), "digits-mlp")
