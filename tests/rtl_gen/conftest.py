"""Shared by the rtl_gen tests: running a design under an Amaranth testbench."""

import pytest
from amaranth.sim import Simulator


@pytest.fixture
def simulate():
    """``simulate(dut, testbench, clocked=True)``: run the async ``testbench`` against ``dut`` in Amaranth's
    simulator, with a 100 MHz clock unless ``clocked`` is false (purely combinational designs)."""

    def run(dut, testbench, clocked=True):
        sim = Simulator(dut)
        if clocked:
            sim.add_clock(1e-8)
        sim.add_testbench(testbench)
        sim.run()

    return run
