"""A compiled network on one backend, and its report (what ``accel run`` prints).

:func:`run` executes a :class:`~accel.compiler.network.Network` on ``golden`` (numpy, the bits; cycles and
counters from the perf model), ``perf`` (cycles and counters only: no output bits, so no ``bit_exact`` and
no accuracy) ``rtl`` (Verilator; cycles and counters measured) or ``board`` (a board built by ``accel board``, over its
serial port through :func:`accel.board.run_on_port`: the same driver; cycles and counters measured, the
AXI path's extra memory stalls included). Totals come from the backend; the
per-layer rows from :func:`sim.perf.layers` (the RTL's totals equal the perf model's by the second
invariant, ``perf_cycles`` shows it). Energy is :func:`accel.cost.energy` of the counters, per layer of its
commands and counters (energy is additive over commands, so the layers sum to the total).
"""

import dataclasses

import numpy as np

from . import progress
from .cost import energy, load_table
from .errors import UserError

BACKENDS = ("golden", "perf", "rtl", "board")


def check_board(backend: str, port: str | None, baud: int | None, image_kib: int | None) -> None:
    """A :class:`UserError` unless ``port`` is given exactly when ``backend`` is ``board`` (and ``baud`` and
    ``image_kib``, which describe the board, only then)."""
    if backend == "board" and port is None:
        raise UserError("--port: required with --backend board; allowed: the board's serial port, e.g. /dev/ttyUSB0")
    if backend != "board":
        given = [name for name, value in (("--port", port), ("--baud", baud), ("--image-kib", image_kib))
                 if value is not None]
        if given:
            raise UserError(f"{given[0]}: not with --backend {backend}; allowed: only with --backend board")


def _figures(program, counters: dict[str, int], macs: int, table) -> dict:
    """The figures of ``program``'s commands with these ``counters`` and ``macs`` useful MACs."""
    spec = program.spec
    cost = energy(program, counters, table)
    return {"cycles": counters["cycles"], "macs": macs,
            "utilization": macs / (counters["cycles"] * spec.macs_per_cycle) if counters["cycles"] else 0.0,
            "bytes_read": counters["bytes_read"], "bytes_written": counters["bytes_written"],
            "energy_pj": cost.total_pj, "energy_breakdown": cost.breakdown}


def run(network, backend: str, *, stall: bool = False, seed: int = 0, table="45nm", show: bool = True,
        port: str | None = None, baud: int | None = None, image_kib: int | None = None) -> dict:
    """``network`` on ``backend``: totals, per-layer rows, ``bit_exact`` (the outputs against the
    independent integer reference; None on perf) and, where the images have labels, ``accuracy`` on this
    backend (None on perf) next to ``reference_accuracy`` (the reference's). ``show``: progress on stderr.
    ``board`` only: serial ``port``, ``baud`` and ``image_kib`` of the build (defaults of ``accel board``)."""
    from sim import golden, perf

    if backend not in BACKENDS:
        raise UserError(f"--backend: {backend!r} is not allowed; expected one of {', '.join(BACKENDS)}")
    check_board(backend, port, baud, image_kib)
    program, spec = network.program, network.program.spec
    predicted = perf.run(program)
    counters, outputs, result = predicted.counters, None, {}
    if backend == "golden":
        with progress.step(f"golden model: {len(program.commands)} commands, {network.images} images"):
            outputs = network.output(golden.run(program).memory)
    elif backend == "rtl":
        from sim.rtl.execute import run as rtl

        with progress.step(f"RTL: {len(program.commands)} commands, {network.images} images"):
            (measured,) = rtl([program], stall=stall, seed=seed)  # the harness every Program of the spec shares
        outputs, counters = network.output(measured.memory), measured.counters
        result["perf_cycles"] = predicted.cycles
        result["rtl_seconds"] = measured.seconds
    elif backend == "board":
        from .board import DEFAULT_BAUD, DEFAULT_IMAGE_KIB, run_on_port

        with progress.step(f"board at {port}: {len(program.commands)} commands, {network.images} images"):
            measured = run_on_port(program, port, baud or DEFAULT_BAUD, (image_kib or DEFAULT_IMAGE_KIB) * 1024)
        outputs, counters = network.output(measured.memory), measured.counters
        result["perf_cycles"] = predicted.cycles
    reference = np.asarray(network.reference()).reshape(network.images, -1)
    result["bit_exact"] = None if outputs is None else bool(np.array_equal(outputs, reference))
    rows = perf.layers(program, network.layers)
    layers = []
    with progress.bar("layers", len(rows), enabled=show) as advance:
        for record, row in zip(network.layers, rows):
            commands = [c for first, end in record.commands for c in program.commands[first:end]]
            part = dataclasses.replace(program, commands=commands)
            layers.append({"name": record.name, "op": record.op, "shape": record.shape, "mapping": record.mapping,
                           **_figures(part, row, record.macs, table)})
            advance()
    result = {"engine": spec.name, "model": network.info.get("model"), "backend": backend, "images": network.images,
              **_figures(program, counters, network.macs, table), "energy_table": load_table(table).name, **result,
              "counters": counters, "layers": layers, "spec": spec.to_dict()}
    labels = network.info.get("labels")
    if labels is not None:
        result["accuracy"] = None if outputs is None else float(np.mean(outputs.argmax(axis=1) == labels))
        result["reference_accuracy"] = float(np.mean(reference.argmax(axis=1) == labels))
    return result


def table(result: dict) -> str:
    """``result`` as text: one row per layer, then the totals, accuracy and energy."""
    head = ("layer", "op", "shape", "mapping", "cycles", "util", "read B", "written B", "energy nJ")
    rows = [(f"{r['engine']}:{r['name']}" if "engine" in r else r["name"], r["op"], r["shape"], r["mapping"],
             f"{r['cycles']:,}", f"{r['utilization']:.1%}",
             f"{r['bytes_read']:,}", f"{r['bytes_written']:,}", f"{r['energy_pj'] / 1000:.4g}")
            for r in result["layers"]]
    rows.append(("total", "", "", "", f"{result['cycles']:,}", f"{result['utilization']:.1%}",
                 f"{result['bytes_read']:,}", f"{result['bytes_written']:,}", f"{result['energy_pj'] / 1000:.4g}"))
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) if i < 4 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [head, *rows]]
    exact = "unchecked" if result["bit_exact"] is None else result["bit_exact"]
    lines.insert(0, f"{result['model']} on {result['engine']}, {result['backend']}: {result['images']} images, "
                    f"bit_exact={exact}, MACs={result['macs']:,}")
    if "reference_accuracy" in result:
        accuracy = "n/a (perf computes no outputs)" if result["accuracy"] is None else f"{result['accuracy']:.2%}"
        lines.append(f"accuracy {accuracy}, reference {result['reference_accuracy']:.2%}")
    if "perf_cycles" in result:
        lines.append(f"perf model: {result['perf_cycles']:,} cycles")
    for engine, part in result.get("engines", {}).items():
        lines.append(f"{engine}: {part['cycles']:,} cycles, {part['macs']:,} MACs, {part['utilization']:.1%} "
                     f"utilization, {part['bytes']:,} DRAM bytes")
    for t in result.get("transfers", ()):
        lines.append(f"transfer {t['from']} -> {t['to']} through DRAM: {t['bytes_read']:,} B read "
                     f"({t['read_beats']:,} beats) + {t['bytes_written']:,} B written ({t['write_beats']:,} beats) "
                     f"= {t['cycles']:,} cycles")
    levels = " ".join(f"{k}={v:.4g}" for k, v in result["energy_breakdown"].items())
    lines.append(f"energy={result['energy_pj']:.4g} pJ ({result['energy_table']}: {levels} pJ)")
    return "\n".join(lines)


def run_partitioned(partitioned, backend: str, *, stall: bool = False, seed: int = 0, table="45nm",
                    show: bool = True) -> dict:
    """A :class:`~accel.compiler.partition.Partitioned` network on ``backend``, stage after stage (each as
    :func:`run`): totals are the stages' sums plus the transfers' cycles and bytes; ``engines`` per engine
    cycles, macs, bytes (read + written); ``transfers``; ``bit_exact`` when every stage equals its reference
    (each stage's reference runs on the previous one's converted outputs, so this is the whole network
    against its chained integer reference); layer rows carry their ``engine``; on rtl ``perf_cycles`` (the
    perf model's total) and ``rtl_seconds``. Energy: the stages' (the transfers' DRAM traffic is not
    costed)."""
    results = [run(stage.network, backend, stall=stall, seed=seed, table=table, show=show)
               for stage in partitioned.stages]
    transfers = [t.to_dict() for t in partitioned.transfers]
    engines = {stage.engine: {"cycles": r["cycles"], "macs": r["macs"], "bytes_read": r["bytes_read"],
                              "bytes_written": r["bytes_written"], "bytes": r["bytes_read"] + r["bytes_written"],
                              "utilization": r["utilization"], "energy_pj": r["energy_pj"], "spec": r["spec"]}
               for stage, r in zip(partitioned.stages, results)}
    peak = sum(r["cycles"] * stage.network.program.spec.macs_per_cycle
               for stage, r in zip(partitioned.stages, results))
    exact = [r["bit_exact"] for r in results]
    breakdown = {}
    for r in results:
        for level, pj in r["energy_breakdown"].items():
            breakdown[level] = breakdown.get(level, 0.0) + pj
    result = {"engine": "auto", "model": partitioned.info.get("model"), "backend": backend,
              "images": partitioned.images,
              "cycles": sum(r["cycles"] for r in results) + sum(t["cycles"] for t in transfers),
              "macs": sum(r["macs"] for r in results),
              "utilization": sum(r["macs"] for r in results) / peak if peak else 0.0,
              "bytes_read": sum(r["bytes_read"] for r in results) + sum(t["bytes_read"] for t in transfers),
              "bytes_written": sum(r["bytes_written"] for r in results) + sum(t["bytes_written"] for t in transfers),
              "energy_pj": sum(r["energy_pj"] for r in results), "energy_breakdown": breakdown,
              "energy_table": results[0]["energy_table"],
              "bit_exact": None if None in exact else all(exact),
              "engines": engines, "transfers": transfers,
              "layers": [{"engine": stage.engine, **row} for stage, r in zip(partitioned.stages, results)
                         for row in r["layers"]]}
    if backend == "rtl":
        result["perf_cycles"] = sum(r["perf_cycles"] for r in results) + sum(t["cycles"] for t in transfers)
        result["rtl_seconds"] = sum(r["rtl_seconds"] for r in results)
    if "reference_accuracy" in results[-1]:
        result["accuracy"] = results[-1]["accuracy"]
        result["reference_accuracy"] = results[-1]["reference_accuracy"]
    return result
