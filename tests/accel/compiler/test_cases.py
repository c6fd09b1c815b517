"""random_case: the independent reference is computed only when asked for, and then equals the golden bits."""

import numpy as np
import pytest

from accel.compiler import eie, mac_array, parse_layer, xnor
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
