"""`accel board` refuses bad input on one line before any tool runs; the PLL's dividers."""

import pytest

from accel.cli import main
from rtl_gen.board.pll import OUT_MHZ, PFD_MHZ, VCO_MHZ, pll_config


@pytest.mark.parametrize("args,complaint", [
    (["board", "dot_product"], "ENGINE: 'dot_product' is not an engine; allowed: eie, mac_array, xnor"),
    (["board", "xnor", "--board", "icestick"], "--board: 'icestick' is not a supported board; allowed: ulx3s-85f"),
    (["board", "xnor", "--clock", "500"], "--clock: 500.0 MHz is outside the PLL's output range"),
    (["board", "xnor", "--image-kib", "48"], "--image-kib: 48 KiB; allowed: a power of two"),
    (["board", "xnor", "--baud", "4000000", "--clock", "50"], "--baud: 4000000 baud is not reachable from a 50 MHz"),
    (["board", "mac_array", "--baud", "4000000"], "--baud: 4000000 baud is not reachable from a 25 MHz"),  # its default
])
def test_user_errors_are_one_line_and_exit_2(args, complaint, tmp_path, capsys):
    if args[0] == "board":
        args = [*args, "--out", str(tmp_path / "out")]
    code = main(args)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("accel: error: ") and complaint in err


@pytest.mark.parametrize("in_mhz,out_mhz", [(25, 50), (25, 75), (25, 100), (48, 60), (25, 33.3)])
def test_the_pll_dividers_stay_in_range_and_reach_the_clock(in_mhz, out_mhz):
    config = pll_config(in_mhz, out_mhz)
    assert PFD_MHZ[0] <= in_mhz / config.refclk_div <= PFD_MHZ[1]
    assert VCO_MHZ[0] <= config.vco_mhz <= VCO_MHZ[1]
    assert OUT_MHZ[0] <= config.out_mhz <= OUT_MHZ[1]
    assert abs(config.out_mhz - out_mhz) < 0.5
