"""mac_array blocks alone in Amaranth's simulator: the load unit, the convolution buffer and the pooling reducer."""

import random

import numpy as np
import pytest

from accel.spec import MacArraySpec
from rtl_gen.mac_array.load import LoadUnit

SPEC = MacArraySpec()
MASK = (1 << (8 * SPEC.atomic_c)) - 1


def beat(address: int) -> int:
    return (address * 0x9E3779B97F4A7C15 + 0x1234) & MASK


@pytest.mark.parametrize("load", [
    dict(weight=0, address=0x100, index=5, count=1, groups=3, src_stride=0x40, dst_stride=7),  # one-beat runs
    dict(weight=0, address=0x800, index=0, count=2, groups=3, src_stride=0x18, dst_stride=4),
    dict(weight=0, address=0x40, index=9, count=5, groups=2, src_stride=0x100, dst_stride=11),
    dict(weight=0, address=0x40, index=9, count=0, groups=2, src_stride=0x100, dst_stride=11),  # nothing
    dict(weight=1, address=0x200, index=3, count=2 * SPEC.atomic_k, groups=1, src_stride=0, dst_stride=0),
    dict(weight=1, address=0x200, index=1, count=1, groups=2 * SPEC.atomic_k + 1, src_stride=8, dst_stride=0),
])
def test_load_unit_requests_and_writes(load, simulate):
    """Random request backpressure and return latencies: the unit requests every beat of every run once, in
    order, and writes each arriving beat to its atom (features) or to consecutive lanes of weight blocks;
    ``busy`` drops the cycle after the last write."""
    dut = LoadUnit(SPEC)
    rng = random.Random(load["count"] * 31 + load["groups"])
    runs = [(g, b) for g in range(load["groups"]) for b in range(load["count"])]
    expected_requests = [load["address"] + g * load["src_stride"] + b * SPEC.beat_bytes for g, b in runs]
    if load["weight"]:
        places = [(load["index"] + n // SPEC.atomic_k, n % SPEC.atomic_k) for n in range(len(runs))]
    else:
        places = [(load["index"] + g * load["dst_stride"] + b, 0) for g, b in runs]
    expected_writes = [(load["weight"], index, lane, beat(address))
                       for (index, lane), address in zip(places, expected_requests)]
    requests, writes = [], []

    async def testbench(ctx):
        for name, value in load.items():
            ctx.set(getattr(dut, name), value)
        ctx.set(dut.empty, load["count"] == 0 or load["groups"] == 0)
        ctx.set(dut.one_beat, load["count"] == 1)
        ctx.set(dut.one_run, load["groups"] == 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        in_flight = []  # (cycle due, address)
        idle_since = None
        for cycle in range(40 * (len(runs) + 2)):
            ready = rng.random() < 0.6
            ctx.set(dut.rd_req.ready, ready)
            due = bool(in_flight) and in_flight[0][0] <= cycle
            ctx.set(dut.rd_data.valid, due)
            if due:
                ctx.set(dut.rd_data.payload, beat(in_flight[0][1]))
            if ctx.get(dut.write_en):
                writes.append((ctx.get(dut.write_weight), ctx.get(dut.write_index), ctx.get(dut.write_lane),
                               ctx.get(dut.write_data)))
            if ready and ctx.get(dut.rd_req.valid):
                address = ctx.get(dut.rd_req.payload)
                requests.append(address)
                latency = rng.randint(1, 6)
                in_flight.append((max([cycle + latency] + [c for c, _ in in_flight]), address))
            if due:
                in_flight.pop(0)
            if not ctx.get(dut.busy):
                assert not in_flight and len(writes) == len(runs), "busy dropped before the last write"
                idle_since = cycle if idle_since is None else idle_since
                if cycle - idle_since > 3:
                    return
            await ctx.tick()
        raise AssertionError("the load never finished")

    simulate(dut, testbench)
    assert requests == expected_requests
    assert writes == expected_writes


@pytest.mark.parametrize("spec, feature_banks", [
    (MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1), 4),
    (MacArraySpec(atomic_c=4, atomic_k=4, banks=32, bank_kib=1), 20),  # several banks per output OR gate
])
def test_conv_buffer_reads_what_was_written(spec, feature_banks, simulate):
    """Random writes and reads on both ports every cycle: each read returns, READ_LATENCY cycles after its
    index, the atom(s) as written by the writes presented two cycles or more before it (a read presented
    in the cycle of a write of the same entry or the next is undefined on the FPGA and not checked)."""
    from rtl_gen.mac_array.cbuf import READ_LATENCY, ConvBuffer

    dut = ConvBuffer(spec)
    rng = random.Random(feature_banks)
    atom_bits = 8 * spec.atomic_c
    atoms = feature_banks * spec.bank_entries
    blocks = (spec.banks - feature_banks) // spec.atomic_k * spec.bank_entries
    features, weights = {}, {}  # atom → data; (block, lane) → data
    checked = []

    async def testbench(ctx):
        ctx.set(dut.feature_banks, feature_banks)
        expected = {}  # cycle → (feature atom, weight lanes) due then
        previous = None  # the write presented in the last cycle: (weight, index, lane, value)
        for cycle in range(1500):
            if cycle in expected:
                feature, lanes = expected.pop(cycle)
                weight_bits = ctx.get(dut.weight_data.as_value())
                got = [weight_bits >> (atom_bits * k) & ((1 << atom_bits) - 1) for k in range(spec.atomic_k)]
                assert (ctx.get(dut.feature_data), got) == (feature, lanes), cycle
                checked.append(cycle)
            atom, block = rng.randrange(atoms), rng.randrange(blocks)
            ctx.set(dut.feature_index, atom)
            ctx.set(dut.weight_index, block)
            write = rng.random() < 0.6
            weight, index, lane = rng.random() < 0.5, rng.randrange(64), rng.randrange(spec.atomic_k)
            index = index % (blocks if weight else atoms) if rng.random() < 0.5 else (block if weight else atom)
            value = rng.getrandbits(atom_bits)
            ctx.set(dut.write_en, write)
            ctx.set(dut.write_weight, weight)
            ctx.set(dut.write_index, index)
            ctx.set(dut.write_lane, lane)
            ctx.set(dut.write_data, value)
            if not any(w and w[1] == (block if w[0] else atom) for w in (previous, write and (weight, index))):
                expected[cycle + READ_LATENCY] = (
                    features.get(atom, 0), [weights.get((block, k), 0) for k in range(spec.atomic_k)])
            if previous and previous[0]:
                weights[previous[1:3]] = previous[3]
            elif previous:
                features[previous[1]] = previous[3]
            previous = write and (weight, index, lane, value)
            await ctx.tick()

    simulate(dut, testbench)
    assert len(checked) > 1000


@pytest.mark.parametrize("average", [0, 1])
def test_pool_reducer_every_window_size(average, simulate):
    """Windows of every count of positions inside the map, 1 to 121 (11 × 11: both halves of the
    reciprocal table), some with positions outside it, random and extreme int8 values, the output port
    refusing at random: each window's max, or its average rounded half away from zero (accel.int8)."""
    from accel.int8 import rounded_average
    from rtl_gen.mac_array.pool import MAX_COUNT, PoolReducer

    lanes = 4
    dut = PoolReducer(lanes)
    rng = random.Random(average)
    windows = []  # per window, its steps: (inside, lane values)
    for count in [*range(1, MAX_COUNT + 1), MAX_COUNT, 1]:
        extreme = rng.choice([-128, 127, None])
        steps = [(1, [extreme if extreme is not None else rng.randint(-128, 127) for _ in range(lanes)])
                 for _ in range(count)]
        for _ in range(rng.randint(0, 3)):  # positions outside the map: skipped
            steps.insert(rng.randint(0, len(steps)), (0, [rng.randint(-128, 127) for _ in range(lanes)]))
        windows.append(steps)
    expected = []
    for steps in windows:
        inside = np.array([values for flag, values in steps if flag])
        expected.append(list(rounded_average(inside.sum(axis=0), len(inside)) if average else inside.max(axis=0)))
    items = [(flag, values, n == 0, n == len(steps) - 1) for steps in windows for n, (flag, values) in enumerate(steps)]
    received = []

    async def testbench(ctx):
        ctx.set(dut.average, average)
        sent = 0
        while len(received) < len(windows):
            offering = sent < len(items)
            if offering:
                inside, values, first, last = items[sent]
                ctx.set(dut.i.payload.atom, values)
                ctx.set(dut.i.payload.inside, inside)
                ctx.set(dut.i.payload.first, first)
                ctx.set(dut.i.payload.last, last)
            ctx.set(dut.i.valid, offering)
            ctx.set(dut.o.ready, rng.random() < 0.8)
            if offering and ctx.get(dut.i.ready):
                sent += 1
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                received.append([int(v) for v in ctx.get(dut.o.payload.value)])
            await ctx.tick()

    simulate(dut, testbench)
    assert received == expected
