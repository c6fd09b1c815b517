"""Event counters whose increments are registered, so the wide adders stay off the logic that decides the
events."""

from amaranth.hdl import Signal


def count_events(m, counters: dict, events: dict, most: int) -> None:
    """Add ``events[name]`` (how many this cycle, at most ``most``) to the register ``counters[name]``
    through an increment register: a counter lags its events by one cycle, so it is settled the cycle
    after the engine goes idle."""
    for name, increment in events.items():
        registered = Signal(range(most + 1), name=f"{name}_increment")
        m.d.sync += [registered.eq(increment), counters[name].eq(counters[name] + registered)]
