"""Weight sharing: codebooks with zero at index 0, k-means on the non-zeros, 16-bit fixed point, fine-tuning."""

import numpy as np
import pytest

from accel.compress.prune import magnitude_masks
from accel.compress.share import kmeans, share, to_fixed_point
from accel.errors import UserError
from accel.nn import Dense, Graph, ReLU
from accel.nn.train import TrainConfig, init_params, loss_and_grads


def pruned_mlp(density=0.3, seed=0):
    g = Graph("mlp", (12,))
    g.add("fc1", Dense(20))
    g.add("relu", ReLU())
    g.add("fc2", Dense(4))
    init_params(g, seed)
    for name, mask in magnitude_masks(g, density).items():
        g[name].params["weight"] = g[name].params["weight"] * mask
    return g


def data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12))
    return x, np.argmax(x @ rng.normal(size=(12, 4)), axis=1)


def test_kmeans_starts_linear_and_converges_to_cluster_means():
    weight = np.array([[0.0, -1.0, -0.9, 0.0], [0.1, 0.12, 0.95, 1.0]])
    codebook, indices = kmeans(weight, bits=2)  # entry 0 and three clusters, initialised at -1, 0, 1
    np.testing.assert_allclose(codebook, [0.0, -0.95, 0.11, 0.975])
    np.testing.assert_array_equal(indices, [[0, 1, 1, 0], [2, 2, 3, 3]])


def test_fixed_point_uses_the_most_fraction_bits_that_fit():
    shared = to_fixed_point(np.array([0.0, -0.3, 0.1, 0.26]), np.zeros(3, dtype=np.uint8))
    assert shared.frac_bits == 16  # 0.3 · 2**16 = 19661 <= 32767 < 0.3 · 2**17
    assert shared.codebook.dtype == np.int16 and shared.codebook[1] == -19661 and shared.codebook[0] == 0
    assert to_fixed_point(np.array([0.0, 1.5]), np.zeros(1, dtype=np.uint8)).frac_bits == 14


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("finetune", [False, True])
def test_shared_layers_have_few_values_zero_first_and_pruned_weights_stay_zero(bits, finetune):
    g = pruned_mlp()
    zeros = {name: g[name].params["weight"] == 0 for name in ("fc1", "fc2")}
    x, y = data()
    shared = share(g, bits, x, y, TrainConfig(epochs=5, lr=1e-2)) if finetune else share(g, bits)
    for name, layer in shared.items():
        weight = g[name].params["weight"]
        assert len(layer.codebook) == 2**bits and layer.codebook[0] == 0 and layer.bits == bits
        assert len(np.unique(weight)) <= 2**bits and np.all(weight[zeros[name]] == 0)
        np.testing.assert_array_equal(layer.weight(), weight)
        assert np.all(layer.indices[zeros[name]] == 0) and np.all(layer.indices[~zeros[name]] > 0)


def test_finetuning_the_codebook_lowers_the_loss():
    x, y = data()
    plain, tuned = pruned_mlp(), pruned_mlp()
    share(plain, 2)
    share(tuned, 2, x, y, TrainConfig(epochs=20, lr=1e-2))
    assert loss_and_grads(tuned, x, y)[0] < loss_and_grads(plain, x, y)[0]


@pytest.mark.parametrize("bits", [0, 9])
def test_bad_bits_are_user_errors(bits):
    with pytest.raises(UserError, match=f"share: {bits} bits is not allowed; allowed: 1 to 8"):
        share(pruned_mlp(), bits)
