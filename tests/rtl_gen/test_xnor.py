"""The xnor engine's Verilog: deterministic, lint-clean for several shapes; the MVTU block builds alone."""

import pytest
from amaranth.back import verilog

from accel.spec import XnorSpec
from rtl_gen.export import export, lint, verilog_for
from rtl_gen.xnor.mvtu import Mvtu


@pytest.mark.parametrize("spec", [XnorSpec(pe=1, simd=2, weight_depth=16, threshold_depth=4, input_depth=16,
                                           max_reduction=2, port_bits=32),
                                  XnorSpec(pe=4, simd=8), XnorSpec(pe=2, simd=128, port_bits=128, input_bits=1)],
                         ids=["1x2", "4x8", "2x128"])
def test_engine_verilog_is_lint_clean(spec, tmp_path):
    lint(export(spec, tmp_path))


def test_verilog_is_deterministic():
    spec = XnorSpec(pe=2, simd=16)
    assert verilog_for(spec) == verilog_for(spec)


def test_mvtu_alone_is_lint_clean(tmp_path):
    path = tmp_path / "mvtu.v"
    path.write_text(verilog.convert(Mvtu(XnorSpec(pe=4, simd=32)), name="mvtu", emit_src=False))
    lint(path, top="mvtu")
