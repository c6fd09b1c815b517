"""parse_layer: any well-formed ``kind:key=value,...`` gives exactly its values; anything else a UserError."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.compiler import eie, mac_array, parse_layer, xnor
from accel.errors import UserError

KINDS = {engine.__name__.rsplit(".", 1)[1]: engine.LAYER_KINDS for engine in (eie, mac_array, xnor)}
SETTINGS = settings(database=None, deadline=None)  # no example database in the tree; no timing on a busy machine
WORDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)


def values_for(default):
    """Values of the default's type, as text parse_layer reads back exactly."""
    if isinstance(default, str):
        return WORDS.map(lambda v: (v, v))
    if isinstance(default, float):
        return st.floats(allow_nan=False).map(lambda v: (repr(v), v))
    return st.integers(-10**30, 10**30).map(lambda v: (str(v), v))


@st.composite
def layer_texts(draw):
    """(kinds, text, kind, the values it sets): some keys of a kind in any order, spaces around keys."""
    kinds = KINDS[draw(st.sampled_from(sorted(KINDS)))]
    kind = draw(st.sampled_from(sorted(kinds)))
    keys = draw(st.lists(st.sampled_from(sorted(kinds[kind])), unique=True))
    values = {key: draw(values_for(kinds[kind][key])) for key in keys}
    spaces = st.sampled_from(["", " ", "  "])
    items = [f"{draw(spaces)}{key}{draw(spaces)}={text}" for key, (text, _) in values.items()]
    return kinds, f"{kind}:{','.join(items)}", kind, {key: value for key, (_, value) in values.items()}


@SETTINGS
@given(layer_texts())
def test_well_formed_layers_parse_to_their_values(case):
    kinds, text, kind, values = case
    assert parse_layer(text, kinds) == (kind, {**kinds[kind], **values})


@SETTINGS
@given(layer_texts(), st.data())
def test_a_repeated_or_unknown_key_or_a_bad_value_is_a_user_error(case, data):
    kinds, text, kind, _ = case
    defaults = kinds[kind]
    key = data.draw(st.sampled_from(sorted(defaults)))
    numeric = sorted(k for k, v in defaults.items() if not isinstance(v, str))
    bad = [f"{key}=1,{key}=1", f"{data.draw(WORDS.filter(lambda w: w not in defaults))}=1", key]
    if numeric:
        bad.append(f"{data.draw(st.sampled_from(numeric))}={data.draw(st.sampled_from(['', 'x', '1e', '--1', '0x']))}")
    broken = data.draw(st.sampled_from(bad))
    with pytest.raises(UserError):
        parse_layer(f"{text},{broken}", kinds)


@SETTINGS
@given(st.text(max_size=60), st.sampled_from(sorted(KINDS)))
def test_any_text_parses_or_is_a_one_line_user_error(text, engine):
    try:
        kind, params = parse_layer(text, KINDS[engine])
    except UserError as error:
        assert "\n" not in str(error)
    else:
        assert kind in KINDS[engine] and params.keys() == KINDS[engine][kind].keys()
