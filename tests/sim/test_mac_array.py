"""mac_array: compiler + golden against the int8 reference; RTL against golden (bits) and perf (cycles).

Random layers cover C and K that are not multiples of the atomic sizes, strides 1 and 2, padding,
1×1/3×3/5×5/7×7 kernels, dense layers (with input-channel chunks on the small buffer), grouped and
depthwise convolutions and int8 extremes; the small 4×4 configuration forces row bands, weight tiles
and chunking on small layers. Hand-built Programs split convolutions into passes that carry int32 partial
sums through DRAM.
"""

import numpy as np
import pytest

from accel import int8
from accel.compiler.mac_array import ConvShape, lower, plan
from accel.errors import UserError
from accel.isa.mac_array import WORK
from accel.nn.qgraph import QDense
from accel.nn.random_layers import random_layer
from accel.spec import MacArraySpec
from sim.golden.mac_array import run as golden
from sim.perf.mac_array import run as perf

SMALL_4x4 = MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1)
DEFAULT_8x8 = MacArraySpec()
SPECS = {"4x4": SMALL_4x4, "8x8": DEFAULT_8x8}


def random_config(rng: np.random.Generator) -> dict:
    kind = rng.choice(["conv", "conv", "conv", "dense", "depthwise", "grouped", "large"])
    if kind == "large":  # more feature data than the small buffer holds: row bands with halos
        r = int(rng.choice([1, 3]))
        return dict(c=int(rng.integers(20, 41)), h=int(rng.integers(14, 25)), w=int(rng.integers(14, 25)),
                    k=int(rng.integers(1, 13)), r=r, pad=r // 2, stride=int(rng.choice([1, 2])))
    if kind == "dense":
        return dict(dense=True, c=int(rng.choice([int(rng.integers(1, 80)), int(rng.integers(900, 1400))])),
                    k=int(rng.integers(1, 20)), extremes=bool(rng.random() < 0.2))
    r = int(rng.choice([1, 3, 5, 7]))
    h, w = int(rng.integers(max(2, r - 2), 13)), int(rng.integers(max(2, r - 2), 13))
    pad = int(rng.integers(0, r // 2 + 1))
    h, w = max(h, r - 2 * pad), max(w, r - 2 * pad)
    config = dict(h=h, w=w, r=r, pad=pad, stride=int(rng.choice([1, 2])), extremes=bool(rng.random() < 0.2),
                  activation=str(rng.choice(["none", "relu", "relu6"])))
    if kind == "depthwise":
        c = int(rng.integers(1, 20))
        return config | dict(c=c, k=c, groups=c)
    if kind == "grouped":
        groups = int(rng.integers(2, 4))
        return config | dict(c=groups * int(rng.integers(1, 6)), k=groups * int(rng.integers(1, 6)), groups=groups)
    return config | dict(c=int(rng.integers(1, 21)), k=int(rng.integers(1, 21)))


def reference(op, x, x_zp):
    if isinstance(op, QDense):
        return int8.dense(x[None], x_zp, op.weight, op.bias, op.requant)[0][:, None, None]
    return int8.conv2d(x[None], x_zp, op.weight, op.bias, op.requant, stride=op.stride, padding=op.padding,
                       groups=op.groups)[0]


def random_layers(spec: MacArraySpec, count: int, seed: int):
    rng = np.random.default_rng(seed)
    layers = []
    while len(layers) < count:
        config = random_config(rng)
        op, x, x_zp = random_layer(rng, **config)
        layers.append((config, op, x, x_zp, lower(spec, op, x, x_zp)))
    return layers


@pytest.mark.parametrize("name", SPECS)
def test_golden_equals_int8_reference(name):
    for config, op, x, x_zp, lowered in random_layers(SPECS[name], 150, seed=1):
        got = lowered.output(golden(lowered.program).memory)
        assert np.array_equal(got, reference(op, x, x_zp)), config


def test_small_buffer_exercises_every_tiling():
    mappings = [lowered.mapping for *_, lowered in random_layers(SMALL_4x4, 150, seed=1)]
    assert any(m.bands > 1 for m in mappings)
    assert any(m.weight_tiles > 1 for m in mappings)
    assert any(m.chunks > 1 for m in mappings)
    assert {m.mode for m in mappings} == {"weight-reuse", "data-reuse"}


def test_perf_counters_partition_the_cycles():
    for *_, lowered in random_layers(DEFAULT_8x8, 30, seed=2):
        counts = perf(lowered.program).counters
        assert counts["cycles"] == sum(counts[k] for k in WORK)
        assert counts["mac_active"] == sum(c.out_h * c.out_w * c.ncg * c.kernel_h * c.kernel_w
                                           for c in lowered.program.commands if type(c).__name__ == "Conv")


def test_refusals_name_the_layer_shape_limit_and_setting():
    """Only hard limits are refused, each naming the layer, its shape, the limit and the --set that lifts it."""
    with pytest.raises(UserError, match=r"layer 'c1' \(8×20×20 input, 8 kernels of 13×13, stride 1, padding \(13, "
                                        r"0\)\): padding \(13, 0\) is not allowed; expected 0 <= padding < kernel"):
        plan(DEFAULT_8x8, ConvShape(8, 20, 20, 8, 13, 13, 1, 13, 0, 1), "c1")
    with pytest.raises(UserError, match=r"reduction C/groups·R·S = 73728 exceeds mac_array.max_reduction = 65536; "
                                        r"--set max_reduction=73728 lifts it"):
        plan(DEFAULT_8x8, ConvShape(8192, 4, 4, 8, 3, 3, 1, 1, 1, 1))
    with pytest.raises(UserError, match="stride 5 is not allowed; expected 1..4"):
        plan(DEFAULT_8x8, ConvShape(8, 20, 20, 8, 3, 3, 5, 0, 0, 1))
    with pytest.raises(UserError, match="no mapping .* has mode=data-reuse"):  # partial sums: weight-reuse only
        plan(SMALL_4x4, ConvShape(512, 400, 400, 8, 3, 3, 1, 1, 1, 1), mode="data-reuse")


@pytest.mark.rtl
@pytest.mark.parametrize("batch", range(3))
@pytest.mark.parametrize("name", SPECS)
def test_rtl_bits_and_cycles(name, batch, tmp_path):
    """20 random layers per batch: RTL memory == golden memory, RTL counters == perf counters."""
    from sim.rtl.execute import run as rtl

    spec = SPECS[name]
    layers = random_layers(spec, 20, seed=100 + batch)
    results = rtl([lowered.program for *_, lowered in layers], test_dir=tmp_path)
    for (config, *_, lowered), result in zip(layers, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory), config
        assert result.counters == perf(lowered.program).counters, config


@pytest.mark.rtl
@pytest.mark.parametrize("name", SPECS)
def test_rtl_random_memory_stalls_keep_the_bits(name, tmp_path):
    from sim.rtl.execute import run as rtl

    spec = SPECS[name]
    layers = random_layers(spec, 12, seed=200)
    results = rtl([lowered.program for *_, lowered in layers], stall=True, seed=7, test_dir=tmp_path)
    for (config, *_, lowered), result in zip(layers, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory), config
        assert result.cycles > perf(lowered.program).cycles


# (C, H=W, K, R, stride) on the 4×4 configuration, planned double-buffered with several bands and weight
# tiles: the next tile's weights (weight-reuse) or the next band (data-reuse) load spread over phases.
OVERLAPPED = {"weight-reuse": [(8, 20, 48, 3, 1), (8, 24, 32, 3, 2), (8, 24, 48, 3, 1)],
              "data-reuse": [(8, 20, 32, 3, 1), (12, 16, 48, 3, 1), (12, 16, 24, 3, 2)]}
RAMPED = [(4, 24, 8, 1, 1), (4, 20, 16, 3, 1)]  # all weights resident, bands ramping up from one row


@pytest.mark.rtl
@pytest.mark.parametrize("stall", [False, True])
def test_rtl_loads_spread_over_phases(stall, tmp_path):
    from sim.rtl.execute import run as rtl

    rng = np.random.default_rng(300)
    lowered = []
    for mode, shapes in OVERLAPPED.items():
        for c, h, k, r, stride in shapes:
            op, x, x_zp = random_layer(rng, c=c, h=h, w=h, k=k, r=r, stride=stride, pad=r // 2)
            layer = lower(SMALL_4x4, op, x, x_zp)
            m = layer.mapping
            assert (m.mode, m.double, m.bands > 1, m.weight_tiles > 1) == (mode, True, True, True)
            lowered.append(layer)
    for c, h, k, r, stride in RAMPED:
        op, x, x_zp = random_layer(rng, c=c, h=h, w=h, k=k, r=r, stride=stride, pad=r // 2)
        layer = lower(SMALL_4x4, op, x, x_zp)
        assert layer.mapping.ramp and layer.mapping.bands > 1, layer.mapping
        lowered.append(layer)
    results = rtl([layer.program for layer in lowered], stall=stall, seed=3, test_dir=tmp_path)
    for layer, result in zip(lowered, results):
        assert np.array_equal(result.memory, golden(layer.program).memory), layer.mapping
        if not stall:
            assert result.counters == perf(layer.program).counters, layer.mapping


def random_pool(rng: np.random.Generator, spec: MacArraySpec):
    from accel.nn.qgraph import QPool

    r = int(rng.integers(1, 8))
    s = int(rng.integers(1, 8)) if rng.random() < 0.3 else r
    stride = int(rng.integers(1, 4))
    pad = (int(rng.integers(0, r // 2 + 1)), int(rng.integers(0, s // 2 + 1)))
    c, h, w = int(rng.integers(1, 40)), int(rng.integers(r, 20)), int(rng.integers(s, 20))
    x = (rng.choice(np.array([-128, 127], np.int8), (c, h, w)) if rng.random() < 0.2
         else rng.integers(-128, 128, (c, h, w)).astype(np.int8))
    op = QPool("pool", "input", str(rng.choice(["max", "avg"])), (r, s), (stride, stride), pad)
    return op, x


def random_add(rng: np.random.Generator):
    from accel.int8 import AddRequant, QuantParams
    from accel.nn.qgraph import QAdd

    shape = (int(rng.integers(1, 40)), int(rng.integers(1, 30)), int(rng.integers(1, 30)))
    a, b = (rng.integers(-128, 128, shape).astype(np.int8) for _ in range(2))
    qa, qb = (QuantParams(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128))) for _ in range(2))
    out = QuantParams(float(rng.uniform(0.02, 0.4)), int(rng.integers(-20, 20)))
    activation = str(rng.choice(["none", "relu"]))
    return QAdd("add", "input", "input_b", AddRequant.from_params(qa, qb, out, activation)), a, b


def pools_and_adds(spec: MacArraySpec, count: int, seed: int):
    """(description, lowered, expected output) of random pooling and residual-add layers."""
    from accel.compiler.mac_array import lower_add, lower_pool

    rng = np.random.default_rng(seed)
    layers = []
    for n in range(count):
        if n % 2:
            op, x = random_pool(rng, spec)
            pool = int8.max_pool if op.kind == "max" else int8.avg_pool
            layers.append((op, lower_pool(spec, op, x), pool(x[None], op.kernel, op.stride, op.padding)[0]))
        else:
            op, a, b = random_add(rng)
            layers.append((op, lower_add(spec, op, a, b), op.requant.apply(a, b)))
    return layers


@pytest.mark.parametrize("name", SPECS)
def test_golden_pools_and_adds_equal_int8_reference(name):
    for op, lowered, expected in pools_and_adds(SPECS[name], 80, seed=3):
        assert np.array_equal(lowered.output(golden(lowered.program).memory), expected), op


@pytest.mark.rtl
@pytest.mark.parametrize("stall", [False, True])
@pytest.mark.parametrize("name", SPECS)
def test_rtl_pools_and_adds(name, stall, tmp_path):
    """Max and average pooling (windows to 7×7, strides to 3, padding) and residual additions; with
    random stalls on the memory port the bits stay the same (the output queues fill and hold the units)."""
    from sim.rtl.execute import run as rtl

    spec = SPECS[name]
    layers = pools_and_adds(spec, 20, seed=300)
    results = rtl([lowered.program for _, lowered, _ in layers], stall=stall, seed=9, test_dir=tmp_path)
    for (op, lowered, expected), result in zip(layers, results):
        assert np.array_equal(lowered.output(result.memory), expected), op
        assert np.array_equal(result.memory, golden(lowered.program).memory), op
        if stall:
            assert result.cycles > perf(lowered.program).cycles, op
        else:
            assert result.counters == perf(lowered.program).counters, op


@pytest.mark.rtl
def test_rtl_empty_additions(tmp_path):
    """An addition of no atoms completes without work, wherever it stands (after a load, between additions,
    with and without ``wait``): RTL counters == perf counters, RTL memory == golden memory."""
    from dataclasses import replace

    from accel.isa.mac_array import Config, Eltwise, LoadFeatures
    from accel.program import MemoryImage, Program
    from sim.rtl.execute import run as rtl

    memory = MemoryImage()
    memory.add("input", np.arange(-64, 64, dtype=np.int8))
    out = memory.reserve("output", 64).address
    add = Eltwise(0, 4, 4, 3, 1 << 30, 0, -5, 1 << 30, -1, 1 << 30, 0, 2, -128, 127, out, wait=0)

    def program(*commands):
        return Program(SMALL_4x4, [Config(4), LoadFeatures(0, 0, 16, 1, 0, 0, wait=1), *commands], memory)

    empty = replace(add, count=0)
    programs = [program(empty), program(replace(empty, wait=1), add),
                program(replace(add, wait=1), empty, replace(add, a_entry=8, out_address=out + 16)),
                program(replace(add, wait=1), replace(empty, wait=1), LoadFeatures(0, 20, 4, 1, 0, 0, wait=1))]
    for prog, result in zip(programs, rtl(programs, test_dir=tmp_path, words=1 << 12)):
        assert np.array_equal(result.memory, golden(prog).memory)
        assert result.counters == perf(prog).counters


def test_golden_rejects_a_load_racing_a_computation():
    """A load and a computation that may run at the same time (no ``wait`` orders them) must not touch the
    same buffer atoms: the RTL would race, so the golden executor rejects the Program."""
    from dataclasses import replace

    from accel.compiler.mac_array import lower_add
    from accel.isa.mac_array import Config, Eltwise, LoadFeatures
    from accel.program import MemoryImage, Program

    spec = SMALL_4x4
    memory = MemoryImage()
    memory.add("input", np.arange(64, dtype=np.int8))
    memory.reserve("output", 64)
    add = Eltwise(0, 4, 4, 0, 1 << 30, 0, 0, 1 << 30, 0, 1 << 30, 0, 0, -128, 127, 64, wait=1)

    def program(*commands):
        return Program(spec, [Config(4), LoadFeatures(0, 0, 8, 1, 0, 0, wait=1), *commands], memory)

    golden(program(add, LoadFeatures(0, 8, 4, 1, 0, 0, wait=0)))  # disjoint: may overlap
    golden(program(add, LoadFeatures(0, 6, 4, 1, 0, 0, wait=1)))  # same atoms, ordered
    golden(program(add, LoadFeatures(0, 8, 4, 1, 0, 0, wait=0), replace(add, wait=0)))
    with pytest.raises(ValueError, match="features 6: a load may run while a compute"):
        golden(program(add, LoadFeatures(0, 6, 4, 1, 0, 0, wait=0)))
    with pytest.raises(ValueError, match="features 7: a load may run while a compute"):  # behind a load
        golden(program(add, LoadFeatures(0, 12, 4, 1, 0, 0, wait=0), LoadFeatures(0, 7, 4, 1, 0, 0, wait=0)))
    with pytest.raises(ValueError, match="features 12: a compute may run while a load"):
        golden(program(add, LoadFeatures(0, 12, 4, 1, 0, 0, wait=0), replace(add, a_entry=12, wait=0)))
    with pytest.raises(ValueError, match="features 2: a compute may run while a load"):
        golden(program(LoadFeatures(0, 2, 1, 1, 0, 0, wait=0), replace(add, wait=0)))

    # The compiler's double-buffered additions: each chunk's addition waits for the loads of its chunk.
    lowered = lower_add(spec, *random_add(np.random.default_rng(2)))  # two chunks
    commands = lowered.program.commands
    golden(lowered.program)
    second = [n for n, c in enumerate(commands) if isinstance(c, Eltwise)][1]
    with pytest.raises(ValueError, match="a compute may run while a load"):
        golden(Program(spec, commands[:second] + [replace(commands[second], wait=0)] + commands[second + 1:],
                       lowered.program.memory))


def random_params(rng: np.random.Generator, spec: MacArraySpec) -> np.ndarray:
    """Parameter blocks (bias, M0, shift per kernel lane) of a kernel group."""
    ak = spec.atomic_k
    params = np.zeros((3, ak, spec.atomic_c), np.int8)
    words = np.stack([rng.integers(-2**20, 2**20, ak), rng.integers(2**29, 2**30, ak), np.full(ak, 12)])
    params[:, :, :4] = words.astype("<i4").view(np.int8).reshape(3, ak, 4)
    return params


def psum_pass_programs(spec: MacArraySpec, seed: int, passes: int, h: int = 3, w: int = 3, r: int = 3,
                       stride: int = 1):
    """One r×r convolution (pad r // 2) of ``passes`` channel groups to one kernel group, as a Program of one
    Conv and as one of ``passes`` Convs that carry int32 partial sums through DRAM (``psum_out``, a
    LoadFeatures of the sums, ``psum_in``); the output region is named ``output``."""
    from accel.isa.mac_array import PSUM_ATOMS, Config, Conv, LoadFeatures, LoadWeights
    from accel.program import MemoryImage, Program

    rng = np.random.default_rng(seed)
    ac, ak, pad = spec.atomic_c, spec.atomic_k, r // 2
    out_h, out_w = (h + 2 * pad - r) // stride + 1, (w + 2 * pad - r) // stride + 1
    pixels = out_h * out_w
    features = rng.integers(-128, 128, (passes, h, w, ac), dtype=np.int8)
    weights = rng.integers(-128, 128, (passes, r, r, ak, ac), dtype=np.int8)
    params = random_params(rng, spec)
    memory = MemoryImage()
    x = memory.add("features", features)
    wt = [memory.add(f"weights{p}", np.concatenate([params, weights[p].reshape(-1, ak, ac)])) for p in range(passes)]
    whole = memory.add("weights", np.concatenate([params, weights.reshape(-1, ak, ac)]))
    sums = [memory.reserve(f"psum{p}", pixels * PSUM_ATOMS * ac) for p in range(passes - 1)]
    out = memory.reserve("output", pixels * ak)
    fields = dict(cg_stride=h * w, in_h=h, in_w=w, kernel_h=r, kernel_w=r, stride=stride, y_off=-pad, x_off=-pad,
                  out_h=out_h, out_w=out_w, pad_value=-3, out_zp=5, lo=-128, hi=127, first=1, last=1, psum_entry=0,
                  psum_in=0, psum_out=0)
    fb = ak  # feature banks: features from atom 0, partial sums after them
    psum_entry = passes * h * w
    one = [Config(fb), LoadFeatures(x.address, 0, passes * h * w, 1, 0, 0, wait=0),
           LoadWeights(whole.address, 0, 3 + passes * r * r, wait=0),
           Conv(fbase=0, ncg=passes, wbase=0, out_address=out.address, wait=1, **fields)]
    split = [Config(fb), LoadFeatures(x.address, 0, passes * h * w, 1, 0, 0, wait=0)]
    for p in range(passes):
        split.append(LoadWeights(wt[p].address, 0, 3 + r * r, wait=1))
        if p:
            split.append(LoadFeatures(sums[p - 1].address, psum_entry, pixels * PSUM_ATOMS, 1, 0, 0, wait=1))
        split.append(Conv(**fields | dict(fbase=p * h * w, ncg=1, wbase=0, wait=1, psum_entry=psum_entry,
                                           psum_in=int(p > 0), psum_out=int(p < passes - 1),
                                           out_address=(sums[p].address if p < passes - 1 else out.address))))
    return Program(spec, one, memory), Program(spec, split, memory)


@pytest.mark.parametrize("passes", [2, 3])
def test_golden_partial_sums_equal_one_pass(passes):
    """Input channels split into passes that carry int32 partial sums (``psum_out`` → DRAM → ``psum_in``)
    give the output of one pass, and the partial sums in DRAM are the int32 sums so far."""
    for one, split in (psum_pass_programs(SMALL_4x4, passes, passes), psum_chunk_programs(SMALL_4x4, passes)):
        region = one.memory["output"]
        whole, parts = golden(one).memory, golden(split).memory
        assert np.array_equal(parts[region.address:region.end], whole[region.address:region.end])
        assert np.any(whole[region.address:region.end])


def test_golden_rejects_partial_sums_without_first_or_last():
    from dataclasses import replace

    from accel.isa.mac_array import Conv
    from accel.program import Program

    _, split = psum_pass_programs(SMALL_4x4, 0, 2)
    n = next(i for i, c in enumerate(split.commands) if isinstance(c, Conv))
    for change, message in ((dict(psum_out=1, last=0), "psum_out ends"), (dict(psum_in=1, first=0), "psum_in starts")):
        commands = list(split.commands)
        commands[n] = replace(commands[n], **change)
        with pytest.raises(ValueError, match=message):
            golden(Program(SMALL_4x4, commands, split.memory))


PSUM_SHAPES = [(2, 3, 3, 3, 1), (3, 5, 4, 3, 1), (2, 4, 4, 1, 1), (3, 5, 5, 3, 2), (2, 4, 1, 3, 1), (3, 6, 6, 1, 2)]
"""(passes, h, w, r, stride) of :func:`psum_pass_programs`: 3×3 and 1×1 kernels (a pixel of one MAC step
per pass), strides 1 and 2, one output column."""


def psum_chunk_programs(spec: MacArraySpec, seed: int):
    """A 1×1 convolution of one pixel and 4 channel groups, as one Conv and as 4 that take a group each: the
    pixel's accumulators persist from a command without ``last`` to one without ``first`` (which writes its
    partial sums, or starts from them), and between the two halves the partial sums go through DRAM."""
    from dataclasses import replace

    from accel.isa.mac_array import PSUM_ATOMS, Config, Conv, LoadFeatures, LoadWeights
    from accel.program import MemoryImage, Program

    rng = np.random.default_rng(seed)
    ac, ak = spec.atomic_c, spec.atomic_k
    params = random_params(rng, spec)
    weights = rng.integers(-128, 128, (4, ak, ac), dtype=np.int8)
    memory = MemoryImage()
    x = memory.add("features", rng.integers(-128, 128, (4, ac), dtype=np.int8))
    whole = memory.add("weights", np.concatenate([params, weights]))
    chunks = memory.add("chunks", np.concatenate([np.concatenate([params, weights[g:g + 1]]) for g in range(4)]))
    sums = memory.reserve("psum", PSUM_ATOMS * ac)
    out = memory.reserve("output", ak)
    conv = Conv(fbase=0, cg_stride=1, ncg=4, in_h=1, in_w=1, kernel_h=1, kernel_w=1, stride=1, y_off=0, x_off=0,
                out_h=1, out_w=1, wbase=0, pad_value=0, out_zp=-7, lo=-100, hi=120, out_address=out.address, first=1,
                last=1, wait=1, psum_entry=4)
    start = [Config(ak), LoadFeatures(x.address, 0, 4, 1, 0, 0, wait=0)]

    def chunk(g, first, last, **flags):
        return replace(conv, fbase=g, ncg=1, wbase=4 * g, first=first, last=last, **flags)

    split = [*start, LoadWeights(chunks.address, 0, 16, wait=0), chunk(0, 1, 0),
             chunk(1, 0, 1, psum_out=1, out_address=sums.address),
             LoadFeatures(sums.address, 4, PSUM_ATOMS, 1, 0, 0, wait=1), chunk(2, 1, 0, psum_in=1), chunk(3, 0, 1)]
    return Program(spec, [*start, LoadWeights(whole.address, 0, 7, wait=0), conv], memory), Program(spec, split, memory)


def psum_programs(spec: MacArraySpec) -> list:
    """(description, Program): each shape of :data:`PSUM_SHAPES` as one pass and split into passes, and
    :func:`psum_chunk_programs`."""
    cases = [(shape, psum_pass_programs(spec, n, *shape)) for n, shape in enumerate(PSUM_SHAPES)]
    return [(f"{case} {kind}", program) for case, programs in cases + [("chunks", psum_chunk_programs(spec, 9))]
            for kind, program in zip(("one", "split"), programs)]


def test_perf_partial_sums_add_their_steps_and_beats():
    """Passes do the MACs of one pass; each Conv with partial sums spends PSUM_ATOMS steps per pixel on them
    (``stall_buffer``) and, with ``psum_out``, writes PSUM_ATOMS beats per pixel."""
    from accel.isa.mac_array import PSUM_ATOMS, Conv
    from sim.perf.mac_array import FRONT

    for n, shape in enumerate(PSUM_SHAPES):
        one, split = psum_pass_programs(SMALL_4x4, n, *shape)
        whole, parts = perf(one).counters, perf(split).counters
        assert parts["cycles"] == sum(parts[k] for k in WORK)
        assert parts["mac_active"] == whole["mac_active"]
        convs = [c for c in split.commands if isinstance(c, Conv)]
        pixels = convs[0].out_h * convs[0].out_w
        assert parts["bytes_written"] == whole["bytes_written"] * (1 + PSUM_ATOMS * (len(convs) - 1))
        assert parts["stall_buffer"] == len(convs) * (FRONT + PSUM_ATOMS * pixels)


def partial_sum_layers(count: int, seed: int):
    """Random layers the 4×4 configuration runs only in partial-sum mappings: *wide* (one output row's inputs
    of every channel group overflow feature space: column tiles), *deep* (one kernel group's weights overflow
    weight space: input-channel passes), *large kernels* (beyond MAX_KERNEL: kernel passes), *long
    matrix multiplies* (1×1 over a few pixels of many channels) and *both* wide and deep (passes over column
    tiles); single- and double-buffered in turn; (config, op, x, x_zp, lowered)."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    layers = []
    for n in range(count):
        kind = ("wide", "deep", "kernel", "matmul", "both")[n % 5]
        stride = int(rng.choice([1, 2]))
        if kind in ("wide", "both"):
            r = int(rng.choice([3, 5]))
            config = dict(c=int(rng.integers(13, 17) if kind == "wide" else rng.integers(120, 160)), h=int(rng.integers(r, 7)),
                          w=int(rng.integers(120, 200) if kind == "wide" else rng.integers(40, 60)),
                          k=int(rng.integers(1, 9)), r=r, pad=r // 2, stride=stride)
        elif kind == "deep":
            config = dict(c=int(rng.integers(116, 260)), h=int(rng.integers(3, 7)), w=int(rng.integers(3, 7)),
                          k=int(rng.integers(1, 9)), r=3, pad=int(rng.integers(0, 2)), stride=stride)
        elif kind == "kernel":
            r, s = int(rng.integers(12, 16)), int(rng.integers(1, 14))
            config = dict(c=int(rng.integers(1, 9)), h=int(rng.integers(r, r + 6)), w=int(rng.integers(s, s + 6)),
                          k=int(rng.integers(1, 9)), r=r, s=s, stride=stride, padding=(int(rng.integers(0, r)),
                                                                                       int(rng.integers(0, s))))
        else:
            config = dict(c=int(rng.integers(1100, 1500)), h=int(rng.integers(1, 4)), w=int(rng.integers(2, 5)),
                          k=int(rng.integers(1, 9)))
        config["extremes"] = bool(rng.random() < 0.2)
        op, x, x_zp = random_layer(rng, **{k: v for k, v in config.items() if k != "padding"})
        if "padding" in config:
            op = replace(op, padding=config["padding"])
        lowered = lower(SMALL_4x4, op, x, x_zp, double=bool(n % 2))
        layers.append((config | dict(kind=kind, double=bool(n % 2)), op, x, x_zp, lowered))
    return layers


def test_golden_partial_sum_mappings_equal_int8_reference():
    """Layers the compiler refused before partial sums (each mapped only in partial-sum passes or column
    tiles): the golden model of their Programs equals the int8 reference."""
    kinds = set()
    for config, op, x, x_zp, lowered in partial_sum_layers(25, seed=4):
        m = lowered.mapping
        assert m.partial and (m.passes > 1 or m.col_tiles > 1), (config, m)
        kinds |= {"passes"} if m.passes > 1 else set()
        kinds |= {"columns"} if m.col_tiles > 1 else set()
        kinds |= {"kernel"} if m.pass_kernel != (op.weight.shape[2], op.weight.shape[3]) else set()
        kinds |= {"both"} if m.passes > 1 and m.col_tiles > 1 else set()
        got = lowered.output(golden(lowered.program).memory)
        assert np.array_equal(got, reference(op, x, x_zp)), config
    assert kinds == {"passes", "columns", "kernel", "both"}


@pytest.mark.rtl
@pytest.mark.parametrize("stall", [False, True])
@pytest.mark.parametrize("name", SPECS)
def test_rtl_partial_sums(name, stall, tmp_path):
    """Convolutions split into 2 and 3 passes that carry int32 partial sums through DRAM: RTL memory (partial
    sums and outputs) == golden memory; RTL counters == perf counters, or with random memory stalls more
    cycles and the same bits."""
    from sim.rtl.execute import run as rtl

    cases = psum_programs(SPECS[name])
    results = rtl([program for _, program in cases], stall=stall, seed=11, test_dir=tmp_path)
    for (case, program), result in zip(cases, results):
        assert np.array_equal(result.memory, golden(program).memory), case
        if stall:
            assert result.cycles > perf(program).cycles, case
        else:
            assert result.counters == perf(program).counters, case


@pytest.mark.rtl
@pytest.mark.parametrize("stall", [False, True])
def test_rtl_partial_sum_mappings(stall, tmp_path):
    """Column tiles, input-channel and kernel passes on the RTL: memory == golden bit for bit, counters ==
    perf (without stalls), with random memory stalls the same bits."""
    from sim.rtl.execute import run as rtl

    layers = partial_sum_layers(10, seed=5)
    results = rtl([lowered.program for *_, lowered in layers], stall=stall, seed=11, test_dir=tmp_path)
    for (config, *_, lowered), result in zip(layers, results):
        assert np.array_equal(result.memory, golden(lowered.program).memory), config
        if stall:
            assert result.cycles > perf(lowered.program).cycles, config
        else:
            assert result.counters == perf(lowered.program).counters, config
