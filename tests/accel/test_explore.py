"""accel explore: sweep grids and samples, Pareto fronts, resume, infeasible points, outputs, the CLI's
checks before any work, and the same points from a local Ray instance as from the process pool."""

import csv
import json

import pytest

from accel import explore as dse
from accel.cli import main

CONV = "conv:h=8,w=8,c=16,k=16,r=3,pad=1"  # a small mac_array layer: a point in milliseconds


def test_grid_has_every_combination_and_random_a_sample_of_it():
    grid = {"atomic_c": ["8", "16"], "banks": ["32", "64", "128"]}
    every = dse.points(["resnet18", CONV], grid)
    assert len(every) == 12 and len({json.dumps(p, sort_keys=True) for p in every}) == 12
    assert every[0] == {"workload": "resnet18", "atomic_c": "8", "banks": "32"}
    sample = dse.points(["resnet18", CONV], grid, sample=5, seed=3)
    assert len(sample) == 5 and all(p in every for p in sample)
    assert sample == dse.points(["resnet18", CONV], grid, sample=5, seed=3)
    assert sample != dse.points(["resnet18", CONV], grid, sample=5, seed=4)
    assert dse.points([CONV], grid, sample=100) == dse.points([CONV], grid)
    assert dse.parse_search("random:5") == 5 and dse.parse_search("grid") is None


def test_pareto_keeps_ties_and_drops_dominated_points():
    rows = [dict(cycles=10, energy_pj=5), dict(cycles=5, energy_pj=10), dict(cycles=10, energy_pj=5),
            dict(cycles=11, energy_pj=5),  # dominated by the first (equal energy, more cycles)
            dict(cycles=12, energy_pj=12),  # dominated by all of the first three
            dict(cycles=7, energy_pj=7)]
    assert dse.pareto(rows, ["cycles", "energy_pj"]) == [0, 1, 2, 5]
    assert dse.pareto(rows, ["cycles"]) == [1]
    assert dse.pareto(rows, ["energy_pj"]) == [0, 2, 3]


def test_front_is_per_workload():
    def record(key, workload, cycles, energy, feasible=True):
        return dict(key=key, point={"workload": workload}, feasible=feasible,
                    metrics=dict(cycles=cycles, energy_pj=energy))

    records = [record("a", "big", 100, 100), record("b", "small", 1, 2), record("c", "small", 2, 1),
               record("d", "big", 100, 101), record("e", "small", 0, 0, feasible=False)]
    assert [r["key"] for r in dse.front(records, ["cycles", "energy_pj"])] == ["a", "b", "c"]


def test_infeasible_points_are_recorded_with_their_reason(tmp_path):
    import matplotlib

    grid = dse.parse_sweeps("mac_array", ["atomic_c=8,16", "banks=16,32"])
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # a caller's backend (a notebook's inline one) ...
    try:
        records, front = dse.explore("mac_array", [CONV], grid, tmp_path, workers=1, progress=False)
        assert matplotlib.get_backend() == "svg"  # ... is left alone by the plots explore writes
    finally:
        matplotlib.use(backend)
    by_point = {(r["point"]["atomic_c"], r["point"]["banks"]): r for r in records}
    assert [k for k, r in by_point.items() if r["feasible"]] == [("8", "16"), ("8", "32"), ("16", "32")]
    assert by_point["16", "16"]["reason"].startswith("mac_array.banks: 16 is not allowed")
    assert by_point["8", "32"]["spec"]["atomic_k"] == 8 and by_point["16", "32"]["spec"]["atomic_k"] == 16
    assert front and all(r["feasible"] for r in front)


def test_a_refused_layer_is_an_infeasible_point(tmp_path):
    grid = dse.parse_sweeps("mac_array", ["max_reduction=4096,8192"])
    records, _ = dse.explore("mac_array", ["conv:h=8,w=8,c=512,k=16,r=3,pad=1"], grid, tmp_path, workers=1,
                             progress=False)
    assert [r["feasible"] for r in records] == [False, True]
    assert "--set max_reduction=4608 lifts it" in records[0]["reason"]


def test_compiler_choices_are_taken(tmp_path):
    grid = dse.parse_sweeps("mac_array", ["mode=weight-reuse,data-reuse", "double=on,off"])
    records, _ = dse.explore("mac_array", [CONV], grid, tmp_path, workers=1, progress=False)
    for r in records:
        (layer,) = r["per_layer"]
        assert layer["mode"] == r["point"]["mode"] and layer["double"] == (r["point"]["double"] == "on")
        assert layer["energy_breakdown"]["dram"] == r["metrics"]["energy_dram_pj"] > 0
        assert sum(layer["energy_breakdown"].values()) == pytest.approx(layer["energy_pj"])
    assert len({r["metrics"]["cycles"] for r in records}) > 1


def test_eie_and_xnor_layers(tmp_path):
    for engine, workload, sweep in (("eie", "dense:in=128,out=64", "n_pe=2,4"), ("xnor", "dense:in=128,out=32",
                                                                                 "pe=2,4")):
        records, _ = dse.explore(engine, [workload], dse.parse_sweeps(engine, [sweep]), tmp_path / engine,
                                 workers=1, progress=False)
        assert [r["feasible"] for r in records] == [True, True]
        assert records[0]["metrics"]["cycles"] > records[1]["metrics"]["cycles"]
        assert records[0]["metrics"]["area_mm2"] < records[1]["metrics"]["area_mm2"]


def test_rerun_resumes_after_an_interrupted_run(tmp_path):
    grid = dse.parse_sweeps("mac_array", ["banks=32,64,128", "mode=auto,data-reuse"])
    first, _ = dse.explore("mac_array", [CONV], grid, tmp_path, workers=1, limit=2, progress=False)
    assert len(first) == 2
    log = tmp_path / dse.POINTS_LOG
    with log.open("a") as f:
        f.write('{"key": "cut off by an interrupt')
    second, _ = dse.explore("mac_array", [CONV], grid, tmp_path, workers=1, progress=False)
    assert len(second) == 6 and second[:2] == first
    keys = [json.loads(line)["key"] for line in log.read_text().splitlines()[:2] + log.read_text().splitlines()[3:]]
    assert len(keys) == len(set(keys)) == 6  # each point evaluated once
    again, _ = dse.explore("mac_array", [CONV], grid, tmp_path, workers=1, progress=False)
    assert again == second and len(log.read_text().splitlines()) == 7


def test_cli_writes_points_front_and_plots_of_a_resnet18_sweep(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["explore", "mac_array", "--workload", "resnet18", "--sweep", "banks=32,64", "--workers", "1",
                 "--out", str(out)]) == 0
    assert "2 points (2 feasible, 0 infeasible)" in capsys.readouterr().out
    with (out / "points.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:5] == ["workload", "banks", "feasible", "reason", "cycles"]
    assert [r["banks"] for r in rows] == ["32", "64"] and all(int(r["cycles"]) > 0 for r in rows)
    assert all(float(r["utilization"]) <= 1 and int(r["layers"]) == 21 and r["lut4"] == "" for r in rows)
    points = json.loads((out / "points.json").read_text())
    assert points["objectives"] == ["cycles", "energy_pj", "area_mm2"] and len(points["points"]) == 2
    assert points["points"][0]["metrics"]["left_out"] == ["pool1", *(f"conv{i}_{j}_add" for i in (2, 3, 4, 5)
                                                                        for j in (1, 2)), "pool5"]
    with (out / "pareto.csv").open() as f:
        front = list(csv.DictReader(f))
    assert 1 <= len(front) <= 2 and all(r in rows for r in front)
    assert len(json.loads((out / "pareto.json").read_text())["points"]) == len(front)
    for name in ("cycles_vs_energy_pj", "cycles_vs_area_mm2", "energy_pj_vs_area_mm2"):
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_topology_workload_records_its_padding(tmp_path, capsys):
    net = tmp_path / "net.csv"
    net.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides\n"
                   "c,16,16,3,3,8,8,1\n")
    macs = {}
    for pad in ("none", "same"):
        out = tmp_path / pad
        assert main(["explore", "mac_array", "--workload", str(net), "--pad", pad, "--workers", "1",
                     "--out", str(out)]) == 0
        assert f"(topology IFMAP padding: {pad})" in capsys.readouterr().out
        with (out / "points.csv").open() as f:
            (row,) = csv.DictReader(f)
        assert list(row)[:3] == ["workload", "pad", "feasible"] and row["pad"] == pad
        macs[pad] = int(row["macs"])
    assert macs == {"none": 8 * 8 * 9 * 14 * 14, "same": 8 * 8 * 9 * 16 * 16}


@pytest.mark.fpga
def test_synth_adds_the_fpga_report(tmp_path, capsys):
    tiny = ["--sweep", "pe=1", "--sweep", "simd=2", "--sweep", "weight_depth=16", "--sweep", "threshold_depth=4",
            "--sweep", "input_depth=16", "--sweep", "max_reduction=16"]
    out = tmp_path / "out"
    assert main(["explore", "xnor", "--workload", "dense:in=16,out=2", *tiny, "--synth", "--workers", "1",
                 "--out", str(out)]) == 0
    with (out / "points.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert int(row["lut4"]) > 0 and int(row["ff"]) > 0 and float(row["fmax_mhz"]) > 0 and int(row["cycles"]) > 0


@pytest.mark.parametrize("args,complaint", [
    (["mac_array", "--sweep", "frobs=1,2"], "'frobs' is neither a mac_array parameter nor a compiler choice"),
    (["mac_array", "--sweep", "atomic_c=8,12"], "mac_array.atomic_c: 12 is not allowed"),
    (["mac_array", "--sweep", "banks=x"], "mac_array.banks: 'x' is not allowed"),
    (["mac_array", "--sweep", "banks"], "--sweep: 'banks' is not of the form key=v1,v2,..."),
    (["mac_array", "--sweep", "banks=32,,64"], "--sweep banks: '32,,64' has an empty value"),
    (["mac_array", "--sweep", "banks=32,32"], "a value is listed twice"),
    (["mac_array", "--sweep", "banks=32", "--sweep", "banks=64"], "'banks' is swept twice"),
    (["mac_array", "--sweep", "mode=fast"], "--sweep mode: 'fast' is not allowed; expected one of auto, weight-reuse"),
    (["mac_array", "--search", "random:0"], "--search: 'random:0' is not allowed"),
    (["mac_array", "--objectives", "cycles,power"], "--objectives: 'power' is not allowed"),
    (["mac_array", "--workload", "resnet19"], "--workload 'resnet19': expected a zoo network"),
    (["mac_array", "--workload", "conv:h=x"], "--layer conv: h='x' is not an integer"),
    (["mac_array", "--workload", "conv:c=16,k=16,groups=3"], "--layer conv: groups=3 must divide c=16 and k=16"),
    (["mac_array", "--workload", "missing.csv"], "topology file 'missing.csv': cannot read it"),
    (["mac_array", "--energy-table", "7nm"], "energy table: '7nm' is neither a built-in table"),
    (["mac_array", "--workers", "2", "--cluster", "local"], "--workers: not with --cluster"),
    (["eie", "--workload", "resnet18"], "engine 'eie' takes a model (digits-mlp) or a layer"),
])
def test_bad_sweeps_are_one_line_errors_before_any_work(tmp_path, capsys, args, complaint):
    out = tmp_path / "out"
    workload = [] if "--workload" in args else ["--workload", CONV]
    assert main(["explore", *args, *workload, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("accel: error: ") and complaint in captured.err
    assert not out.exists()


def test_ray_gives_the_points_of_the_process_pool(tmp_path):
    pytest.importorskip("ray", reason="ray is the optional 'cluster' extra (pip install -e '.[cluster]')")
    grid = dse.parse_sweeps("mac_array", ["banks=32,64", "double=auto,off"])
    pool, _ = dse.explore("mac_array", [CONV, "dense:in=512,out=64"], grid, tmp_path / "pool", workers=2,
                          progress=False)
    ray, _ = dse.explore("mac_array", [CONV, "dense:in=512,out=64"], grid, tmp_path / "ray", cluster="local",
                         progress=False)
    assert len(pool) == 8 and ray == pool
