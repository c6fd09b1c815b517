"""Spec pattern: validation with one-line errors naming field, value and range; JSON round trip; hash;
derived defaults; presets."""

import dataclasses

import pytest

from accel.errors import UserError
from accel.spec import SPECS, DotProductSpec, EieSpec, MacArraySpec, Spec, XnorSpec, shown, spec_class


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


def allowed_values(f: dataclasses.Field) -> list:
    """The values ``describe`` allows a parameter: every choice or power of two; for a plain range its ends,
    their neighbours and the powers of two inside."""
    meta = f.metadata
    if meta["choices"] is not None:
        return list(meta["choices"])
    lo, hi = meta["lo"], meta["hi"]
    powers = [1 << e for e in range(hi.bit_length()) if lo <= 1 << e <= hi]
    return powers if meta["pow2"] else sorted({lo, lo + 1, hi - 1, hi, *powers})


ONE_CHANGE = [(cls, f.name, value) for cls in SPECS.values() for f in dataclasses.fields(cls)
              for value in allowed_values(f)]


@pytest.mark.parametrize("cls,field,value", ONE_CHANGE, ids=lambda x: getattr(x, "name", str(x)))
def test_one_changed_parameter_never_breaks_a_defaulted_one(cls, field, value):
    """Any one parameter set to any value in its range gives a valid spec, or an error about that parameter
    and value (``--set`` gives the same spec)."""
    try:
        spec = cls(**{field: value})
    except UserError as error:
        assert str(error).startswith(f"{cls.name}.{field}: {shown(value)} is not allowed"), str(error)
        return
    assert getattr(spec, field) == value
    assert cls().with_overrides({field: str(value)}) == spec


def test_derived_defaults_follow_the_parameters_set():
    assert MacArraySpec() == MacArraySpec(atomic_c=8, atomic_k=8, banks=32)
    wide = MacArraySpec(atomic_c=32, atomic_k=32)
    assert (wide.banks, MacArraySpec(atomic_k=64).atomic_c, MacArraySpec(atomic_k=64).banks) == (64, 64, 128)
    assert MacArraySpec(banks=8).atomic_c == MacArraySpec(banks=8).atomic_k == 4
    assert XnorSpec(max_reduction=16).simd == 16 and XnorSpec(max_reduction=100).simd == 32
    assert MacArraySpec().with_overrides({"atomic_c": "32"}) == wide


def test_a_saved_spec_holds_the_derived_value():
    spec = MacArraySpec(atomic_c=16)
    assert '"banks": 32' in spec.to_json() and '"atomic_k": 16' in spec.to_json()
    loaded = Spec.from_json(spec.to_json())
    assert loaded == spec and loaded.hash == spec.hash
    with pytest.raises(UserError, match="mac_array.banks: 32 is not allowed; expected at least 2 × atomic_k = 64"):
        loaded.with_overrides({"atomic_c": "32", "atomic_k": "32"})  # the file set banks: it stays set
    assert spec.with_overrides({"atomic_c": "32", "atomic_k": "32"}).banks == 64  # here banks was derived


@pytest.mark.parametrize("values,complaint", [
    (dict(atomic_c=32, banks=32), "mac_array.banks: 32 is not allowed; expected at least 2 × atomic_k = 64"),
    (dict(atomic_c=8, atomic_k=16), "mac_array.atomic_k: 16 is not allowed; expected atomic_k == atomic_c (8)"),
    (dict(atomic_k=3), "mac_array.atomic_k: 3 is not allowed; expected an integer in 4..64 that is a power of two"),
    (dict(banks=None), "mac_array.banks: None is not allowed"),
])
def test_set_values_are_still_checked(values, complaint):
    with pytest.raises(UserError) as error:
        MacArraySpec(**values)
    assert str(error.value) == complaint or str(error.value).startswith(complaint)


def test_describe_states_the_rule_of_a_derived_default():
    assert MacArraySpec.describe()["banks"].startswith("default max(32, 2 × atomic_k); an integer in 4..128")
    assert XnorSpec.describe()["simd"].startswith("default 32, or the largest power of two <= max_reduction")


PRESETS = [(cls, name) for cls in SPECS.values() for name in cls.PRESETS]


@pytest.mark.parametrize("cls,name", PRESETS, ids=lambda x: getattr(x, "name", x))
def test_presets_are_valid_specs_with_their_values(cls, name):
    preset = cls.PRESETS[name]
    spec = cls.preset(name)
    assert {key: getattr(spec, key) for key in preset.values} == preset.values
    assert Spec.from_json(spec.to_json()) == spec
    assert preset.description and preset.source


def test_the_reference_presets():
    assert {name for _, name in PRESETS} == {"nv_small", "paper", "lfc"}
    assert MacArraySpec.preset("nv_small") == MacArraySpec()  # the defaults are nv_small's
    paper = EieSpec.preset("paper")
    assert (paper.n_pe, paper.queue_depth, paper.vector_capacity) == (64, 8, 4096)
    lfc = XnorSpec.preset("lfc")
    assert (lfc.pe, lfc.simd, lfc.input_bits) == (32, 64, 1)


@pytest.mark.parametrize("cls,name,known", [(MacArraySpec, "nv_big", "nv_small"), (EieSpec, "", "paper"),
                                            (XnorSpec, "LFC", "lfc"), (DotProductSpec, "paper", "none")])
def test_unknown_presets(cls, name, known):
    with pytest.raises(UserError) as error:
        cls.preset(name)
    assert str(error.value) == f"{cls.name}: unknown preset {name!r}; known: {known}"


def test_parse_value_checks_one_parameter_alone():
    assert MacArraySpec.parse_value("atomic_c", "16") == 16
    for text, complaint in (("12", "mac_array.atomic_c: 12 is not allowed"),
                            ("x", "mac_array.atomic_c: 'x' is not allowed")):
        with pytest.raises(UserError, match=complaint):
            MacArraySpec.parse_value("atomic_c", text)
    with pytest.raises(UserError, match="unknown parameter 'lanes'"):
        MacArraySpec.parse_value("lanes", "8")
