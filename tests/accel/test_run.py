"""accel compile / accel run: whole networks on every backend, per-layer figures, the network file."""

import json

import numpy as np
import pytest

from accel.cli import main

# The specs of tests/sim (test_eie's N4, test_xnor's WIDE, test_mac_array's SMALL_4x4): their Verilator builds
# are reused (every RTL run of a spec shares one harness: sim.rtl.execute.HARNESS_WORDS).
EIE = ["--set", "act_regs=128", "--set", "ptr_entries=512", "--set", "spmat_lines=256"]
XNOR = ["--set", "pe=4", "--set", "simd=32", "--set", "weight_depth=512", "--set", "threshold_depth=128",
        "--set", "input_depth=1024", "--set", "max_reduction=4096"]
MAC_ARRAY = ["--set", "atomic_c=4", "--set", "atomic_k=4", "--set", "banks=8", "--set", "bank_kib=1"]
LAYERS = {"eie": ["fc1", "fc2", "fc3"], "xnor": ["conv1", "conv2", "fc"],
          "mac_array": ["conv1", "pool1", "conv2", "pool2", "flatten", "fc"]}


def accel_json(capsys, *args) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_totals(result: dict) -> None:
    """The layers' figures sum to the totals (cycles and bytes exactly; energy up to rounding)."""
    layers = result["layers"]
    for key in ("cycles", "macs", "bytes_read", "bytes_written"):
        assert sum(layer[key] for layer in layers) == result[key], key
    assert sum(layer["energy_pj"] for layer in layers) == pytest.approx(result["energy_pj"], rel=1e-9)
    per_cycle = result["macs"] / (result["utilization"] * result["cycles"])  # the engine's MACs per cycle
    assert per_cycle == pytest.approx(round(per_cycle))
    for layer in layers:
        assert layer["utilization"] * layer["cycles"] * per_cycle == pytest.approx(layer["macs"])


@pytest.mark.rtl
@pytest.mark.parametrize("model,engine,spec", [("digits-mlp", "eie", EIE), ("digits-bnn-cnn", "xnor", XNOR),
                                               ("digits-cnn", "mac_array", MAC_ARRAY)])
def test_rtl_run_is_bit_exact_with_the_reference_accuracy(model, engine, spec, capsys):
    """The RTL's outputs == the integer reference (QGraph.run on mac_array) for 8 test images; the golden
    model's equal it too (test_compile_then_run_equals_run)."""
    result = accel_json(capsys, "run", model, "--engine", engine, *spec, "--backend", "rtl", "--images", "8")
    assert result["bit_exact"] is True and result["images"] == 8
    assert result["accuracy"] == result["reference_accuracy"] >= 0.75
    assert result["cycles"] == result["perf_cycles"]  # the whole network's cycles: RTL == perf model
    assert [layer["name"] for layer in result["layers"]] == LAYERS[engine]
    check_totals(result)


@pytest.mark.parametrize("model,engine,spec", [("digits-mlp", "eie", EIE), ("digits-bnn-mlp", "xnor", []),
                                               ("digits-cnn", "mac_array", MAC_ARRAY)])
def test_compile_then_run_equals_run(model, engine, spec, tmp_path, capsys):
    """The program file and its sidecar give the same result as compiling in the run; golden == reference."""
    direct = accel_json(capsys, "run", model, "--engine", engine, *spec, "--backend", "golden", "--images", "12",
                        "--seed", "3")
    out = tmp_path / "net.accel"
    assert main(["compile", model, "--engine", engine, *spec, "--images", "12", "--seed", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    assert (tmp_path / "net.accel.network.json").is_file()
    assert accel_json(capsys, "run", str(out), "--engine", engine, "--backend", "golden") == direct
    assert direct["bit_exact"] is True and direct["accuracy"] == direct["reference_accuracy"]
    check_totals(direct)


def test_perf_backend_computes_no_bits(capsys):
    result = accel_json(capsys, "run", "digits-bnn-mlp", "--engine", "xnor", "--backend", "perf", "--images", "5")
    assert result["bit_exact"] is None and result["accuracy"] is None and 0 <= result["reference_accuracy"] <= 1
    assert result["energy_breakdown"]["dram"] > 0 and set(result["layers"][0]) >= {"name", "op", "shape", "mapping"}


def test_binarize_runs_the_bnn_counterpart(capsys):
    binarized = accel_json(capsys, "run", "digits-mlp", "--binarize", "--engine", "xnor", "--backend", "perf",
                           "--images", "4")
    bnn = accel_json(capsys, "run", "digits-bnn-mlp", "--engine", "xnor", "--backend", "perf", "--images", "4")
    assert binarized["model"] == "digits-mlp" and binarized["layers"] == bnn["layers"]


def test_random_mlp_from_the_zoo_on_eie(capsys):
    """lenet-300-100 with random weights, pruned to 20 % and shared with 3-bit codebooks (no data to
    fine-tune on), on one random input: golden == the dense reference; no test set, so no accuracy."""
    result = accel_json(capsys, "run", "lenet-300-100", "--engine", "eie", "--prune", "0.8", "--share", "3",
                        "--backend", "golden")
    assert result["bit_exact"] is True and result["images"] == 1 and "accuracy" not in result
    assert [layer["shape"] for layer in result["layers"]] == ["784 -> 300 relu", "300 -> 100 relu", "100 -> 10"]
    assert "20% weights" in result["layers"][0]["mapping"]


def test_table_lists_layers_totals_and_accuracy(capsys):
    assert main(["run", "digits-bnn-cnn", "--engine", "xnor", "--backend", "golden", "--images", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("digits-bnn-cnn on xnor, golden: 6 images, bit_exact=True")
    assert [line.split()[0] for line in lines[2:6]] == ["conv1", "conv2", "fc", "total"]
    assert lines[6].startswith("accuracy ") and "reference" in lines[6]


@pytest.mark.parametrize("edit,complaint", [
    (lambda h: h.update(format=2), "format 2 is not supported"),
    (lambda h: h["layers"][0].update(commands=[[0, 10**6]]), "layers[0].commands[0][1]: 1000000 is not allowed"),
    (lambda h: h["readout"].update(addresses=[2**31] * 3), "readout.addresses[0]: 2147483648 is not allowed"),
    (lambda h: h["readout"].update(dtype="<f8"), "readout.dtype: '<f8' is not allowed"),
    (lambda h: h["readout"].update(order="rows"), "readout.order: 'rows' is not allowed"),
    (lambda h: h["readout"].update(channel_lanes=[0]), "readout.channel_lanes: 1 lanes for 10 channels"),
    (lambda h: h.update(reference=h["reference"][:2]), "reference: expected integers of shape (3, 10)"),
    (lambda h: h["reference"][0].__setitem__(0, 1.5), "reference: expected integers of shape (3, 10)"),
    (lambda h: h.update(labels=["7"] * 3), "labels: expected integers of shape (3,)"),
    (lambda h: h.update(extra=1), "unknown key 'extra'"),
    (lambda h: h["program"].update(sha256="0" * 64), "do not match the program file"),
])
def test_bad_network_file_is_one_line_exit_2(edit, complaint, tmp_path, capsys):
    out = tmp_path / "net.accel"
    assert main(["compile", "digits-bnn-mlp", "--engine", "xnor", "--images", "3", "--out", str(out)]) == 0
    sidecar = tmp_path / "net.accel.network.json"
    header = json.loads(sidecar.read_text())
    edit(header)
    sidecar.write_text(json.dumps(header))
    capsys.readouterr()
    assert main(["run", str(out), "--engine", "xnor", "--backend", "golden"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"accel: error: network file '{sidecar}': ") and err.count("\n") == 1 and complaint in err


def test_readout_decodes_groups_lanes_and_channels():
    from accel.compiler import Readout

    memory = np.arange(64, dtype=np.int16).view(np.uint8)
    # 2 pixels of 2 groups of 4 elements, 3 real lanes per group, 5 channels: pixel p's row is
    # [8p, 8p+1, 8p+2, 8p+4, 8p+5, 8p+6]; channel-major output, times 2 plus 1.
    readout = Readout((0, 32), "<i2", 2, 2, 4, 3, 5, scale=2, offset=1)
    rows = readout(memory)
    first = np.array([[0, 1, 2, 4, 5], [8, 9, 10, 12, 13]]).T.reshape(-1)
    assert np.array_equal(rows, np.stack([2 * first + 1, 2 * (first + 16) + 1]))


def test_readout_decodes_group_major_maps_and_channel_lanes():
    """The mac_array's blocked maps (groups, pixels, lanes): 2 groups of 3 pixels of 4 lanes; channels 0..4
    at lanes 5, 0, 1, 4, 2 (a concat's offsets)."""
    from accel.compiler import Readout

    memory = np.arange(24, dtype=np.int8).view(np.uint8)
    stored = np.arange(24).reshape(2, 3, 4).transpose(1, 0, 2).reshape(3, 8)  # pixel-major rows of 8 lanes
    dense = Readout((0,), "<i1", 3, 2, 4, 4, 7, order="groups")
    assert np.array_equal(dense(memory)[0], stored[:, :7].T.reshape(-1))
    scattered = Readout((0,), "<i1", 3, 2, 4, 4, 5, order="groups", channel_lanes=(5, 0, 1, 4, 2))
    assert np.array_equal(scattered(memory)[0], stored[:, [5, 0, 1, 4, 2]].T.reshape(-1))


def test_onnx_float_mlp_on_eie(tmp_path, capsys):
    """A float ONNX MLP (Gemm, Relu, MatMul + Add) is pruned, shared and run on eie; golden == reference."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    params = {"w1": rng.normal(0, 0.3, (24, 16)), "b1": rng.normal(0, 0.1, 24), "w2": rng.normal(0, 0.3, (24, 10)),
              "b2": rng.normal(0, 0.1, 10)}
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
             helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
             helper.make_node("MatMul", ["r1", "w2"], ["m2"], name="fc2"),
             helper.make_node("Add", ["m2", "b2"], ["y"], name="fc2_bias")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in params.items()])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    result = accel_json(capsys, "run", str(path), "--engine", "eie", "--prune", "0.5", "--images", "4",
                        "--backend", "golden")
    assert result["bit_exact"] is True and result["model"] == "tiny" and result["images"] == 4
    assert [(layer["name"], layer["shape"]) for layer in result["layers"]] == [("fc1", "16 -> 24 relu"),
                                                                              ("fc2", "24 -> 10")]


def test_program_file_without_its_sidecar_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "net.accel"
    assert main(["compile", "digits-bnn-mlp", "--engine", "xnor", "--images", "2", "--out", str(out)]) == 0
    (tmp_path / "net.accel.network.json").unlink()
    capsys.readouterr()
    assert main(["run", str(out), "--engine", "xnor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "net.accel.network.json': cannot be read" in err


def test_onnx_float_cnn_and_its_qdq_twin_agree_with_onnxruntime(tmp_path):
    """The trained digits CNN written as a float ONNX model and as onnxruntime's int8 QDQ twin (quantize_static,
    7-bit weights: reduce_range, see tests/accel/nn/test_onnx.py's docstring), each loaded as `accel run` loads a
    file, compiled for the mac_array and run on golden over all the digits test images: the outputs are the
    integer reference's and the top-1 agrees with onnxruntime's on >= 99 % of the images."""
    import dataclasses

    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from accel.compiler.network import compile as compile_network
    from accel.nn import digits, models
    from accel.nn.load import load
    from accel.spec import MacArraySpec
    from sim.golden import run as golden

    trained = models.model("digits-cnn")
    params = {f"{name}.{key}": value.astype(np.float32) for name in ("conv1", "conv2", "fc")
              for key, value in trained.nodes[name].params.items()}
    conv = {"pads": [1, 1, 1, 1]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", **conv),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", **pool),
             helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", **conv),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", **pool),
             helper.make_node("Flatten", ["p2"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(value, key) for key, value in params.items()])
    source, twin = tmp_path / "cnn.onnx", tmp_path / "cnn-qdq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    train, test = digits.load()

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": x[None].astype(np.float32)} for x in train.inputs((1, 8, 8))[:256]])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(source, twin, Calibration(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    images = len(test.labels)
    x = test.inputs((1, 8, 8)).astype(np.float32)
    for path in (source, twin):
        expected = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0].argmax(1)
        model = dataclasses.replace(load(str(path)), trained_on_digits=True)  # its images are the digits'
        network = compile_network("mac_array", MacArraySpec(), model, images=images)
        outputs = network.output(golden(network.program).memory)
        assert np.array_equal(outputs, network.reference())
        assert np.mean(outputs.argmax(1) == expected) >= 0.99, path.name


@pytest.mark.parametrize("args,complaint", [
    (["--backend", "board"], "--port: required with --backend board"),
    (["--port", "/dev/ttyUSB0"], "--port: not with --backend perf; allowed: only with --backend board"),
    (["--backend", "golden", "--image-kib", "64"], "--image-kib: not with --backend golden"),
    (["--backend", "board", "--port", "/no/such/tty"], "--port: cannot open '/no/such/tty'"),
    (["--backend", "board", "--port", "/no/such/tty", "--image-kib", "1"],  # checked before the port is opened
     "the board's image memory holds 1024 (build the board with a larger --image-kib"),
])
def test_board_backend_options_and_a_missing_port_are_one_line_exit_2(args, complaint, capsys):
    assert main(["run", "digits-bnn-mlp", "--engine", "xnor", "--images", "2", *args]) == 2
    out, err = capsys.readouterr()
    error, = [line for line in err.splitlines() if not line.startswith("[accel] ")]  # progress lines aside
    assert out == "" and error.startswith("accel: error: ") and complaint in error
