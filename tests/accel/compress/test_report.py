"""The compression report and `accel compress`: accuracy targets, storage accounting, JSON, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from accel.cli import main
from accel.compress.report import sparse_entries, compression_report


@pytest.fixture(scope="session")
def mlp_report():
    """digits-mlp: 90% of each layer pruned, then 4-bit shared (trained once per cache, then seconds)."""
    return compression_report("digits-mlp", prune=0.9, share=4)


def test_pruned_and_shared_mlp_is_within_one_point_of_float(mlp_report):
    float_step, pruned, shared = mlp_report.steps
    assert [step.name for step in mlp_report.steps] == ["float", "pruned", "pruned+shared"]
    assert float_step.accuracy >= 0.96  # digits-mlp's target, a margin for other CPUs (tests/accel/nn/test_digits.py)
    assert shared.accuracy >= float_step.accuracy - 0.01 and pruned.accuracy >= float_step.accuracy - 0.01
    assert pruned.density == shared.density == pytest.approx(0.1)


def test_storage_shrinks_step_by_step(mlp_report):
    float_step, pruned, shared = mlp_report.steps
    assert float_step.bits_per_weight == 32 and float_step.compression_ratio == 1
    assert 32 > pruned.bits_per_weight > shared.bits_per_weight > 0.1 * (4 + 5)  # index + relative index bits
    assert shared.compression_ratio == pytest.approx(32 / shared.bits_per_weight) and shared.compression_ratio > 25
    report = mlp_report.to_dict()
    assert report["size_bytes"] == pytest.approx(shared.bits_per_weight * report["weights"] / 8 + 4 * report["biases"])


def test_relative_indices_need_filler_zeros_for_long_gaps():
    weight = np.zeros(20)
    weight[[0, 9, 10, 19]] = 1  # steps 1, 9, 1, 9; a 2-bit field reaches 4 ahead: 2 fillers per step of 9
    assert sparse_entries(weight, 2) == 4 + 2 + 2
    assert sparse_entries(weight, 4) == 4


def test_binarized_report_runs_on_integers(capsys):
    assert main(["compress", "digits-mlp", "--binarize", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"float_accuracy", "accuracy", "density", "bits_per_weight", "compression_ratio"} <= set(report)
    assert report["model"] == "digits-bnn-mlp" and [s["step"] for s in report["steps"]] == ["float", "binarized"]
    assert report["accuracy"] >= 0.90 and 1 < report["bits_per_weight"] < 1.2


def test_readable_table(capsys):
    assert main(["compress", "digits-bnn-cnn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digits-bnn-cnn (seed 0)") and "binarized" in out and "conv2" in out


def run(*args):
    result = subprocess.run([sys.executable, "-m", "accel.cli", "compress", *args], capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("args,complaint", [
    (["digits-vgg"], "model: 'digits-vgg' is not a known model; known: digits-mlp"),
    (["digits-mlp", "--prune", "1"], "prune: 1.0 is not allowed; allowed: the fraction of weights removed"),
    (["digits-mlp", "--prune", "-0.1"], "prune: -0.1 is not allowed"),
    (["digits-mlp", "--prune", "lots"], "'lots' is not a valid float"),
    (["digits-mlp", "--share", "0"], "share: 0 is not allowed; allowed: codebook index bits 1 to 8"),
    (["digits-cnn", "--share", "9"], "share: 9 is not allowed"),
    (["digits-mlp", "--binarize", "--prune", "0.5"], "binarize: cannot be combined with prune or share"),
    (["digits-bnn-mlp", "--share", "4"], "binarize: cannot be combined with prune or share"),
])
def test_bad_values_are_one_line_errors_with_status_2(args, complaint):
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("accel: error: ") and complaint in err, err
