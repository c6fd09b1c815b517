"""The ``accel`` command line.

Every command names a block or engine (a key of :data:`accel.spec.SPECS`), optionally starts from a JSON
spec file (``--spec``) or a named preset (``--preset``) and changes parameters with ``--set key=value``.
User errors print one line, ``accel: error: …``, and exit with status 2; hardware tools are imported only
when a command needs them.
"""

import json
import sys
import tempfile
from pathlib import Path

import click

from . import __version__
from .board import DEFAULT_BAUD, DEFAULT_CLOCK_MHZ, DEFAULT_IMAGE_KIB
from .errors import UserError
from .spec import Spec, spec_class


def _spec(name: str, spec_file: Path | None, preset: str | None, assignments: tuple[str, ...]) -> Spec:
    """The spec NAME, from SPEC_FILE or PRESET if given, with every ``key=value`` of ``--set`` applied."""
    cls = spec_class(name)
    if spec_file is not None and preset is not None:
        raise UserError(f"--preset {preset!r}: cannot be combined with --spec (a spec file sets every parameter); "
                        f"allowed: one of them, then --set")
    if preset is not None:
        spec = cls.preset(preset)
    elif spec_file is None:
        spec = cls()
    else:
        try:
            spec = Spec.from_json(Path(spec_file).read_text(encoding="utf-8"))
        except OSError as error:
            raise UserError(f"--spec: cannot read {str(spec_file)!r} ({error.strerror})") from None
        except UnicodeDecodeError:
            raise UserError(f"--spec: cannot read {str(spec_file)!r} (not UTF-8 text)") from None
        if spec.name != name:
            raise UserError(f"--spec: {str(spec_file)!r} describes '{spec.name}', not {name!r}")
    overrides = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set: {assignment!r} is not of the form key=value")
        if key.strip() in overrides:
            raise UserError(f"--set: {key.strip()!r} is set twice; expected each parameter at most once")
        overrides[key.strip()] = value.strip()
    return spec.with_overrides(overrides)


def _out_dir(text: str) -> Path:
    """Make directory ``text`` (and its parents) after checking that files can be written there; a
    :class:`UserError` naming the path otherwise, with nothing written."""
    if not text:
        raise UserError("--out: '' is not allowed; expected a directory path")
    out_dir = Path(text)
    existing = out_dir.absolute()
    try:
        if existing.exists() and not existing.is_dir():
            raise UserError(f"--out: {str(out_dir)!r} exists and is not a directory; expected a directory")
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise UserError(f"--out: {str(existing)!r} is not a directory; expected a directory (or a new path) "
                            f"for {str(out_dir)!r}")
        with tempfile.TemporaryFile(dir=existing):  # an unnamed file on Linux: nothing shows
            pass
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--out: cannot write {str(out_dir)!r} ({error.strerror})") from None
    return out_dir


_name = click.argument("name", metavar="BLOCK_OR_ENGINE")
_spec_file = click.option("--spec", "spec_file", type=click.Path(path_type=Path),
                          help="JSON spec file to start from (as `generate` writes it).")
_preset = click.option("--preset", default=None, metavar="NAME",
                       help="Start from a named reference configuration (`accel params NAME` lists them).")
_energy_table = click.option("--energy-table", "energy_table", default="45nm", show_default=True,
                             metavar="NAME_OR_FILE",
                             help="Per-action energies: a built-in table (45nm, 28nm) or a JSON file "
                                  "(accel.cost.tables).")
_wrap = click.option("--wrap", type=click.Choice(["axi"]), default=None,
                     help="Wrap the engine: axi = AXI4-Lite register map + AXI4 memory master (rtl_gen.axi).")
_set = click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                    help="Set a spec parameter; repeatable. `accel params NAME` lists them.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="accel")
def cli():
    """Describe, generate, simulate and compile accelerators for compressed neural networks."""


@cli.command()
@_name
def params(name):
    """List the parameters of BLOCK_OR_ENGINE with defaults and allowed values, then its presets."""
    cls = spec_class(name)
    for key, text in cls.describe().items():
        click.echo(f"{key}: {text}")
    for preset, about in cls.PRESETS.items():
        values = " ".join(f"{key}={value}" for key, value in cls.preset(preset).to_dict().items() if key != "spec")
        click.echo(f"\npreset {preset}: {about.description}\n  {values}\n  source: {about.source}")


@cli.command()
@_name
@_spec_file
@_preset
@_set
@_wrap
@click.option("--out", "out_dir", type=click.Path(), required=True,
              help="Directory for the Verilog and its spec.")
def generate(name, spec_file, preset, assignments, wrap, out_dir):
    """Write Verilog for BLOCK_OR_ENGINE (lint-checked) and its spec as JSON; with --wrap axi the wrapped
    engine, its register map's C header and Markdown page."""
    spec = _spec(name, spec_file, preset, assignments)
    if wrap:
        from accel.regmap import register_map

        register_map(spec)  # an engine, before anything is written
    out_dir = _out_dir(out_dir)
    from rtl_gen.export import export, lint, module_name, write_if_changed

    if wrap:
        from rtl_gen.axi.wrapper import export_wrapped

        path, *others = export_wrapped(spec, out_dir)
    else:
        path, others = export(spec, out_dir), []
    write_if_changed(Path(out_dir) / f"{module_name(spec)}.json", spec.to_json() + "\n")
    lint(path)
    click.echo(f"{path} (top module {path.stem}, lint clean)" + "".join(f"; {other}" for other in others))


@cli.command()
@_name
@_spec_file
@_preset
@_set
@_wrap
@click.option("--device", default=None, help="ECP5 device (default LFE5U-85F).")
@click.option("--freq", "target_mhz", type=float, default=100.0, show_default=True,
              help="Clock target for nextpnr in MHz.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def synth(name, spec_file, preset, assignments, wrap, device, target_mhz, as_json):
    """Synthesize BLOCK_OR_ENGINE (with --wrap axi: in its AXI wrapper) for ECP5 (Yosys + nextpnr): LUT4, FF,
    DSP, BRAM and Fmax."""
    spec = _spec(name, spec_file, preset, assignments)
    from rtl_gen import fpga
    from rtl_gen.export import module_name, verilog_for

    device = device or fpga.DEFAULT_DEVICE
    fpga.check_target(device, target_mhz)  # before the Verilog is generated
    if wrap:
        from rtl_gen.axi.wrapper import wrapped_name, wrapped_verilog

        report = fpga.synthesize(wrapped_verilog(spec), wrapped_name(spec), device, target_mhz=target_mhz)
    else:
        report = fpga.synthesize(verilog_for(spec), module_name(spec), device, target_mhz=target_mhz)
    if as_json:
        click.echo(json.dumps({"spec": spec.to_dict(), **report.to_dict()}))
    else:
        click.echo(f"{report.top} on {report.device}: {report.lut4} LUT4, {report.ff} FF, "
                   f"{report.dsp} MULT18X18D, {report.bram} DP16KD, Fmax {report.fmax_mhz:.1f} MHz")


@cli.command()
@_name
@_spec_file
@_preset
@_set
@click.option("--board", "board_name", default="ulx3s-85f", show_default=True, help="Board (ulx3s-85f).")
@click.option("--clock", "clock_mhz", type=float, default=None,
              help="Design clock in MHz (made by the PLL from the board's oscillator); the build must meet it. "
                   "Default per engine: " + ", ".join(f"{e} {mhz:g}" for e, mhz in DEFAULT_CLOCK_MHZ.items()) + ".")
@click.option("--image-kib", type=int, default=DEFAULT_IMAGE_KIB, show_default=True,
              help="Image memory (block RAM) for the Program's memory image, KiB; a power of two.")
@click.option("--baud", type=int, default=DEFAULT_BAUD, show_default=True, help="UART baud rate.")
@click.option("--out", "out_dir", required=True, help="Directory for the bitstream, timing report and logs.")
def board(name, spec_file, preset, assignments, board_name, clock_mhz, image_kib, baud, out_dir):
    """Build a bitstream: ENGINE behind AXI, its image memory, a UART bridge and a PLL, on a board."""
    spec = _spec(name, spec_file, preset, assignments)
    out_dir = _out_dir(out_dir)
    from rtl_gen.board.build import build_board

    click.echo(build_board(spec, board_name, clock_mhz, image_kib * 1024, out_dir, baud=baud).summary())


_seed = click.IntRange(min=0)
"""Seeds are non-negative integers of any size (numpy's ``default_rng`` takes them all)."""


@cli.command()
@click.option("--engine", required=True, help="Engine to simulate (eie, mac_array, xnor).")
@click.option("--layer", "layer", default=None, metavar="KIND:KEY=VALUE,...",
              help="A random layer, e.g. conv:h=56,w=56,c=64,k=64,r=3,stride=1,pad=1.")
@click.option("--model", default=None, metavar="NAME", help="A trained network instead of --layer, e.g. digits-bnn-mlp.")
@click.option("--weights", type=click.Path(path_type=Path), default=None, metavar="FILE.npz",
              help="Your own compressed layer instead of --layer (the .npz format of each engine: "
                   "accel.compiler.layer_files).")
@_spec_file
@_preset
@_set
@click.option("--backend", type=click.Choice(["golden", "perf", "rtl"]), default="perf", show_default=True)
@click.option("--check", is_flag=True,
              help="perf: also run the golden model and check it against the independent reference "
                   "(golden and rtl always check).")
@click.option("--seed", type=_seed, default=0, show_default=True,
              help="Seed of the random data (any integer >= 0).")
@click.option("--stall", is_flag=True, help="rtl: random stalls on the memory port.")
@_energy_table
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def simulate(engine, layer, model, weights, spec_file, preset, assignments, backend, check, seed, stall, energy_table,
             as_json):
    """Run one random layer (or a trained model) on ENGINE: cycles, utilization, traffic, and (golden, rtl,
    perf with --check) the bits against the reference."""
    import importlib

    import numpy as np

    from .compiler import ENGINES, parse_layer
    from .cost import energy, load_table

    if engine not in ENGINES:
        raise UserError(f"--engine: {engine!r} is not an engine with a compiler; expected one of {', '.join(ENGINES)}")
    spec = _spec(engine, spec_file, preset, assignments)
    table = load_table(energy_table)
    compiler = importlib.import_module(f"accel.compiler.{engine}")
    if [layer, model, weights].count(None) != 2:
        raise UserError("simulate: give exactly one of --layer KIND:KEY=VALUE,..., --model NAME and --weights FILE")
    if weights is not None:
        kind, params = "file", {"weights": str(weights)}
        case = compiler.file_case(spec, weights, seed=seed)
    elif model is not None:
        if not hasattr(compiler, "model_case"):
            raise UserError(f"--model: engine '{engine}' runs single layers only; use --layer")
        kind, params = "model", {"name": model}
        case = compiler.model_case(spec, model, seed=seed)
    else:
        kind, params = parse_layer(layer, compiler.LAYER_KINDS)
        case = compiler.random_case(spec, kind, params, np.random.default_rng(seed))
    spec = case.program.spec
    from sim import golden, perf

    predicted = perf.run(case.program)
    result = {"engine": engine, "spec": spec.to_dict(), "layer": {"kind": kind, **params}, "backend": backend,
              "seed": seed, "macs": case.macs, **case.info}
    counters = predicted.counters
    if backend == "rtl":
        from sim.rtl.execute import run as rtl

        measured = rtl([case.program], stall=stall, seed=seed)[0]
        result["bit_exact"] = bool(np.array_equal(measured.memory, golden.run(case.program).memory))
        result["reference"] = "golden"
        result["perf_cycles"] = predicted.cycles
        counters = measured.counters
    elif backend == "golden" or check:
        result["bit_exact"] = bool(np.array_equal(case.output(golden.run(case.program).memory), case.expected))
        result["reference"] = "independent reference"
    else:
        result["bit_exact"] = result["reference"] = None  # nothing computed the output bits
    result["cycles"] = counters["cycles"]
    result["utilization"] = case.macs / (counters["cycles"] * spec.macs_per_cycle) if case.macs else 0.0
    result["counters"] = counters
    result["bytes_read"], result["bytes_written"] = counters["bytes_read"], counters["bytes_written"]
    result |= energy(case.program, counters, table).to_dict()
    if weights is not None:  # a layer file's cycles apart: computing, loading (the engine's classes of cycles)
        isa = importlib.import_module(f"accel.isa.{engine}")
        for key, classes in (("compute_cycles", isa.COMPUTE_CYCLES), ("load_cycles", isa.LOAD_CYCLES)):
            result[key] = sum(counters[c] for c in classes)
    if as_json:
        click.echo(json.dumps(result))
    else:
        exact = "unchecked" if result["bit_exact"] is None else result["bit_exact"]
        click.echo(f"{engine} {kind} on {backend}: bit_exact={exact} cycles={result['cycles']} "
                   f"MACs={case.macs} utilization={result['utilization']:.1%} read={result['bytes_read']} B "
                   f"written={result['bytes_written']} B")
        levels = " ".join(f"{k}={v:.4g}" for k, v in result["energy_breakdown"].items())
        click.echo(f"energy={result['energy_pj']:.4g} pJ ({result['energy_table']}: {levels} pJ)")
        if weights is not None:
            click.echo(_file_summary(result))
    return 1 if result["bit_exact"] is False else 0


@cli.command()
@click.argument("model")
@click.option("--prune", "removed", type=float, default=None, metavar="FRACTION",
              help="Remove this fraction of each layer's weights by magnitude (e.g. 0.9), fine-tuning between rounds.")
@click.option("--share", "bits", type=int, default=None, metavar="BITS",
              help="Share weights: a 2**BITS-entry codebook per layer (1..8; Deep Compression uses 4).")
@click.option("--binarize", is_flag=True, help="Report the binarized (BNN) counterpart, run on integers only.")
@click.option("--quantize", type=click.Choice(["int8"]), default=None,
              help="Post-training int8 quantization (per-channel weights, calibrated activations), run on integers "
                   "only; not with --prune, --share or --binarize.")
@click.option("--seed", type=_seed, default=0, show_default=True,
              help="Seed of training and fine-tuning (any integer >= 0).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def compress(model, removed, bits, binarize, quantize, seed, as_json):
    """Compress MODEL (digits-mlp, digits-cnn, digits-bnn-mlp, digits-bnn-cnn); report size and accuracy."""
    from .compress.quantize import int8_report
    from .compress.report import compression_report

    if quantize and (removed is not None or bits is not None or binarize):
        raise UserError(f"--quantize {quantize}: cannot be combined with --prune, --share or --binarize; "
                        f"allowed: --quantize alone")
    report = int8_report(model, seed) if quantize else \
        compression_report(model, prune=removed, share=bits, binarize=binarize, seed=seed)
    click.echo(json.dumps(report.to_dict()) if as_json else report.table())


@cli.command()
@click.argument("engine")
@click.option("--workload", "workloads", multiple=True, required=True, metavar="W",
              help="A zoo network (mac_array), a SCALE-Sim .csv file (mac_array), a model (digits-mlp, "
                   "digits-bnn-mlp…) or a layer KIND:KEY=VALUE,...; repeatable.")
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2,...",
              help="Values of a spec parameter or compiler choice (mac_array: mode, double); repeatable.")
@click.option("--search", default="grid", show_default=True, metavar="grid|random:N",
              help="Every combination, or N of them drawn at random (--seed).")
@click.option("--seed", type=_seed, default=0, show_default=True, help="Seed of --search random:N.")
@click.option("--objectives", default="cycles,energy,area", show_default=True,
              help="Metrics the Pareto front minimizes: a list of cycles, energy, area.")
@_energy_table
@click.option("--synth", is_flag=True,
              help="Also synthesize each point's spec for ECP5 (LUT4, FF, DSP, BRAM, Fmax; minutes to an hour "
                   "each, cached by Verilog hash).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local processes (default: one per CPU).")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Run on the Ray cluster at ADDRESS (HEAD:6379), or 'local' to start a Ray instance here.")
@click.option("--pad", type=click.Choice(["none", "same"]), default="none", show_default=True,
              help="A .csv workload's IFMAP: none = it includes the padding (SCALE-Sim), same = the unpadded input "
                   "of a 'same'-padded layer.")
@click.option("--out", "out_dir", required=True, help="Directory for points.csv/json, pareto.csv/json, plots.")
def explore(engine, workloads, sweeps, search, seed, objectives, energy_table, synth, workers, cluster, pad,
            out_dir):
    """Sweep ENGINE's parameters and compiler choices over workloads (perf + cost model per point); write
    every point and the Pareto front (CSV, JSON) and plots. A rerun into the same --out resumes."""
    from . import explore as dse

    grid = dse.parse_sweeps(engine, sweeps)
    sample, chosen = dse.parse_search(search), dse.parse_objectives(objectives)
    if workers is not None and cluster is not None:
        raise UserError("--workers: not with --cluster (Ray places the points); allowed: one of them")
    from .cost import load_table

    load_table(energy_table)
    for workload in workloads:
        dse.check_workload(engine, workload, pad)
    records, front = dse.explore(engine, list(workloads), grid, _out_dir(out_dir), sample=sample, seed=seed,
                                 objectives=chosen, table=energy_table, synth=synth, workers=workers,
                                 cluster=cluster, pad=pad)
    feasible = sum(r["feasible"] for r in records)
    padding = f" (topology IFMAP padding: {pad})" if any("pad" in r["point"] for r in records) else ""
    click.echo(f"{len(records)} points ({feasible} feasible, {len(records) - feasible} infeasible), "
               f"{len(front)} on the Pareto front of {', '.join(chosen)}{padding}; wrote {out_dir}")


def _file_summary(result: dict) -> str:
    """A layer file's run in words: compute and load cycles, fraction bits (eie), and whether the layer was split
    or loading took most of the cycles."""
    cycles = result["cycles"]
    text = (f"cycles={cycles}: compute_cycles={result['compute_cycles']} load_cycles={result['load_cycles']} "
            f"other={cycles - result['compute_cycles'] - result['load_cycles']} (input: {result['input']})")
    if "weight_frac" in result:
        text += f"; weight_frac={result['weight_frac']} act_frac={result['act_frac']}"
    if result["split"]:
        text += "; the layer was split (its weights or features exceed the on-chip memories)"
    if result["load_cycles"] > cycles / 2:
        text += f"; {result['load_cycles'] / cycles:.0%} of the cycles load weights and activations from DRAM"
    return text


def _network_options(metavar: str):
    """The argument and options ``compile`` and ``run`` share: the model, engine, its spec, compression, inputs."""
    options = [click.argument("model", metavar=metavar),
        click.option("--engine", required=True, help="Engine to compile for (eie, mac_array, xnor; run: also auto, "
                                                     "convolutions on the mac_array and the classifier on eie)."),
        _spec_file, _preset, _set,
        click.option("--prune", "removed", type=float, default=None, metavar="FRACTION",
                     help="Remove this fraction of each layer's weights by magnitude (eie default 0.9)."),
        click.option("--share", "bits", type=int, default=None, metavar="BITS",
                     help="Share weights: a 2**BITS-entry codebook per layer (eie default 4)."),
        click.option("--binarize", is_flag=True, help="The binarized counterpart of a digits model (xnor)."),
        click.option("--calibrate", default=None, metavar="digits|random:N",
                     help="Inputs that calibrate a float model's int8 ranges (mac_array)."),
        click.option("--images", type=click.IntRange(min=1), default=None,
                     help="Input images (default: 100 test images of a digits model, else 1 random input)."),
        click.option("--seed", type=_seed, default=0, show_default=True,
                     help="Seed of the model's weights or training, the image draw and random inputs."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def _network(model, engine, spec_file, preset, assignments, removed, bits, binarize, calibrate, images, seed):
    """The network MODEL compiled for ENGINE (every option checked before the model is loaded)."""
    from .compiler.network import check, compile as compile_network
    from .nn.load import load

    if engine == "auto":
        from .compiler import partition

        given = [name for name, value in [("--spec", spec_file), ("--preset", preset), ("--set", assignments)] if value]
        if given:
            raise UserError(f"{given[0]}: not with --engine auto (it runs the default mac_array and eie specs); "
                            f"allowed: --prune, --share, --calibrate, --images, --seed")
        partition.check(model, prune=removed, share=bits, binarize=binarize, calibrate=calibrate, images=images)
        specs = {name: _spec(name, None, None, ()) for name in ("mac_array", "eie")}
        return partition.compile(specs, load(model, seed), images=images, seed=seed, prune=removed, share=bits,
                                 calibrate=calibrate)
    check(engine, model, prune=removed, share=bits, binarize=binarize, calibrate=calibrate, images=images)
    spec = _spec(engine, spec_file, preset, assignments)
    return compile_network(engine, spec, load(model, seed), images=images, seed=seed, prune=removed, share=bits,
                           binarize=binarize, calibrate=calibrate)


@cli.command("compile")
@_network_options("MODEL")
@click.option("--out", "out_file", required=True, metavar="FILE",
              help="Program file to write (and FILE.network.json beside it).")
def compile_(model, engine, spec_file, preset, assignments, removed, bits, binarize, calibrate, images, seed,
             out_file):
    """Compile MODEL (a digits model, a zoo network or an ONNX file) for ENGINE into one network Program."""
    from .compiler import network_file

    out = Path(out_file)
    if not out_file or out.is_dir() or not out.absolute().parent.is_dir():
        raise UserError(f"--out: {out_file!r} is not allowed; expected a file path in an existing directory")
    if engine == "auto":
        raise UserError("--engine: 'auto' is not allowed with accel compile (a partitioned network is one Program "
                        "per engine); expected eie, mac_array or xnor, or accel run MODEL --engine auto")
    network = _network(model, engine, spec_file, preset, assignments, removed, bits, binarize, calibrate, images, seed)
    try:
        network_file.save(network, out)
    except OSError as error:
        raise UserError(f"--out: cannot write {out_file!r} ({error.strerror})") from None
    click.echo(f"{out} ({len(network.program.commands)} commands, {len(network.layers)} layers, {network.images} "
               f"images) and {network_file.sidecar(out)}")


@cli.command()
@_network_options("MODEL_OR_PROGRAM_FILE")
@click.option("--backend", type=click.Choice(["golden", "perf", "rtl", "board"]), default="perf", show_default=True)
@click.option("--stall", is_flag=True, help="rtl: random stalls on the memory port.")
@click.option("--port", default=None, help="board: the board's serial port, e.g. /dev/ttyUSB0 (required).")
@click.option("--baud", type=int, default=None, help=f"board: UART baud rate of the build [default: {DEFAULT_BAUD}].")
@click.option("--image-kib", type=int, default=None,
              help=f"board: image memory of the build, KiB; a larger memory image is refused [default: "
                   f"{DEFAULT_IMAGE_KIB}].")
@_energy_table
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run(model, engine, spec_file, preset, assignments, removed, bits, binarize, calibrate, images, seed, backend,
        stall, port, baud, image_kib, energy_table, as_json):
    """Run MODEL (or a program file `accel compile` wrote) on ENGINE: per-layer table, totals, bit_exact and,
    for a digits model, the test accuracy next to the reference's. ENGINE auto: the convolutions on the
    mac_array, the fully connected classifier on eie, cycles per engine and the transfer between them.
    `--backend board` runs it on a board built by `accel board`, over its serial port."""
    from . import run as runner
    from .compiler import network_file
    from .cost import load_table

    runner.check_board(backend, port, baud, image_kib)
    if engine == "auto" and backend == "board":
        raise UserError("--backend board: not with --engine auto (a board holds one engine); expected golden, perf "
                        "or rtl")
    load_table(energy_table)
    if Path(model).is_file() and Path(model).suffix not in (".onnx", ".csv"):  # a program file
        given = [name for name, value in [("--spec", spec_file), ("--preset", preset), ("--set", assignments),
                                          ("--prune", removed), ("--share", bits), ("--binarize", binarize),
                                          ("--calibrate", calibrate), ("--images", images)] if value]
        if given:
            raise UserError(f"{given[0]}: not with a program file (it was compiled with its spec, compression and "
                            f"images); allowed: --engine, --backend, --seed, --stall, --port, --baud, --image-kib, --energy-table, "
                            f"--json")
        network = network_file.load(Path(model))
        if network.program.spec.name != engine:
            raise UserError(f"--engine: {model!r} is a program for '{network.program.spec.name}', not {engine!r}")
    else:
        network = _network(model, engine, spec_file, preset, assignments, removed, bits, binarize, calibrate, images,
                           seed)
    if engine == "auto":
        result = runner.run_partitioned(network, backend, stall=stall, seed=seed, table=energy_table,
                                        show=not as_json)
    else:
        result = runner.run(network, backend, stall=stall, seed=seed, table=energy_table, show=not as_json,
                            port=port, baud=baud, image_kib=image_kib)
    click.echo(json.dumps(result) if as_json else runner.table(result))
    return 1 if result["bit_exact"] is False else 0


def _one_line(message: str) -> str:
    """Click's message with any line break it quotes from the command line shown as ``\\n``."""
    return message.replace("\n", "\\n")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI; user errors as one line and exit status 2."""
    try:
        status = cli.main(args=argv, prog_name="accel", standalone_mode=False)
    except UserError as error:
        click.echo(f"accel: error: {error}", err=True)
        return 2
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        click.echo(f"accel: error: {_one_line(error.format_message())}{hint}", err=True)
        return 2
    except click.ClickException as error:
        click.echo(f"accel: error: {_one_line(error.format_message())}", err=True)
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        click.echo("accel: aborted", err=True)
        return 130
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
