"""``accel simulate`` reports energy: ``energy_pj`` and ``energy_breakdown`` in its JSON, a line of text
otherwise, priced by ``--energy-table``; a bad table is one line of error and status 2."""

import json
import subprocess
import sys

import pytest

from accel.cli import main

LAYERS = {"mac_array": "conv:h=8,w=8,c=8,k=8,r=3,pad=1", "eie": "dense:in=64,out=32",
          "xnor": "conv:h=6,w=6,c=32,k=8,r=3"}


def simulate(capsys, engine, *extra):
    assert main(["simulate", "--engine", engine, "--layer", LAYERS[engine], "--backend", "perf", *extra]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("engine", sorted(LAYERS))
def test_json_carries_energy_by_level(capsys, engine):
    result = json.loads(simulate(capsys, engine, "--json"))
    assert result["energy_table"] == "45nm"
    assert set(result["energy_breakdown"]) == {"dram", "sram", "register_file", "compute"}
    assert sum(result["energy_breakdown"].values()) == pytest.approx(result["energy_pj"])
    dram = result["energy_actions"]["dram_bytes"]
    assert dram["count"] == result["bytes_read"] + result["bytes_written"]
    assert result["energy_breakdown"]["dram"] == pytest.approx(dram["count"] * 1300 / 8)
    assert result["energy_breakdown"]["compute"] > 0 and result["energy_breakdown"]["sram"] > 0


def test_table_by_name_and_text_output(capsys):
    base = json.loads(simulate(capsys, "mac_array", "--json"))
    small = json.loads(simulate(capsys, "mac_array", "--json", "--energy-table", "28nm"))
    assert small["energy_breakdown"]["dram"] == base["energy_breakdown"]["dram"]
    assert small["energy_breakdown"]["compute"] == pytest.approx(base["energy_breakdown"]["compute"] * 28 / 45)
    text = simulate(capsys, "mac_array")
    assert f"energy={base['energy_pj']:.4g} pJ (45nm: dram=" in text


def test_bad_table_is_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "accel.cli", "simulate", "--engine", "eie", "--layer",
                             LAYERS["eie"], "--energy-table", "7nm"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("accel: error: energy table: '7nm' is neither a built-in table nor a .json file; "
                             "allowed: 45nm, 28nm or a JSON file (YAML is not read)\n")
