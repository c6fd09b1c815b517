"""accel.regmap: one definition, well formed; its C header compiles with ``cc -c``; its page lists every field."""

import shutil
import subprocess

import pytest

from accel.errors import UserError
from accel.isa import counters
from accel.regmap import COUNTERS_BASE, ENGINE_IDS, c_header, markdown, register_map
from accel.spec import DotProductSpec, spec_class


@pytest.mark.parametrize("engine", ENGINE_IDS)
def test_registers_are_word_aligned_disjoint_and_fields_fit(engine):
    regmap = register_map(spec_class(engine)())
    offsets = [r.offset for r in regmap.registers]
    assert len(set(offsets)) == len(offsets) and all(o % 4 == 0 for o in offsets)
    assert max(offsets) < regmap.size
    for register in regmap.registers:
        used = 0
        for f in register.fields:
            assert f.lsb + f.width <= 32 and not used & f.mask and f.reset < 2**f.width, (register.name, f.name)
            used |= f.mask
    lo, hi = regmap.counter(counters(engine)[-1])
    assert (lo.offset, hi.offset) == (COUNTERS_BASE + 8 * (len(counters(engine)) - 1), lo.offset + 4)
    assert regmap.cmd_words * 32 >= regmap.command_bits > (regmap.cmd_words - 1) * 32


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("engine", ENGINE_IDS)
def test_c_header_compiles_and_defines_every_register(engine, tmp_path):
    regmap = register_map(spec_class(engine)())
    header = tmp_path / "regs.h"
    header.write_text(c_header(regmap))
    check = tmp_path / "check.c"
    prefix = f"ACCEL_{engine.upper()}"
    asserts = [f"_Static_assert({prefix}_{r.name} == {r.offset}u, \"{r.name}\");" for r in regmap.registers]
    asserts += [f"_Static_assert({prefix}_STATUS_ERROR_MASK == 0x4u, \"error bit\");",
                f"_Static_assert({prefix}_CMD_WORDS == {regmap.cmd_words}u, \"cmd words\");"]
    check.write_text('#include "regs.h"\n#include "regs.h"\n' + "\n".join(asserts) + "\n")
    for source in (header, check):
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", "-x", "c", str(source), "-o",
                        str(tmp_path / "out.o")], check=True, capture_output=True, cwd=tmp_path)


def test_markdown_lists_every_field():
    regmap = register_map(spec_class("xnor")())
    page = markdown(regmap)
    for register in regmap.registers:
        for f in register.fields:
            assert f"| 0x{register.offset:03X} | {register.name} |" in page and f"| {f.name} |" in page


def test_only_engines_have_a_register_map():
    with pytest.raises(UserError, match="'dot_product' is not an engine; allowed: eie, mac_array, xnor"):
        register_map(DotProductSpec())
