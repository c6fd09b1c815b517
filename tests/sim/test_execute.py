"""The RTL executor: a Program longer than the harness's command store streams in (bits == golden, cycles ==
perf), any seed runs, a hung engine stops at the watchdog, which says where it is stuck, and a spec's harness
is generated once and shared by its Programs."""

import numpy as np
import pytest

from accel.compiler import xnor
from accel.errors import UserError
from accel.program import MemoryImage, Program
from accel.spec import XnorSpec
from sim import golden, perf
from sim.rtl.execute import COMMANDS, HARNESS_WORDS, QUIET, harness_verilog, harness_words, run
from sim.rtl.runner import SimulationFailed

# The small spec and harness size of tests/sim/test_xnor.py: the same Verilator build.
SPEC = XnorSpec(pe=8, simd=8, weight_depth=512, threshold_depth=64, input_depth=2048, max_reduction=2048)
WORDS = 1 << 14


@pytest.fixture(scope="module")
def program() -> Program:
    """A small binary dense layer (4 loads and one MVTU)."""
    sizes = dict(xnor.LAYER_KINDS["dense"], **{"in": 64, "out": 16})
    return xnor.random_case(SPEC, "dense", sizes, np.random.default_rng(0)).program


@pytest.mark.rtl
def test_a_program_longer_than_the_command_store_streams_in(program, tmp_path):
    long = Program(SPEC, program.commands * (2 * COMMANDS // len(program.commands) + 1), program.memory)
    assert len(long.commands) > 2 * COMMANDS
    result, = run([long], test_dir=tmp_path)
    assert np.array_equal(result.memory, golden.run(long).memory)
    assert result.counters == perf.run(long).counters


@pytest.mark.rtl
def test_seeds_beyond_32_bits_run(program, tmp_path):
    result, = run([program], stall=True, seed=2**70 + 12345, test_dir=tmp_path)
    assert np.array_equal(result.memory, golden.run(program).memory)
    assert result.cycles > perf.run(program).cycles


def test_a_negative_seed_is_refused_before_building(program):
    with pytest.raises(UserError, match="seed: -3 is negative"):
        run([program], seed=-3)


@pytest.mark.rtl
def test_a_hung_engine_stops_at_the_watchdog_saying_where(program, tmp_path):
    with pytest.raises(SimulationFailed) as failure:
        run([program], block_reads=True, test_dir=tmp_path)
    line = next(line for line in str(failure.value).splitlines() if "watchdog:" in line)
    assert f"no command issued and no memory-port transfer for {perf.run(program).cycles + QUIET} cycles" in line
    assert f"last command issued: #0 {program.commands[0]!r} of 5; engine busy=1 done=0" in line
    assert "streams: cmd valid, not ready; rd_req valid, not ready; rd_data ready, not valid;" in line


def test_the_harness_verilog_is_generated_once_and_then_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    harness_verilog.cache_clear()
    text, top = harness_verilog(SPEC, WORDS)
    path, = (tmp_path / "cache" / "verilog").glob(f"{top}-*.v")
    assert path.read_text() == text and f"module {top}(" in text
    path.write_text(text + "// read from the cache\n")
    harness_verilog.cache_clear()
    assert harness_verilog(SPEC, WORDS) == (text + "// read from the cache\n", top)
    harness_verilog.cache_clear()


def test_programs_share_one_harness_up_to_its_memory(program):
    """Every Program up to 16 MiB runs on one model of its spec; a larger one gets a larger memory."""
    beat = SPEC.port_bits // 8
    assert harness_words([program]) == HARNESS_WORDS
    big = MemoryImage()
    big.reserve("out", HARNESS_WORDS * beat + 1)
    assert harness_words([program, Program(SPEC, program.commands, big)]) == 2 * HARNESS_WORDS
