"""The xnor engine's Verilog: deterministic, lint-clean for several shapes; the MVTU block builds alone and
sums its windows whatever bubbles carry."""

import random

import pytest
from amaranth.back import verilog

from accel.spec import XnorSpec
from rtl_gen.export import export, lint, verilog_for
from rtl_gen.xnor.mvtu import Mvtu


@pytest.mark.parametrize("spec", [XnorSpec(pe=1, simd=2, weight_depth=16, threshold_depth=4, input_depth=16,
                                           max_reduction=2, port_bits=32),
                                  XnorSpec(pe=4, simd=8), XnorSpec(pe=2, simd=128, port_bits=128, input_bits=1)],
                         ids=["1x2", "4x8", "2x128"])
def test_engine_verilog_is_lint_clean(spec, tmp_path):
    lint(export(spec, tmp_path))


def test_verilog_is_deterministic():
    spec = XnorSpec(pe=2, simd=16)
    assert verilog_for(spec) == verilog_for(spec)


def test_mvtu_alone_is_lint_clean(tmp_path):
    path = tmp_path / "mvtu.v"
    path.write_text(verilog.convert(Mvtu(XnorSpec(pe=4, simd=32)), name="mvtu", emit_src=False))
    lint(path, top="mvtu")


def test_mvtu_sums_steps_and_ignores_bubbles(simulate):
    """Windows of random steps (two planes: Horner) with bubbles between them whose payload is garbage —
    restart and plane flags included — under random output backpressure: each chunk's integers are the
    windows' count sums minus their thresholds."""
    spec = XnorSpec(pe=2, simd=8, input_bits=2, max_reduction=64, threshold_depth=4)
    dut = Mvtu(spec)
    rng = random.Random(6)
    thresholds = [[rng.randrange(0, 40) for _ in range(spec.pe)] for _ in range(spec.threshold_depth)]
    windows, expected = [], []
    for _ in range(30):
        planes, words, entry = rng.randint(1, 2), rng.randint(1, 3), rng.randrange(spec.threshold_depth)
        steps, acc = [], [0] * spec.pe
        for j in range(planes):
            for f in range(words):
                word = rng.getrandbits(spec.simd)
                weights = [rng.getrandbits(spec.simd) for _ in range(spec.pe)]
                counts = [bin(~(word ^ w) & 0xFF).count("1") for w in weights]
                acc = [(2 * a if f == 0 else a) + c for a, c in zip(acc, counts)]
                steps.append(dict(input=word, weights=weights, threshold=entry, first=int(j == f == 0),
                                  plane_first=int(f == 0), last=int(j == planes - 1 and f == words - 1),
                                  pool_first=1, pool_last=1, final=0))
        windows.append(steps)
        expected.append([a - t for a, t in zip(acc, thresholds[entry])])
    steps = [step for window in windows for step in window]
    received = []

    async def testbench(ctx):
        sent, data = 0, None
        for _ in range(20 * len(steps)):
            offering = sent < len(steps) and rng.random() < 0.7
            payload = steps[sent] if offering else dict(  # a bubble: garbage, flags included
                input=rng.getrandbits(8), weights=[rng.getrandbits(8) for _ in range(spec.pe)],
                threshold=rng.randrange(4), **{t: rng.getrandbits(1) for t in ("first", "plane_first", "last",
                                                                                  "pool_first", "pool_last")},
                final=0)
            for name, value in payload.items():
                if name == "weights":
                    for p, w in enumerate(value):
                        ctx.set(dut.i.payload.weights[p], w)
                else:
                    ctx.set(getattr(dut.i.payload, name), value)
            ctx.set(dut.i.valid, offering)
            ctx.set(dut.o.ready, rng.random() < 0.7)
            if offering and ctx.get(dut.i.ready):
                sent += 1
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                received.append([ctx.get(dut.o.payload.ints[p]) for p in range(spec.pe)])
            read = ctx.get(dut.t_en), ctx.get(dut.t_addr)
            await ctx.tick()
            if read[0]:
                for p, t in enumerate(thresholds[read[1] % spec.threshold_depth]):
                    ctx.set(dut.t_data[p], t)
            if len(received) == len(expected):
                return

    simulate(dut, testbench)
    assert received == expected
