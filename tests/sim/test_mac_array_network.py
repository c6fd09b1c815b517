"""mac_array networks: per-layer perf figures from the command profile, and the RTL running whole network
Programs (bits == golden, cycles and counters == perf)."""

import numpy as np
import pytest

from accel.compiler.mac_array_network import compile_network
from accel.compress.quantize import quantize
from accel.isa.mac_array import COUNTERS, Config
from accel.nn import digits, models
from accel.nn.random_networks import inception_block, residual_block, separable_block
from accel.spec import MacArraySpec
from sim import perf
from sim.golden.mac_array import run as golden
from sim.perf.mac_array import command_profile

SMALL_4x4 = MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1)  # tests/sim/test_mac_array.py's sizes,
DEFAULT_8x8 = MacArraySpec()  # so the harness builds (same spec, same words) are shared


def block(make, seed: int, images: int):
    rng = np.random.default_rng(seed)
    graph = make(rng)
    shape = graph.nodes["input"].shape
    qgraph = quantize(graph, rng.normal(0, 1, (32, *shape)))
    return qgraph, qgraph.quantize_input(rng.normal(0, 1, (images, *shape)))


def digits_cnn(images: int):
    graph = models.model("digits-cnn")
    train, test = digits.load()
    qgraph = quantize(graph, models.inputs(graph, train))
    return qgraph, qgraph.quantize_input(models.inputs(graph, test)[:images])


def test_layer_figures_add_up_to_the_program():
    qgraph, x = block(inception_block, seed=1, images=2)
    network = compile_network(SMALL_4x4, qgraph, x)
    totals = perf.run(network.program).counters
    ends, counts = command_profile(network.program)
    assert len(ends) == len(network.program.commands) and ends.max() == totals["cycles"]
    assert {name: int(values.sum()) for name, values in counts.items()} == \
        {name: totals[name] for name in COUNTERS if name != "cycles"}
    rows = perf.layers(network.program, network.layers)
    for name in COUNTERS:
        assert sum(row[name] for row in rows) == totals[name], name
    by_name = dict(zip((layer.name for layer in network.layers), rows))
    assert by_name["concat"]["cycles"] == by_name["flatten"]["cycles"] == 0
    # 2 images × 81 pixels × 2 kernel groups (7 kernels) × 5 channel groups (3, 5, 6 channels: 1 + 2 + 2) × 3×3
    assert by_name["mix"]["mac_active"] == 2 * 81 * 2 * 5 * 9


@pytest.mark.rtl
def test_rtl_runs_networks(tmp_path):
    """The digits CNN (3 images) on 8×8, the residual and inception blocks (2 images each) on 4×4."""
    from sim.rtl.execute import run as rtl

    cases = [(DEFAULT_8x8, *digits_cnn(3)), (SMALL_4x4, *block(residual_block, 2, 2)),
             (SMALL_4x4, *block(inception_block, 3, 2))]
    for spec in (DEFAULT_8x8, SMALL_4x4):
        networks = [compile_network(spec, qgraph, x) for s, qgraph, x in cases if s == spec]
        for network in networks:  # some layers' first weights load while the layer before computes
            assert any(not isinstance(network.program.commands[first], Config)
                       for layer in network.layers for first, _ in layer.commands)
        results = rtl([network.program for network in networks], test_dir=tmp_path)
        for network, result in zip(networks, results):
            assert np.array_equal(result.memory, golden(network.program).memory)
            assert np.array_equal(network.output(result.memory), network.reference())
            assert result.counters == perf.run(network.program).counters


PARTIAL = {residual_block: dict(c=40, k=8, size=36), separable_block: dict(c=16, size=130, k=4)}
"""Blocks with layers the 4×4 configuration runs only in partial-sum mappings: the residual block's first
convolution in column tiles, the separable block's depthwise convolution (one channel group per kernel
group) and its dense layer of 16900 inputs in input-channel passes."""


def partial_sum_networks(images: int) -> list:
    return [compile_network(SMALL_4x4, *block(lambda rng, make=make: make(rng, **sizes), 7, images))
            for make, sizes in PARTIAL.items()]


def test_partial_sum_layers_in_networks():
    residual, separable = partial_sum_networks(images=2)
    assert "column tiles" in residual.layers[0].mapping
    assert "partial-sum passes" in separable.layers[-1].mapping
    for network in (residual, separable):
        assert np.array_equal(network.output(golden(network.program).memory), network.reference())


@pytest.mark.rtl
def test_rtl_runs_partial_sum_layers_in_networks(tmp_path):
    """The blocks of :data:`PARTIAL` (one image each) on the RTL: bits == golden, counters == perf."""
    from sim.rtl.execute import run as rtl

    networks = partial_sum_networks(images=1)
    for network, result in zip(networks, rtl([network.program for network in networks], test_dir=tmp_path)):
        assert np.array_equal(result.memory, golden(network.program).memory)
        assert np.array_equal(network.output(result.memory), network.reference())
        assert result.counters == perf.run(network.program).counters
