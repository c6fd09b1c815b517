"""--engine auto: a network partitioned over the mac_array (its convolutional front) and eie (its classifier)."""

import json

import numpy as np
import pytest

from accel.cli import main
from accel.compiler import partition
from accel.int8 import QuantParams
from accel.nn.load import load
from accel.spec import EieSpec, MacArraySpec
from sim import golden

SPECS = {"mac_array": MacArraySpec(), "eie": EieSpec()}


def test_int8_to_fixed_rounds_the_dequantized_value_half_up_and_saturates():
    quant = QuantParams(0.05, -3)
    q = np.array([-3, -2, 7, 127, -128], np.int8)
    assert partition.int8_to_fixed(q, quant, 8).tolist() == [0, 13, 128, 1664, -1600]  # 0.05·2**8 = 12.8
    assert partition.int8_to_fixed(np.array([-128, 127], np.int8), QuantParams(2.0, 0), 14).tolist() == \
        [-(2**15), 2**15 - 1]
    values = np.arange(-128, 128).astype(np.int8)
    fixed = partition.int8_to_fixed(values, QuantParams(0.0173, 5), 10)
    assert np.all(np.abs(fixed / 2**10 - quant_value(values, 0.0173, 5)) <= 2**-11 + 1e-12)


def quant_value(q, scale, zero_point):
    return scale * (q.astype(np.float64) - zero_point)


def test_split_cuts_before_the_trailing_classifier():
    graph = load("lenet5").graph
    head, tail = partition.split(graph)
    assert [n.name for n in head.layers()] == ["conv1", "pool1", "conv2", "pool2"]
    assert [n.name for n in tail.layers()] == ["flatten", "fc1", "fc1_relu", "fc2"]
    assert tail.nodes["input"].shape == (50, 4, 4)
    mlp_head, mlp_tail = partition.split(load("lenet-300-100").graph)
    assert mlp_head is None and [n.name for n in mlp_tail.layers()][:2] == ["flatten", "fc1"]


def test_golden_equals_the_integer_reference_stage_by_stage():
    """Each stage's golden output equals its engine's integer reference; the eie Program's input is the
    front's golden output converted by int8_to_fixed; the last stage's output is the whole network's."""
    network = partition.compile(SPECS, load("lenet5", seed=3), images=2, seed=3, prune=0.6, share=3)
    front, classifier = (stage.network for stage in network.stages)
    x = front.output(golden.run(front.program).memory)
    assert np.array_equal(x, front.reference())
    spec = classifier.program.spec
    fixed = partition.int8_to_fixed(x, front.info["output_quant"], spec.act_frac)
    region = classifier.program.memory["input"]
    stored = classifier.program.memory.flatten()[region.address:region.end].view("<i2").reshape(2, -1)
    assert np.array_equal(stored[:, :x.shape[1]], fixed) and np.count_nonzero(fixed) > 0
    out = classifier.output(golden.run(classifier.program).memory)
    assert np.array_equal(out, network.reference()) and out.shape == (2, 10) and np.any(out != 0)
    assert network.info["densities"]["conv1"] == pytest.approx(0.4)


def accel_json(capsys, *args) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("backend", ["golden", "perf"])
def test_run_auto_breaks_cycles_and_bytes_down_per_engine(backend, capsys):
    result = accel_json(capsys, "run", "lenet5", "--engine", "auto", "--backend", backend, "--images", "2")
    assert result["engine"] == "auto" and result["bit_exact"] is (True if backend == "golden" else None)
    engines, (transfer,) = result["engines"], result["transfers"]
    assert set(engines) == {"mac_array", "eie"} and transfer["from"] == "mac_array" and transfer["to"] == "eie"
    assert result["cycles"] == sum(e["cycles"] for e in engines.values()) + transfer["cycles"]
    assert result["macs"] == sum(e["macs"] for e in engines.values())
    for key in ("bytes_read", "bytes_written"):
        assert result[key] == sum(e[key] for e in engines.values()) + transfer[key]
    for name, engine in engines.items():
        rows = [row for row in result["layers"] if row["engine"] == name]
        for key in ("cycles", "macs", "bytes_read", "bytes_written"):
            assert sum(row[key] for row in rows) == engine[key] > 0
    # 50×4×4 int8 outputs in 8-lane groups (56 channels) read; 800 int16 inputs written per image, 8 B beats
    assert transfer["bytes_read"] == 2 * 56 * 16 and transfer["bytes_written"] == 2 * 800 * 2
    assert transfer["cycles"] == transfer["bytes_read"] // 8 + transfer["bytes_written"] // 8


@pytest.mark.parametrize("args,complaint", [
    (["compile", "lenet5", "--engine", "auto", "--out", "x.accel"], "--engine: 'auto' is not allowed with accel compile"),
    (["run", "lenet5", "--engine", "auto", "--calibrate", "bogus"], "--calibrate: 'bogus' is not allowed"),
    (["run", "lenet5", "--engine", "auto", "--set", "n_pe=8"], "--set: not with --engine auto"),
    (["run", "lenet5", "--engine", "auto", "--share", "5"], "--share: 5 bits is not allowed with --engine auto"),
    (["run", "digits-bnn-mlp", "--engine", "auto"], "a binarized network runs on xnor"),
    (["run", "lenet-300-100", "--engine", "auto"], "has no layers before its fully connected classifier"),
])
def test_bad_auto_use_is_one_line_exit_2(args, complaint, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("accel: error: ") and err.count("\n") == 1 and complaint in err
