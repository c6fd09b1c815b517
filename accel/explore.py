"""Design-space exploration: sweeps of spec parameters and compiler choices × workloads, each point
evaluated by the perf model and the cost model, and the Pareto front over the chosen objectives.

A *point* is one workload and one value per swept key. Keys are the engine's spec parameters
(``accel params ENGINE``) and, for the mac_array, the compiler's choices ``mode`` (``auto``,
``weight-reuse``, ``data-reuse``: the loop order) and ``double`` (``auto``, ``on``, ``off``: double
buffering); ``auto`` lets the compiler pick per layer, as it does by default (the choices apply to
convolution and dense layers; pooling and element-wise layers have none). Parameters not swept take their
defaults, derived ones (the mac_array's ``atomic_k`` and ``banks``) from the swept values.

Workloads: a zoo network (:data:`accel.nn.zoo.ZOO`; mac_array: its Conv2d and Dense layers, each planned,
scheduled and counted by the perf model without data; pooling and element-wise layers are left out and
listed under ``left_out``), a SCALE-Sim topology CSV (mac_array; read by :func:`accel.nn.load_topology`, its
IFMAPs as ``pad`` says: ``none``, already padded, or ``same``; the point records the ``pad``), a trained model the engine's compiler runs (``digits-mlp`` on eie,
``digits-bnn-mlp`` on xnor…), or one random layer in ``accel simulate --layer`` syntax
(``dense:in=256,out=64``).

:func:`evaluate` is a pure function of a point: cycles, energy (pJ, per level), ASIC area (mm²),
utilization, DRAM bytes and a per-layer summary. A point whose spec the validation refuses or whose layer
the compiler refuses is *infeasible*, with the one-line reason. :func:`explore` runs the points on a local
process pool or a Ray cluster, appending each result to ``points.jsonl`` as it arrives, so an interrupted
sweep keeps what it finished and a rerun evaluates only the rest (points are keyed by a hash of what
defines them).
"""

import csv
import functools
import hashlib
import importlib
import itertools
import json
import os
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UserError
from .nn.zoo import ZOO
from .spec import MacArraySpec, shown, spec_class

OBJECTIVES = {"cycles": "cycles", "energy": "energy_pj", "area": "area_mm2"}
"""Objective names (``--objectives``) and the metric each minimizes."""
CHOICES = {"mac_array": {"mode": ("auto", "weight-reuse", "data-reuse"), "double": ("auto", "on", "off")}}
"""Compiler choices per engine that a sweep may set, with their allowed values (``auto``: the compiler's pick)."""
POINTS_LOG = "points.jsonl"
"""The file each finished point is appended to; what a rerun resumes from."""
FPGA_COLUMNS = ("lut4", "ff", "dsp", "bram", "fmax_mhz")
"""The FPGA report's numbers a point gets with ``synth`` (:class:`rtl_gen.fpga.FpgaReport`, ECP5 LFE5U-85F)."""
COLUMNS = ("cycles", "energy_pj", "energy_dram_pj", "energy_sram_pj", "energy_register_file_pj",
           "energy_compute_pj", "area_mm2", "utilization", "macs", "bytes_read", "bytes_written", "layers",
           *FPGA_COLUMNS)
"""The metrics of a point written to the CSV files, after its workload and swept values (the FPGA columns
empty without ``synth``)."""


def parse_sweeps(engine: str, sweeps: Iterable[str]) -> dict[str, list[str]]:
    """``key=v1,v2,...`` texts → swept values per key, each value checked alone (spec parameters against
    their allowed values, compiler choices against :data:`CHOICES`); a :class:`UserError` for an unknown
    key, a bad value, a key given twice or a value listed twice."""
    cls, choices = spec_class(engine), CHOICES.get(engine, {})
    known = list(cls.describe()) + list(choices)
    grid: dict[str, list[str]] = {}
    for text in sweeps:
        key, sep, values = (part.strip() for part in text.partition("="))
        if not sep or not key:
            raise UserError(f"--sweep: {shown(text)} is not of the form key=v1,v2,...")
        if key not in known:
            raise UserError(f"--sweep: {key!r} is neither a {engine} parameter nor a compiler choice; "
                            f"known: {', '.join(known)}")
        if key in grid:
            raise UserError(f"--sweep: {key!r} is swept twice; expected each key at most once")
        items = [v.strip() for v in values.split(",")]
        if not all(items):
            raise UserError(f"--sweep {key}: {shown(values)} has an empty value; expected v1,v2,...")
        if len(set(items)) < len(items):
            raise UserError(f"--sweep {key}: a value is listed twice in {shown(values)}")
        for item in items:
            if key in choices:
                if item not in choices[key]:
                    raise UserError(f"--sweep {key}: {shown(item)} is not allowed; expected one of "
                                    f"{', '.join(choices[key])}")
            else:
                cls.parse_value(key, item)
        grid[key] = items
    return grid


def parse_search(text: str) -> int | None:
    """``grid`` → None (every point), ``random:N`` → N (a sample of N points); a :class:`UserError` otherwise."""
    kind, _, count = text.partition(":")
    if text == "grid":
        return None
    if kind == "random" and count.isdecimal() and int(count) >= 1:
        return int(count)
    raise UserError(f"--search: {shown(text)} is not allowed; expected grid or random:N with N >= 1")


def parse_objectives(text: str) -> list[str]:
    """``cycles,energy,area`` (any non-empty subset, in any order) → the metric names to minimize."""
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in OBJECTIVES:
            raise UserError(f"--objectives: {shown(name)} is not allowed; expected a list of "
                            f"{', '.join(OBJECTIVES)}")
    if len(set(names)) < len(names):
        raise UserError(f"--objectives: {shown(text)} names an objective twice")
    return [OBJECTIVES[name] for name in names]


def points(workloads: list[str], grid: dict[str, list[str]], sample: int | None = None,
           seed: int = 0, pad: str = "none") -> list[dict[str, str]]:
    """Every combination of a workload and one value per key (grid order), or ``sample`` of them drawn
    without repetition by ``seed`` (all of them if there are no more), in grid order; a topology workload's
    points also hold its ``pad``."""
    everything = [{"workload": w, **({"pad": pad} if _is_topology(w) else {}), **dict(zip(grid, values))}
                  for w in workloads for values in itertools.product(*grid.values())]
    if sample is None or sample >= len(everything):
        return everything
    picked = sorted(random.Random(seed).sample(range(len(everything)), sample))
    return [everything[i] for i in picked]


def point_key(engine: str, point: dict[str, str], table: str, synth: bool = False) -> str:
    """Sixteen hex digits naming what defines a point's result: engine, workload, swept values, energy table,
    and whether it is synthesized."""
    text = json.dumps({"engine": engine, "point": point, "table": table, "synth": synth}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_workload(engine: str, workload: str, pad: str = "none") -> None:
    """A :class:`UserError` for a workload that is not one of the module docstring's forms for ``engine``
    (every check that needs no spec; a layer that does not fit a swept spec is an infeasible point)."""
    _workload(engine, workload, pad)


def _is_topology(workload: str) -> bool:
    return workload.lower().endswith(".csv")


@functools.lru_cache(maxsize=None)
def _workload(engine: str, workload: str, pad: str = "none"):
    """(``"shapes"``, [(name, ConvShape)], left_out) for a mac_array network or convolution/dense layer;
    (``"model"``, name) or (``"layer"``, kind, params) for the engine's compiler to build a case from."""
    from .compiler import ENGINES, parse_layer

    if engine not in ENGINES:
        raise UserError(f"explore: {engine!r} is not an engine with a compiler; expected one of {', '.join(ENGINES)}")
    compiler = importlib.import_module(f"accel.compiler.{engine}")
    if workload in getattr(compiler, "MODELS", ()):
        return ("model", workload)
    if ":" in workload:
        kind, params = parse_layer(workload, compiler.LAYER_KINDS)
        if engine == "mac_array" and kind in ("conv", "dense", "depthwise"):
            return ("shapes", ((kind, compiler.check_params(kind, params)),), ())
        return ("layer", kind, tuple(params.items()))
    if engine != "mac_array":
        raise UserError(f"--workload {shown(workload)}: engine '{engine}' takes a model "
                        f"({', '.join(getattr(compiler, 'MODELS', ())) or 'none'}) or a layer KIND:KEY=VALUE,... "
                        f"with KIND one of {', '.join(compiler.LAYER_KINDS)}")
    if workload in ZOO:
        return ("shapes", *_graph_shapes(workload))
    if _is_topology(workload):
        return ("shapes", _topology_shapes(workload, pad), ())
    raise UserError(f"--workload {shown(workload)}: expected a zoo network ({', '.join(ZOO)}), a SCALE-Sim .csv "
                    f"file, a model or a layer KIND:KEY=VALUE,... with KIND one of {', '.join(compiler.LAYER_KINDS)}")


def _graph_shapes(name: str):
    """The network's Conv2d and Dense layers as shapes, and the names of the layers left out (all but those
    the int8 lowering folds into a convolution: BatchNorm, ReLU, ReLU6, Flatten)."""
    from .compiler.mac_array import ConvShape
    from .nn.layers import BatchNorm, Conv2d, Dense, Flatten, ReLU, ReLU6

    graph, shapes, left_out = ZOO[name](), [], []
    for node in graph.layers():
        op, (c, *hw) = node.op, graph.in_shapes(node)[0]
        if isinstance(op, Dense):
            shapes.append((node.name, ConvShape.dense(c, op.out_features)))
        elif isinstance(op, Conv2d) and op.dilation == (1, 1) and len(set(op.stride)) == 1:
            shapes.append((node.name, ConvShape(c, *hw, op.out_channels, *op.kernel, op.stride[0], *op.padding,
                                                op.groups)))
        elif not isinstance(op, (BatchNorm, ReLU, ReLU6, Flatten)):
            left_out.append(node.name)
    return tuple(shapes), tuple(left_out)


def _topology_shapes(path: str, pad: str):
    from .compiler.mac_array import ConvShape
    from .nn.topology import load_topology

    return tuple((layer.name, ConvShape.of_topology(layer)) for layer in load_topology(path, pad))


def _spec(engine: str, values: dict[str, str]):
    return spec_class(engine)().with_overrides(values)


def _mac_array_layers(spec: MacArraySpec, shapes, choices: dict[str, str], table) -> list[dict]:
    from sim.perf.mac_array import counters

    from .compiler.mac_array import Layout, plan, schedule
    from .cost import energy
    from .program import MemoryImage, Program

    mode = None if choices.get("mode", "auto") == "auto" else choices["mode"]
    double = {"auto": None, "on": True, "off": False}[choices.get("double", "auto")]
    rows = []
    for name, shape in shapes:
        mapping = plan(spec, shape, name, mode=mode, double=double)
        commands = schedule(spec, shape, mapping, Layout.of(spec, shape, mapping))
        counts = counters(spec, commands)
        spent = energy(Program(spec, commands, MemoryImage()), counts, table)
        rows.append(dict(layer=name, macs=shape.macs, cycles=counts["cycles"], energy_pj=spent.total_pj,
                         energy_breakdown=spent.breakdown, bytes_read=counts["bytes_read"],
                         bytes_written=counts["bytes_written"], mode=mapping.mode, double=mapping.double))
    return rows


def _case_layer(spec, engine: str, workload, table) -> tuple[object, dict]:
    import numpy as np

    from sim import perf

    from .cost import energy

    compiler = importlib.import_module(f"accel.compiler.{engine}")
    if workload[0] == "model":
        case = compiler.model_case(spec, workload[1])
    else:
        case = compiler.random_case(spec, workload[1], dict(workload[2]), np.random.default_rng(0))
    counts = perf.run(case.program).counters
    spent = energy(case.program, counts, table)
    return case.program.spec, dict(layer=workload[1], macs=case.macs, cycles=counts["cycles"],
                                   energy_pj=spent.total_pj, energy_breakdown=spent.breakdown,
                                   bytes_read=counts["bytes_read"], bytes_written=counts["bytes_written"])


def evaluate(engine: str, point: dict[str, str], table: str = "45nm", synth: bool = False) -> dict:
    """The metrics of ``point`` (its ``workload`` and swept values) on ``engine``, priced by energy
    ``table``: ``feasible`` and ``reason`` (the one-line refusal of an infeasible point), and for a feasible
    one ``metrics`` (:data:`COLUMNS`, the FPGA ones with ``synth`` only, and ``left_out``) and ``per_layer``
    (cycles, energy and its ``energy_breakdown`` by level, MACs, traffic and the mapping's mode and buffering
    per layer). ``synth`` runs Yosys and
    nextpnr on the point's spec (minutes to an hour; cached by Verilog hash)."""
    from .cost import area, load_table

    values = {k: v for k, v in point.items() if k not in ("workload", "pad")}
    choices = {k: values.pop(k) for k in CHOICES.get(engine, {}) if k in values}
    record = {"key": point_key(engine, point, table, synth), "engine": engine, "point": point, "table": table}
    workload = _workload(engine, point["workload"], point.get("pad", "none"))
    priced = load_table(table)
    try:
        spec = _spec(engine, values)
        if workload[0] == "shapes":
            layers = _mac_array_layers(spec, workload[1], choices, priced)
        else:
            spec, layer = _case_layer(spec, engine, workload, priced)
            layers = [layer]
    except UserError as error:
        return record | {"feasible": False, "reason": str(error)}
    cycles, macs = sum(r["cycles"] for r in layers), sum(r["macs"] for r in layers)
    metrics = dict(cycles=cycles, energy_pj=sum(r["energy_pj"] for r in layers),
                   **{f"energy_{level}_pj": sum(r["energy_breakdown"][level] for r in layers)
                      for level in layers[0]["energy_breakdown"]},
                   area_mm2=area(spec, priced)["total_mm2"], utilization=macs / (cycles * spec.macs_per_cycle),
                   macs=macs, bytes_read=sum(r["bytes_read"] for r in layers),
                   bytes_written=sum(r["bytes_written"] for r in layers), layers=len(layers),
                   left_out=list(workload[2]) if workload[0] == "shapes" else [])
    if synth:
        from rtl_gen.export import module_name, verilog_for
        from rtl_gen.fpga import synthesize

        report = synthesize(verilog_for(spec), module_name(spec)).to_dict()
        metrics |= {column: report[column] for column in FPGA_COLUMNS}
    return record | {"feasible": True, "reason": None, "spec": spec.to_dict(), "metrics": metrics,
                     "per_layer": layers}


def pareto(rows: list[dict], objectives: list[str]) -> list[int]:
    """Indices of the rows no other row dominates (at most as large in every objective of ``objectives``,
    smaller in one); equal rows are all kept."""
    values = [tuple(row[o] for o in objectives) for row in rows]
    return [i for i, v in enumerate(values)
            if not any(all(a <= b for a, b in zip(u, v)) and u != v for u in values)]


def _local(engine: str, todo: list[dict], table: str, synth: bool, workers: int) -> Iterator[dict]:
    if workers == 1:
        for point in todo:
            yield evaluate(engine, point, table, synth)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        for future in as_completed([pool.submit(evaluate, engine, point, table, synth) for point in todo]):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ray(engine: str, todo: list[dict], table: str, synth: bool, address: str) -> Iterator[dict]:
    try:
        import ray
    except ImportError:
        raise UserError("--cluster: Ray is not installed; install the extra: pip install -e '.[cluster]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except ConnectionError as error:
            raise UserError(f"--cluster: cannot connect to {shown(address)} ({str(error).splitlines()[0]})") from None
    try:
        remote = ray.remote(evaluate)
        pending = [remote.remote(engine, point, table, synth) for point in todo]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def _read_log(path: Path) -> dict[str, dict]:
    """The points finished so far, by key; a line cut off by an interruption is ignored (and ended, so the
    next point appended starts a line of its own)."""
    done = {}
    if path.exists():
        text = path.read_text()
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[record["key"]] = record
        if text and not text.endswith("\n"):
            with path.open("a") as f:
                f.write("\n")
    return done


def explore(engine: str, workloads: list[str], grid: dict[str, list[str]], out_dir: Path, *,
            sample: int | None = None, seed: int = 0, objectives: tuple[str, ...] = tuple(OBJECTIVES.values()),
            table: str = "45nm", synth: bool = False, workers: int | None = None, cluster: str | None = None,
            limit: int | None = None, progress: bool = True, pad: str = "none") -> tuple[list[dict], list[dict]]:
    """Evaluate every point of the sweep not yet in ``out_dir``'s :data:`POINTS_LOG` (at most ``limit`` of
    them; with ``synth`` each also synthesized, see :func:`evaluate`), locally on ``workers`` processes
    (default: one per CPU) or on the Ray cluster at ``cluster`` (``local``: a Ray instance started here), then write the outputs (:func:`write_outputs`); the records
    of the sweep's points in grid order (only those finished if ``limit`` stopped it) and of its front.
    ``pad`` is how topology workloads' IFMAPs are read (:func:`accel.nn.load_topology`)."""
    for workload in workloads:
        check_workload(engine, workload, pad)
    from .cost import load_table

    load_table(table)
    todo = points(workloads, grid, sample, seed, pad)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    log = Path(out_dir) / POINTS_LOG
    done = _read_log(log)
    keys = [point_key(engine, p, table, synth) for p in todo]
    missing = [p for p, k in zip(todo, keys) if k not in done][:limit]
    if cluster is not None:
        results = _ray(engine, missing, table, synth, cluster)
    else:
        results = _local(engine, missing, table, synth, workers or os.cpu_count() or 1)
    from .progress import bar

    with bar("points", len(todo), len(todo) - len(missing), enabled=progress) as advance, log.open("a") as out:
        for record in results:
            out.write(json.dumps(record) + "\n")
            out.flush()
            done[record["key"]] = record
            advance()
    records = [done[k] for k in keys if k in done]
    return records, write_outputs(records, list(grid), list(objectives), Path(out_dir))


def _row(record: dict, keys: list[str]) -> dict:
    metrics = record.get("metrics", {})
    return {"workload": record["point"]["workload"], "pad": record["point"].get("pad", ""),
            **{k: record["point"][k] for k in keys},
            "feasible": record["feasible"], "reason": record["reason"] or "",
            **{c: metrics.get(c, "") for c in COLUMNS}, "key": record["key"]}


def _write(path: Path, rows: list[dict], header: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, header, extrasaction="ignore")  # "pad" only when a column
        writer.writeheader()
        writer.writerows(rows)


def front(records: list[dict], objectives: list[str]) -> list[dict]:
    """The feasible records on the Pareto front over ``objectives`` of their workload (the points of two
    workloads are not alternatives to each other), in the order of ``records``."""
    feasible = [r for r in records if r["feasible"]]
    on = set()
    for workload in dict.fromkeys(r["point"]["workload"] for r in feasible):
        same = [r for r in feasible if r["point"]["workload"] == workload]
        on.update(same[i]["key"] for i in pareto([r["metrics"] for r in same], objectives))
    return [r for r in feasible if r["key"] in on]


def write_outputs(records: list[dict], keys: list[str], objectives: list[str], out_dir: Path) -> list[dict]:
    """Write ``points.csv`` and ``points.json`` (every point), ``pareto.csv`` and ``pareto.json`` (the points
    of :func:`front`) and one PNG per pair of objectives (``OBJ1_vs_OBJ2.png``: each workload's points and
    its front over that pair); the front's records."""
    best = front(records, objectives)
    padded = ["pad"] if any("pad" in r["point"] for r in records) else []  # a column when a topology is swept
    header = ["workload", *padded, *keys, "feasible", "reason", *COLUMNS, "key"]
    for name, chosen in (("points", records), ("pareto", best)):
        _write(out_dir / f"{name}.csv", [_row(r, keys) for r in chosen], header)
        (out_dir / f"{name}.json").write_text(json.dumps({"objectives": objectives, "points": chosen}, indent=1))
    for x, y in itertools.combinations(objectives, 2):
        _plot(records, keys, x, y, out_dir / f"{x}_vs_{y}.png")
    return best


def _plot(records: list[dict], keys: list[str], x: str, y: str, path: Path) -> None:
    """Each workload's feasible points in a colour of its own, and its front over ``x`` and ``y`` as a
    staircase labelled with the swept values."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: the caller's backend (a notebook's) is left alone

    figure = Figure(figsize=(5, 3.6), dpi=100)
    axes = figure.subplots()
    workloads = dict.fromkeys(r["point"]["workload"] for r in records if r["feasible"])
    for colour, workload in zip(itertools.cycle(matplotlib.colormaps["tab10"].colors), workloads):
        points = [r for r in records if r["feasible"] and r["point"]["workload"] == workload]
        axes.scatter([r["metrics"][x] for r in points], [r["metrics"][y] for r in points], s=14, color=colour,
                     alpha=0.35)
        best = sorted(front(points, [x, y]), key=lambda r: (r["metrics"][x], r["metrics"][y]))
        axes.step([r["metrics"][x] for r in best], [r["metrics"][y] for r in best], "o-", where="post",
                  color=colour, ms=5, label=f"{Path(workload).name}: front")
        for r in best:
            axes.annotate(",".join(r["point"][k] for k in keys), (r["metrics"][x], r["metrics"][y]), fontsize=6,
                          xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(f"labels: {','.join(keys)}" if keys else "", fontsize=8)
    if workloads:
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
