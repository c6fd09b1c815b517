"""The program file: every engine's real programs round-trip exactly, and a corrupted, cut or hand-broken
file raises UserError (and nothing else) naming the file and what is wrong."""

import hashlib
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.compiler import eie, mac_array, xnor
from accel.errors import UserError
from accel.program import FORMAT, MAGIC, Program
from accel.spec import EieSpec, MacArraySpec, XnorSpec

SMALL = MacArraySpec(atomic_c=4, atomic_k=4, banks=8, bank_kib=1)
CASES = {  # engine: (compiler, spec, layer kind, sizes that differ from the kind's defaults)
    "mac_array conv": (mac_array, SMALL, "conv", dict(h=5, w=5, c=6, k=5)),
    "mac_array dense": (mac_array, SMALL, "dense", {"in": 300, "out": 6}),
    "mac_array pool": (mac_array, SMALL, "pool", dict(h=6, w=6, c=5, kind="avg")),
    "mac_array add": (mac_array, SMALL, "add", dict(h=3, w=3, c=9)),
    "eie mlp": (eie, EieSpec(), "mlp", {}),
    "xnor conv": (xnor, XnorSpec(), "conv", {}),
    "xnor dense int8": (xnor, XnorSpec(), "dense", {"input": "int8"}),
}


def real_program(case: str) -> Program:
    compiler, spec, kind, sizes = CASES[case]
    return compiler.random_case(spec, kind, compiler.LAYER_KINDS[kind] | sizes, np.random.default_rng(0)).program


@pytest.mark.parametrize("case", CASES)
def test_real_programs_round_trip_exactly(tmp_path, case):
    program = real_program(case)
    path = tmp_path / "p.accel"
    program.save(path)
    loaded = Program.load(path)
    assert (loaded.spec, loaded.commands, loaded.memory) == (program.spec, program.commands, program.memory)
    assert loaded.command_words() == program.command_words()
    assert np.array_equal(loaded.memory.flatten(), program.memory.flatten())
    loaded.save(tmp_path / "q.accel")
    assert (tmp_path / "q.accel").read_bytes() == path.read_bytes()


# ---- Corrupted files, made from one real program ----

@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> bytes:
    """The bytes of a saved mac_array program: magic, length, header, data."""
    path = tmp_path_factory.mktemp("program") / "p.accel"
    real_program("mac_array conv").save(path)
    return path.read_bytes()


def split(raw: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack_from("<Q", raw, 8)
    return json.loads(raw[16:16 + length]), raw[16 + length:]


def assemble(header: bytes | dict, data: bytes) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return MAGIC + struct.pack("<Q", len(text)) + text + data


def load_bytes(tmp_path, content: bytes) -> Program:
    path = tmp_path / "bad.accel"
    path.write_bytes(content)
    return Program.load(path)


def rejects(tmp_path, content: bytes, message: str) -> None:
    with pytest.raises(UserError, match=r"^program file '.*bad\.accel': " + message):
        load_bytes(tmp_path, content)


def test_valid_file_is_read(tmp_path, raw):
    header, data = split(raw)
    assert header["format"] == FORMAT == 2
    assert header["data"] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert load_bytes(tmp_path, assemble(header, data)).memory.regions.keys() == {"input", "weights", "output"}


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match=r"^program file '.*nosuch\.accel': cannot be read \(No such file"):
        Program.load(tmp_path / "nosuch.accel")
    with pytest.raises(UserError, match=r"^program file '.*': cannot be read \(Is a directory\)"):
        Program.load(tmp_path)


@pytest.mark.parametrize("cut,message", [
    (0, r"cut short inside the magic \(0 of 8 bytes\)"), (5, r"cut short inside the magic \(5 of 8 bytes\)"),
    (8, r"cut short inside the header length \(0 of 8 bytes\)"),
    (13, r"cut short inside the header length \(5 of 8 bytes\)"),
    (16, r"cut short inside the header \(0 of \d+ bytes\)"), (100, r"cut short inside the header \(84 of \d+ bytes\)"),
    (-1, r"\d+ bytes of data after the header; the header says \d+ \(cut short\)"),
])
def test_truncated_at_each_part(tmp_path, raw, cut, message):
    header, data = split(raw)
    cut = {-1: len(raw) - len(data) // 2}.get(cut, cut)
    rejects(tmp_path, raw[:cut], message)


def test_truncated_anywhere(tmp_path, raw):
    for cut in [*range(16), *range(16, len(raw), 5)]:
        with pytest.raises(UserError, match="cut short"):
            load_bytes(tmp_path, raw[:cut])


def test_bit_flips_in_the_data_fail_the_checksum(tmp_path, raw):
    header, data = split(raw)
    for position in range(0, len(data), 7):
        flipped = bytearray(data)
        flipped[position] ^= 1 << position % 8
        rejects(tmp_path, assemble(header, bytes(flipped)), r"the data's SHA-256 is [0-9a-f]{64}, the header says "
                                                            r"'[0-9a-f]{64}': the data is corrupted")


def test_bit_flips_in_the_header_give_a_program_or_a_user_error(tmp_path, raw):
    """The header is checked value by value, not checksummed: a flip may make another valid program (a
    digit for a digit), and anything else is a UserError."""
    length = len(raw) - len(split(raw)[1]) - 16
    outcomes = set()
    for position in range(16, 16 + length, 3):
        flipped = bytearray(raw)
        flipped[position] ^= 1 << position % 8
        try:
            load_bytes(tmp_path, bytes(flipped))
            outcomes.add("program")
        except UserError:
            outcomes.add("error")
    assert outcomes == {"program", "error"}


def test_extra_bytes_after_the_data(tmp_path, raw):
    rejects(tmp_path, raw + b"\0", r"\d+ bytes of data after the header; the header says \d+$")


def test_bad_magic(tmp_path, raw):
    rejects(tmp_path, b"ACCELPRX" + raw[8:], r"not an accel program \(bad magic b'ACCELPRX'; expected b'ACCELPRG'\)")
    rejects(tmp_path, b"PK\x03\x04", r"not an accel program \(bad magic")


def test_header_length_past_the_file(tmp_path, raw):
    rejects(tmp_path, MAGIC + struct.pack("<Q", 2**64 - 1) + raw[16:], r"cut short inside the header \(\d+ of "
                                                                      r"18446744073709551615 bytes\)")


@pytest.mark.parametrize("text,message", [
    (b'{"format": 2, \xff}', r"the header is not UTF-8 text \(byte 14: invalid start byte\)"),
    (b'{"format": 2,', r"the header is not JSON \(Expecting property name enclosed in double quotes at line 1 "
                      r"column 14\)"),
    (b"[" * 100_000 + b"]" * 100_000, r"the header is not readable JSON \(RecursionError"),
    (b'{"format": ' + b"9" * 5000 + b"}", r"the header is not readable JSON \(ValueError: 'Exceeds the limit"),
    (b'{"format": 2, "format": 2}', r"header: key 'format' appears twice in one object"),
    (b"[2]", r"the header \[2\] is not a JSON object"),
    (b'{"spec": {}}', r"header: key 'format' is missing; supported: 2$"),
    (b'{"format": 1}', r"format 1 is not supported; supported: 2 \(compile the program again with this accel\)"),
    (b'{"format": 3}', r"format 3 is not supported"),
    (b'{"format": "2"}', r"format '2' is not supported"),
    (b'{"format": 2.0}', r"format 2.0 is not supported"),
    (b'{"format": NaN}', r"format nan is not supported"),
    (b'{"format": 1e400}', r"format inf is not supported"),
])
def test_unreadable_headers(tmp_path, raw, text, message):
    rejects(tmp_path, assemble(text, split(raw)[1]), message)


def _set(path: str, value):
    """A change of the header: the value at ``path`` (dotted keys and list indices) set, or removed if
    ``value`` is ``DELETE``."""
    def change(header):
        *parents, last = [int(key) if key.isdigit() else key for key in path.split(".")]
        target = header
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return change


DELETE = object()


def _overlap_in_memory(header):
    regions = header["memory"]["regions"]
    regions[2]["address"] = regions[1]["address"] + 64


def _overlap_in_data(header):
    regions = header["memory"]["regions"]
    regions[1]["offset"] = regions[0]["offset"] + 8


@pytest.mark.parametrize("change,message", [
    (_set("extra", 1), r"header: unknown key 'extra'; allowed: format, spec, commands, memory, data"),
    *((_set(key, DELETE), rf"header: key '{key}' is missing") for key in ("spec", "commands", "memory", "data")),
    (_set("data.bytes", DELETE), r"header.data: key 'bytes' is missing; expected keys bytes, sha256"),
    (_set("data.sha256", DELETE), r"header.data: key 'sha256' is missing"),
    (_set("data.md5", "x"), r"header.data: unknown key 'md5'; allowed: bytes, sha256"),
    (_set("data", [1, 2]), r"header.data: \[1, 2\] is not an object; expected keys bytes, sha256"),
    (_set("data.bytes", -1), r"header.data.bytes: -1 is not allowed; expected an integer in 0..4294967296"),
    (_set("data.bytes", "1072"), r"header.data.bytes: '1072' is not allowed"),
    (_set("data.sha256", None), r"the data's SHA-256 is [0-9a-f]{64}, the header says None"),
    (_set("spec", "mac_array"), r"header.spec: 'mac_array' is not an object naming its engine"),
    (_set("spec.spec", ["mac_array"]), r"header.spec: .* is not an object naming its engine"),
    (_set("spec.spec", "tpu"), r"'tpu' is not a known block or engine; known: "),
    (_set("spec.banks", 7), r"mac_array.banks: 7 is not allowed; expected an integer in 4..128 that is a power of two"),
    (_set("spec.banks", True), r"mac_array.banks: True is not allowed"),
    (_set("spec.banks", DELETE), r"header.spec: parameter 'banks' of mac_array is missing"),
    (_set("spec.lanes", 8), r"mac_array: unknown parameter 'lanes'"),
    (_set("commands", {}), r"header.commands: \{\} is not a list of commands"),
    (_set("commands.0", 5), r"header.commands\[0\]: command: 5 is not an object"),
    (_set("commands.1.op", "Fetch"), r"header.commands\[1\]: command: 'Fetch' is not a command of engine "
                                     r"'mac_array'; known: Config, Conv, Eltwise, LoadFeatures, LoadWeights, Pool"),
    (_set("commands.1.op", ["LoadFeatures"]), r"header.commands\[1\]: command: \['LoadFeatures'\] is not a command"),
    (_set("commands.1.op", DELETE), r"header.commands\[1\]: command: None is not a command"),
    (_set("commands.1.speed", 3), r"header.commands\[1\]: command LoadFeatures: unknown field 'speed'; fields: "
                                  r"address, entry, count, groups, src_stride, dst_stride, wait"),
    (_set("commands.1.count", DELETE), r"header.commands\[1\]: command LoadFeatures: field 'count' is missing"),
    (_set("commands.1.count", -1), r"header.commands\[1\]: LoadFeatures.count: -1 does not fit; allowed 0..16777215"),
    (_set("commands.1.count", 2**24), r"header.commands\[1\]: LoadFeatures.count: 16777216 does not fit"),
    (_set("commands.1.count", 10**30), r"header.commands\[1\]: LoadFeatures.count: 1000000000000000000000000000000 does not fit"),
    (_set("commands.1.count", 3.0), r"header.commands\[1\]: LoadFeatures.count: 3.0 does not fit"),
    (_set("commands.1.wait", True), r"header.commands\[1\]: LoadFeatures.wait: True does not fit"),
    (_set("commands.1.wait", None), r"header.commands\[1\]: LoadFeatures.wait: None does not fit"),
    (_set("memory", None), r"header.memory: None is not an object; expected keys alignment, regions"),
    (_set("memory.alignment", DELETE), r"header.memory: key 'alignment' is missing"),
    (_set("memory.alignment", 0), r"header.memory.alignment: 0 is not allowed; expected an integer in 1..4294967296"),
    (_set("memory.regions", "input"), r"header.memory.regions: 'input' is not a list of regions"),
    (_set("memory.regions.0", []), r"header.memory.regions\[0\]: \[\] is not an object; expected keys name, "
                                   r"address, size"),
    *((_set(f"memory.regions.1.{key}", DELETE), rf"header.memory.regions\[1\]: key '{key}' is missing")
      for key in ("name", "address", "size")),
    (_set("memory.regions.1.data", "AAAA"), r"header.memory.regions\[1\]: unknown key 'data'; allowed: name, "
                                            r"address, size, offset"),
    (_set("memory.regions.1.name", "input"), r"header.memory.regions\[1\].name: 'input' is not allowed; expected a "
                                             r"new non-empty string"),
    (_set("memory.regions.1.name", ""), r"header.memory.regions\[1\].name: '' is not allowed"),
    (_set("memory.regions.1.name", 3), r"header.memory.regions\[1\].name: 3 is not allowed"),
    (_set("memory.regions.1.address", -64), r"header.memory.regions\[1\].address: -64 is not allowed; expected an "
                                            r"integer in 0..4294967296"),
    (_set("memory.regions.1.address", 2**40), r"header.memory.regions\[1\].address: 1099511627776 is not allowed"),
    (_set("memory.regions.1.address", 200), r"header.memory.regions\[1\].address: 200 is not allowed; expected a "
                                            r"multiple of the alignment 64"),
    (_set("memory.regions.2.address", 2**32 - 64), r"header.memory.regions\[2\].size: 200 is not allowed; expected "
                                                   r"an integer in 0..64"),
    (_set("memory.regions.1.size", -1), r"header.memory.regions\[1\].size: -1 is not allowed"),
    (_set("memory.regions.1.size", 5000), r"header.memory.regions\[1\]: bytes 200..5200 lie outside the 872 bytes "
                                          r"of data"),
    (_set("memory.regions.1.size", 600), r"the regions hold 800 bytes of data, the file 872"),
    (_set("memory.regions.1.offset", 5000), r"header.memory.regions\[1\].offset: 5000 is not allowed; expected 200, "
                                            r"the end of the data before it"),
    (_set("memory.regions.1.offset", -8), r"header.memory.regions\[1\].offset: -8 is not allowed; expected an "
                                          r"integer in 0..4294967296"),
    (_overlap_in_data, r"header.memory.regions\[1\].offset: 8 is not allowed; expected 200"),
    (_set("memory.regions.1.offset", DELETE), r"the regions hold 200 bytes of data, the file 872$"),
    (_overlap_in_memory, r"header.memory: regions 'weights' \[256, 928\) and 'output' \[320, 520\) overlap"),
    (_set("memory.regions.2.address", 0), r"header.memory: regions 'input' \[0, 200\) and 'output' \[0, 200\) "
                                          r"overlap"),
])
def test_broken_header_fields(tmp_path, raw, change, message):
    header, data = split(raw)
    change(header)
    rejects(tmp_path, assemble(header, data), message)


def _paths(value, prefix=()):
    """The paths (keys and indices) of every value inside the JSON ``value``."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield prefix + (key,)
        yield from _paths(item, prefix + (key,))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=6)


@settings(max_examples=300)
@given(data=st.data())
def test_any_header_value_replaced_or_removed_gives_a_program_or_a_user_error(tmp_path_factory, raw, data):
    header, blob = split(raw)
    *parents, last = data.draw(st.sampled_from(sorted(_paths(header), key=str)))
    target = header
    for key in parents:
        target = target[key]
    if isinstance(target, dict) and data.draw(st.booleans()):
        del target[last]
    else:
        target[last] = data.draw(json_values)
    path = tmp_path_factory.getbasetemp() / "fuzzed.accel"
    path.write_bytes(assemble(header, blob))
    try:
        Program.load(path)
    except UserError as error:
        assert str(error).startswith(f"program file '{path}': ")
