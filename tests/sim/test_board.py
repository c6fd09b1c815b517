"""The proof of the board design: the whole of it (UART bridge, bus, image memory, engine behind AXI) in
Verilator, driven by the host's own driver and UART transport over a bit-level UART on its pins, runs a
random layer bit-exact against golden with the counters the perf model predicts (plus the AXI path's
memory stalls)."""

import numpy as np
import pytest

from accel.compiler import xnor
from accel.errors import UserError
from accel.spec import XnorSpec
from sim import golden, perf
from sim.rtl import board

SPEC = XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, input_depth=2048, max_reduction=2048)
"""The small xnor spec of tests/sim/test_xnor.py."""


@pytest.fixture(scope="module")
def program():
    sizes = dict(xnor.LAYER_KINDS["dense"], **{"in": 64, "out": 16})
    return xnor.random_case(SPEC, "dense", sizes, np.random.default_rng(18)).program


@pytest.mark.rtl
def test_a_random_layer_runs_over_the_simulated_uart_bit_exact(program, tmp_path):
    (memory, counters), = board.run([program], test_dir=tmp_path)
    assert np.array_equal(memory, golden.run(program).memory)
    predicted = perf.run(program).counters
    # The wrapper adds nothing to the engine's own counting; the memory behind AXI (burst forming, the AXI4
    # master, the image memory's 3-cycle read) answers later than the perf model's fixed latency, and every
    # cycle of that shows as a memory stall.
    overhead = counters["cycles"] - predicted["cycles"]
    assert overhead == counters["stall_memory"] - predicted["stall_memory"] >= 0
    timing = ("cycles", "stall_memory")
    assert {k: v for k, v in counters.items() if k not in timing} == {k: v for k, v in predicted.items()
                                                                      if k not in timing}


def test_an_image_larger_than_the_image_memory_is_refused_before_building(program):
    with pytest.raises(UserError, match=f"memory image has {program.memory.size} bytes; the board's image "
                                        "memory holds 256"):
        board.run([program], image=256)
