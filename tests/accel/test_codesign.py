"""accel.codesign: the grid of compressions × engines, the points' measured accuracy against independent
paths, the per-layer int8 Programs against the int8 graph, and the front across engines."""

import numpy as np
import pytest

from accel import codesign
from accel.codesign import Compression
from accel.errors import UserError


def test_grid_puts_each_compression_on_the_engines_that_run_it():
    grid = codesign.points(prunes=(0.0, 0.9), shares=(None, 2, 5))
    eie = [(m, c) for e, m, c in grid if e == "eie"]
    assert eie == [("digits-mlp", Compression(p, b)) for p in (0.0, 0.9) for b in (2,)]  # 5 bits: not on eie
    assert [(m, c.prune, c.share) for e, m, c in grid if e == "mac_array"] == [
        (m, p, b) for m in ("digits-mlp", "digits-cnn") for p in (0.0, 0.9) for b in (None, 2, 5)]
    assert all(c.int8 for e, _, c in grid if e == "mac_array")
    assert [(m, c.binarize) for e, m, c in grid if e == "xnor"] == [("digits-bnn-mlp", True), ("digits-bnn-cnn", True)]
    assert Compression(0.9, 2, int8=True).label == "prune 90% + share 2b + int8"
    for bad in (dict(prunes=(1.0,)), dict(shares=(0,)), dict(models=("digits-bnn-mlp",))):
        with pytest.raises(UserError):
            codesign.points(**bad)


def test_front_compares_points_of_every_engine():
    def record(engine, error, cycles, energy, area):
        return dict(engine=engine, error=error, cycles=cycles, energy_pj=energy, area_mm2=area)

    records = [record("eie", 0.03, 900, 7e4, 0.3), record("mac_array", 0.03, 9000, 1e7, 0.5),
               record("xnor", 0.02, 1200, 9e4, 0.1), record("xnor", 0.05, 2000, 3e5, 0.1)]
    assert codesign.front(records) == [records[0], records[2]]
    assert codesign.front(records, ("area_mm2",)) == records[2:]

    from matplotlib.figure import Figure

    axes = Figure().subplots()
    for r in records:
        r.update(model="digits-mlp", compression="x")
    codesign.plot(records, axes)
    ringed = [c for c in axes.collections if len(c.get_facecolors()) == 0]
    assert sum(len(c.get_offsets()) for c in ringed) == 2  # the two front points, ringed
    assert len(axes.texts) == 2 and axes.get_yscale() == axes.get_xscale() == "log"


@pytest.fixture(scope="module")
def points():
    """A 2-bit shared digits-mlp on eie and (int8) on the mac_array, and the binarized MLP on xnor (no pruning:
    its fine-tuning rounds take the most time)."""
    grid = [("eie", "digits-mlp", Compression(0, 2)), ("mac_array", "digits-mlp", Compression(0, 2, int8=True)),
            ("xnor", "digits-bnn-mlp", Compression(binarize=True))]
    return dict(zip(("eie", "mac_array", "xnor"), codesign.sweep(grid)))


def test_points_measure_accuracy_and_price_one_inference(points):
    from accel.compress.report import compression_report

    eie, mac, xnor = points["eie"], points["mac_array"], points["xnor"]
    # The same compressed float model behind eie and the mac_array; each engine's own arithmetic measured.
    assert eie["float_accuracy"] == mac["float_accuracy"]
    assert 0.5 < eie["accuracy"] < 1 and 0.5 < mac["accuracy"] < 1
    # xnor's accuracy over the whole test set equals the compression report's integer-only forward.
    assert xnor["accuracy"] == compression_report("digits-bnn-mlp").steps[-1].accuracy
    assert eie["images"] == xnor["images"] == 359 and mac["images"] == 1
    for r in points.values():
        assert r["error"] == 1 - r["accuracy"]
        assert r["energy_pj"] == pytest.approx(sum(r["energy_breakdown"].values()))
        assert r["cycles"] > 0 and r["area_mm2"] > 0
    assert eie["spec"]["n_pe"] == 8


def test_int8_layers_compute_the_int8_graph():
    from sim.golden import run as golden

    from accel.compress.quantize import quantize
    from accel.nn import digits, models
    from accel.spec import MacArraySpec

    graph = models.model("digits-cnn")
    train, test = digits.load()
    qgraph = quantize(graph, models.inputs(graph, train))
    x = qgraph.quantize_input(models.inputs(graph, test)[:1])
    layers = codesign.int8_layers(MacArraySpec(atomic_c=4, atomic_k=4), qgraph, x[0])
    assert list(layers) == ["conv1", "pool1", "conv2", "pool2", "fc"]
    for name, lowered in layers.items():
        expected = qgraph.run(x, until=name)[0]
        got = lowered.output(golden(lowered.program).memory)
        assert np.array_equal(got.reshape(expected.shape), expected), name
