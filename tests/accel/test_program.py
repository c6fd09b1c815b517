"""The Program container: typed command words, memory image, one-file save/load round trip."""

from dataclasses import dataclass

import numpy as np
import pytest

from accel.errors import UserError
from accel.program import OPCODE_BITS, Command, MemoryImage, Program, bits, command_width
from accel.spec import DotProductSpec


# Command types of a made-up engine, registered under the dot_product spec name for the container tests.
@dataclass(frozen=True)
class Load(Command, engine="dot_product", opcode=1):
    address: int = bits(32)
    length: int = bits(16)


@dataclass(frozen=True)
class Shift(Command, engine="dot_product", opcode=2):
    amount: int = bits(6, signed=True)
    last: int = bits(1)


def test_encoding_places_opcode_low_then_fields_lsb_first():
    word = Load(address=0x1234, length=3).encode()
    assert word & (2**OPCODE_BITS - 1) == 1
    assert (word >> OPCODE_BITS) & 0xFFFFFFFF == 0x1234
    assert word >> (OPCODE_BITS + 32) == 3
    assert Load.width() == OPCODE_BITS + 48
    assert command_width("dot_product") == OPCODE_BITS + 48


@pytest.mark.parametrize("command", [Load(0, 0), Load(2**32 - 1, 2**16 - 1), Shift(-32, 1), Shift(31, 0), Shift(-1, 0)])
def test_decode_inverts_encode(command):
    assert Command.decode("dot_product", command.encode()) == command


@pytest.mark.parametrize("make,field", [(lambda: Load(2**32, 0), "address"), (lambda: Shift(32, 0), "amount"),
                                        (lambda: Shift(-33, 0), "amount"), (lambda: Load(-1, 0), "address")])
def test_out_of_range_fields_are_user_errors(make, field):
    command = make()
    with pytest.raises(UserError, match=field):
        command.encode()
    with pytest.raises(UserError, match=field):
        Program(DotProductSpec(), [command], MemoryImage())


def test_unknown_opcode():
    with pytest.raises(UserError, match="opcode 15"):
        Command.decode("dot_product", 15)


def make_program() -> Program:
    memory = MemoryImage(alignment=64)
    rng = np.random.default_rng(0)
    memory.add("weights", rng.integers(-128, 128, (5, 7)).astype(np.int8))
    memory.add("codebook", np.arange(16, dtype=np.int16))
    memory.reserve("outputs", 100)
    memory.add("pointers", np.array([0, 3, 9], dtype=np.uint32))
    return Program(DotProductSpec(lanes=4), [Load(memory["weights"].address, 35), Shift(-3, 1)], memory)


def test_memory_image_layout():
    memory = make_program().memory
    assert [r.address for r in memory.regions.values()] == [0, 64, 128, 256]
    assert memory["codebook"].data == np.arange(16, dtype="<i2").tobytes()
    flat = memory.flatten()
    assert flat.size == 256 + 12
    assert not flat[128:228].any()
    assert flat[256:268].view("<u4").tolist() == [0, 3, 9]
    with pytest.raises(UserError, match="already exists"):
        memory.add("weights", b"x")
    with pytest.raises(UserError, match="no region 'nosuch'"):
        memory["nosuch"]


def test_save_load_round_trip(tmp_path):
    program = make_program()
    path = tmp_path / "p.accel"
    program.save(path)
    loaded = Program.load(path)
    assert loaded.spec == program.spec
    assert loaded.commands == program.commands
    assert loaded.memory == program.memory
    assert loaded.command_words() == program.command_words()
    loaded.save(tmp_path / "q.accel")
    assert (tmp_path / "q.accel").read_bytes() == path.read_bytes()


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"not a program at all")
    with pytest.raises(UserError, match="bad magic"):
        Program.load(path)
