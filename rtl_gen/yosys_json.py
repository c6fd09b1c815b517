"""Walking a module of a mapped Yosys JSON netlist (ECP5 cells): who reads each bit, which bit numbers
are free, and how a ``TRELLIS_FF`` is clocked, enabled and reset. Shared by the packing passes
:mod:`rtl_gen.bram_outreg` and :mod:`rtl_gen.dsp_registers`."""

from collections import defaultdict
from typing import NamedTuple

__all__ = ["Control", "control", "fresh_bit", "loads"]

_PARAMETERS = ("CEMUX", "CLKMUX", "LSRMUX", "SRMODE", "GSR")


def loads(module: dict) -> defaultdict:
    """For each bit of ``module``, the ``(cell, pin)`` inputs it drives; ``(None, None)`` stands for an
    output port of the module."""
    users = defaultdict(list)
    for name, cell in module["cells"].items():
        for pin, bits in cell["connections"].items():
            if cell["port_directions"][pin] == "input":
                for bit in bits:
                    users[bit].append((name, pin))
    for port in module["ports"].values():
        if port["direction"] != "input":
            for bit in port["bits"]:
                users[bit].append((None, None))
    return users


def fresh_bit(module: dict) -> int:
    """A bit number above every bit named in ``module``."""
    return 1 + max((bit for net in module["netnames"].values() for bit in net["bits"]
                    if isinstance(bit, int)), default=1)


class Control(NamedTuple):
    """How a flip-flop is controlled: its clock bit, its enable bit (``()`` if always enabled), its
    reset bit and its ``CEMUX``, ``CLKMUX``, ``LSRMUX``, ``SRMODE`` and ``GSR`` parameters."""

    clock: tuple
    enable: tuple
    reset: tuple
    parameters: tuple

    @property
    def has_reset(self) -> bool:
        """Whether the reset input can ever be active."""
        return self.reset != ("0",) or self.setting("LSRMUX") != "LSR"

    def setting(self, name: str) -> str:
        """The value of parameter ``name`` (one of those above)."""
        return self.parameters[_PARAMETERS.index(name)]


def control(ff: dict) -> Control | None:
    """The :class:`Control` of ``TRELLIS_FF`` ``ff`` if it is clocked on the rising edge with an
    active-high or no enable and no preload (``LSRMODE = "LSR"``), else ``None``."""
    parameters = {key: str(value).strip() for key, value in ff["parameters"].items()}
    connections = ff["connections"]
    if (parameters.get("CLKMUX", "CLK") != "CLK" or parameters.get("LSRMODE", "LSR") != "LSR"
            or parameters.get("CEMUX", "1") not in ("1", "CE")):
        return None
    enable = tuple(connections["CE"]) if parameters.get("CEMUX", "1") == "CE" else ()
    defaults = {"CEMUX": "1", "CLKMUX": "CLK", "LSRMUX": "LSR", "SRMODE": "LSR_OVER_CE", "GSR": "ENABLED"}
    return Control(tuple(connections["CLK"]), enable, tuple(connections.get("LSR", ["0"])),
                   tuple(parameters.get(key, defaults[key]) for key in _PARAMETERS))
