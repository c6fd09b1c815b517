"""``accel generate ENGINE --wrap axi``: the wrapped Verilog (lint clean, AXI port names), the C header (compiles with ``cc -c``) and the register-map page; engines only."""

import shutil
import subprocess

import pytest

from accel.cli import main

SMALL_XNOR = ["--set", "pe=8", "--set", "simd=8", "--set", "weight_depth=512", "--set", "threshold_depth=64",
              "--set", "input_depth=2048", "--set", "max_reduction=2048"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_generate_wrap_axi_writes_verilog_header_and_page(tmp_path, capsys):
    assert main(["generate", "xnor", *SMALL_XNOR, "--wrap", "axi", "--out", str(tmp_path / "a")]) == 0
    assert "lint clean" in capsys.readouterr().out
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert sorted(name.rsplit(".", 1)[1] for name in files) == ["h", "json", "md", "v"]
    verilog = next((tmp_path / "a").glob("axi_xnor_*.v")).read_text()
    for port in ("s_axil_awaddr", "s_axil_rresp", "m_axi_araddr", "m_axi_arlen", "m_axi_wlast", "m_axi_bresp",
                 "m_axi_rlast", "irq"):
        assert f"{port}," in verilog or f"{port};" in verilog or f"{port}\n" in verilog, port
    header = next((tmp_path / "a").glob("*_regs.h"))
    subprocess.run(["cc", "-c", "-Wall", "-Werror", "-x", "c", str(header), "-o", str(tmp_path / "h.o")], check=True)
    assert "| 0x02C | CMD_DATA |" in next((tmp_path / "a").glob("*_regs.md")).read_text()


def test_wrap_axi_is_for_engines_only(tmp_path, capsys):
    assert main(["generate", "dot_product", "--wrap", "axi", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == ("accel: error: --wrap axi: 'dot_product' is not an engine; allowed: eie, "
                                       "mac_array, xnor\n")
    assert not (tmp_path / "x").exists()
