"""rtl_gen.axi: the burst former against AXI's burst rules (Amaranth simulation). The wrapped engine's
Verilog and lint: tests/accel/test_cli_wrap.py; the wrapped engines running: tests/sim/test_axi.py."""

import pytest

from rtl_gen.axi.master import MAX_BURST, PAGE, BurstFormer


def expected_bursts(addresses: list[int], beat: int) -> list[tuple[int, int]]:
    """Runs of consecutive addresses, split at 256 beats and at 4 KB boundaries: (address, axlen)."""
    bursts = []
    for address in addresses:
        if bursts:
            start, length = bursts[-1]
            if address == start + (length + 1) * beat and length + 1 < MAX_BURST and address % PAGE:
                bursts[-1] = (start, length + 1)
                continue
        bursts.append((address, 0))
    return bursts


@pytest.mark.parametrize("gaps", [False, True])
def test_burst_former_splits_at_256_beats_and_4k_pages(simulate, gaps):
    """Sequential beats across a page boundary and longer than 256 beats, a jump back, single beats; with
    ``gaps``, idle cycles between some beats (each idle cycle closes the open burst) and no room at times."""
    beat = 8
    addresses = ([0x0F00 + beat * n for n in range(300)] + [0x0800 + beat * n for n in range(600)]
                 + [0x2000, 0x3000, 0x3008, 0x0000])
    dut = BurstFormer(32, beat)
    emitted = []
    idle_after = set(range(5, len(addresses), 37)) if gaps else set()
    full_at = set(range(3, len(addresses), 53)) if gaps else set()

    async def testbench(ctx):
        pending, n, cycle = list(addresses), 0, 0
        while pending or ctx.get(dut.busy):
            ctx.set(dut.room, cycle not in full_at)
            push = bool(pending) and n not in idle_after
            ctx.set(dut.push, push)
            if push:
                ctx.set(dut.address, pending[0])
            taken = push and ctx.get(dut.ready)
            if ctx.get(dut.emit):
                emitted.append((ctx.get(dut.burst.address), ctx.get(dut.burst.len)))
            await ctx.tick()
            if taken:
                pending.pop(0)
                n += 1
            elif not push:
                idle_after.discard(n)
            cycle += 1

    simulate(dut, testbench)
    beats = sum(length + 1 for _, length in emitted)
    assert beats == len(addresses)
    assert all(address % PAGE + (length + 1) * beat <= PAGE and length < MAX_BURST for address, length in emitted)
    if not gaps:
        assert emitted == expected_bursts(addresses, beat)
    else:  # every idle cycle closes the open burst: more bursts, the same beats in order
        assert len(emitted) > len(expected_bursts(addresses, beat))
    assert [a for a, length in emitted for a in range(a, a + (length + 1) * beat, beat)] == addresses
