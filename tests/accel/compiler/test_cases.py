"""random_case: every parameter checked before any data; the independent reference computed only when asked for,
and then equal to the golden bits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.compiler import eie, mac_array, parse_layer, xnor
from accel.errors import UserError
from accel.spec import EieSpec, MacArraySpec, XnorSpec
from sim import golden


@pytest.mark.parametrize("compiler,spec,layer", [
    (mac_array, MacArraySpec(), "conv:h=7,w=6,c=9,k=10,r=3,stride=2"),
    (mac_array, MacArraySpec(), "pool:h=9,w=9,c=10,r=3,stride=2,kind=avg"),
    (mac_array, MacArraySpec(), "add:h=4,w=5,c=12"),
    (eie, EieSpec(), "mlp:sizes=30-20-10"),
    (xnor, XnorSpec(), "conv:h=6,w=6,c=8,k=8,input=int8"),
])
def test_reference_is_lazy_and_agrees(compiler, spec, layer):
    kind, params = parse_layer(layer, compiler.LAYER_KINDS)
    case = compiler.random_case(spec, kind, params, np.random.default_rng(2**70))
    assert "expected" not in vars(case)  # not computed by making the case
    expected = case.expected
    assert case.expected is expected  # computed once
    assert np.array_equal(case.output(golden.run(case.program).memory), expected)


ENGINES = {"mac_array": (mac_array, MacArraySpec()), "eie": (eie, EieSpec()), "xnor": (xnor, XnorSpec())}


def parameter_values(default):
    """Small, zero, negative and absurdly large values of the default's type; for text, the allowed values
    of every engine's text parameters and some that are not."""
    if isinstance(default, str):
        return st.sampled_from(["none", "relu", "relu6", "max", "avg", "binary", "int8", "bits", "dot", "tanh",
                                "", "256-128-64", "8-0", "x", "4-4-4-4"])
    if isinstance(default, float):
        return st.one_of(st.floats(-1, 2), st.just(float("nan")), st.just(float("inf")))
    return st.one_of(st.integers(-2, 40), st.integers(10**10, 10**30))


@settings(database=None, deadline=None)
@given(st.data())
def test_check_case_passes_or_names_a_user_error(data):
    """check_case on any parameters, before any data exists: a UserError of one line, or nothing."""
    engine = data.draw(st.sampled_from(sorted(ENGINES)))
    compiler, spec = ENGINES[engine]
    kind = data.draw(st.sampled_from(sorted(compiler.LAYER_KINDS)))
    params = {key: data.draw(st.one_of(st.just(default), parameter_values(default)), label=key)
              for key, default in compiler.LAYER_KINDS[kind].items()}
    try:
        compiler.check_case(spec, kind, params)
    except UserError as error:
        assert "\n" not in str(error)
