"""Packing the flip-flops that follow an ECP5 block RAM into its output register.

Yosys maps every memory to ``DP16KD`` block RAMs with ``REGMODE_x = "NOREG"``, whose clock-to-out
(about 5.8 ns in nextpnr's timing model) caps a design near 140 MHz, even when the design registers
the RAM output straight away. :func:`pack_output_registers` rewrites a mapped Yosys JSON netlist so
that such a register becomes the RAM's own output register (``REGMODE_x = "OUTREG"``).

The ``DP16KD`` output register loads the RAM's read latch at a clock edge of ``CLKx`` where ``OCEx``
is high, independent of ``CEx``; it powers up 0 (Lattice's simulation model). A read port is packed
when ``RSTx`` is tied 0 (the reset also clears the read latch, so it is left alone), the port is not
already registered, and every ``DO`` bit it uses feeds exactly one cell, either

- the ``DI`` of a ``TRELLIS_FF`` without reset that powers up 0 (``REGSET = "RESET"``): the flip-flop
  is removed and the ``DO`` bit drives its ``Q`` net; or
- one input of a ``LUT4`` whose only load is the ``DI`` of a ``TRELLIS_FF`` (Yosys's read/write
  collision bypass multiplexer takes this place for every RAM with a separate write port): the
  flip-flop is moved back through the LUT. The LUT then drives the flip-flop's ``Q`` net, and each
  of its other (non-constant) inputs is registered by a new ``TRELLIS_FF`` with the removed
  flip-flop's clock, enable and reset. The new flip-flops reset (and power up) to values that make
  the LUT give the removed flip-flop's reset value whatever the RAM holds (with no reset: whatever
  the output register holds at power-up, 0), so reset and power-up behave as before.

All those flip-flops must share the port's clock (rising edge) and one clock enable, which becomes
``OCEx`` (1 if they have none), and one reset. Everything else is left as it is.
"""

import itertools
from typing import NamedTuple

from rtl_gen import yosys_json

__all__ = ["pack_output_registers"]

_LUT_INPUTS = "ABCD"


def pack_output_registers(netlist: dict, top: str) -> list[str]:
    """Pack flip-flops into the output registers of the ``DP16KD`` cells of module ``top`` of a Yosys
    JSON ``netlist`` (changed in place). Returns one line per packed RAM port: the cell, the port,
    how many flip-flops were removed and how many were added."""
    module = netlist["modules"][top]
    cells = module["cells"]
    loads = yosys_json.loads(module)
    next_bit = yosys_json.fresh_bit(module)
    added: dict[tuple, int] = {}
    touched: set[str] = set()  # cells rewired by an earlier port, whose loads above are stale
    lines = []
    for name in [name for name, cell in cells.items() if cell["type"] == "DP16KD"]:
        ram = cells[name]
        for port, outputs in _read_ports(ram):
            plan = _plan(cells, loads, ram, port, outputs)
            if plan is None or touched & {cell for bit in plan.bits for cell in bit[1:3] if cell is not None}:
                continue
            for output in outputs:
                ram["parameters"][f"REGMODE_{output}"] = "OUTREG"
                ram["connections"][f"OCE{output}"] = plan.enable
            before = len(added)
            for do_pin, ff_name, lut_name, resets in plan.bits:
                touched |= {ff_name, lut_name} - {None}
                ff = cells.pop(ff_name)
                q = ff["connections"]["Q"]
                if lut_name is None:
                    ram["connections"][do_pin] = q
                    continue
                lut = cells[lut_name]
                lut["connections"]["Z"] = q
                for pin, value in resets.items():
                    source = lut["connections"][pin][0]
                    key = (source, value, plan.control)
                    if key not in added:
                        added[key] = next_bit
                        cells[f"{ff_name}$outreg{next_bit}"] = _flip_flop(ff, source, next_bit, value)
                        module["netnames"][f"{ff_name}$outreg{next_bit}.Q"] = {
                            "hide_name": 0, "bits": [next_bit], "attributes": {}}
                        next_bit += 1
                    lut["connections"][pin] = [added[key]]
            lines.append(f"{name} port {outputs}: {len(plan.bits)} flip-flops packed, "
                         f"{len(added) - before} added")
    return lines


class _Plan(NamedTuple):
    """How one read port is packed: ``OCE``'s connection, the flip-flops' control set, and per used
    ``DO`` pin the flip-flop that goes, the LUT in between (or ``None``) and the reset values of the
    LUT inputs that get a new flip-flop."""

    enable: list
    control: yosys_json.Control
    bits: list[tuple[str, str, str | None, dict[str, int]]]


def _read_ports(ram) -> list[tuple[str, str]]:
    """The read ports of ``ram``: the port whose clock, enables and reset control the output, and the
    ports whose ``DO`` pins carry its data. In the 36-bit wide mode (``DATA_WIDTH_B = 36``) port B's
    controls drive both halves, ``DOA`` and ``DOB`` (Lattice's simulation model)."""
    width = ram["parameters"].get("DATA_WIDTH_B", 18)
    if (int(width, 2) if isinstance(width, str) else width) == 36:
        return [("B", "AB")]
    return [("A", "A"), ("B", "B")]


def _plan(cells, loads, ram, port, outputs) -> _Plan | None:
    """How to pack the read port controlled by ``port`` whose data leaves on the ``DO`` pins of
    ``outputs``, or ``None`` if it cannot be packed."""
    parameters, connections = ram["parameters"], ram["connections"]
    if (any(parameters.get(f"REGMODE_{output}", "NOREG") != "NOREG" for output in outputs)
            or connections[f"RST{port}"] != ["0"]
            or parameters.get(f"CLK{port}MUX", f"CLK{port}").strip() != f"CLK{port}"):
        return None
    bits, controls = [], set()
    for do_pin in [f"DO{output}{index}" for output in outputs for index in range(18)]:
        users = loads.get(connections[do_pin][0], [])
        if not users:
            continue
        if len(users) != 1 or users[0][0] is None:
            return None
        [(user, pin)] = users
        lut_name = lut_pin = None
        if cells[user]["type"] == "LUT4":
            lut_name, lut_pin = user, pin
            z_users = loads.get(cells[user]["connections"]["Z"][0], [])
            if len(z_users) != 1 or z_users[0][0] is None:
                return None
            [(user, pin)] = z_users
        ff = cells[user]
        if ff["type"] != "TRELLIS_FF" or pin != "DI":
            return None
        control = yosys_json.control(ff)
        if control is None or list(control.clock) != connections[f"CLK{port}"]:
            return None
        resets = _resets(ff, control, cells[lut_name] if lut_name else None, lut_pin)
        if resets is None:
            return None
        controls.add(control)
        bits.append((do_pin, user, lut_name, resets))
    if not bits or len(controls) != 1 or len({bit[1] for bit in bits}) != len(bits):
        return None
    [control] = controls
    return _Plan(list(control.enable or ["1"]), control, bits)


def _resets(ff, control, lut, do_pin) -> dict[str, int] | None:
    """For each non-constant LUT input other than ``do_pin``, the reset value of its new flip-flop, so
    that the packed logic resets and powers up like ``ff`` (controlled by ``control``); ``None`` if no
    choice of values does."""
    value = 1 if str(ff["parameters"].get("REGSET", "RESET")).strip() == "SET" else 0
    has_reset = control.has_reset
    if lut is None:
        return None if has_reset or value else {}
    init = lut["parameters"]["INIT"]
    table = [int(init[len(init) - 1 - index]) for index in range(16)]
    others = {pin: lut["connections"][pin][0] for pin in _LUT_INPUTS if pin != do_pin}
    if any(bit not in ("0", "1") and not isinstance(bit, int) for bit in others.values()):
        return None  # an undefined input
    fixed = {pin: bit for pin, bit in others.items() if bit in ("0", "1")}
    free = [pin for pin in others if pin not in fixed]
    ram_values = (0, 1) if has_reset else (0,)
    for choice in itertools.product((0, 1), repeat=len(free)):
        inputs = {**{pin: int(bit) for pin, bit in fixed.items()}, **dict(zip(free, choice))}
        if all(_lut(table, {**inputs, do_pin: ram}) == value for ram in ram_values):
            return dict(zip(free, choice))
    return None


def _lut(table: list[int], inputs: dict[str, int]) -> int:
    """``LUT4`` output: ``INIT`` bit ``A + 2B + 4C + 8D``."""
    return table[sum(inputs[pin] << index for index, pin in enumerate(_LUT_INPUTS))]


def _flip_flop(template: dict, source, q: int, value: int) -> dict:
    """A ``TRELLIS_FF`` like ``template`` (clock, enable, reset) that registers ``source`` into bit ``q``
    and resets to ``value``."""
    return {
        "hide_name": 0,
        "type": "TRELLIS_FF",
        "parameters": {**template["parameters"], "REGSET": "SET" if value else "RESET"},
        "attributes": {},
        "port_directions": dict(template["port_directions"]),
        "connections": {**template["connections"], "DI": [source], "Q": [q]},
    }
