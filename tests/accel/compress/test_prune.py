"""Magnitude pruning: exact per-layer density, PE load balance, iterative pruning with fine-tuning."""

import numpy as np
import pytest

from accel.compress.prune import layer_mask, magnitude_masks, prune
from accel.errors import UserError
from accel.nn import Conv2d, Dense, Flatten, Graph, ReLU
from accel.nn.train import TrainConfig, init_params


def graph(seed=0):
    g = Graph("g", (2, 6, 6))
    g.add("conv", Conv2d(7, 3))
    g.add("relu", ReLU())
    g.add("flat", Flatten())
    g.add("fc", Dense(5))
    init_params(g, seed)
    return g


@pytest.mark.parametrize("density", [0.05, 0.1, 0.37, 0.5, 1.0])
def test_each_layer_keeps_exactly_its_share_of_largest_weights(density):
    g = graph()
    masks = magnitude_masks(g, density)
    assert set(masks) == {"conv", "fc"}
    for name, mask in masks.items():
        weight = g[name].params["weight"]
        assert mask.shape == weight.shape and mask.sum() == round(density * weight.size)
        if 0 < mask.sum() < mask.size:
            assert np.abs(weight[mask]).min() >= np.abs(weight[~mask]).max()


def test_per_layer_densities():
    masks = magnitude_masks(graph(), {"conv": 0.5, "fc": 0.2})
    assert masks["conv"].mean() == pytest.approx(0.5, abs=1 / 126) and masks["fc"].mean() == 0.2


@pytest.mark.parametrize("pes", [1, 2, 3, 4, 8])
def test_balanced_pruning_gives_every_pe_the_same_number_of_nonzeros(pes):
    weight = np.random.default_rng(pes).normal(size=(30, 17))
    weight[::4] *= 10  # every fourth row is large: plain magnitude pruning would load some PEs far more
    mask = layer_mask(weight, 0.1, balance_pes=pes)
    counts = [mask[pe::pes].sum() for pe in range(pes)]  # row i on PE i mod pes (EIE's interleaving)
    assert len(set(counts)) == 1 and counts[0] == round(0.1 * weight.size / pes)
    for pe in range(pes):  # within a PE, the largest magnitudes survive
        share, kept = np.abs(weight[pe::pes]), mask[pe::pes]
        assert share[kept].min() >= share[~kept].max()
    unbalanced = layer_mask(weight, 0.1)
    if pes == 4:
        assert len({unbalanced[pe::pes].sum() for pe in range(pes)}) > 1


def test_conv_weights_are_balanced_by_output_channel():
    weight = np.random.default_rng(0).normal(size=(8, 3, 3, 3))
    mask = layer_mask(weight, 0.25, balance_pes=4)
    assert [mask[pe::4].sum() for pe in range(4)] == [round(0.25 * 216 / 4)] * 4


def test_iterative_pruning_keeps_pruned_weights_zero_and_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 2, 6, 6))
    y = np.argmax(x.reshape(96, -1) @ rng.normal(size=(72, 5)), axis=1)
    g = graph()
    masks = prune(g, 0.3, x, y, TrainConfig(epochs=10, lr=1e-2), steps=2)
    for name, mask in masks.items():
        weight = g[name].params["weight"]
        assert np.all(weight[~mask] == 0) and mask.sum() == round(0.3 * weight.size)
    assert np.mean(np.argmax(g.run(x), axis=1) == y) > 0.5


@pytest.mark.parametrize("density,pes,complaint", [
    (0.0, None, "prune: density 0.0 is not allowed; allowed: 0 < density <= 1"),
    (1.5, None, "prune: density 1.5 is not allowed"),
    (0.5, 0, "prune: balance_pes 0 is not allowed; allowed: an integer >= 1"),
])
def test_bad_arguments_are_user_errors(density, pes, complaint):
    with pytest.raises(UserError, match=complaint.replace("(", r"\(")):
        magnitude_masks(graph(), density, balance_pes=pes)
