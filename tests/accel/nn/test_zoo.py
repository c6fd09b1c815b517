"""Built-in networks: their papers' shapes, MAC and parameter totals, and ResNet-50 read both ways."""

from collections import Counter

import numpy as np
import pytest

from accel.errors import UserError
from accel.nn import ZOO, BatchNorm, Conv2d, Dense, build, bundled, param_count

# name: (MACs, learned parameters) for one 224×224 (227 for AlexNet, 28 for LeNets) image. Published figures:
TOTALS = {
    # Han et al. NIPS 2015, Table 1: 267 K weights (266,200 without the 410 biases).
    "lenet-300-100": (266_200, 266_610),
    # Han et al. NIPS 2015, Table 1: 431 K weights.
    "lenet-5": (2_293_000, 431_080),
    # Caffe bvlc_alexnet (two-tower groups): 61 M parameters, 0.72 G MACs.
    "alexnet": (724_406_816, 60_965_224),
    # Simonyan & Zisserman 2015: 138 M parameters; 15.5 G MACs.
    "vgg16": (15_470_264_320, 138_357_544),
    # He et al. 2016, Table 1: 1.8 G FLOPs (multiply-adds); 11.7 M parameters as torchvision.
    "resnet18": (1_814_073_344, 11_689_512),
    # He et al. 2016, Table 1: 3.8 G FLOPs (multiply-adds), stride in the first 1×1 of a block; torchvision's
    # "v1.5" (stride in the 3×3) is the often quoted 4.1 G. 25.6 M parameters either way.
    "resnet50": (3_857_973_248, 25_557_032),
    # Howard et al. 2017, Table 2: 569 M mult-adds, 4.2 M parameters.
    "mobilenet-v1": (568_740_352, 4_231_976),
}
OUTPUTS = {"lenet-300-100": 10, "lenet-5": 10}


@pytest.mark.parametrize("name", ZOO)
def test_builds_shape_only_with_the_published_totals(name):
    g = build(name)
    assert g.name == name and not any(node.params for node in g.layers())
    assert g[g.output].shape == (OUTPUTS.get(name, 1000),)
    assert (g.macs(), param_count(g)) == TOTALS[name]


def test_layer_counts_of_the_papers():
    def count(name, op):
        return sum(isinstance(node.op, op) for node in build(name).layers())

    assert count("lenet-300-100", Dense) == 3
    assert (count("lenet-5", Conv2d), count("lenet-5", Dense)) == (2, 2)
    assert (count("alexnet", Conv2d), count("alexnet", Dense)) == (5, 3)
    assert (count("vgg16", Conv2d), count("vgg16", Dense)) == (13, 3)
    # 17 / 49 weight layers + 3 / 4 projection shortcuts, each conv followed by BatchNorm.
    assert (count("resnet18", Conv2d), count("resnet18", BatchNorm)) == (20, 20)
    assert (count("resnet50", Conv2d), count("resnet50", BatchNorm)) == (53, 53)
    mobilenet = [node.op for node in build("mobilenet-v1").layers() if isinstance(node.op, Conv2d)]
    assert len(mobilenet) == 27 and sum(op.groups > 1 for op in mobilenet) == 13


def test_lenet_300_100_weights():
    g = build("lenet-300-100")
    assert sum(np.prod(g[n].op.param_shapes(g.in_shapes(g[n]))["weight"]) for n in ("fc1", "fc2", "fc3")) == 266_200


def test_resnet50_zoo_and_scale_sim_csv_agree():
    """The zoo and Resnet50.csv list the same 53 convolutions and fc: same input size, filter, channels, filters
    and stride. The CSV gives the unpadded IFMAP of "same"-padded layers (56×56 into a 3×3) and is read as
    already padded, so its output sizes and MACs are smaller (54×54); read as unpadded with "same" padding, the
    zoo's (R - 1) / 2, its output shapes (as a multiset) and total MACs are exactly the zoo's."""
    g = build("resnet50")
    zoo_in, zoo_out = Counter(), Counter()
    for node in g.layers():
        if isinstance(node.op, Conv2d):
            (c, h, w), (k, oh, ow) = g.in_shapes(node)[0], node.shape
            zoo_in[(h, w, *node.op.kernel, c, k, node.op.stride[0])] += 1
            zoo_out[(oh, ow, *node.op.kernel, c, k, node.op.stride[0])] += 1
        elif isinstance(node.op, Dense):  # the CSV's fc row: a 1×1 convolution on the pooled 1×1 map
            fc = (1, 1, 1, 1, *g.in_shapes(node)[0], *node.shape, 1)
            zoo_in[fc] += 1
            zoo_out[fc] += 1

    layers = bundled("Resnet50")
    csv_in = Counter((x.h, x.w, x.r, x.s, x.c, x.k, x.stride) for x in layers)
    padded = bundled("Resnet50", "same")
    csv_out = Counter((x.out_h, x.out_w, x.r, x.s, x.c, x.k, x.stride) for x in padded)
    assert csv_in == zoo_in and sum(csv_in.values()) == 54
    assert csv_out == zoo_out
    assert sum(x.macs for x in padded) == g.macs() == 3_857_973_248
    # Read as SCALE-Sim defines it (IFMAP already padded): 3.41 G MACs, 12 % fewer.
    assert sum(x.macs for x in layers) == 3_409_810_112


def test_random_parameters_run_and_are_reproducible():
    for name in ZOO:
        if name == "vgg16":  # 138 M parameters: the same code as alexnet, seconds slower
            continue
        g = build(name, params="random", seed=3)
        x = np.random.default_rng(0).standard_normal((1, *g.nodes["input"].shape), dtype=np.float32)
        y = g.run(x)
        assert y.dtype == np.float32 and y.shape == (1, *g[g.output].shape) and np.isfinite(y).all(), name
    a, b, c = (build("lenet-5", "random", seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a[n.name].params[p], b[n.name].params[p]) for n in a.layers() for p in n.params)
    assert not np.array_equal(a["conv1"].params["weight"], c["conv1"].params["weight"])


def test_random_weights_are_he_initialised():
    g = build("resnet18", "random")
    for name in ("conv1", "conv3_1b", "fc1"):
        weight = g[name].params["weight"]
        fan_in = np.prod(weight.shape[1:])
        assert weight.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05), name
    assert not g["fc1"].params["bias"].any()
    bn = g["conv1_bn"].params
    assert all(((0.5 <= bn[p]) & (bn[p] <= 1.5)).all() for p in ("gamma", "var")) and bn["mean"].any()


def test_unknown_names_and_params_are_user_errors():
    with pytest.raises(UserError, match="^network 'resnet101' is not in the zoo; known: lenet-300-100, lenet-5, "
                                        "alexnet, vgg16, resnet18, resnet50, mobilenet-v1$"):
        build("resnet101")
    with pytest.raises(UserError, match="^network 'lenet-5': params 'ones' is not allowed; use None"):
        build("lenet-5", params="ones")
