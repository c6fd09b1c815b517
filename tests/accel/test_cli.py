"""The accel command line: generate, synth, params, --version; user errors as one line with status 2."""

import json
import subprocess
import sys

import pytest

from accel import __version__
from accel.cli import main


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
    assert "lanes: default 8; an integer in 1..256" in capsys.readouterr().out


@pytest.mark.fpga
def test_synth_json(capsys):
    assert main(["synth", "dot_product", "--set", "lanes=8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["spec"] == {"spec": "dot_product", "lanes": 8}
    assert report["dsp"] == 8  # one MULT18X18D per int8 lane
    assert report["lut4"] > 0 and report["ff"] > 0 and report["bram"] == 0
    assert report["fmax_mhz"] > 100
