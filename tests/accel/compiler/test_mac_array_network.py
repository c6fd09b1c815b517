"""mac_array network pass: one Program per network whose golden output is QGraph.run's, bit for bit."""

import numpy as np
import pytest

from accel.compiler.mac_array_network import compile_network
from accel.compress.quantize import quantize
from accel.errors import UserError
from accel.isa.mac_array import Config, LoadWeights
from accel.nn import Add, Concat, Conv2d, GlobalAvgPool, Graph, MaxPool2d, ReLU, digits, models
from accel.nn.qgraph import QConcat
from accel.nn.random_networks import inception_block, random_qgraph, residual_block, separable_block
from accel.nn.zoo import build
from accel.spec import MacArraySpec
from sim.golden.mac_array import run as golden
from sim.perf.mac_array import run as perf

SMALL_4x4 = MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1)
DEFAULT_8x8 = MacArraySpec()
SPECS = {"4x4": SMALL_4x4, "8x8": DEFAULT_8x8}
BLOCKS = {"residual": residual_block, "inception": inception_block, "separable": separable_block}


def quantized(make, seed: int, images: int = 3):
    """A block with random float weights quantized on random calibration data, and int8 images for it."""
    rng = np.random.default_rng(seed)
    graph = make(rng)
    shape = graph.nodes["input"].shape
    qgraph = quantize(graph, rng.normal(0, 1, (32, *shape)))
    return qgraph, qgraph.quantize_input(rng.normal(0, 1, (images, *shape)))


def golden_output(network):
    return network.output(golden(network.program).memory)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("block", BLOCKS)
def test_blocks_golden_equal_qgraph(block, spec):
    qgraph, x = quantized(BLOCKS[block], seed=1)
    network = compile_network(SPECS[spec], qgraph, x)
    assert np.array_equal(golden_output(network), network.reference())


def test_digits_cnn_golden_equals_qgraph():
    graph = models.model("digits-cnn")
    train, test = digits.load()
    qgraph = quantize(graph, models.inputs(graph, train))
    x = qgraph.quantize_input(models.inputs(graph, test)[:8])
    for spec in SPECS.values():
        network = compile_network(spec, qgraph, x)
        assert np.array_equal(golden_output(network), qgraph.run(x).reshape(len(x), -1))
    kinds = [layer.op for layer in network.layers]
    assert kinds == ["conv", "pool", "conv", "pool", "flatten", "dense"]
    assert network.layers[4].commands == () and all(len(layer.commands) == 8 for layer in network.layers[:4])


def test_one_program_layout():
    qgraph, x = quantized(inception_block, seed=2)
    network = compile_network(SMALL_4x4, qgraph, x)
    regions = network.program.memory.regions
    assert {"input.0", "input.2", "output.2", "b1.weights", "mix.weights", "fc.weights", "act.0"} <= set(regions)
    assert not any(name.startswith(("concat", "flatten", "gap.", "b3_pool.")) for name in regions)
    commands = network.program.commands
    for layer in network.layers:  # per image, each layer starts with its Config or, prefetched, its weights
        for first, end in layer.commands:
            assert first < end
            assert isinstance(commands[first], Config) or isinstance(commands[first], LoadWeights) and \
                not commands[first].wait and layer.op in ("conv", "depthwise", "dense")
    assert network.macs == 3 * inception_block(np.random.default_rng(0)).macs()
    assert network.layers[[layer.name for layer in network.layers].index("concat")].op == "concat"


def test_concat_branches_write_at_channel_group_offsets():
    """14 channels from branches of 3, 5 and 6: on 4×4 each branch takes whole channel groups (1 + 2 + 2)."""
    qgraph, x = quantized(inception_block, seed=3, images=1)
    concat = next(op for op in qgraph.ops if isinstance(op, QConcat))
    assert len({qgraph.tensors[name] for name in (*concat.inputs, concat.name)}) == 1
    network = compile_network(SMALL_4x4, qgraph, x)
    memory = golden(network.program).memory
    group = 9 * 9 * 4  # bytes of one channel group of the 9×9 map
    branch = qgraph.run(x, until=concat.inputs[1])[0]  # b2: 5 channels, groups 1 and 2 of the concat
    mix = next(layer for layer in network.layers if layer.name == "mix")
    load = next(c for c in network.program.commands[mix.commands[0][0]:] if type(c).__name__ == "LoadFeatures")
    stored = memory[load.address + group:load.address + 3 * group].view(np.int8).reshape(2, 9, 9, 4)
    assert np.array_equal(stored.transpose(0, 3, 1, 2).reshape(8, 9, 9)[:5], branch)


@pytest.mark.parametrize("spec", SPECS)
def test_weights_prefetched_across_layers(spec):
    """Overlapping a convolution's first weight load with the layer before it keeps the bits and saves
    cycles; without overlap every layer starts with its Config, as separate per-layer Programs."""
    qgraph, x = quantized(residual_block, seed=8, images=2)
    overlapped = compile_network(SPECS[spec], qgraph, x)
    separate = compile_network(SPECS[spec], qgraph, x, overlap=False)
    prefetched = [layer for layer in overlapped.layers for first, _ in layer.commands
                  if not isinstance(overlapped.program.commands[first], Config)]
    assert prefetched and all(isinstance(separate.program.commands[first], Config)
                              for layer in separate.layers for first, _ in layer.commands)
    assert np.array_equal(golden_output(overlapped), golden_output(separate))
    assert perf(overlapped.program).cycles < perf(separate.program).cycles


def test_buffers_are_reused_and_residual_inputs_kept():
    """A chain of six convolutions with a residual addition over four of them: three activation buffers,
    and the addition's first input (alive across four layers) is never overwritten (random weights: any
    stale value would change the result)."""
    rng = np.random.default_rng(4)
    g = Graph("chain", (4, 6, 6))
    for i in range(6):
        g.add(f"conv{i}", Conv2d(6, 3, padding=1), weight=rng.normal(0, 0.3, (6, 6 if i else 4, 3, 3)),
              bias=rng.normal(0, 0.1, 6))
        g.add(f"relu{i}", ReLU())
        if i == 4:
            g.add("add", Add(), ["relu0", "relu4"])
    qgraph = quantize(g, rng.normal(0, 1, (16, 4, 6, 6)))
    x = qgraph.quantize_input(rng.normal(0, 1, (2, 4, 6, 6)))
    network = compile_network(SMALL_4x4, qgraph, x)
    assert network.info["activation_slots"] == 3  # 6 computed tensors before the output: 3 slots
    assert np.array_equal(golden_output(network), network.reference())


def test_gap_larger_than_the_pool_kernel_is_refused():
    rng = np.random.default_rng(5)
    g = Graph("gap", (4, 12, 12))
    g.add("conv", Conv2d(4, 3, padding=1), weight=rng.normal(0, 0.3, (4, 4, 3, 3)), bias=np.zeros(4))
    g.add("gap", GlobalAvgPool())
    qgraph = quantize(g, rng.normal(0, 1, (4, 4, 12, 12)))
    with pytest.raises(UserError, match=r"'gap': a global average pool over 12×12 .* allow 1\.\.11"):
        compile_network(DEFAULT_8x8, qgraph, qgraph.quantize_input(rng.normal(0, 1, (1, 4, 12, 12))))


def test_bad_inputs_are_user_errors():
    qgraph, x = quantized(residual_block, seed=6)
    with pytest.raises(UserError, match=r"inputs must be int8 of shape \(N >= 1, 6, 8, 8\)"):
        compile_network(DEFAULT_8x8, qgraph, x.astype(np.int16))
    g = Graph("pool-then-concat", (4, 6, 6))
    g.add("pool", MaxPool2d(2))
    g.add("conv", Conv2d(4, 1), "pool", weight=np.ones((4, 4, 1, 1)), bias=np.zeros(4))
    g.add("cat", Concat(2), ["pool", "conv"])
    with pytest.raises(UserError, match="input 'pool' keeps the quantization of its own input"):
        quantize(g, np.random.default_rng(0).normal(0, 1, (4, 4, 6, 6)))


def test_resnet50_compiles_as_one_program():
    qgraph = random_qgraph(build("resnet50"), np.random.default_rng(7))
    network = compile_network(DEFAULT_8x8, qgraph, np.zeros((1, 3, 224, 224), np.int8))
    assert network.macs == build("resnet50").macs()
    assert network.info["activation_slots"] == 3
    assert sum(len(layer.commands) > 0 for layer in network.layers) == 53 + 1 + 16 + 1 + 1  # conv, pool, add, gap, fc


def test_output_at_concat_lanes_survives_the_network_file(tmp_path):
    """An inception block cut after its concat: the output's channels lie at the branches' lane offsets, the
    Readout gathers them (also as the network file stores it)."""
    from dataclasses import replace

    from accel.compiler import network_file

    qgraph, x = quantized(inception_block, seed=4)
    cut = replace(qgraph, ops=qgraph.ops[:[op.name for op in qgraph.ops].index("concat") + 1])
    network = compile_network(SMALL_4x4, cut, x)
    assert network.output.channel_lanes  # 3 + 5 + 6 channels at lanes 0..2, 4..8, 12..17
    memory = golden(network.program).memory
    assert np.array_equal(network.output(memory), cut.run(x).reshape(len(x), -1))
    network_file.save(network, tmp_path / "cut.accel")
    assert np.array_equal(network_file.load(tmp_path / "cut.accel").output(memory), network.output(memory))
