"""The ECP5 PLL (EHXPLLL) from a board's oscillator to the design's clock.

Divider limits and the parameter set are those of Project Trellis's ``ecppll`` (libtrellis/tools/ecppll.cpp):
f_pfd = f_in / CLKI_DIV in 3.125–400 MHz, f_vco = f_pfd · CLKFB_DIV · CLKOP_DIV in 400–800 MHz,
f_out = f_vco / CLKOP_DIV, feedback from CLKOP, CLKOP_CPHASE = (CLKOP_DIV − 1) // 2 for 0° phase.
"""

import math
from dataclasses import dataclass

from amaranth.hdl import Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accel.errors import UserError

PFD_MHZ = (3.125, 400.0)
VCO_MHZ = (400.0, 800.0)
OUT_MHZ = (3.125, 400.0)  # CLKOP range (Lattice FPGA-DS-02012, ECP5 family data sheet, sysCLOCK PLL timing)


@dataclass(frozen=True)
class PllConfig:
    """Dividers of one EHXPLLL setting and the frequency they give."""

    in_mhz: float
    refclk_div: int
    feedback_div: int
    output_div: int

    @property
    def vco_mhz(self) -> float:
        return self.in_mhz / self.refclk_div * self.feedback_div * self.output_div

    @property
    def out_mhz(self) -> float:
        return self.in_mhz / self.refclk_div * self.feedback_div


def pll_config(in_mhz: float, out_mhz: float) -> PllConfig:
    """The dividers whose output is nearest ``out_mhz`` (ties: the highest VCO frequency)."""
    if not OUT_MHZ[0] <= out_mhz <= OUT_MHZ[1]:
        raise UserError(f"--clock: {out_mhz} MHz is outside the PLL's output range; "
                        f"allowed: {OUT_MHZ[0]} to {OUT_MHZ[1]} MHz")
    best = None
    for refclk_div in range(1, 129):
        if not PFD_MHZ[0] <= in_mhz / refclk_div <= PFD_MHZ[1]:
            continue
        for feedback_div in range(1, 81):
            out = in_mhz / refclk_div * feedback_div
            for output_div in range(max(1, math.ceil(VCO_MHZ[0] / out)), min(128, math.floor(VCO_MHZ[1] / out)) + 1):
                config = PllConfig(in_mhz, refclk_div, feedback_div, output_div)
                score = (abs(config.out_mhz - out_mhz), -config.vco_mhz)
                if best is None or score < best[0]:
                    best = (score, config)
    return best[1]


class Pll(wiring.Component):
    """An EHXPLLL with feedback from its output.

    Members
    -------
    clk_in : ``In(1)``
        The oscillator (``config.in_mhz``).
    clk_out : ``Out(1)``
        ``config.out_mhz``.
    locked : ``Out(1)``
        The PLL is locked (asynchronous).
    """

    def __init__(self, config: PllConfig):
        self.config = config
        super().__init__({"clk_in": In(1), "clk_out": Out(1), "locked": Out(1)})

    def elaborate(self, platform):
        m = Module()
        c = self.config
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{c.in_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{c.out_mhz:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=c.refclk_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=c.output_div,
            p_CLKOP_CPHASE=(c.output_div - 1) // 2, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=c.feedback_div,
            i_RST=0, i_STDBY=0, i_CLKI=self.clk_in, o_CLKOP=self.clk_out, i_CLKFB=self.clk_out,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0,
            i_ENCLKOP=0, o_LOCK=self.locked,
        )
        return m
