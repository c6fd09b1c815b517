"""Packing flip-flops into the input and output registers of ECP5 ``MULT18X18D`` multipliers.

Yosys maps every multiplier to a ``MULT18X18D`` with all its registers off, about 3.9 ns of logic in
nextpnr's timing model, so register → multiplier → register caps a design near 140 MHz.
:func:`pack_registers` rewrites a mapped Yosys JSON netlist so that the flip-flops around a multiplier
become its own registers (``REG_INPUTA_CLK``, ``REG_INPUTB_CLK``, ``REG_OUTPUT_CLK``).

Each of those registers loads at a rising edge of the clock its ``REG_x_CLK`` selects (``CLK0..3``)
where its ``REG_x_CE`` enable (``CE0..3``) is high; its ``REG_x_RST`` reset (``RST0..3``) clears it to 0
at that edge whatever the enable (``RESETMODE = "SYNC"``), and it powers up 0; the ``SIGNEDx`` inputs
are registered with ``x`` (Lattice's simulation model). That is a ``TRELLIS_FF`` with ``REGSET =
"RESET"`` and either no reset or a synchronous reset over the enable (``SRMODE = "LSR_OVER_CE"``); only
such flip-flops are packed, those of one register sharing clock, enable, reset and ``GSR`` setting, which
becomes the multiplier's (a register whose flip-flops disagree with the first packed one stays out).
A registered ``SIGNEDx`` reads 0 until the register first loads, while ``x`` is 0 too: the product is 0
either way.

- Output: if every ``P`` bit with a load feeds only the ``DI`` of such a flip-flop, those flip-flops are
  removed and the ``P`` pins drive their ``Q`` nets.
- Input ``A`` (and likewise ``B``): if every non-constant ``A`` pin is driven by the ``Q`` of such a
  flip-flop whose ``D`` is shallow, and the constant pins are 0 or undefined (a register of 1 would
  read 0 after reset), the pins read those flip-flops' ``D`` sources instead. The flip-flops are copied
  into the multiplier, not moved: they are removed only once nothing else reads them (an operand
  register that feeds several multipliers gets one copy in each). Shallow means a constant, an input
  port, a flip-flop, or one ``LUT4`` of those: the route into the multiplier moves in front of the
  register, which a deeper logic cone cannot afford (the requantizer's saturation stage in front of its
  multipliers would become the mac_array conv unit's critical path).

Multipliers with a register already on, non-constant ``SIGNEDx`` or ``SOURCEx``, or a load on an output
other than ``P`` are left alone.
"""

from rtl_gen import yosys_json

__all__ = ["pack_registers"]

_WIDTH = {"A": 18, "B": 18, "P": 36}
_REGISTERS = {"A": "INPUTA", "B": "INPUTB", "P": "OUTPUT"}


def pack_registers(netlist: dict, top: str) -> list[str]:
    """Pack flip-flops into the registers of the ``MULT18X18D`` cells of module ``top`` of a Yosys JSON
    ``netlist`` (changed in place). Returns one line per multiplier with a packed register, and one
    counting the operand flip-flops removed because only multipliers read them."""
    module = netlist["modules"][top]
    cells = module["cells"]
    users = yosys_json.loads(module)
    drivers = {bit: (name, pin) for name, cell in cells.items() for pin, bits in cell["connections"].items()
               if cell["port_directions"][pin] == "output" for bit in bits}
    copied: set[str] = set()  # flip-flops copied into an input register
    lines = []
    for name in [name for name, cell in cells.items() if cell["type"] == "MULT18X18D"]:
        dsp = cells[name]
        if not _plain(dsp, users):
            continue
        plans = {port: plan for port, plan in (("P", _output_plan(cells, users, dsp)),
                                               ("A", _input_plan(cells, drivers, dsp, "A")),
                                               ("B", _input_plan(cells, drivers, dsp, "B"))) if plan}
        if not plans:
            continue
        gsr = next(iter(plans.values()))[0].setting("GSR")  # one setting for the whole multiplier
        plans = {port: plan for port, plan in plans.items() if plan[0].setting("GSR") == gsr}
        dsp["parameters"]["GSR"] = gsr
        selects: dict[str, list] = {"CLK": [], "CE": [], "RST": []}
        parts = []
        for port, (control, ffs) in plans.items():
            register = _REGISTERS[port]
            wiring = {"CLK": list(control.clock), "CE": list(control.enable) or ["1"],
                      "RST": list(control.reset) if control.has_reset else ["0"]}
            for kind, bits in wiring.items():
                if bits not in selects[kind]:
                    selects[kind].append(bits)
                dsp["parameters"][f"REG_{register}_{kind}"] = f"{kind}{selects[kind].index(bits)}"
            for pin, ff_name in ffs.items():
                ff = cells[ff_name]
                if port == "P":
                    q = ff["connections"]["Q"][0]
                    _remove(cells, users, ff_name)
                    dsp["connections"][pin] = [q]
                    drivers[q] = (name, pin)
                else:
                    d = ff["connections"]["DI"][0]
                    users[dsp["connections"][pin][0]].remove((name, pin))
                    users[d].append((name, pin))
                    dsp["connections"][pin] = [d]
                    copied.add(ff_name)
            flip_flops = len(set(ffs.values()))
            parts.append(f"{'output' if port == 'P' else 'input ' + port} register from {flip_flops} flip-flops")
        for kind, choices in selects.items():
            for index, bits in enumerate(choices):
                dsp["connections"][f"{kind}{index}"] = bits
                dsp["port_directions"][f"{kind}{index}"] = "input"
                users[bits[0]].append((name, f"{kind}{index}"))
        lines.append(f"{name}: {', '.join(parts)}")
    unread = [ff for ff in sorted(copied) if not users[cells[ff]["connections"]["Q"][0]]]
    for ff in unread:
        _remove(cells, users, ff)
    if lines:
        lines.append(f"{len(unread)} of {len(copied)} operand flip-flops copied into multipliers removed")
    return lines


def _plain(dsp: dict, users) -> bool:
    """Whether ``dsp`` is a multiplier Yosys mapped: all registers off, constant signedness, operands
    from ``A`` and ``B``, and nothing read but ``P``."""
    parameters, connections = dsp["parameters"], dsp["connections"]
    return (all(str(parameters.get(f"REG_{register}_CLK", "NONE")).strip() == "NONE"
                for register in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT"))
            and str(parameters.get("MULT_BYPASS", "DISABLED")).strip() == "DISABLED"
            and all(connections.get(pin) in (["0"], ["1"]) for pin in ("SIGNEDA", "SIGNEDB"))
            and all(connections.get(pin, ["0"]) == ["0"] for pin in ("SOURCEA", "SOURCEB"))
            and not any(users.get(bits[0]) for pin, bits in connections.items()
                        if dsp["port_directions"][pin] == "output" and not pin.startswith("P")))


def _packable(ff: dict) -> yosys_json.Control | None:
    """The control of flip-flop ``ff`` if it behaves like a multiplier register (see the module
    docstring), else ``None``."""
    control = yosys_json.control(ff) if ff["type"] == "TRELLIS_FF" else None
    if control is None or str(ff["parameters"].get("REGSET", "RESET")).strip() != "RESET":
        return None
    if control.has_reset and (control.setting("LSRMUX") != "LSR" or control.setting("SRMODE") != "LSR_OVER_CE"):
        return None
    return control


def _output_plan(cells, users, dsp) -> tuple | None:
    """The control and, per used ``P`` pin, the flip-flop it alone feeds; ``None`` if not packable."""
    ffs, controls = {}, set()
    for pin in [f"P{index}" for index in range(_WIDTH["P"])]:
        loads = users.get(dsp["connections"].get(pin, [None])[0], [])
        if not loads:
            continue
        if len(loads) != 1 or loads[0][0] is None or loads[0][1] != "DI":
            return None
        control = _packable(cells[loads[0][0]])
        if control is None:
            return None
        controls.add(control)
        ffs[pin] = loads[0][0]
    return (controls.pop(), ffs) if ffs and len(controls) == 1 else None


def _input_plan(cells, drivers, dsp, port: str) -> tuple | None:
    """The control and, per non-constant pin of operand ``port``, the flip-flop driving it; ``None`` if
    not packable."""
    ffs, controls = {}, set()
    for pin in [f"{port}{index}" for index in range(_WIDTH[port])]:
        [bit] = dsp["connections"][pin]
        if bit in ("0", "x"):
            continue
        driver = drivers.get(bit)
        if bit == "1" or driver is None or driver[1] != "Q":
            return None
        control = _packable(cells[driver[0]])
        if control is None or not _shallow(cells, drivers, cells[driver[0]]["connections"]["DI"][0]):
            return None
        controls.add(control)
        ffs[pin] = driver[0]
    return (controls.pop(), ffs) if ffs and len(controls) == 1 else None


def _shallow(cells, drivers, bit, luts: int = 1) -> bool:
    """Whether ``bit`` is a constant, an input port, a flip-flop's output, or (``luts`` allowing) a
    ``LUT4`` of those."""
    driver = drivers.get(bit)
    if driver is None or cells[driver[0]]["type"] == "TRELLIS_FF":
        return True  # a constant, an input port or a flip-flop
    cell = cells[driver[0]]
    return (luts > 0 and cell["type"] == "LUT4"
            and all(_shallow(cells, drivers, cell["connections"][pin][0], luts - 1) for pin in "ABCD"))


def _remove(cells, users, name) -> None:
    """Remove cell ``name`` and its entries in ``users``."""
    cell = cells.pop(name)
    for pin, bits in cell["connections"].items():
        if cell["port_directions"][pin] == "input":
            for bit in bits:
                if (name, pin) in users[bit]:
                    users[bit].remove((name, pin))
