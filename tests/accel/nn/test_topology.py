"""SCALE-Sim topology CSVs: the bundled real networks load, each quirk is read as documented, bad rows name
file:line."""

from pathlib import Path

import pytest

from accel.compiler.mac_array import ConvShape
from accel.errors import UserError
from accel.nn import ConvLayerShape, bundled, bundled_names, load_topology
from accel.nn.layers import Conv2d, Dense, Flatten
from accel.nn.topology import BUNDLED, MAX_VALUE

HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
# Layer count of each bundled file (accel/nn/topologies/README.md).
LAYERS = {"DLRM": 10, "DeepSpeech2": 6, "NCF_recommendation_short": 6, "Resnet18": 21, "Resnet50": 54,
          "Sentimental_seqCNN": 4, "Transformer_short": 9, "UNet_2d": 19, "alexnet": 5, "gpt2": 6, "mobilenet": 27,
          "vit_s": 5, "yolo_tiny": 9}


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
            shape = (layer.k,) if layer.is_fc else (layer.gemm[1], layer.gemm[0], 1) if layer.gemm else \
                (layer.k, layer.out_h, layer.out_w)
            assert g[g.output].shape == shape
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
    with pytest.raises(UserError, match=r"^topology 'resnet50' is not bundled; bundled: DLRM, DeepSpeech2, .*, "
                                        r"Resnet18, Resnet50, .*, yolo_tiny$"):
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


def test_pad_same_reads_the_ifmap_as_unpadded(tmp_path):
    path = write(tmp_path, HEADER + "conv1,224,224,7,7,3,64,2\nc,56,56,3,1,64,64,1\nfc,1,1,1,1,512,1000,1\n"
                                    "mm,672,2560,1,2560,1,4,1\n")
    conv1, c, fc, mm = load_topology(path, pad="same")
    assert (conv1.pad_h, conv1.pad_w, conv1.out_h, conv1.h) == (3, 3, 112, 224)
    assert load_topology(path)[0].out_h == 109  # pad="none", the default: the IFMAP is already padded
    assert (c.pad_h, c.pad_w, c.out_h, c.out_w) == (1, 0, 56, 56)
    assert (fc, mm) == tuple(load_topology(path)[2:])  # matrix multiplies are never padded
    op = conv1.graph()["conv1"].op
    assert op.padding == (3, 3) and conv1.graph().macs() == conv1.macs == 64 * 112 * 112 * 3 * 49
    with pytest.raises(UserError, match=r"^pad: 'valid' is not allowed; expected one of none, same$"):
        load_topology(path, pad="valid")


def test_gemm_files_are_m_by_k_maps_with_1_by_k_filters(tmp_path):
    # SCALE-Sim's GEMM_mnk/gpt2.csv form, and sparsity/gemm.csv's (spaces, "Layer Name", a Sparsity column).
    qkt, ff = load_topology(write(tmp_path, "Layer,M,N,K\nQKT,1024,1024,64\nPW-FF-L2,1024,1600,3072\n"))
    assert qkt == ConvLayerShape("QKT", 1024, 64, 1, 64, 1, 1024, 1)  # what SCALE-Sim's load_arrays_gemm makes
    assert (qkt.gemm, ff.gemm) == ((1024, 1024, 64), (1024, 1600, 3072))
    assert qkt.macs == qkt.graph().macs() == 1024 * 1024 * 64
    (g,) = load_topology(write(tmp_path, "Layer Name, M, N, K, Sparsity,\nGEMM_1, 3, 5, 16, 3:4,\n"))
    assert g.gemm == (3, 5, 16) and g.graph()[g.graph().output].shape == (5, 3, 1)
    (one,) = load_topology(write(tmp_path, "layer,m,n,k,\nv,1,10,32,\n\n"))  # M = 1: a dense layer
    assert one.is_fc and one.gemm == (1, 10, 32)
    assert [type(n.op) for n in one.graph().layers()] == [Flatten, Dense]


def test_matrix_multiplies_run_as_dense_layers(tmp_path):
    # DeepSpeech2.csv: a "Layer," header (IFMAP Width twice: columns count by position), matmul rows.
    text = ("Layer, IFMAP Width, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
            "Conv1,700,161,41,11,1,32,2,\nBatchRNN1,672,2560,1,2560,1,4,1, \nFC,1,2560,1,2560,1,29,1,")
    conv1, rnn, fc = load_topology(write(tmp_path, text))
    assert (conv1.gemm, conv1.out_h, conv1.out_w) == (None, 330, 76)
    assert (rnn.gemm, fc.gemm) == ((672, 4, 2560), (1, 29, 2560))
    assert ConvShape.of_topology(rnn) == ConvShape(2560, 28, 24, 4, 1, 1, 1, 0, 0, 1)  # 672 pixels, squarest map
    assert ConvShape.of_topology(fc) == ConvShape.dense(2560, 29)
    assert ConvShape.of_topology(ConvLayerShape("p", 2053, 8, 1, 8, 1, 3, 1)).h == 2053  # a prime M: one column
    assert ConvShape.of_topology(rnn).macs == rnn.macs == 672 * 4 * 2560


def test_one_filter_is_depthwise_only_for_filters_larger_than_1x1(tmp_path):
    emb, fc, dw = load_topology(write(tmp_path, HEADER + "Embedding, 1024,1,1,1,30000,1,1\nFC, 1,1,1,1,2048,1,1\n"
                                                         "dw,8,8,3,1,16,1,1\n"))
    assert (emb.groups, emb.k, emb.c, emb.macs) == (1, 1, 30000, 1024 * 30000)
    assert (fc.groups, fc.k, fc.gemm) == (1, 1, (1, 1, 2048))
    assert (dw.groups, dw.k) == (16, 16)


def test_title_lines_and_tab_separated_files(tmp_path):
    text = "ResNet-50 (ImageNet),,,,,,,\nsecond title\n" + HEADER + "c,8,8,3,3,4,16,1,\n"
    assert load_topology(write(tmp_path, text)) == [ConvLayerShape("c", 8, 8, 3, 3, 4, 16, 1)]
    assert load_topology(write(tmp_path, "a title\nc,8,8,3,3,4,16,1\n"))[0].k == 16  # no header
    tabs = HEADER.replace(", ", "\t").replace(",", "\t") + "c\t8\t8\t3\t3\t4\t16\t1\t\n\t\t\nd \t 4\t4\t1\t1\t2\t2\t1\n"
    c, d = load_topology(write(tmp_path, tabs))
    assert (c, d) == (ConvLayerShape("c", 8, 8, 3, 3, 4, 16, 1), ConvLayerShape("d", 4, 4, 1, 1, 2, 2, 1))
    assert load_topology(write(tmp_path, "Layer\tM\tN\tK\nq\t4\t5\t6\n"))[0].gemm == (4, 5, 6)
    path = write(tmp_path, "Layer\tM\tN\tK\nq\t4\t5\n")
    with pytest.raises(UserError, match=r"net.csv:2: 3 field\(s\), expected 4: Layer name, M, N, K$"):
        load_topology(path)
    with pytest.raises(UserError, match=r"net.csv:3: layer 'q': K is 'x', expected an integer >= 1$"):
        load_topology(write(tmp_path, "Title\nLayer, M, N, K\nq, 4, 5, x\n"))
    with pytest.raises(UserError, match=r"net.csv:2: 1 field\(s\), expected 8: "):
        load_topology(write(tmp_path, HEADER + "lonely\n"))  # after the header a single field is a bad row


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
