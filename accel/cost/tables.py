"""Energy and area per action, in the manner of Accelergy's energy reference tables: one table per
technology node, every row citing its source, selectable by name or read from a user's JSON file.

A table file (``horowitz45.json`` next to this module is the built-in 45 nm one) is a JSON object:

- ``name`` (string), ``node_nm`` (number);
- ``energy_pj``: for every key of :data:`OPERATIONS`, ``{"value": pJ per action, "source": text}``;
- ``sram_pj_64b``: at least two ``{"kib": size in KiB, "value": pJ per 64-bit access, "source": text}``,
  the points of the SRAM law (:meth:`Table.sram_pj`);
- ``area_um2``: for every key of :data:`AREA_OPERATIONS`, ``{"value": µm² per unit, "source": text}``;
- ``sram_mm2_per_kib``: ``{"value": mm² per KiB of SRAM, "source": text}``.

YAML is not read: no YAML library is a dependency.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

WIDTHS = (8, 16, 32)
"""Integer widths the tables give adders and multipliers for."""
OPERATIONS = tuple(f"int{w}_{op}" for op in ("add", "mult") for w in WIDTHS) + (
    "fp16_add", "fp16_mult", "fp32_add", "fp32_mult", "xnor_lane", "dram_64b")
"""Actions with a fixed energy: integer and float adds and multiplies, one binary MAC lane (XNOR and its
share of the popcount tree), a 64-bit DRAM access."""
AREA_OPERATIONS = OPERATIONS[:-1]
"""Units with an area: every operation of :data:`OPERATIONS` but DRAM (off chip)."""
BUILTIN = Path(__file__).with_name("horowitz45.json")
REFERENCE_NODE_NM = 45
SCALED_NODES_NM = (28,)
"""Nodes the 45 nm table is scaled to (:meth:`Table.scaled`), each selectable by name, e.g. ``28nm``."""


def by_width(values: dict[str, float], op: str, width: int) -> float:
    """The entry of an integer ``op`` (``add`` or ``mult``) of ``width`` bits: the table's next width at or
    above it (a 24-bit add costs an int32 add); above 32 bits the int32 entry grows with the width for an
    add, with its square for a multiply (Horowitz's energies from 8 to 32 bits: adds 3.3×, multiplies 15.5×)."""
    fit = next((w for w in WIDTHS if w >= width), None)
    if fit is not None:
        return values[f"int{fit}_{op}"]
    return values[f"int{WIDTHS[-1]}_{op}"] * (width / WIDTHS[-1]) ** (1 if op == "add" else 2)


@dataclass(frozen=True)
class Table:
    """Per-action energies (pJ) and unit areas (µm²) of one technology node."""

    name: str
    node_nm: float
    energy_pj: dict[str, float]
    sram_points: tuple[tuple[float, float], ...]
    area_um2: dict[str, float]
    sram_mm2_per_kib: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def sram_law(self) -> tuple[float, float]:
        """(a, b) of the SRAM law E(64-bit access, S KiB) = a · S^b pJ, the least-squares line through the
        table's points in log-log space (Horowitz 45 nm: a = 3.80, b = 0.473; 10.2, 19.6 and 100.6 pJ at
        8 KB, 32 KB and 1 MB against 10, 20 and 100)."""
        xs = [math.log(kib) for kib, _ in self.sram_points]
        ys = [math.log(pj) for _, pj in self.sram_points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        return math.exp(my - b * mx), b

    def sram_pj(self, kib: float, bits: int) -> float:
        """pJ per access of ``bits`` bits to an SRAM (or register file) of ``kib`` KiB: the SRAM law at that
        size, proportional to the bits accessed (a 64-bit access as the law, a 16-bit one a quarter). Below
        the smallest point (8 KB for Horowitz's) the law is extrapolated: no cited figure exists there."""
        a, b = self.sram_law()
        return a * kib ** b * bits / 64

    def dram_pj(self, nbytes: int) -> float:
        """pJ to move ``nbytes`` bytes over DRAM, at the table's 64-bit access energy per 8 bytes."""
        return self.energy_pj["dram_64b"] * nbytes / 8

    def int_pj(self, op: str, width: int) -> float:
        """pJ of an integer ``op`` (``add`` or ``mult``) of ``width`` bits (:func:`by_width`)."""
        return by_width(self.energy_pj, op, width)

    def int_um2(self, op: str, width: int) -> float:
        """µm² of an integer ``op`` (``add`` or ``mult``) of ``width`` bits (:func:`by_width`)."""
        return by_width(self.area_um2, op, width)

    def scaled(self, node_nm: float) -> "Table":
        """This table moved to ``node_nm``: switching energy C·V² with capacitance proportional to the feature
        size at the same supply (energy × node/45), area proportional to its square; DRAM unchanged (an
        off-chip access is not the logic's node)."""
        f = node_nm / self.node_nm
        energy = {k: v if k == "dram_64b" else v * f for k, v in self.energy_pj.items()}
        note = f"scaled from {self.name} by {node_nm:g}/{self.node_nm:g} (energy), its square (area)"
        return Table(f"{node_nm:g}nm", node_nm, energy, tuple((kib, pj * f) for kib, pj in self.sram_points),
                     {k: v * f * f for k, v in self.area_um2.items()}, self.sram_mm2_per_kib * f * f,
                     {k: f"{v}; {note}" for k, v in self.sources.items()})


def _row(where: str, row, *extra: str) -> tuple[float, str, tuple]:
    """(value, source, extra values) of one table row, which must be ``{"value": > 0, "source": text, ...}``."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: {row!r} is not an object; allowed: {{\"value\": number > 0, \"source\": text}}")
    value, source = row.get("value"), row.get("source")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{where}.value: {value!r} is not allowed; allowed: a number > 0")
    if not isinstance(source, str) or not source.strip():
        raise UserError(f"{where}.source: {source!r} is not allowed; allowed: the citation, a non-empty string")
    more = []
    for key in extra:
        v = row.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise UserError(f"{where}.{key}: {v!r} is not allowed; allowed: a number > 0")
        more.append(float(v))
    return float(value), source, tuple(more)


def _rows(where: str, data: dict, key: str, names: tuple[str, ...], sources: dict) -> dict[str, float]:
    rows = data.get(key)
    if not isinstance(rows, dict):
        raise UserError(f"{where}: '{key}' is {rows!r}; allowed: an object with keys {', '.join(names)}")
    unknown = sorted(set(rows) - set(names))
    missing = [n for n in names if n not in rows]
    if unknown or missing:
        raise UserError(f"{where}: '{key}' has unknown {unknown} and lacks {missing}; allowed keys: {', '.join(names)}")
    values = {}
    for name in names:
        values[name], sources[f"{key}.{name}"], _ = _row(f"{where}: {key}.{name}", rows[name])
    return values


def table_from_dict(data, where: str = "energy table") -> Table:
    """A :class:`Table` from the JSON object of a table file; a :class:`UserError` naming the first bad field."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: the file holds {type(data).__name__}; allowed: a JSON object")
    name, node = data.get("name"), data.get("node_nm")
    if not isinstance(name, str) or not name:
        raise UserError(f"{where}: name {name!r} is not allowed; allowed: a non-empty string")
    if isinstance(node, bool) or not isinstance(node, (int, float)) or not 0 < node < 1000:
        raise UserError(f"{where}: node_nm {node!r} is not allowed; allowed: a number in (0, 1000)")
    sources: dict[str, str] = {}
    energy = _rows(where, data, "energy_pj", OPERATIONS, sources)
    area = _rows(where, data, "area_um2", AREA_OPERATIONS, sources)
    points = data.get("sram_pj_64b")
    if not isinstance(points, list) or len(points) < 2:
        raise UserError(f"{where}: sram_pj_64b is {points!r}; allowed: a list of at least two "
                        f"{{\"kib\": number > 0, \"value\": pJ, \"source\": text}}")
    sram = []
    for i, point in enumerate(points):
        value, sources[f"sram_pj_64b.{i}"], (kib,) = _row(f"{where}: sram_pj_64b[{i}]", point, "kib")
        sram.append((kib, value))
    if len({kib for kib, _ in sram}) < 2:
        raise UserError(f"{where}: sram_pj_64b has one size only ({sram[0][0]:g} KiB); allowed: two sizes or more")
    mm2, sources["sram_mm2_per_kib"], _ = _row(f"{where}: sram_mm2_per_kib", data.get("sram_mm2_per_kib"))
    return Table(name, float(node), energy, tuple(sram), area, mm2, sources)


def builtin_names() -> tuple[str, ...]:
    """Names of the built-in tables: Horowitz's 45 nm and its scalings (:data:`SCALED_NODES_NM`)."""
    return (f"{REFERENCE_NODE_NM}nm",) + tuple(f"{n}nm" for n in SCALED_NODES_NM)


def load_table(name_or_file: "str | Path | Table" = "45nm") -> Table:
    """The built-in table of that name (:func:`builtin_names`) or the table in that JSON file."""
    if isinstance(name_or_file, Table):
        return name_or_file
    text = str(name_or_file)
    if text in builtin_names():
        table = table_from_dict(json.loads(BUILTIN.read_text()), str(BUILTIN))
        return table if text == table.name else table.scaled(float(text[:-2]))
    path = Path(text)
    if not path.suffix.lower() == ".json":
        raise UserError(f"energy table: '{text}' is neither a built-in table nor a .json file; allowed: "
                        f"{', '.join(builtin_names())} or a JSON file (YAML is not read)")
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise UserError(f"energy table: cannot read '{text}' ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"energy table: '{text}' is not JSON ({error})".replace("\n", " ")) from None
    return table_from_dict(data, f"energy table '{text}'")
