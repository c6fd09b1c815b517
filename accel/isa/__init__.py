"""Command sets of the engines: the typed commands a Program holds and the RTL's command port receives.

Each engine has a module ``accel.isa.<engine>`` defining its Command types and ``COUNTERS``, the names of
its performance counters in the order of the engine's ``counters`` port.
"""

from importlib import import_module


def counters(engine: str) -> tuple[str, ...]:
    """The performance-counter names of ``engine``."""
    return import_module(f"accel.isa.{engine}").COUNTERS
