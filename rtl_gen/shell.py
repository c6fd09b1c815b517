"""The engine shell: the ports every engine has, so every engine looks the same from outside.

Members of an engine (besides Amaranth's implicit ``clk`` and synchronous ``rst``)
-----------------------------------------------------------------------------------
cmd : ``In(stream.Signature(command_width))``
    Command words exactly as :meth:`accel.program.Command.encode` produces them.
rd_req : ``Out(stream.Signature(32))``
    Read requests: byte addresses of memory beats (aligned to the beat).
rd_data : ``In(stream.Signature(port_bits))``
    Read data, one beat per request, in request order.
wr_req : ``Out(stream.Signature(write_layout(port_bits)))``
    Write requests: byte address and one beat of data.
wr_ack : ``In(stream.Signature(1))``
    One acknowledgement per completed write, in order.
busy : ``Out(1)``
    A command is executing (the command port is not ready).
counters : ``Out(ArrayLayout(COUNTER_BITS, len(names)))``
    Performance counters, in the order of the engine's ``COUNTERS`` names.
"""

import dataclasses

from amaranth.hdl import signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from accel.program import OPCODE_BITS, Command

ADDRESS_BITS = 32
COUNTER_BITS = 48


def write_layout(port_bits: int) -> data.StructLayout:
    return data.StructLayout({"address": ADDRESS_BITS, "data": port_bits})


def shell_members(command_width: int, port_bits: int, counters: int) -> dict:
    """The shell's members for a wiring.Component signature."""
    return {
        "cmd": In(stream.Signature(command_width)),
        "rd_req": Out(stream.Signature(ADDRESS_BITS)),
        "rd_data": In(stream.Signature(port_bits)),
        "wr_req": Out(stream.Signature(write_layout(port_bits))),
        "wr_ack": In(stream.Signature(1)),
        "busy": Out(1),
        "counters": Out(data.ArrayLayout(COUNTER_BITS, counters)),
    }


def command_layout(command: type[Command]) -> data.StructLayout:
    """The bit layout of ``command``'s word: the opcode, then each field LSB first (as ``encode`` packs it)."""
    fields = {"opcode": OPCODE_BITS}
    for f in dataclasses.fields(command):
        width = f.metadata["width"]
        fields[f.name] = signed(width) if f.metadata["signed"] else width
    return data.StructLayout(fields)


def decode(command: type[Command], word) -> data.View:
    """A view of command word ``word`` (a Value at least as wide) as ``command``'s fields."""
    layout = command_layout(command)
    return layout(word[:layout.size])
