"""Golden executors: numpy, bit-exact; they define the bits every other executor must produce.

Each engine has a module ``sim.golden.<engine>`` with ``run(program) -> RunResult``.
"""

from importlib import import_module


def run(program):
    """Execute ``program`` with its engine's golden model."""
    return import_module(f"sim.golden.{program.spec.name}").run(program)
