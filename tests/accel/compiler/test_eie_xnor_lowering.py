"""Properties of the eie and xnor lowering over arbitrary layers and small specs (Hypothesis, derandomized):
lowering gives a Program or a UserError, never another exception, and the golden model of the Program
equals the compiler's independent reference."""

import re

import numpy as np
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from accel.compiler import eie, xnor
from accel.errors import UserError
from accel.spec import EieSpec, XnorSpec
from sim.golden import run as golden

seeds = st.integers(0, 2**32 - 1)


def lowered_or_none(lower, *args):
    """``lower(*args)``, or None if it raises a UserError (counted in Hypothesis' statistics)."""
    try:
        result = lower(*args)
    except UserError as error:
        event(f"UserError: {re.sub(r'[0-9]+', 'N', str(error).split(': ')[1])[:30]}")
        return None
    event("lowered")
    return result


@st.composite
def eie_specs(draw) -> EieSpec:
    return EieSpec(n_pe=draw(st.sampled_from([1, 2, 4, 8])), queue_depth=draw(st.integers(1, 8)),
                   act_regs=draw(st.sampled_from([4, 16, 64])), ptr_entries=draw(st.sampled_from([4, 64, 1024])),
                   spmat_lines=draw(st.sampled_from([2, 32, 1024])), act_frac=draw(st.integers(0, 14)),
                   weight_frac=draw(st.integers(0, 15)), max_cols=draw(st.sampled_from([64, 4096, 4096])))


@settings(max_examples=150)
@given(eie_specs(), st.lists(st.integers(1, 200), min_size=2, max_size=4), st.floats(0, 1), st.floats(0, 1),
       st.booleans(), seeds)
@example(EieSpec(n_pe=1, act_regs=4), [1, 1, 5], 0.5, 0.5, False, 0)  # was an AssertionError: the middle
# activations kept on chip, which the next layer's two row batches cannot read
def test_eie_lowering_gives_a_program_or_a_user_error(spec, sizes, weight_density, act_density, bias, seed):
    rng = np.random.default_rng(seed)
    layers, x = [], None
    for n, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layer, x0 = eie.random_dense(rng, spec, n_in, n_out, weight_density, act_density,
                                     relu=n + 2 < len(sizes), bias=bias, name=f"fc{n + 1}")
        layers.append(layer)
        x = x0 if x is None else x
    lowered = lowered_or_none(eie.lower_mlp, spec, layers, x)
    if lowered is not None:
        assert np.array_equal(lowered.output(golden(lowered.program).memory), eie.reference(spec, layers, x))


@st.composite
def xnor_specs(draw) -> XnorSpec:
    pe, simd = draw(st.sampled_from([1, 2, 4, 8])), draw(st.sampled_from([2, 8, 32, 64]))
    try:
        return XnorSpec(pe=pe, simd=simd, weight_depth=draw(st.sampled_from([16, 64, 1024])),
                        threshold_depth=draw(st.sampled_from([4, 16, 128])),
                        input_depth=draw(st.sampled_from([16, 256, 2048])),
                        max_reduction=draw(st.sampled_from([64, 512, 4096])), input_bits=draw(st.sampled_from([1, 8, 8])),
                        port_bits=draw(st.sampled_from([32, 64, 128])))
    except UserError:  # a combination the spec refuses (e.g. max_reduction below simd): a smaller default
        return XnorSpec(pe=pe, simd=min(simd, 32))


@st.composite
def xnor_layers(draw) -> tuple[str, dict]:
    """``accel simulate``-style parameters of a random xnor layer (:func:`accel.compiler.xnor.random_layer`),
    kernel, stride, padding, pad value and pool also beyond what the engine takes."""
    common = dict(input=draw(st.sampled_from(["binary", "int8"])), output=draw(st.sampled_from(["bits", "dot"])))
    if draw(st.booleans()):
        return "dense", {"in": draw(st.integers(1, 600)), "out": draw(st.integers(1, 40))} | common
    r = draw(st.integers(1, 8))
    return "conv", dict(c=draw(st.integers(1, 40)), k=draw(st.integers(1, 24)), r=r, h=draw(st.integers(1, 12)),
                        w=draw(st.integers(1, 12)), stride=draw(st.integers(1, 5)), pad=draw(st.integers(0, r)),
                        pad_value=draw(st.sampled_from([-1, 1, 0])), pool=draw(st.integers(1, 3))) | common


@settings(max_examples=300)
@given(xnor_specs(), xnor_layers(), seeds)
@example(XnorSpec(pe=1, simd=2), ("conv", dict(c=1, k=1, r=4, h=1, w=2, stride=1, pad=0, pad_value=-1, pool=1,
                                              input="binary", output="bits")), 0)  # was a ValueError: the
# windows of a kernel larger than the map taken (im2col) before the layer was checked
def test_xnor_lowering_gives_a_program_or_a_user_error(spec, kind_and_sizes, seed):
    layer, x, planes = xnor.random_layer(np.random.default_rng(seed), *kind_and_sizes)
    lowered = lowered_or_none(xnor.lower, spec, [layer], [x], planes)
    if lowered is not None:
        assert np.array_equal(lowered.output(golden(lowered.program).memory), xnor.reference([layer], x, planes))
