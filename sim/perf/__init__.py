"""Performance models: fast cycle and counter predictions equal to the RTL under the default memory model.

Each engine has a module ``sim.perf.<engine>`` with ``run(program) -> RunResult`` (cycles and counters).
"""

from importlib import import_module


def run(program):
    """Predict ``program``'s cycles and counters with its engine's performance model."""
    return import_module(f"sim.perf.{program.spec.name}").run(program)
