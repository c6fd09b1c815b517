"""Verilog conversion: all-zero memories are left without initial contents (not written word by word), a
memory with contents keeps them, everything else is Amaranth's own output; the generator hash follows the
sources it covers."""

import re

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from accel.spec import DotProductSpec
from rtl_gen.blocks import build
from rtl_gen.export import convert, generator_hash


class TwoMemories(wiring.Component):
    """A zero-initialised memory and one with contents, each written and read."""

    addr: In(4)
    data: In(8)
    we: In(1)
    zeros: Out(8)
    table: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.zero_mem = zero_mem = memory.Memory(shape=8, depth=16, init=[])
        m.submodules.table_mem = table_mem = memory.Memory(shape=8, depth=16, init=[5, 0, 7])
        for mem, out in ((zero_mem, self.zeros), (table_mem, self.table)):
            read, write = mem.read_port(), mem.write_port()
            m.d.comb += [read.addr.eq(self.addr), out.eq(read.data),
                         write.addr.eq(self.addr), write.data.eq(self.data), write.en.eq(self.we)]
        return m


def test_zero_memories_have_no_initial_contents():
    text = convert(TwoMemories(), "two")
    assert "reg [7:0] zero_mem [15:0];" in text and "zero_mem[0] =" not in text
    assert "table_mem[0] = 8'h05;" in text and "table_mem[2] = 8'h07;" in text
    # Amaranth's own output differs only by the zero memory's initial block.
    amaranth = verilog.convert(TwoMemories(), name="two", emit_src=False)
    block = r"  initial begin\n(    zero_mem\[\d+\] = 8'h00;\n){16}  end\n"
    assert re.sub(r"(reg \[7:0\] zero_mem \[15:0\];\n)" + block, r"\1", amaranth) == text != amaranth


def test_without_zero_memories_the_output_is_amaranths():
    spec = DotProductSpec(lanes=4)
    assert convert(build(spec), "dp") == verilog.convert(build(spec), name="dp", emit_src=False)


def test_generator_hash_follows_the_extra_files(tmp_path):
    harness = tmp_path / "harness.py"
    harness.write_text("A = 1\n")
    before = generator_hash(harness)
    generator_hash.cache_clear()
    harness.write_text("A = 2\n")
    assert generator_hash(harness) != before
    assert generator_hash() not in (before, generator_hash(harness))
