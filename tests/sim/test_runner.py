"""The RTL runner under faults: a build killed mid-way, concurrent builds, a stale stamp, tampered or foreign
models, a cache path with a space, a failing run's log and seeds of any size. Each ends in a working run or a
one-line error. (tests/sim/test_execute.py runs long Programs and the watchdog.)"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accel.errors import UserError
from accel.spec import DotProductSpec
from rtl_gen.export import module_name
from sim.rtl import runner

REPO = Path(__file__).resolve().parents[2]
SPEC = DotProductSpec(lanes=1)
TOP = module_name(SPEC)
TESTBENCH = "sim.rtl.testbenches.dot_product"
BUILD = "from sim.rtl import runner; from accel.spec import DotProductSpec; print(runner.build({!r}).directory)"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache of this module's own (``ACCEL_CACHE_DIR``), so its builds start from nothing."""
    path = tmp_path_factory.mktemp("runner") / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCEL_CACHE_DIR", str(path))
        yield path


def start_build(cache: Path, spec: DotProductSpec = SPEC) -> subprocess.Popen:
    """A process building ``spec``'s model in ``cache``, with stdout and stderr piped."""
    env = dict(os.environ, ACCEL_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]))
    return subprocess.Popen([sys.executable, "-c", BUILD.format(spec)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def processes_in(folder: Path) -> dict[int, str]:
    """Running processes (pid: name) whose working directory is ``folder`` or below."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(entry / "cwd").startswith(str(folder)):
                found[int(entry.name)] = (entry / "comm").read_text().strip()
        except OSError:
            pass
    return found


def wait_for(condition, what: str, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"no {what} after {seconds} s"
        time.sleep(0.2)
    return value


@pytest.fixture(scope="module")
def model(cache):
    """SPEC's model, built through every fault a build can meet (see test_build_survives_...)."""
    root = cache / "verilator"
    first = start_build(cache)
    wait_for(lambda: "make" in processes_in(root).values(), "make")
    first.kill()  # SIGKILL: no cleanup of its own
    first.communicate()
    private = next(root.glob(f".{TOP}-*"))
    final = root / private.name.rsplit("-", 1)[0][1:]
    final.mkdir()
    (final / runner.STAMP).write_text("complete")  # a stamp without a binary
    rerun = start_build(cache)
    lock = root / f"{final.name}.lock"
    wait_for(lambda: f"pid {rerun.pid} on" in lock.read_text() and "make" in processes_in(root).values(),
             "make of the rerun")
    waiter = start_build(cache)
    results = [process.communicate(timeout=600) for process in (rerun, waiter)]
    assert [process.returncode for process in (rerun, waiter)] == [0, 0], results
    return {"private": private, "final": final, "rerun": results[0], "waiter": results[1]}


@pytest.mark.rtl
def test_build_survives_a_kill_mid_build_and_a_stale_stamp(model, cache, tmp_path):
    """The builder SIGKILLed while make runs: its make and compilers stop, its private folder goes, the rerun
    builds over a stamp whose binary is missing and the model runs."""
    root = cache / "verilator"
    assert not processes_in(root) and not model["private"].exists()
    assert list(root.glob(".*")) == []
    out, err = model["rerun"]
    assert Path(out.strip()) == model["final"] and "Verilator build of" in err
    runner.run(runner.build(SPEC), TESTBENCH, runner.testcases(TESTBENCH)[0], tmp_path, seed=2**70, vectors=10)


@pytest.mark.rtl
def test_a_second_run_waits_naming_the_holder_then_reuses_the_build(model):
    out, err = model["waiter"]
    assert Path(out.strip()) == model["final"]
    assert "waiting for pid" in err and f"to finish its Verilator build of {TOP}" in err
    assert "Verilator build of" not in err.replace(f"its Verilator build of {TOP}", "")


@pytest.mark.rtl
def test_a_build_stopped_by_sigterm_takes_its_processes_and_folder_with_it(cache):
    root = cache / "verilator"
    spec = DotProductSpec(lanes=2)
    build = start_build(cache, spec)
    wait_for(lambda: "make" in processes_in(root).values(), "make")
    build.terminate()
    build.communicate(timeout=60)
    assert build.returncode == 128 + signal.SIGTERM
    assert not processes_in(root)
    assert list(root.glob(f".{module_name(spec)}-*")) == []


@pytest.mark.rtl
def test_a_model_that_is_not_exactly_ours_is_not_run(model, tmp_path):
    """A copy of the model runs; altered in turn (key, binary, mode, owner), it is refused before it runs."""
    copy = tmp_path / "copy"
    shutil.copytree(model["final"], copy)
    built = runner.build(SPEC)
    good = runner.Build(SPEC, TOP, copy, built.waves, built.key)

    def refused(build: runner.Build):
        with pytest.raises(UserError, match=f"model: {copy} changed since it was built"):
            runner.run(build, TESTBENCH, runner.testcases(TESTBENCH)[0], tmp_path, vectors=10)

    runner.run(good, TESTBENCH, runner.testcases(TESTBENCH)[0], tmp_path, vectors=10)
    refused(runner.Build(SPEC, TOP, copy, built.waves, "0" * len(built.key)))
    binary = copy / TOP
    original = binary.read_bytes()
    binary.write_bytes(original + b"\0")
    refused(good)
    binary.write_bytes(original)
    binary.chmod(0o777)
    refused(good)
    binary.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(binary, 65534, 65534)
        refused(good)


@pytest.mark.rtl
def test_a_failing_run_keeps_its_log(model, cache, tmp_path):
    with pytest.raises(runner.SimulationFailed, match="its log is kept in") as failure:
        runner.run(runner.build(SPEC), TESTBENCH, runner.testcases(TESTBENCH)[0], tmp_path, vectors=-1)
    kept = Path(str(failure.value).split("its log is kept in ", 1)[1].split(";", 1)[0])
    assert kept.parent == cache / "failed" and "negative" in kept.read_text()


def test_a_cache_path_with_a_space_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "my cache"))
    with pytest.raises(UserError, match=f"cache: {tmp_path}/my cache/verilator has a space in its path"):
        runner.build(SPEC)
    assert list((tmp_path / "my cache" / "verilator").iterdir()) == []


def test_seeds_of_any_size_map_to_32_bits():
    assert [runner.rtl_seed(s) for s in (0, 1, 2**32 - 1, 2**32, 2**32 + 5, 2**70, 2**70 + 3)] == \
           [0, 1, 2**32 - 1, 1, 4, 64, 67]
    with pytest.raises(UserError, match="seed: -1 is negative; a seed is an integer >= 0"):
        runner.rtl_seed(-1)
