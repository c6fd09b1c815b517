"""Properties of the mac_array compiler's tiling over arbitrary layer shapes and small specs (Hypothesis,
derandomized): planning succeeds or is a UserError; a schedule's commands stay inside the buffer spaces
and memory regions, read only what was loaded and write every output atom once; the golden model of a
lowered layer equals the int8 reference."""

from dataclasses import replace

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from accel import int8
from accel.compiler.mac_array import MODES, ConvShape, Layout, lower, plan, schedule
from accel.errors import UserError
from accel.isa.mac_array import PARAM_BLOCKS, PSUM_ATOMS, Config, Conv, LoadFeatures, LoadWeights
from accel.nn.qgraph import QDense
from accel.nn.random_layers import random_layer
from accel.spec import MacArraySpec
from sim.golden.mac_array import run as golden


@st.composite
def specs(draw, small: bool = False) -> MacArraySpec:
    """Convolution buffers from tiny ones (which force bands, weight tiles and chunks on small layers) to
    the default one; ``small``: at most 16 banks of 1 KiB."""
    atomic = draw(st.sampled_from([4, 8] if small else [4, 8, 16]))
    banks = draw(st.sampled_from([b for b in ((8, 16) if small else (8, 16, 32, 64)) if b >= 2 * atomic]))
    kib = 1 if small else draw(st.sampled_from([1, 2, 4]))
    return MacArraySpec(atomic_c=atomic, atomic_k=atomic, banks=banks, bank_kib=kib)


@st.composite
def shapes(draw, most: int = 40) -> ConvShape:
    """A convolution with at least one output pixel, now and then with a kernel, stride or padding beyond
    what the engine takes; a dense layer (1×1 of 1×1), up to long enough to need chunks, one time in four."""
    def rare() -> bool:
        return draw(st.integers(0, 19)) == 7

    c, k = draw(st.integers(1, most)), draw(st.integers(1, most))
    if draw(st.integers(0, 3)) == 0:
        return ConvShape(draw(st.integers(1, 3000)), 1, 1, k, 1, 1, 1, 0, 0, 1)
    r, s = (12 if rare() else draw(st.integers(1, 11)) for _ in "rs")
    pad_h, pad_w = (extent if rare() else draw(st.integers(0, extent - 1)) for extent in (r, s))
    h = draw(st.integers(max(1, r - 2 * pad_h), most))
    w = draw(st.integers(max(1, s - 2 * pad_w), most))
    groups = draw(st.sampled_from([g for g in range(1, min(c, k) + 1) if c % g == 0 and k % g == 0]))
    return ConvShape(c, h, w, k, r, s, 5 if rare() else draw(st.integers(1, 4)), pad_h, pad_w, groups)


def planned(spec: MacArraySpec, shape: ConvShape):
    """The mapping of ``shape``, or None if planning says why it cannot (a UserError; nothing else)."""
    try:
        mapping = plan(spec, shape)
    except UserError as error:
        event(f"UserError: {str(error).split(': ')[1].split(' ')[0]}")  # hypothesis --hypothesis-show-statistics
        return None
    event(f"planned: {mapping.mode}, {'several' if mapping.bands > 1 else 'one'} band(s), "
          f"{'several' if mapping.weight_tiles > 1 else 'one'} weight tile(s), chunks {mapping.chunks > 1}, "
          f"double {mapping.double}, ramp {mapping.ramp}")
    return mapping


@settings(max_examples=600)
@given(specs(), shapes())
def test_planning_succeeds_or_is_a_user_error(spec, shape):
    """No dead ends: every layer within the stated limits (stride, padding < kernel) is planned."""
    mapping = planned(spec, shape)
    legal = shape.stride <= spec.MAX_STRIDE and shape.pad_h < shape.r and shape.pad_w < shape.s
    assert (mapping is not None) == legal
    if mapping is not None:
        assert mapping.feature_banks % spec.atomic_k == 0 and 0 < mapping.feature_banks < spec.banks
        assert 1 <= mapping.band_rows <= shape.out_h and mapping.bands >= -(-shape.out_h // mapping.band_rows)
        assert mapping.weight_tiles >= 1 and mapping.chunks >= 1 and mapping.mode in MODES


@settings(max_examples=100)
@given(specs(), shapes(), st.sampled_from(MODES), st.booleans())
def test_a_restricted_plan_takes_the_choice_or_is_a_user_error(spec, shape, mode, double):
    """plan(mode=, double=) returns a mapping of that mode and buffering, never one faster by estimate than
    the free choice; without a mapping of that choice it is a UserError."""
    free = planned(spec, shape)
    try:
        mapping = plan(spec, shape, mode=mode, double=double)
    except UserError:
        return
    assert (mapping.mode, mapping.double) == (mode, double)
    assert free is not None and (free.cycles, free.bytes_read) <= (mapping.cycles, mapping.bytes_read)


def check_schedule(spec: MacArraySpec, shape: ConvShape, commands: list, layout: Layout) -> None:
    """Every command inside its buffer space and DRAM region; each convolution reads the input rows and
    channel groups, and the weight piece, of the output rows and kernel group it writes, as loaded last
    (DRAM addresses of buffer contents are followed through the loads); the last passes write each output
    atom exactly once. (Partial-sum mappings: :func:`check_partial_schedule`.)"""
    if layout.psum_size or len(layout.pieces) and layout.pieces[0].rows != (0, shape.r):
        return check_partial_schedule(spec, shape, commands, layout)
    ac, ak, h, w = spec.atomic_c, spec.atomic_k, shape.h, shape.w
    cgs = -(-shape.c // ac)
    inputs = (layout.input_address, layout.input_address + cgs * h * w * ac)
    weights = (layout.weights_address, layout.weights_address + sum(layout.piece_blocks) * ak * ac)
    outputs = (layout.output_address, layout.output_address + layout.output_size)
    assert inputs[1] <= weights[0] and weights[1] <= outputs[0]
    piece_at = dict(zip(weights[0] + np.cumsum([0, *layout.piece_blocks[:-1]]) * ak * ac, range(len(layout.pieces))))
    config, *rest = commands
    assert isinstance(config, Config) and config.feature_banks % ak == 0 and 0 < config.feature_banks < spec.banks
    features = np.full(config.feature_banks * spec.bank_entries, -1)  # the DRAM address each atom holds
    blocks = np.full((spec.banks - config.feature_banks) // ak * spec.bank_entries, -1)  # and each block
    written = np.zeros(layout.output_size // ak, int)  # times each output atom is written

    def inside(lo, hi, space):
        return space[0] <= lo <= hi <= space[1]

    for c in rest:
        if isinstance(c, LoadFeatures):
            for g in range(c.groups):
                dram, entry = c.address + g * c.src_stride, c.entry + g * c.dst_stride
                assert inside(dram, dram + c.count * ac, inputs) and inside(entry, entry + c.count, (0, features.size)), c
                features[entry:entry + c.count] = dram + np.arange(c.count) * ac
            continue
        if isinstance(c, LoadWeights):
            assert inside(c.address, c.address + c.count * ak * ac, weights), c
            assert inside(c.block, c.block + c.count, (0, blocks.size)), c
            blocks[c.block:c.block + c.count] = c.address + np.arange(c.count) * ak * ac
            continue
        assert isinstance(c, Conv) and (c.stride, c.x_off, c.in_w) == (shape.stride, -shape.pad_w, w), c
        assert inside(c.out_address, c.out_address + c.out_h * c.out_w * ak, outputs) and c.out_w == shape.out_w, c
        kg, rest_atoms = divmod((c.out_address - outputs[0]) // ak, shape.out_h * shape.out_w)
        a = rest_atoms // c.out_w  # the first output row
        # The weights: one piece of kernel group kg, all of it.
        used = PARAM_BLOCKS + c.ncg * c.kernel_h * c.kernel_w
        assert inside(c.wbase, c.wbase + used, (0, blocks.size)), c
        piece = piece_at.get(int(blocks[c.wbase]))
        assert piece is not None and (blocks[c.wbase:c.wbase + used] == blocks[c.wbase] + np.arange(used) * ak * ac).all()
        piece_kg, first, g_lo, g_hi, *_ = layout.pieces[piece]
        last = piece + 1 == len(layout.pieces) or layout.pieces[piece + 1][0] != kg
        assert (piece_kg, g_hi - g_lo, first, last) == (kg, c.ncg, c.first, c.last), c
        # The features: whole rows [row0, row0 + in_h) of channel groups g_lo.. holding every row the
        # output rows a.. need.
        row0 = None
        for g in range(c.ncg):
            atoms = c.fbase + g * c.cg_stride + np.arange(c.in_h * w)
            assert inside(atoms[0], atoms[-1] + 1, (0, features.size)), c
            group, offset = divmod((int(features[atoms[0]]) - inputs[0]) // ac, h * w)
            assert (features[atoms] == features[atoms[0]] + np.arange(atoms.size) * ac).all(), c
            assert offset % w == 0 and group == g_lo + g and row0 in (None, offset // w), c
            row0 = offset // w
        needed = (max(0, a * c.stride - shape.pad_h), min(h, (a + c.out_h - 1) * c.stride - shape.pad_h + c.kernel_h))
        assert c.y_off == a * c.stride - shape.pad_h - row0 and inside(*needed, (row0, row0 + c.in_h)), c
        if c.last:
            written[kg * shape.out_h * shape.out_w + rest_atoms:][:c.out_h * c.out_w] += 1
    assert (written == 1).all()


def check_partial_schedule(spec: MacArraySpec, shape: ConvShape, commands: list, layout: Layout) -> None:
    """A partial-sum mapping's commands inside their buffer spaces and DRAM regions, a load of partial sums
    never overlapping the computation that writes them (issue is in order and a unit takes a command only
    when free: without ``wait`` a load may overlap the last computation issued before it, and the reverse):
    loads from the input, the weights or the partial sums; each kernel group's passes in order (partial sums
    in from the second, out up to the last); the last passes write each output atom exactly once."""
    ac, ak = spec.atomic_c, spec.atomic_k
    regions = {"input": (layout.input_address, layout.weights_address),
               "weights": (layout.weights_address, layout.weights_address + sum(layout.piece_blocks) * ak * ac),
               "output": (layout.output_address, layout.output_address + layout.output_size),
               "psum": (layout.psum_address, layout.psum_address + layout.psum_size)}
    config, *rest = commands
    features = config.feature_banks * spec.bank_entries
    blocks = (spec.banks - config.feature_banks) // ak * spec.bank_entries
    written = np.zeros(layout.output_size // ak, int)
    piece, resident = -1, {}  # weight pieces loaded, and which one starts at each block
    running = {"load": None, "compute": None}  # DRAM bytes the last command of each unit reads or writes

    def dram(c):
        if isinstance(c, LoadFeatures):
            return c.address, c.address + (c.groups - 1) * c.src_stride + c.count * ac
        if isinstance(c, LoadWeights):
            return c.address, c.address + c.count * ak * ac
        return c.out_address, c.out_address + c.out_h * c.out_w * (PSUM_ATOMS * ac if c.psum_out else ak)

    for c in rest:
        unit, other = ("compute", "load") if isinstance(c, Conv) else ("load", "compute")
        lo, hi = dram(c)
        if c.wait:
            running[other] = None
        elif running[other] is not None:
            assert hi <= running[other][0] or running[other][1] <= lo, c
        running[unit] = (lo, hi)
        if isinstance(c, LoadFeatures):
            ends = (c.address, c.address + (c.groups - 1) * c.src_stride + c.count * ac)
            assert any(lo <= ends[0] <= ends[1] <= hi for lo, hi in (regions["input"], regions["psum"])), c
            assert c.entry + (c.groups - 1) * c.dst_stride + c.count <= features, c
        elif isinstance(c, LoadWeights):
            piece += 1
            assert c.count == layout.piece_blocks[piece] and c.block + c.count <= blocks, c
            assert regions["weights"][0] <= c.address < c.address + c.count * ak * ac <= regions["weights"][1], c
            resident[c.block] = piece
        else:
            n = resident[c.wbase]  # the piece whose weights the convolution reads
            kg, first, lo, hi, rows, cols = layout.pieces[n]
            last = n + 1 == len(layout.pieces) or layout.pieces[n + 1].kg != kg
            assert (c.ncg, c.kernel_h, c.kernel_w) == (hi - lo, rows[1] - rows[0], cols[1] - cols[0]), c
            assert (c.psum_in, c.psum_out, c.first, c.last) == (not first, not last, 1, 1), c
            assert c.fbase + (c.ncg - 1) * c.cg_stride + c.in_h * c.in_w <= features, c
            assert not c.psum_in or c.psum_entry + c.out_h * c.out_w * PSUM_ATOMS <= features, c
            size = c.out_h * c.out_w * (PSUM_ATOMS * ac if c.psum_out else ak)
            lo, hi = regions["psum" if c.psum_out else "output"]
            assert lo <= c.out_address <= c.out_address + size <= hi, c
            if not c.psum_out:
                atom = (c.out_address - lo) // ak
                assert atom // (shape.out_h * shape.out_w) == kg, c
                written[atom:atom + c.out_h * c.out_w] += 1
    assert piece + 1 == len(layout.pieces) and (written == 1).all()


@settings(max_examples=400)
@given(specs(), shapes())
def test_schedules_stay_inside_their_buffers_and_regions(spec, shape):
    mapping = planned(spec, shape)
    if mapping is not None:
        layout = Layout.of(spec, shape, mapping)
        commands = schedule(spec, shape, mapping, layout)
        check_schedule(spec, shape, commands, layout)


@settings(max_examples=150)
@given(specs(small=True), shapes(most=20), st.integers(0, 2**32 - 1))
def test_golden_model_of_lowered_layers_equals_the_reference(spec, shape, seed):
    if planned(spec, shape) is None:
        return
    dense = shape.h == shape.w == shape.r == shape.s == 1 and shape.groups == 1 and shape.pad_h == shape.pad_w == 0
    op, x, x_zp = random_layer(np.random.default_rng(seed), c=shape.c, h=shape.h, w=shape.w, k=shape.k, r=shape.r,
                               s=shape.s, stride=shape.stride, pad=shape.pad_h, groups=shape.groups, dense=dense)
    if not dense:
        op = replace(op, padding=(shape.pad_h, shape.pad_w))
    lowered = lower(spec, op, x, x_zp)
    check_schedule(spec, lowered.shape, lowered.program.commands, Layout.of(spec, lowered.shape, lowered.mapping))
    if isinstance(op, QDense):
        expected = int8.dense(x[None], x_zp, op.weight, op.bias, op.requant)[0][:, None, None]
    else:
        expected = int8.conv2d(x[None], x_zp, op.weight, op.bias, op.requant, stride=op.stride, padding=op.padding,
                               groups=op.groups)[0]
    assert np.array_equal(lowered.output(golden(lowered.program).memory), expected)
