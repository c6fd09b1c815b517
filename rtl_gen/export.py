"""Verilog export and lint.

:func:`verilog_for` turns a spec into Verilog text: the top module is named ``<spec name>_<spec hash>``,
source locations are not emitted, so the same spec always gives byte-identical text. :func:`export`
writes it to ``<dir>/<module>.v``, rewriting the file only when its text changes. :func:`lint` runs
``verilator --lint-only -Wall`` under the committed waiver file ``verilator_waivers.vlt`` and raises if
anything is reported.
"""

import subprocess
from pathlib import Path

from amaranth.back import verilog

from accel.errors import UserError
from accel.spec import Spec

from .blocks import build
from .toolchain import verilator_env, verilator_executable

WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")


def module_name(spec: Spec) -> str:
    """Top module (and file) name: the spec's registry name and its content hash."""
    return f"{spec.name}_{spec.hash}"


def verilog_for(spec: Spec) -> str:
    """Deterministic Verilog for ``spec``."""
    return verilog.convert(build(spec), name=module_name(spec), emit_src=False)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; whether it wrote."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def export(spec: Spec, out_dir: Path) -> Path:
    """Write ``spec``'s Verilog to ``out_dir/<module>.v`` (untouched if unchanged); its path."""
    path = Path(out_dir) / f"{module_name(spec)}.v"
    write_if_changed(path, verilog_for(spec))
    return path


class LintError(Exception):
    """Verilator reported warnings or errors on generated Verilog (a bug in rtl_gen)."""


def lint(path: Path, top: str | None = None) -> None:
    """Lint ``path`` with ``-Wall`` and the committed waivers; raise :class:`LintError` on any message."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"lint: file '{path}' does not exist")
    command = [str(verilator_executable()), "--lint-only", "-Wall", str(WAIVERS), str(path),
               "--top-module", top or path.stem]
    result = subprocess.run(command, env=verilator_env(), capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        raise LintError(f"verilator lint of {path} failed:\n{result.stderr}{result.stdout}")
