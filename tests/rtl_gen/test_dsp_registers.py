import copy
from collections import Counter
from pathlib import Path

import pytest
from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl_gen.dsp_registers import pack_registers

MODEL = Path(__file__).with_name("mult18x18d_model.v")


class RegisteredMultiply(wiring.Component):
    """``p``: the registered product of registered operands ``a`` and ``b``, each register with its own
    enable (``ea``, ``eb``, ``ep``) and the domain's reset. ``tap`` also puts the product out
    unregistered, ``seen`` the ``a`` register; ``a_init`` is that register's reset value; with ``deep``
    it registers ``a + b`` (a carry chain) instead of ``a``."""

    def __init__(self, *, tap: bool = False, seen: bool = False, a_init: int = 0, deep: bool = False):
        self.tap, self.seen, self.a_init, self.deep = tap, seen, a_init, deep
        members = {"a": In(signed(16)), "b": In(signed(16)), "ea": In(1), "eb": In(1), "ep": In(1),
                   "p": Out(signed(32))}
        if tap:
            members["product"] = Out(signed(32))
        if seen:
            members["a_seen"] = Out(signed(16))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(signed(16), init=self.a_init), Signal(signed(16))
        with m.If(self.ea):
            m.d.sync += a.eq(self.a + self.b if self.deep else self.a)
        with m.If(self.eb):
            m.d.sync += b.eq(self.b)
        with m.If(self.ep):
            m.d.sync += self.p.eq(a * b)
        if self.tap:
            m.d.comb += self.product.eq(a * b)
        if self.seen:
            m.d.comb += self.a_seen.eq(a)
        return m


class SharedOperand(wiring.Component):
    """``p = a·b`` and ``q = a·c``, from one register of ``a`` and registers of ``b`` and ``c``."""

    a: In(signed(16))
    b: In(signed(16))
    c: In(signed(16))
    p: Out(signed(32))
    q: Out(signed(32))

    def elaborate(self, platform):
        m = Module()
        a, b, c = Signal(signed(16)), Signal(signed(16)), Signal(signed(16))
        m.d.sync += [a.eq(self.a), b.eq(self.b), c.eq(self.c), self.p.eq(a * b), self.q.eq(a * c)]
        return m


def multiplier(module) -> dict:
    [cell] = [cell for cell in module["cells"].values() if cell["type"] == "MULT18X18D"]
    return cell


def packed(netlist) -> list[str]:
    """:func:`pack_registers`'s lines for ``netlist``, without the multipliers' names."""
    return [line.split(": ", 1)[-1] for line in pack_registers(netlist, "top")]


def selected(cell, register, kind) -> list:
    """The bits wired to the ``kind`` (``CLK``, ``CE``, ``RST``) input register ``register`` selects."""
    return cell["connections"][cell["parameters"][f"REG_{register}_{kind}"]]


@pytest.mark.fpga
def test_operand_and_product_registers_move_into_multiplier(netlists):
    netlist = netlists.synth(RegisteredMultiply())
    before = netlists.counts(netlist)
    assert packed(netlist) == [
        "output register from 32 flip-flops, input A register from 16 flip-flops, "
        "input B register from 16 flip-flops",
        "32 of 32 operand flip-flops copied into multipliers removed"]
    assert netlists.counts(netlist) == before - Counter({"TRELLIS_FF": 64})
    cell = multiplier(netlist["modules"]["top"])
    for register, enable in (("INPUTA", "ea"), ("INPUTB", "eb"), ("OUTPUT", "ep")):
        assert selected(cell, register, "CLK") == netlists.port_bits(netlist, "clk")
        assert selected(cell, register, "CE") == netlists.port_bits(netlist, enable)
        assert selected(cell, register, "RST") == netlists.port_bits(netlist, "rst")
    assert sorted(cell["connections"][f"P{i}"][0] for i in range(32)) == sorted(netlists.port_bits(netlist, "p"))
    assert {cell["connections"][f"A{i}"][0] for i in range(16)} == set(netlists.port_bits(netlist, "a"))


@pytest.mark.fpga
def test_product_that_also_feeds_logic_keeps_its_register(netlists):
    """The product leaves unregistered too, so the output register stays in the fabric; the ``a``
    register is read elsewhere, so it is copied into the multiplier and kept."""
    netlist = netlists.synth(RegisteredMultiply(tap=True, seen=True))
    before = netlists.counts(netlist)
    assert packed(netlist) == [
        "input A register from 16 flip-flops, input B register from 16 flip-flops",
        "16 of 32 operand flip-flops copied into multipliers removed"]
    assert netlists.counts(netlist) == before - Counter({"TRELLIS_FF": 16})
    parameters = multiplier(netlist["modules"]["top"])["parameters"]
    assert "REG_OUTPUT_CLK" not in parameters
    assert parameters["REG_INPUTA_CLK"] == parameters["REG_INPUTB_CLK"] == "CLK0"


@pytest.mark.fpga
@pytest.mark.parametrize("design", [RegisteredMultiply(a_init=5), RegisteredMultiply(deep=True)],
                         ids=["resets_to_nonzero", "loads_a_carry_chain"])
def test_operand_register_not_packed(netlists, design):
    netlist = netlists.synth(design)
    before = netlists.counts(netlist)
    assert packed(netlist) == [
        "output register from 32 flip-flops, input B register from 16 flip-flops",
        "16 of 16 operand flip-flops copied into multipliers removed"]
    assert netlists.counts(netlist) == before - Counter({"TRELLIS_FF": 48})
    assert "REG_INPUTA_CLK" not in multiplier(netlist["modules"]["top"])["parameters"]


@pytest.mark.fpga
def test_operand_register_feeding_two_multipliers_is_copied_into_both(netlists):
    netlist = netlists.synth(SharedOperand())
    before = netlists.counts(netlist)
    assert packed(netlist) == 2 * [
        "output register from 32 flip-flops, input A register from 16 flip-flops, input B register from 16 flip-flops"
    ] + ["48 of 48 operand flip-flops copied into multipliers removed"]
    assert netlists.counts(netlist) == before - Counter({"TRELLIS_FF": 48 + 64})
    a = set(netlists.port_bits(netlist, "a"))
    cells = [cell for cell in netlist["modules"]["top"]["cells"].values() if cell["type"] == "MULT18X18D"]
    assert all(a in ({cell["connections"][f"{port}{i}"][0] for i in range(16)} for port in "AB") for cell in cells)
    for cell in cells:
        assert (selected(cell, "INPUTA", "CE"), selected(cell, "INPUTA", "RST")) == (["1"], netlists.port_bits(netlist, "rst"))


PAIR = """
module pair(input clk, rst, input [15:0] a, b, input ea, eb, ep, output [31:0] {outputs});
  {instances}
endmodule
"""

BENCH = """
module bench;
  reg clk = 0, rst = 1, ea = 0, eb = 0, ep = 0;
  reg [15:0] a = 0, b = 0;
  wire [31:0] {outputs};
  integer cycle = 0, changes = 0;
  integer differences [0:{broken}];
  reg [31:0] last = 0;
  pair dut(.clk(clk), .rst(rst), .a(a), .b(b), .ea(ea), .eb(eb), .ep(ep), {connections});
  always #5 clk = ~clk;
  initial for (integer i = 0; i <= {broken}; i = i + 1) differences[i] = 0;
  always @(negedge clk) begin
    if (p_after !== p_before) begin $display("MISMATCH %0d %h %h", cycle, p_before, p_after); $fatal(1); end
    {count}
    changes = changes + (p_before !== last);
    last = p_before;
    rst = $urandom % 16 == 0; ea = $urandom % 2; eb = $urandom % 2; ep = $urandom % 2;
    a = $urandom; b = $urandom;
    cycle = cycle + 1;
    if (cycle == 3000) begin
      $write("RESULT %0d", changes);
      for (integer i = 0; i <= {broken}; i = i + 1) $write(" %0d", differences[i]);
      $display("");
      $finish;
    end
  end
endmodule
"""


def broken_copies(packed: dict) -> dict[str, dict]:
    """Copies of the packed module with one thing wired wrong each."""
    def copy_with(change):
        module = copy.deepcopy(packed)
        change(multiplier(module))
        return module

    def set_parameter(name, value):
        return lambda cell: cell["parameters"].__setitem__(name, value)

    def output_always_enabled(cell):
        cell["connections"][cell["parameters"]["REG_OUTPUT_CE"]] = ["1"]

    return {
        "output_always_enabled": copy_with(output_always_enabled),
        "a_with_b_enable": copy_with(lambda cell: cell["parameters"].__setitem__(
            "REG_INPUTA_CE", cell["parameters"]["REG_INPUTB_CE"])),
        "a_unregistered": copy_with(set_parameter("REG_INPUTA_CLK", "NONE")),
        "output_unregistered": copy_with(set_parameter("REG_OUTPUT_CLK", "NONE")),
    }


@pytest.mark.fpga
@pytest.mark.rtl
def test_packed_netlist_computes_the_same(netlists):
    """The packed netlist and Yosys's, both under Yosys's ECP5 cell models and a behavioural MULT18X18D,
    give the same product on random operands, enables and resets; and this check would notice an
    output register enabled always, an input register with another one's enable, or a register left
    off (one cycle of latency missing)."""
    netlist = netlists.synth(RegisteredMultiply())
    top = netlist["modules"]["top"]
    packed = copy.deepcopy(netlist)
    assert pack_registers(packed, "top")
    packed_top = packed["modules"]["top"]
    broken = broken_copies(packed_top)
    modules = {"before": top, "after": packed_top, **broken}
    outputs = ", ".join(f"p_{name}" for name in modules)
    instances = "\n  ".join(f"mul_{name} {name}(.clk(clk), .rst(rst), .a(a), .b(b), .ea(ea), .eb(eb), .ep(ep), "
                            f".p(p_{name}));" for name in modules)
    count = " ".join(f"differences[{i}] = differences[{i}] + (p_{name} !== p_before);"
                     for i, name in enumerate(broken))
    bench = BENCH.format(outputs=outputs, broken=len(broken) - 1, count=count,
                         connections=", ".join(f".p_{name}(p_{name})" for name in modules))
    output = netlists.simulate(modules, "mul", MODEL, PAIR.format(outputs=outputs, instances=instances), bench)
    changes, *differences = map(int, output.split("RESULT")[1].split()[:1 + len(broken)])
    assert changes > 1000
    assert all(differences), dict(zip(broken, differences))
