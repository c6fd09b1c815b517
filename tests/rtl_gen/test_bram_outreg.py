import copy
from collections import Counter
from pathlib import Path

import pytest
from amaranth import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from rtl_gen.bram_outreg import pack_output_registers

MODEL = Path(__file__).with_name("dp16kd_model.v")


class RamThenRegister(wiring.Component):
    """A 512x16 RAM whose read data is registered (with reset, and with enable ``oe`` if ``enable``);
    with ``tap``, the read data also leaves the block unregistered."""

    waddr: In(9)
    wdata: In(16)
    we: In(1)
    raddr: In(9)
    en: In(1)
    oe: In(1)
    q: Out(16)
    tap: Out(16)

    def __init__(self, *, enable: bool, tap: bool = False):
        self.enable, self.with_tap = enable, tap
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=16, depth=512, init=[])
        write, read = mem.write_port(), mem.read_port()
        m.d.comb += [write.addr.eq(self.waddr), write.data.eq(self.wdata), write.en.eq(self.we),
                     read.addr.eq(self.raddr), read.en.eq(self.en)]
        with m.If(self.oe if self.enable else 1):
            m.d.sync += self.q.eq(read.data)
        if self.with_tap:
            m.d.comb += self.tap.eq(read.data)
        return m


class RomThenRegister(wiring.Component):
    """A 512x16 ROM whose read data is registered, with or without reset."""

    raddr: In(9)
    q: Out(16)

    def __init__(self, *, reset: bool):
        self.reset = reset
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = memory.Memory(shape=16, depth=512, init=[(i * 40503) % 65536 for i in range(512)])
        read = rom.read_port()
        q = Signal(16, reset_less=not self.reset)
        m.d.comb += [read.addr.eq(self.raddr), self.q.eq(q)]
        m.d.sync += q.eq(read.data)
        return m


def ram(netlist) -> dict:
    [cell] = [cell for cell in netlist["modules"]["top"]["cells"].values() if cell["type"] == "DP16KD"]
    return cell


@pytest.mark.fpga
@pytest.mark.parametrize("enable", [False, True])
def test_register_with_reset_after_ram_moves_into_output_register(netlists, enable):
    netlist = netlists.synth(RamThenRegister(enable=enable))
    before = netlists.counts(netlist)
    assert ram(netlist)["parameters"]["REGMODE_B"] == "NOREG"
    lines = pack_output_registers(netlist, "top")
    # The 16 data registers move back through Yosys's read/write collision multiplexer: they leave, and
    # its two other inputs (bypass data, shared, and the collision flag) are registered instead.
    assert lines == ["mem.0.0 port B: 16 flip-flops packed, 17 added"]
    cell = ram(netlist)
    assert cell["parameters"]["REGMODE_B"] == "OUTREG"
    assert cell["connections"]["OCEB"] == (netlists.port_bits(netlist, "oe") if enable else ["1"])
    assert netlists.counts(netlist) == before + Counter({"TRELLIS_FF": 1})
    q_drivers = {bit for cell in netlist["modules"]["top"]["cells"].values() if cell["type"] == "LUT4"
                 for bit in cell["connections"]["Z"]}
    assert set(netlists.port_bits(netlist, "q")) <= q_drivers


@pytest.mark.fpga
def test_reset_free_register_after_rom_becomes_output_register(netlists):
    netlist = netlists.synth(RomThenRegister(reset=False))
    before = netlists.counts(netlist)
    assert pack_output_registers(netlist, "top") == ["rom.0.0 port A: 16 flip-flops packed, 0 added"]
    cell = ram(netlist)
    assert cell["parameters"]["REGMODE_A"] == "OUTREG"
    assert cell["connections"]["OCEA"] == ["1"]
    assert netlists.counts(netlist) == before - Counter({"TRELLIS_FF": 16})
    assert sorted(cell["connections"][f"DOA{i}"][0] for i in range(16)) == sorted(netlists.port_bits(netlist, "q"))


@pytest.mark.fpga
@pytest.mark.parametrize("design", [RamThenRegister(enable=True, tap=True), RomThenRegister(reset=True)],
                         ids=["ram_output_also_feeds_logic", "rom_register_with_reset"])
def test_not_packed(netlists, design):
    netlist = netlists.synth(design)
    original = copy.deepcopy(netlist)
    assert pack_output_registers(netlist, "top") == []
    assert netlist == original


PAIR = """
module pair(input clk, rst, input [8:0] waddr, raddr, input [15:0] wdata, input we, en, oe,
            output [15:0] q_before, q_after, q_oce_1, q_noreg);
  {instances}
endmodule
"""

BENCH = """
module bench;
  reg clk = 0, rst = 1, we = 0, en = 0, oe = 0;
  reg [8:0] waddr = 0, raddr = 0;
  reg [15:0] wdata = 0;
  wire [15:0] q_before, q_after, q_oce_1, q_noreg;
  integer cycle = 0, oce_1 = 0, noreg = 0, changes = 0;
  reg [15:0] last = 0;
  pair dut(.clk(clk), .rst(rst), .waddr(waddr), .raddr(raddr), .wdata(wdata), .we(we), .en(en), .oe(oe),
           .q_before(q_before), .q_after(q_after), .q_oce_1(q_oce_1), .q_noreg(q_noreg));
  always #5 clk = ~clk;
  always @(negedge clk) begin
    if (q_after !== q_before) begin $display("MISMATCH %0d %h %h", cycle, q_before, q_after); $fatal(1); end
    oce_1 = oce_1 + (q_oce_1 !== q_before);
    noreg = noreg + (q_noreg !== q_before);
    changes = changes + (q_before !== last);
    last = q_before;
    rst = $urandom % 16 == 0; we = $urandom % 2; en = $urandom % 2; oe = $urandom % 2;
    waddr = $urandom % 8; raddr = $urandom % 8; wdata = $urandom;
    cycle = cycle + 1;
    if (cycle == 3000) begin $display("RESULT %0d %0d %0d", changes, oce_1, noreg); $finish; end
  end
endmodule
"""


@pytest.mark.fpga
@pytest.mark.rtl
def test_packed_netlist_computes_the_same(netlists):
    """The packed netlist and Yosys's, both under Yosys's ECP5 cell models and a behavioural DP16KD, give
    the same output on random writes, reads, enables and resets; and this check would notice an output
    register enabled always (``OCEB = 1``) or a packed port left without its output register."""
    netlist = netlists.synth(RamThenRegister(enable=True))
    top = netlist["modules"]["top"]
    packed = copy.deepcopy(netlist)
    assert pack_output_registers(packed, "top")
    packed_top = packed["modules"]["top"]
    oce_1, noreg = copy.deepcopy(packed_top), copy.deepcopy(packed_top)
    [oce_1_ram] = [cell for cell in oce_1["cells"].values() if cell["type"] == "DP16KD"]
    oce_1_ram["connections"]["OCEB"] = ["1"]
    [noreg_ram] = [cell for cell in noreg["cells"].values() if cell["type"] == "DP16KD"]
    noreg_ram["parameters"]["REGMODE_B"] = "NOREG"
    modules = {"before": top, "after": packed_top, "oce_1": oce_1, "noreg": noreg}
    instances = "\n  ".join(f"ram_{name} {name}(.clk(clk), .rst(rst), .waddr(waddr), .raddr(raddr), .wdata(wdata), "
                            f".we(we), .en(en), .oe(oe), .q(q_{name}));" for name in modules)
    output = netlists.simulate(modules, "ram", MODEL, PAIR.format(instances=instances), BENCH)
    changes, oce_1_differences, noreg_differences = map(int, output.split("RESULT")[1].split()[:3])
    assert changes > 500
    assert oce_1_differences > 0
    assert noreg_differences > 0
