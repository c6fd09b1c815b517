"""Spec pattern: validation with one-line errors naming field, value and range; JSON round trip; hash."""

import dataclasses

import pytest

from accel.errors import UserError
from accel.spec import DotProductSpec, MacArraySpec, Spec, spec_class


@pytest.mark.parametrize("lanes", [0, 257, -1, True, 2.5, "8"])
def test_invalid_values_name_field_value_and_range(lanes):
    with pytest.raises(UserError) as error:
        DotProductSpec(lanes=lanes)
    message = str(error.value)
    assert "lanes" in message and repr(lanes) in message and "1..256" in message
    assert "\n" not in message


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DotProductSpec().lanes = 4


@pytest.mark.parametrize("lanes", [1, 7, 64, 256])
def test_json_round_trip(lanes):
    spec = DotProductSpec(lanes=lanes)
    assert Spec.from_json(spec.to_json()) == spec
    assert Spec.from_dict(spec.to_dict()) == spec


def test_hash_names_the_configuration():
    assert DotProductSpec(lanes=8).hash == DotProductSpec(lanes=8).hash
    assert DotProductSpec(lanes=8).hash != DotProductSpec(lanes=9).hash
    assert len(DotProductSpec().hash) == 8


def test_overrides_parse_strings():
    assert DotProductSpec().with_overrides({"lanes": "16"}) == DotProductSpec(lanes=16)
    assert DotProductSpec().with_overrides({"lanes": "0x20"}).lanes == 32
    with pytest.raises(UserError, match=r"dot_product.lanes: 'abc' is not allowed; expected an integer in 1..256"):
        DotProductSpec().with_overrides({"lanes": "abc"})
    with pytest.raises(UserError, match="unknown parameter 'width'; known: lanes"):
        DotProductSpec().with_overrides({"width": "3"})


@pytest.mark.parametrize("text,complaint", [
    ('{"lanes": 4}', "missing the 'spec' key"),
    ('{"spec": "nosuch"}', "'nosuch' is not a known block or engine"),
    ('{"spec": "dot_product", "lanez": 4}', "unknown parameter 'lanez'"),
    ("[1, 2]", "expected a JSON object"),
    ("{oops", "not valid JSON"),
])
def test_bad_spec_files(text, complaint):
    with pytest.raises(UserError, match=complaint):
        Spec.from_json(text)


def test_registry():
    assert spec_class("dot_product") is DotProductSpec
    with pytest.raises(UserError, match="known: dot_product"):
        spec_class("dotproduct")
    assert "lanes" in DotProductSpec.describe()


def test_parse_value_checks_one_parameter_alone():
    assert MacArraySpec.parse_value("atomic_c", "16") == 16  # MacArraySpec(atomic_c=16) alone is refused
    for text, complaint in (("12", "mac_array.atomic_c: 12 is not allowed"),
                            ("x", "mac_array.atomic_c: 'x' is not allowed")):
        with pytest.raises(UserError, match=complaint):
            MacArraySpec.parse_value("atomic_c", text)
    with pytest.raises(UserError, match="unknown parameter 'lanes'"):
        MacArraySpec.parse_value("lanes", "8")
