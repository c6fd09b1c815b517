"""Project conventions that keep the tree honest: banned Amaranth APIs fail, and none is used."""

import re
from pathlib import Path

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("accel", "rtl_gen", "sim", "benchmarks") for p in (ROOT / d).rglob("*.py"))

BANNED = {
    r"\bRecord\b": "amaranth.hdl.Record is deprecated: use amaranth.lib.data layouts",
    r"amaranth\.hdl\.Memory|hdl\s+import[^\n]*\bMemory\b": "use amaranth.lib.memory.Memory",
    r"add_sync_process|add_process": "use Simulator.add_testbench with an async function",
    r"\breset\s*=": "Signal(reset=) is deprecated: use init=",
}


def test_deprecated_amaranth_api_fails_under_warnings_as_errors():
    sim = Simulator(Module())

    def process():
        yield

    with pytest.raises(DeprecationWarning):
        sim.add_sync_process(process)


@pytest.mark.parametrize("pattern", BANNED)
def test_no_banned_api_in_sources(pattern):
    assert SOURCES
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES
                 for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(pattern, line)]
    assert not offenders, f"{BANNED[pattern]}: {offenders}"


def test_package_boundaries():
    """accel imports neither rtl_gen nor sim at module level; rtl_gen never imports sim."""
    for path in (ROOT / "accel").rglob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                assert not re.match(r"(from|import) (rtl_gen|sim)\b", line), f"{path}: {line}"
    for path in (ROOT / "rtl_gen").rglob("*.py"):
        assert not re.search(r"^\s*(from|import) sim\b", path.read_text(), re.M), path
