"""SCALE-Sim topology CSVs: the bundled real networks load, each quirk is read as documented, bad rows name
file:line."""

from pathlib import Path

import pytest

from accel.errors import UserError
from accel.nn import ConvLayerShape, bundled, bundled_names, load_topology
from accel.nn.layers import Conv2d, Dense, Flatten
from accel.nn.topology import BUNDLED, MAX_VALUE

HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
# Layer count of each bundled file (accel/nn/topologies/README.md).
LAYERS = {"Resnet18": 21, "Resnet50": 54, "alexnet": 5, "mobilenet": 27, "yolo_tiny": 9}


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "net.csv"
    path.write_text(text)
    return path


def test_every_bundled_topology_loads():
    assert {name: len(bundled(name)) for name in bundled_names()} == LAYERS
    for name in LAYERS:
        for layer in bundled(name):
            # Each layer is a valid graph whose inferred output and MACs agree with the record.
            g = layer.graph()
            assert g[g.output].shape == ((layer.k,) if layer.is_fc else (layer.k, layer.out_h, layer.out_w))
            assert g.macs() == layer.macs > 0


def test_bundled_quirks_are_read_as_documented():
    text = {name: (BUNDLED / f"{name}.csv").read_text() for name in LAYERS}  # the quirks are still in the files
    resnet50 = bundled("Resnet50")  # comma-only line 2, extra columns Eh, Ew, e2
    assert text["Resnet50"].splitlines()[:2] == [HEADER[:-2] + ",,,Eh,Ew,e2", ",,,,,,,,,,,,"]
    assert resnet50[0] == ConvLayerShape("Conv1", 224, 224, 7, 7, 3, 64, 2)
    assert (resnet50[0].out_h, resnet50[0].out_w) == (109, 109)  # IFMAP taken as already padded
    assert resnet50[-1] == ConvLayerShape("FC6", 1, 1, 1, 1, 2048, 1000, 1) and resnet50[-1].is_fc
    mobilenet = bundled("mobilenet")  # spaces, depthwise rows
    assert text["mobilenet"].splitlines()[2] == "Conv2,  112, 112,    3, 3,      32,      1,     1,"
    assert mobilenet[1] == ConvLayerShape("Conv2", 112, 112, 3, 3, 32, 32, 1, groups=32)
    assert mobilenet[1].macs == 32 * 110 * 110 * 9
    assert sum(layer.groups > 1 for layer in mobilenet) == 13
    alexnet = bundled("alexnet")  # padded with spaces before the commas
    assert text["alexnet"].splitlines()[1].startswith("Conv1     ,224         ,")
    assert [layer.name for layer in alexnet] == ["Conv1", "Conv2", "Conv3", "Conv4", "Conv5"]
    yolo = bundled("yolo_tiny")  # "1, " and a blank last line
    assert "1024,   1, \n" in text["yolo_tiny"] and text["yolo_tiny"].endswith(",\n\n")
    assert yolo[6] == ConvLayerShape("Conv7", 11, 11, 3, 3, 512, 1024, 1)


def test_unknown_bundled_topology_is_named():
    with pytest.raises(UserError, match=r"^topology 'resnet50' is not bundled; bundled: Resnet18, Resnet50, "
                                        r"alexnet, mobilenet, yolo_tiny$"):
        bundled("resnet50")


def test_spaces_trailing_commas_blank_lines_and_extra_columns(tmp_path):
    path = write(tmp_path, "\ufeff" + HEADER.replace(",\n", ", Eh, Ew,\n") +
                 "\n ,, , \n  a , 8 ,9, 3,3 , 4 , 16 , 2 , , 3, 4,\n\n" +
                 "b,8,8,8,8,16,10,1\n,,,,,,,,\n")
    a, b = load_topology(path)
    assert a == ConvLayerShape("a", 8, 9, 3, 3, 4, 16, 2)
    assert (a.out_h, a.out_w, a.macs, a.weights) == (3, 4, 16 * 12 * 4 * 9, 16 * 4 * 9)
    assert b.is_fc and (b.out_h, b.out_w, b.macs) == (1, 1, 16 * 64 * 10)
    fc = b.graph()
    assert [type(n.op) for n in fc.layers()] == [Flatten, Dense] and fc[fc.output].shape == (10,)


def test_header_is_optional(tmp_path):
    assert load_topology(write(tmp_path, "c,4,4,3,3,2,2,1,\n")) == [ConvLayerShape("c", 4, 4, 3, 3, 2, 2, 1)]


def test_depthwise_rows_have_one_filter_per_channel(tmp_path):
    dw, one = load_topology(write(tmp_path, HEADER + "dw, 10, 10, 3, 3, 8, 1, 2,\none, 5, 5, 1, 1, 1, 1, 1,\n"))
    assert (dw.c, dw.k, dw.groups, dw.out_h, dw.macs, dw.weights) == (8, 8, 8, 4, 8 * 16 * 9, 8 * 9)
    op = dw.graph()["dw"].op
    assert isinstance(op, Conv2d) and (op.groups, op.out_channels, op.padding) == (8, 8, (0, 0))
    assert (one.groups, one.k) == (1, 1)  # a single channel and filter is an ordinary convolution


def test_same_padded_reads_the_ifmap_as_unpadded():
    conv1 = ConvLayerShape("conv1", 224, 224, 7, 7, 3, 64, 2)
    assert (conv1.out_h, conv1.same_padded().h, conv1.same_padded().out_h) == (109, 230, 112)
    assert ConvLayerShape("c", 56, 56, 3, 1, 64, 64, 1).same_padded() == ConvLayerShape("c", 58, 56, 3, 1, 64, 64, 1)
    fc = ConvLayerShape("fc", 1, 1, 1, 1, 512, 1000, 1)
    assert fc.same_padded() == fc


BAD_ROWS = {  # row: what the message says after "file:2: "
    "c,8,8,3,3,4,16": "7 field(s), expected 8: Layer name, IFMAP Height, IFMAP Width,",
    ",8,8,3,3,4,16,1": "the layer name is empty",
    "c,8,8,3,x,4,16,1": "layer 'c': Filter Width is 'x', expected an integer >= 1",
    "c,8,8,3,3,4,16,0": "layer 'c': Strides is '0', expected an integer >= 1",
    "c,8,,3,3,4,16,1": "layer 'c': IFMAP Width is '', expected an integer >= 1",
    "c,8,8,3,3,-4,16,1": "layer 'c': Channels is '-4', expected an integer >= 1",
    "c,8,8,3,3,4,2.5,1": "layer 'c': Num Filter is '2.5', expected an integer >= 1",
    "c,4,8,5,3,4,16,1": "layer 'c': filter 5x3 is larger than the IFMAP 4x8",
    "c,8,8,3,3," + "1" + "0" * 30 + ",16,1": f"layer 'c': Channels is '1{'0' * 30}', expected at most {MAX_VALUE}",
    "c,8,8,3,3,4," + "9" * 5000 + ",1": f"layer 'c': Num Filter is '{'9' * 36}..., expected at most {MAX_VALUE}",
    f"c,{MAX_VALUE + 1},8,3,3,4,16,1": f"layer 'c': IFMAP Height is '{MAX_VALUE + 1}', expected at most {MAX_VALUE}",
    "c,8,8,3,3,4,16,9": "layer 'c': Strides is 9, larger than the IFMAP 8x8; expected at most 8",
    "c,16,4,3,3,4,16,5": "layer 'c': Strides is 5, larger than the IFMAP 16x4; expected at most 4",
    "c,8,8,3,3,4,16,000": "layer 'c': Strides is '000', expected an integer >= 1",
}


@pytest.mark.parametrize("row", BAD_ROWS)
def test_malformed_rows_name_file_and_line(tmp_path, row):
    path = write(tmp_path, HEADER + row + ",\n")
    with pytest.raises(UserError) as error:
        load_topology(path)
    assert str(error.value).startswith(f"{path}:2: {BAD_ROWS[row]}")


def test_file_level_errors(tmp_path):
    with pytest.raises(UserError, match=r"net.csv:3: layer name 'c' is used twice$"):
        load_topology(write(tmp_path, HEADER + "c,4,4,1,1,1,1,1\nc,4,4,1,1,1,1,1\n"))
    with pytest.raises(UserError, match=r"net.csv': no layers$"):
        load_topology(write(tmp_path, HEADER + ",,,\n"))
    with pytest.raises(UserError, match=r"missing.csv': cannot read it \(No such file or directory\)$"):
        load_topology(tmp_path / "missing.csv")
    (tmp_path / "latin1.csv").write_bytes(b"caf\xe9,4,4,1,1,1,1,1\n")
    with pytest.raises(UserError, match=r"latin1.csv': cannot read it \(not UTF-8 text\)$"):
        load_topology(tmp_path / "latin1.csv")


def test_values_at_the_limits_load(tmp_path):
    row = f"c,{MAX_VALUE},8,1,1,{MAX_VALUE},{MAX_VALUE},8"
    (layer,) = load_topology(write(tmp_path, HEADER + row + "\n"))
    assert (layer.h, layer.c, layer.k, layer.stride, layer.out_h) == (MAX_VALUE, MAX_VALUE, MAX_VALUE, 8, MAX_VALUE // 8)
    assert load_topology(write(tmp_path, "fc,1,1,1,1,0064,10,1\n"))[0].c == 64  # leading zeros
