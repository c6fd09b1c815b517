"""The accel command line: generate, synth, params, --version; user errors as one line with status 2."""

import json
import subprocess
import sys

import pytest

from accel import __version__
from accel.cli import main
from accel.spec import EieSpec, MacArraySpec, XnorSpec


def run(*args):
    """Run the installed console script as a user would."""
    result = subprocess.run([sys.executable, "-m", "accel.cli", *args], capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


def test_version():
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


@pytest.mark.parametrize("args,complaint", [
    (["generate", "nosuch", "--out", "x"], "'nosuch' is not a known block or engine"),
    (["generate", "dot_product", "--set", "lanes=0", "--out", "x"], "dot_product.lanes: 0 is not allowed"),
    (["generate", "dot_product", "--set", "lanes=abc", "--out", "x"], "dot_product.lanes: 'abc' is not allowed"),
    (["generate", "dot_product", "--set", "lanes", "--out", "x"], "'lanes' is not of the form key=value"),
    (["generate", "dot_product", "--set", "depth=3", "--out", "x"], "unknown parameter 'depth'"),
    (["generate", "dot_product"], "Missing option '--out'"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["synth", "dot_product", "--device", "XC7A35T"], "device: 'XC7A35T' is not a known ECP5 device"),
    (["generate", "dot_product", "--spec", "/no/such/file", "--out", "x"], "--spec: cannot read"),
])
def test_user_errors_are_one_line_and_exit_2(args, complaint):
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("accel: error: ") and complaint in err
    assert "Traceback" not in err


def test_generate_twice_is_byte_identical_and_lint_clean(tmp_path, capsys):
    assert main(["generate", "dot_product", "--set", "lanes=8", "--out", str(tmp_path / "a")]) == 0
    assert main(["generate", "dot_product", "--set", "lanes=8", "--out", str(tmp_path / "b")]) == 0
    (a,), (b,) = (sorted((tmp_path / d).glob("*.v")) for d in "ab")
    assert a.name == b.name and a.read_bytes() == b.read_bytes()
    assert "lint clean" in capsys.readouterr().out


def test_spec_file_round_trip(tmp_path, capsys):
    assert main(["generate", "dot_product", "--set", "lanes=12", "--out", str(tmp_path)]) == 0
    (spec_file,) = tmp_path.glob("*.json")
    assert main(["generate", "dot_product", "--spec", str(spec_file), "--out", str(tmp_path / "again")]) == 0
    assert [p.name for p in (tmp_path / "again").glob("*.v")] == [p.name for p in tmp_path.glob("*.v")]


def test_params_lists_ranges(capsys):
    assert main(["params", "dot_product"]) == 0
    out = capsys.readouterr().out
    assert "lanes: default 8; an integer in 1..256" in out and "preset" not in out


def test_params_lists_presets_after_the_parameters(capsys):
    assert main(["params", "eie"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("preset paper: " + EieSpec.PRESETS["paper"].description)
    assert lines[0].startswith("n_pe: default 4;") and all(": default " in line for line in lines[:start - 1])
    assert lines[start + 1].split() == [f"{k}={v}" for k, v in EieSpec.preset("paper").to_dict().items() if k != "spec"]
    assert lines[start + 2] == "  source: " + EieSpec.PRESETS["paper"].source


@pytest.mark.parametrize("args,spec", [
    (["--engine", "eie", "--layer", "dense:in=64,out=32", "--preset", "paper"], EieSpec.preset("paper")),
    (["--engine", "eie", "--layer", "dense:in=64,out=32", "--preset", "paper", "--set", "queue_depth=2"],
     EieSpec(**{**EieSpec.PRESETS["paper"].values, "queue_depth": 2})),
    (["--engine", "mac_array", "--layer", "conv:h=6,w=6,c=32,k=32", "--set", "atomic_c=32", "--set", "atomic_k=32"],
     MacArraySpec(atomic_c=32, atomic_k=32, banks=64)),
    (["--engine", "xnor", "--layer", "dense:in=784,out=1024", "--preset", "lfc"], XnorSpec.preset("lfc")),
])
def test_simulate_starts_from_the_preset_then_set(args, spec, capsys):
    assert main(["simulate", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"] == spec.to_dict()


def test_generate_writes_a_derived_default_as_its_value(tmp_path, capsys):
    assert main(["generate", "mac_array", "--set", "atomic_c=4", "--out", str(tmp_path)]) == 0
    (spec_file,) = tmp_path.glob("*.json")
    assert json.loads(spec_file.read_text())["banks"] == 32 and "lint clean" in capsys.readouterr().out


@pytest.mark.fpga
def test_synth_json(capsys):
    assert main(["synth", "dot_product", "--set", "lanes=8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["spec"] == {"spec": "dot_product", "lanes": 8}
    assert report["dsp"] == 8  # one MULT18X18D per int8 lane
    assert report["lut4"] > 0 and report["ff"] > 0 and report["bram"] == 0
    assert report["fmax_mhz"] > 100


@pytest.mark.parametrize("layer", ["conv:h=9,w=7,c=5,k=11,r=3,stride=2,pad=1", "dense:in=100,out=9",
                                   "depthwise:h=8,w=8,c=10,r=3", "pool:h=9,w=9,c=10,r=3,stride=2,kind=avg",
                                   "add:h=5,w=5,c=12"])
@pytest.mark.parametrize("backend", [["golden"], ["perf", "--check"]])
def test_simulate_json(layer, backend, capsys):
    assert main(["simulate", "--engine", "mac_array", "--layer", layer, "--backend", *backend, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] is True and result["reference"] == "independent reference"
    assert result["cycles"] > 0 and result["bytes_read"] > 0 and result["bytes_written"] > 0
    assert 0 <= result["utilization"] <= 1
    assert set(result) >= {"macs", "mode", "counters"}


@pytest.mark.parametrize("engine,layer", [("mac_array", "conv:h=9,w=7,c=5,k=11"), ("eie", "mlp:sizes=40-30-20"),
                                          ("xnor", "conv:h=6,w=6,c=8,k=8")])
def test_simulate_perf_checks_only_when_asked(engine, layer, capsys):
    """perf predicts cycles without the output bits (bit_exact null); --check adds them, cycles unchanged."""
    args = ["simulate", "--engine", engine, "--layer", layer, "--seed", str(2**70), "--json"]
    assert main(args) == 0
    unchecked = json.loads(capsys.readouterr().out)
    assert unchecked["bit_exact"] is None and unchecked["reference"] is None and unchecked["seed"] == 2**70
    assert main(args + ["--check"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["bit_exact"] is True and checked["cycles"] == unchecked["cycles"] > 0
    assert checked["counters"] == unchecked["counters"] and checked["macs"] == unchecked["macs"]


@pytest.mark.rtl
def test_simulate_rtl_agrees_with_perf(capsys):
    args = ["simulate", "--engine", "mac_array", "--layer", "conv:h=6,w=6,c=9,k=5,r=3,pad=1", "--set", "atomic_c=4",
            "--set", "atomic_k=4", "--set", "banks=8", "--set", "bank_kib=1", "--backend", "rtl", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] is True and result["cycles"] == result["perf_cycles"]


@pytest.mark.parametrize("layer,complaint", [("conv:h=0", "h=0 is not allowed"), ("mlp:x=1", "kind 'mlp' is not known"),
                                             ("conv:stride=5", "stride 5 is not allowed"),
                                             ("conv:c=6,groups=4", "groups=4 must divide")])
def test_simulate_bad_layers(layer, complaint):
    code, out, err = run("simulate", "--engine", "mac_array", "--layer", layer)
    assert code == 2 and complaint in err and err.count("\n") == 1
