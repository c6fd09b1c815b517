"""The int8 dot-product unit: Amaranth simulation, Verilog export and lint, Verilator RTL, ECP5 report."""

import random

import numpy as np
import pytest

from accel.spec import DotProductSpec
from rtl_gen.export import export, lint, verilog_for
from rtl_gen.lib.dot_product import DotProduct
from sim.rtl import runner
from sim.rtl.testbenches.dot_product import operand_vectors

TESTBENCH = "sim.rtl.testbenches.dot_product"


@pytest.mark.parametrize("lanes", [1, 3, 8])
def test_amaranth_simulation_under_stalls(lanes, through_stalls):
    """Random valid/ready on both sides in Amaranth's simulator: every result exact and in order."""
    spec = DotProductSpec(lanes=lanes)
    dut = DotProduct(spec)
    a, b = operand_vectors(lanes, 200, np.random.default_rng(lanes))
    expected = (a * b).sum(axis=1).tolist()

    def offer(ctx, n):
        for lane in range(lanes):
            ctx.set(dut.i.payload.a[lane], int(a[n, lane]))
            ctx.set(dut.i.payload.b[lane], int(b[n, lane]))

    assert through_stalls(dut, range(len(a)), offer, random.Random(lanes)) == expected


@pytest.mark.parametrize("lanes,width", [(1, 16), (2, 17), (3, 18), (8, 19), (64, 22), (256, 24)])
def test_result_width_is_derived_from_lanes(lanes, width):
    spec = DotProductSpec(lanes=lanes)
    assert spec.result_width == width
    worst = lanes * 128 * 128  # every lane -128 × -128
    assert worst <= 2 ** (width - 1) - 1
    assert spec.latency == 3 + spec.tree_levels


@pytest.mark.parametrize("lanes", [1, 2, 3, 8, 64])
def test_verilog_is_lint_clean(lanes, tmp_path):
    lint(export(DotProductSpec(lanes=lanes), tmp_path))


def test_export_is_deterministic_and_rewrites_only_on_change(tmp_path):
    spec = DotProductSpec(lanes=8)
    assert verilog_for(spec) == verilog_for(DotProductSpec(lanes=8))
    path = export(spec, tmp_path)
    assert path.name == f"dot_product_{spec.hash}.v"
    assert f"module dot_product_{spec.hash}(" in path.read_text()
    stamp = path.stat().st_mtime_ns
    export(spec, tmp_path)
    assert path.stat().st_mtime_ns == stamp
    assert export(DotProductSpec(lanes=4), tmp_path) != path


@pytest.mark.rtl
@pytest.mark.parametrize("lanes", [3, 8])
@pytest.mark.parametrize("testcase", runner.testcases(TESTBENCH))
def test_rtl(lanes, testcase, tmp_path):
    """Verilator RTL against numpy: >= 1000 random vectors plus extremes, stalls on both sides."""
    model = runner.build(DotProductSpec(lanes=lanes))
    runner.run(model, TESTBENCH, testcase, tmp_path, seed=lanes, vectors=1000)


@pytest.mark.rtl
def test_rtl_build_from_a_removed_virtualenv_is_not_reused(tmp_path, monkeypatch):
    """A cached model links cocotb's library by absolute path: one built by a since-deleted venv must not be reused."""
    import shutil

    import cocotb_tools.config

    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    spec = DotProductSpec(lanes=1)
    old_libs = tmp_path / "old-venv-libs"
    shutil.copytree(cocotb_tools.config.libs_dir, old_libs)
    with monkeypatch.context() as patch:
        patch.setattr(cocotb_tools.config, "libs_dir", old_libs)
        stale = runner.build(spec)
    shutil.rmtree(old_libs)
    model = runner.build(spec)
    assert model.directory != stale.directory
    runner.run(model, TESTBENCH, runner.testcases(TESTBENCH)[0], tmp_path, seed=1, vectors=10)
