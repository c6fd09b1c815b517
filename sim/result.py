"""What every executor of a Program returns."""

from dataclasses import dataclass, field

import numpy as np

from accel.program import Program


@dataclass
class RunResult:
    """External memory after the run, and (from perf and RTL executors) cycles and counters; from the RTL
    executor also the wall time the simulation of the run took (loading excluded)."""

    program: Program
    memory: np.ndarray
    cycles: int | None = None
    counters: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None

    def region(self, name: str) -> np.ndarray:
        """The bytes of the program's region ``name`` after the run."""
        region = self.program.memory[name]
        return self.memory[region.address:region.end]
