"""Energy and area of engine instances and their runs (see DESIGN.md: counts × a cited per-action table).

:mod:`~accel.cost.tables` holds the per-action tables, :mod:`~accel.cost.energy` turns a run's counters into
energy by level, :mod:`~accel.cost.area` estimates a spec's ASIC area.
"""

from .area import area
from .energy import Energy, energy
from .tables import Table, builtin_names, load_table

__all__ = ["Energy", "Table", "area", "builtin_names", "energy", "load_table"]
