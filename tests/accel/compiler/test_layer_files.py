"""Compressed layers from .npz files: the eie format's round trip (CSC and dense forms, never densified), the
fraction bits chosen to fit, the run from the command line, and bad files as one-line errors naming the field."""

import numpy as np
import pytest
from scipy import sparse

from accel.cli import main
from accel.compiler.eie import file_case, random_dense, reference
from accel.compiler.layer_files import ALEXNET, fraction_bits, load_eie, save_eie
from accel.errors import UserError
from accel.spec import EieSpec, XnorSpec
from sim import golden, perf

SPEC = EieSpec(n_pe=4)


def small_layer(seed=0, n_in=40, n_out=24):
    return random_dense(np.random.default_rng(seed), SPEC, n_in, n_out, 0.2, 0.5, bias=True, name="fc")


def test_csc_file_round_trip_runs_bit_exact(tmp_path):
    layer, x = small_layer()
    save_eie(tmp_path / "fc.npz", layer, SPEC.weight_frac, x, SPEC.act_frac)
    read = load_eie(tmp_path / "fc.npz")
    assert sparse.issparse(read.layer.indices)  # straight into CSC, no dense copy
    assert np.array_equal(read.layer.indices.toarray(), layer.indices)
    assert np.array_equal(read.layer.bias, layer.bias) and read.layer.relu == layer.relu
    # The fraction bits chosen to fit keep every value: codebook and input are the same numbers.
    assert np.array_equal(read.layer.codebook / 2.0**read.weight_frac, layer.codebook / 2.0**SPEC.weight_frac)
    assert np.array_equal(read.x / 2.0**read.act_frac, x / 2.0**SPEC.act_frac)
    case = file_case(SPEC, tmp_path / "fc.npz")
    spec = case.program.spec
    assert (spec.weight_frac, spec.act_frac) == (read.weight_frac, read.act_frac) == (case.info["weight_frac"],
                                                                                      case.info["act_frac"])
    assert np.array_equal(case.output(golden.run(case.program).memory), case.expected)
    assert np.array_equal(case.expected, reference(spec, [read.layer], read.x))
    counters = perf.run(case.program).counters
    assert counters["cycles"] == sum(counters[k] for k in ("commands", "memory_cycles", "compute_cycles",
                                                           "writeback_cycles"))


def test_dense_index_form_and_random_input(tmp_path):
    layer, _ = small_layer(1)
    codebook = layer.codebook / 2.0**SPEC.weight_frac
    np.savez(tmp_path / "d.npz", format="eie", shape=np.array(layer.shape), codebook=codebook, indices=layer.indices)
    read = load_eie(tmp_path / "d.npz")
    assert isinstance(read.layer.indices, np.ndarray) and read.layer.bias is None and read.x is None
    case = file_case(SPEC, tmp_path / "d.npz", seed=3)
    assert case.info["input"] == "random" and case.program.spec.act_frac == SPEC.act_frac
    assert np.array_equal(case.output(golden.run(case.program).memory), case.expected)


def test_fraction_bits_fit_the_largest_magnitude():
    assert fraction_bits(np.array([0.0, 3.0, -1.5]), 15) == 13  # 3 · 2**13 = 24,576 <= 32,767 < 3 · 2**14
    assert fraction_bits(np.array([100.0]), 14) == 8
    assert fraction_bits(np.array([0.001]), 14) == 14
    assert fraction_bits(np.array([40000.0]), 14) == -1


def test_cli_reports_compute_and_load_cycles(tmp_path, capsys):
    layer, x = small_layer(2)
    save_eie(tmp_path / "fc.npz", layer, SPEC.weight_frac, x, SPEC.act_frac)
    assert main(["simulate", "--engine", "eie", "--preset", "paper", "--weights", str(tmp_path / "fc.npz"),
                 "--backend", "golden"]) == 0
    out = capsys.readouterr().out
    assert "bit_exact=True" in out and "load_cycles=" in out and "compute_cycles=" in out
    assert "of the cycles load weights and activations from DRAM" in out  # a small layer is all loading
    assert main(["simulate", "--engine", "eie", "--set", "spmat_lines=2", "--weights", str(tmp_path / "fc.npz")]) == 0
    assert "the layer was split" in capsys.readouterr().out


def bad(tmp_path, **changes):
    layer, x = small_layer(4, n_in=6, n_out=5)
    save_eie(tmp_path / "l.npz", layer, SPEC.weight_frac, x, SPEC.act_frac)
    with np.load(tmp_path / "l.npz") as data:
        fields = {name: data[name] for name in data.files}
    fields.update(changes)
    for name in [name for name, value in changes.items() if value is None]:
        del fields[name]
    np.savez(tmp_path / "bad.npz", **fields)
    return tmp_path / "bad.npz"


BAD = {  # changed fields: what the message says after "bad.npz: "
    "format": (dict(format="mac_array"), "field 'format': 'mac_array'; expected 'eie'"),
    "shape": (dict(shape=np.array([5])), "field 'shape': [5]; expected (out, in), both >= 1"),
    "missing": (dict(codebook=None), "field 'codebook' is missing; fields: "),
    "codebook0": (dict(codebook=np.arange(16.0) + 1), "field 'codebook': 16 entries, first 1.0; expected 16 entries"),
    "codebook-big": (dict(codebook=np.array([0.0] * 15 + [1e6])), "field 'codebook': largest magnitude 1e+06 "
                                                                  "exceeds int16"),
    "nan": (dict(input=np.full(6, np.nan)), "field 'input': has a NaN or infinite value"),
    "indptr": (dict(indptr=np.zeros(3, int)), "field 'indptr': 3 entries; expected in + 1 = 7"),
    "rows": (dict(rows=np.array([9] * 100)), "field 'rows': 100 rows and "),
    "codes": (dict(codes=np.array([], np.uint8)), "field 'codes': "),
    "text": (dict(codebook=np.array(["a"] * 16)), "field 'codebook': <U1 of shape (16,); expected 1 dimension(s) "
                                                 "of numbers"),
    "indices": (dict(indices=np.full((5, 6), 16)), "field 'indices': value 16 is outside 0..15"),
    "bias": (dict(bias=np.zeros(3, np.uint8)), "field 'bias': 3 entries; expected out = 5"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_files_name_the_file_and_field(tmp_path, case):
    changes, message = BAD[case]
    path = bad(tmp_path, **changes)
    with pytest.raises(UserError) as error:
        load_eie(path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)


def test_unreadable_files_are_one_line_cli_errors(tmp_path, capsys):
    (tmp_path / "text.npz").write_text("not a zip")
    for path, complaint in ((tmp_path / "text.npz", "text.npz: not an .npz file of plain arrays"),
                            (tmp_path / "none.npz", "none.npz: cannot read it (No such file or directory)")):
        assert main(["simulate", "--engine", "eie", "--weights", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("accel: error: ") and complaint in err and err.count("\n") == 1
    assert main(["simulate", "--engine", "xnor", "--weights", str(tmp_path / "none.npz")]) == 2
    assert "none.npz: cannot read it" in capsys.readouterr().err


def mac_array_fields(rng, conv=True, **changes):
    k, c = 6, 5
    weight = rng.integers(-127, 128, (k, c, 3, 3) if conv else (k, c), dtype=np.int8)
    fields = dict(format="mac_array", weight=weight, bias=rng.integers(-500, 500, k).astype(np.int32),
                  input_scale=np.float64(0.05), weight_scale=rng.uniform(0.01, 0.02, k), output_scale=np.float64(0.1),
                  output_zero_point=np.int64(-3), activation="relu", input_zero_point=np.int64(4))
    if conv:
        fields |= dict(stride=np.int64(2), padding=np.array([1, 1]), input_shape=np.array([c, 9, 7]))
    else:
        fields |= dict(input=rng.uniform(-6, 6, c))  # float: quantized by input_scale and input_zero_point
    return {key: value for key, value in (fields | changes).items() if value is not None}


@pytest.mark.parametrize("conv", [True, False])
def test_mac_array_file_runs_bit_exact(tmp_path, capsys, conv):
    from accel.compiler.layer_files import load_mac_array
    from accel.compiler.mac_array import file_case
    from accel.int8 import QuantParams, Requant
    from accel.spec import MacArraySpec

    fields = mac_array_fields(np.random.default_rng(5), conv)
    np.savez(tmp_path / "layer.npz", **fields)
    read = load_mac_array(tmp_path / "layer.npz")
    assert np.array_equal(read.op.weight, fields["weight"]) and read.x_zero_point == 4
    expected = Requant.from_scales(0.05, fields["weight_scale"], QuantParams(0.1, -3), "relu")
    assert all(np.array_equal(getattr(read.op.requant, f), getattr(expected, f))
               for f in ("m0", "shift", "zero_point", "lo", "hi"))
    if conv:
        assert (read.x, read.input_shape, read.op.stride, read.op.padding) == (None, (5, 9, 7), (2, 2), (1, 1))
    else:
        assert np.array_equal(read.x, QuantParams(0.05, 4).quantize(fields["input"]))
    spec = MacArraySpec(atomic_c=4, atomic_k=4)
    case = file_case(spec, tmp_path / "layer.npz")
    assert np.array_equal(case.output(golden.run(case.program).memory), case.expected)
    assert case.expected.min() >= -3  # the ReLU clamp at the output zero point
    assert main(["simulate", "--engine", "mac_array", "--set", "atomic_c=4", "--weights", str(tmp_path / "layer.npz"),
                 "--backend", "golden"]) == 0
    out = capsys.readouterr().out
    assert "bit_exact=True" in out and "compute_cycles=" in out and "load_cycles=" in out


BAD_MAC_ARRAY = {
    "weight": (dict(weight=np.zeros((2, 5), np.float32)), "field 'weight': float32 of shape (2, 5); expected int8"),
    "scale": (dict(input_scale=None), "field 'input_scale' is missing"),
    "negative": (dict(output_scale=np.float64(-1)), "field 'output_scale': -1.0; expected > 0"),
    "activation": (dict(activation="gelu"), "field 'activation': 'gelu'; expected one of none, relu, relu6"),
    "channels": (dict(input_shape=np.array([4, 9, 7])), "field 'input_shape': 4 channels; expected 5"),
    "weight_scale": (dict(weight_scale=np.ones(2)), "field 'weight_scale': 2 entries; expected K = 6"),
}


@pytest.mark.parametrize("case", BAD_MAC_ARRAY)
def test_bad_mac_array_files_name_the_field(tmp_path, case):
    from accel.compiler.layer_files import load_mac_array

    changes, message = BAD_MAC_ARRAY[case]
    np.savez(tmp_path / "bad.npz", **mac_array_fields(np.random.default_rng(0), True, **changes))
    with pytest.raises(UserError) as error:
        load_mac_array(tmp_path / "bad.npz")
    assert str(error.value).startswith(f"{tmp_path / 'bad.npz'}: {message}")


def xnor_fields(rng, **changes):
    k, c, r = 5, 3, 3
    weight = rng.choice(np.array([-1, 1], np.int8), (k, c, r, r))
    fields = dict(format="xnor", weight_shape=np.array(weight.shape),
                  weight_bits=np.packbits(weight.reshape(k, -1) > 0, axis=1), threshold=rng.integers(-6, 7, k),
                  threshold_up=rng.random(k) < 0.7, stride=np.int64(1), pad=np.int64(1), pad_value=np.int64(1),
                  input=rng.random((c, 6, 5)) < 0.5)
    return weight, {key: value for key, value in (fields | changes).items() if value is not None}


def test_xnor_file_runs_bit_exact(tmp_path, capsys):
    from accel.compiler.layer_files import load_xnor
    from accel.compiler.xnor import file_case

    weight, fields = xnor_fields(np.random.default_rng(6))
    np.savez(tmp_path / "b.npz", **fields)
    read = load_xnor(tmp_path / "b.npz")
    assert np.array_equal(read.layer.weight, weight) and np.array_equal(read.x, fields["input"])
    assert np.array_equal(read.layer.threshold.t, fields["threshold"]) and read.layer.pad_value == 1
    case = file_case(XnorSpec(), tmp_path / "b.npz")
    assert np.array_equal(case.output(golden.run(case.program).memory), case.expected)
    assert main(["simulate", "--engine", "xnor", "--weights", str(tmp_path / "b.npz"), "--backend", "golden"]) == 0
    assert "bit_exact=True" in capsys.readouterr().out
    np.savez(tmp_path / "bad.npz", **xnor_fields(np.random.default_rng(6), weight_bits=np.zeros((5, 3), np.uint8))[1])
    with pytest.raises(UserError, match=r"bad.npz: field 'weight_bits': uint8 of shape \(5, 3\); expected uint8 of "
                                        r"shape \(5, 4\)$"):
        load_xnor(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad.npz", **xnor_fields(np.random.default_rng(6), input=None, input_shape=np.array([2, 6, 6]))[1])
    with pytest.raises(UserError, match=r"bad.npz: field 'input_shape': \[2, 6, 6\]; expected \(C, H, W\) with C = 3"):
        load_xnor(tmp_path / "bad.npz")


def write_deep_compression(path, layers: dict) -> None:
    """A file in the layout of Deep-Compression-AlexNet's decode.py: for each AlexNet layer the codebook, the
    biases, the codes and 4-bit relative indices (a padding entry of code 0 after 15 zeros) of the non-zero
    codes of ``layers[name]`` = (codebook, bias, (out, in) codes), the other layers empty."""
    header, body = [], []
    for name, (out, n_in) in ALEXNET.items():
        bits = 4 if name.startswith("fc") else 8
        codebook, bias, codes = layers.get(name, (np.zeros(2**bits), np.zeros(out), None))
        flat = np.zeros(0, np.uint8) if codes is None else codes.reshape(-1)
        positions = np.flatnonzero(flat)
        gap = np.diff(positions, prepend=-1) - 1
        padding = gap // 16  # entries of code 0 standing on every 16th zero of a long run
        at = np.cumsum(padding + 1) - 1
        entries, gaps = np.zeros(int(at[-1]) + 1 if len(at) else 0, np.uint8), np.full(len(at) and at[-1] + 1, 15)
        entries[at], gaps[at] = flat[positions], gap % 16
        entries, gaps = entries.tolist(), gaps.tolist()
        header.append(len(entries))
        pairs = [np.array(v + [0] * (len(v) % 2), np.uint8) for v in (entries, gaps)]
        packed = [p[0::2] | (p[1::2] << 4) for p in pairs]
        body += [np.asarray(codebook, "<f4").tobytes(), np.asarray(bias, "<f4").tobytes(),
                 (packed[0] if bits == 4 else np.array(entries, np.uint8)).tobytes(), packed[1].tobytes()]
    path.write_bytes(np.array(header, "<u4").tobytes() + b"".join(body))


def test_the_eie_authors_alexnet_file_reads_into_csc(tmp_path, capsys):
    rng = np.random.default_rng(7)
    fc8 = (np.concatenate([[0.0], rng.uniform(-0.1, 0.1, 15)]), rng.uniform(-0.05, 0.05, 1000),
           np.where(rng.random((1000, 4096)) < 0.01, rng.integers(1, 16, (1000, 4096)), 0).astype(np.uint8))
    conv1 = (rng.uniform(-1, 1, 256), np.zeros(96), rng.integers(0, 256, (96, 363)).astype(np.uint8))
    write_deep_compression(tmp_path / "AlexNet_compressed.net", {"conv1": conv1, "fc8": fc8})
    read = load_eie(f"{tmp_path / 'AlexNet_compressed.net'}:fc8")
    assert sparse.issparse(read.layer.indices) and np.array_equal(read.layer.indices.toarray(), fc8[2])
    assert read.weight_frac == 15 and not read.layer.relu
    assert np.abs(read.layer.codebook / 2.0**15 - fc8[0].astype(np.float32)).max() <= 2.0**-16
    stored = [v.astype(np.float32).astype(np.float64) for v in fc8[:2]]  # the file holds float32
    assert np.array_equal(read.layer.bias, np.abs(stored[1][:, None] - stored[0][None]).argmin(axis=1))
    assert main(["simulate", "--engine", "eie", "--preset", "paper", "--weights",
                 f"{tmp_path / 'AlexNet_compressed.net'}:fc8", "--backend", "golden"]) == 0
    out = capsys.readouterr().out
    assert "bit_exact=True" in out and "load_cycles=" in out
    with pytest.raises(UserError, match=r"AlexNet_compressed.net: layer 'conv1' is not allowed; expected one of fc6"):
        load_eie(f"{tmp_path / 'AlexNet_compressed.net'}:conv1")
    (tmp_path / "cut.net").write_bytes((tmp_path / "AlexNet_compressed.net").read_bytes()[:5000])
    with pytest.raises(UserError, match=r"cut.net: layer 'conv1': the file \(5000 bytes\) ends inside its codes$"):
        load_eie(f"{tmp_path / 'cut.net'}:fc8")
