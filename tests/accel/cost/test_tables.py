"""Energy tables: the built-in 45 nm table and its SRAM law, scaling to 28 nm, by-width lookup, and user
JSON files (a changed entry changes the energy; every malformed file is a UserError naming the field)."""

import json
import re

import pytest

from accel.cost import builtin_names, load_table
from accel.cost.tables import BUILTIN, OPERATIONS
from accel.errors import UserError


def test_every_row_cites_its_source():
    t = load_table("45nm")
    assert set(t.energy_pj) == set(OPERATIONS)
    assert len(t.sources) == len(t.energy_pj) + len(t.area_um2) + len(t.sram_points) + 1
    assert all(source.strip() for source in t.sources.values())


def test_sram_law_passes_near_horowitz_points():
    t = load_table()
    for kib, pj in ((8, 10), (32, 20), (1024, 100)):
        assert t.sram_pj(kib, 64) == pytest.approx(pj, rel=0.03)
    assert t.sram_pj(8, 16) == pytest.approx(t.sram_pj(8, 64) / 4)
    assert t.sram_pj(64, 64) > t.sram_pj(32, 64)


def test_integer_operations_by_width():
    t = load_table()
    assert t.int_pj("add", 8) == 0.03 and t.int_pj("add", 9) == 0.05 and t.int_pj("add", 24) == 0.1
    assert t.int_pj("add", 64) == pytest.approx(0.2) and t.int_pj("mult", 64) == pytest.approx(4 * 3.1)


def test_28nm_scales_on_chip_energy_and_area_not_dram():
    base, small = load_table("45nm"), load_table("28nm")
    assert builtin_names() == ("45nm", "28nm")
    assert small.energy_pj["int8_mult"] == pytest.approx(0.2 * 28 / 45)
    assert small.sram_pj(8, 64) == pytest.approx(base.sram_pj(8, 64) * 28 / 45)
    assert small.energy_pj["dram_64b"] == base.energy_pj["dram_64b"]
    assert small.area_um2["int8_mult"] == pytest.approx(282 * (28 / 45) ** 2)


def test_user_file_replaces_the_table(tmp_path):
    data = json.loads(BUILTIN.read_text())
    data["name"], data["energy_pj"]["int8_mult"]["value"] = "mine", 0.4
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    t = load_table(str(path))
    assert t.name == "mine" and t.energy_pj["int8_mult"] == 0.4


def _broken(data):
    yield "the file holds list", []
    yield "name", {**data, "name": ""}
    yield "node_nm", {**data, "node_nm": "45"}
    yield "lacks ['int8_add']", {**data, "energy_pj": {k: v for k, v in data["energy_pj"].items() if k != "int8_add"}}
    yield "unknown ['int4_add']", {**data, "area_um2": {**data["area_um2"], "int4_add": data["area_um2"]["int8_add"]}}
    yield "energy_pj.int8_mult.value: -1", {**data, "energy_pj": {**data["energy_pj"],
                                                                  "int8_mult": {"value": -1, "source": "x"}}}
    yield "energy_pj.dram_64b.source", {**data, "energy_pj": {**data["energy_pj"], "dram_64b": {"value": 1}}}
    yield "sram_pj_64b is", {**data, "sram_pj_64b": data["sram_pj_64b"][:1]}
    yield "sram_pj_64b[1].kib", {**data, "sram_pj_64b": [data["sram_pj_64b"][0], {"value": 1, "source": "x"}]}
    yield "one size only", {**data, "sram_pj_64b": [data["sram_pj_64b"][0]] * 2}
    yield "sram_mm2_per_kib", {**data, "sram_mm2_per_kib": 0.003}


@pytest.mark.parametrize("field,data", list(_broken(json.loads(BUILTIN.read_text()))))
def test_malformed_file_is_a_user_error_naming_the_field(tmp_path, field, data):
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=re.escape(field)):
        load_table(str(path))


@pytest.mark.parametrize("name,complaint", [
    ("90nm", "neither a built-in table nor a .json file; allowed: 45nm, 28nm"),
    ("/no/such.json", "cannot read"),
])
def test_unknown_name_or_file(name, complaint):
    with pytest.raises(UserError, match=complaint):
        load_table(name)


def test_not_json(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{")
    with pytest.raises(UserError, match="is not JSON"):
        load_table(str(path))
