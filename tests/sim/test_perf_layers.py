"""sim.perf.layers on eie and xnor network Programs: each command's profile adds up to the perf model's run, and
the layers partition the cycles and counters."""

import numpy as np
import pytest

from accel.compiler.network import compile as compile_network
from accel.nn.load import load
from accel.spec import EieSpec, XnorSpec
from sim import perf
from sim.perf import eie, xnor


@pytest.fixture(scope="module")
def networks():
    """digits-bnn-cnn on xnor and a random lenet-300-100 (pruned and shared) on eie, 3 inputs each."""
    return {"xnor": compile_network("xnor", XnorSpec(), load("digits-bnn-cnn"), images=3),
            "eie": compile_network("eie", EieSpec(n_pe=8), load("lenet-300-100"), images=3, prune=0.9, share=4)}


@pytest.mark.parametrize("engine,module", [("eie", eie), ("xnor", xnor)])
def test_command_profile_adds_up_to_the_run(networks, engine, module):
    program = networks[engine].program
    ends, counts = module.command_profile(program)
    totals = module.run(program).counters
    assert len(ends) == len(program.commands) and np.all(np.diff(ends) > 0)  # one command at a time
    assert ends[-1] == totals["cycles"]
    assert {name: int(values.sum()) for name, values in counts.items()} == \
        {name: value for name, value in totals.items() if name != "cycles"}


@pytest.mark.parametrize("engine", ["eie", "xnor"])
def test_layers_partition_cycles_and_counters(networks, engine):
    network = networks[engine]
    rows = perf.layers(network.program, network.layers)
    totals = perf.run(network.program).counters
    assert {name: sum(row[name] for row in rows) for name in totals} == totals
    covered = sorted(i for layer in network.layers for first, end in layer.commands for i in range(first, end))
    assert covered == list(range(len(network.program.commands)))  # every command in exactly one layer
    assert all(row["cycles"] > 0 for row in rows)
