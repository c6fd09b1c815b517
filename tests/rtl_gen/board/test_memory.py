"""The image memory's AXI4 slave in Amaranth's simulator: bursts written and read back, a beat a cycle after
the stated first-beat latency, SLVERR beyond the memory."""

import random

from amaranth.sim import Simulator

from rtl_gen.board.memory import RESP_OKAY, RESP_SLVERR, ImageMemory

SIZE = 1024  # bytes, 64-bit beats


def run(testbench):
    dut = ImageMemory(SIZE, 64)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(ctx, dut)

    sim.add_testbench(bench)
    sim.run()


async def write_burst(ctx, dut, address, beats):
    ctx.set(dut.s_axi_awaddr, address)
    ctx.set(dut.s_axi_awlen, len(beats) - 1)
    ctx.set(dut.s_axi_awvalid, 1)
    await ctx.tick().until(dut.s_axi_awready)
    ctx.set(dut.s_axi_awvalid, 0)
    ctx.set(dut.s_axi_wstrb, 0xFF)
    for n, beat in enumerate(beats):
        ctx.set(dut.s_axi_wdata, beat)
        ctx.set(dut.s_axi_wlast, n == len(beats) - 1)
        ctx.set(dut.s_axi_wvalid, 1)
        await ctx.tick().until(dut.s_axi_wready)
    ctx.set(dut.s_axi_wvalid, 0)
    ctx.set(dut.s_axi_bready, 1)
    resp, = await ctx.tick().sample(dut.s_axi_bresp).until(dut.s_axi_bvalid)
    ctx.set(dut.s_axi_bready, 0)
    return resp


async def read_burst(ctx, dut, address, count):
    """The beats (data, resp, last) and the cycle of each, counted from the cycle the address was accepted."""
    ctx.set(dut.s_axi_araddr, address)
    ctx.set(dut.s_axi_arlen, count - 1)
    ctx.set(dut.s_axi_arvalid, 1)
    ctx.set(dut.s_axi_rready, 1)
    await ctx.tick().until(dut.s_axi_arready)
    ctx.set(dut.s_axi_arvalid, 0)
    beats, cycle = [], 0
    while len(beats) < count:
        cycle += 1
        if ctx.get(dut.s_axi_rvalid):
            beats.append((ctx.get(dut.s_axi_rdata), ctx.get(dut.s_axi_rresp), ctx.get(dut.s_axi_rlast), cycle))
        await ctx.tick()
    ctx.set(dut.s_axi_rready, 0)
    return beats


def test_bursts_round_trip_at_a_beat_a_cycle():
    data = [random.Random(3).getrandbits(64) for _ in range(16)]

    async def bench(ctx, dut):
        assert await write_burst(ctx, dut, 0x80, data) == RESP_OKAY
        beats = await read_burst(ctx, dut, 0x80, 16)
        assert [b[0] for b in beats] == data
        assert [b[1] for b in beats] == [RESP_OKAY] * 16 and [b[2] for b in beats] == [0] * 15 + [1]
        assert [b[3] for b in beats] == list(range(3, 19))  # first beat 3 cycles after the address

    run(bench)


def test_beats_beyond_the_memory_are_slverr():
    async def bench(ctx, dut):
        assert await write_burst(ctx, dut, SIZE - 8, [1, 2]) == RESP_SLVERR
        beats = await read_burst(ctx, dut, SIZE - 8, 2)
        assert [(b[0], b[1]) for b in beats] == [(1, RESP_OKAY), (0, RESP_SLVERR)]

    run(bench)
