"""Valid/ready stream drivers for cocotb testbenches, with reusable idle and backpressure patterns.

A stream port ``x`` of an Amaranth component appears in Verilog as ``x__payload``, ``x__valid`` and
``x__ready``. :class:`StreamSource` drives a component's input stream, :class:`StreamSink` drains an
output stream, and :func:`run_cycles` steps them together, once per clock cycle:

1. after the rising edge, every port drives its signals for the new cycle;
2. in the read-only phase, every port sees the settled valid/ready and records a transfer if both are high.

Patterns are infinite iterators of booleans: for a source "offer a new item this cycle", for a sink
"be ready this cycle". A source keeps valid and payload stable from the cycle it offers an item until
the item is taken, as the stream rules require.
"""

import random
from collections import deque
from collections.abc import Iterable, Iterator

from cocotb.triggers import ReadOnly, RisingEdge


def always() -> Iterator[bool]:
    """Never idle, never apply backpressure."""
    while True:
        yield True


def randomly(rng: random.Random, probability: float) -> Iterator[bool]:
    """True with ``probability`` each cycle, independently."""
    while True:
        yield rng.random() < probability


def bursts(rng: random.Random, max_run: int = 16) -> Iterator[bool]:
    """Alternating runs of True and False of random length 1..``max_run`` (long stalls, long bursts)."""
    value = True
    while True:
        for _ in range(rng.randint(1, max_run)):
            yield value
        value = not value


class StreamSource:
    """Drives input stream ``name`` of ``dut`` with queued payloads (unsigned integers)."""

    def __init__(self, dut, name: str, pattern: Iterator[bool] | None = None):
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.pattern = pattern or always()
        self.queue: deque[int] = deque()
        self.offering = False
        self.valid.value = 0

    def send(self, payloads: Iterable[int]) -> None:
        self.queue.extend(payloads)

    @property
    def idle(self) -> bool:
        return not self.queue

    def drive(self) -> None:
        if not self.offering and self.queue and next(self.pattern):
            self.offering = True
            self.payload.value = self.queue[0]
        self.valid.value = int(self.offering)

    def sample(self) -> None:
        if self.offering and self.ready.value:
            self.queue.popleft()
            self.offering = False


class StreamSink:
    """Drains output stream ``name`` of ``dut``, collecting payloads as signed or unsigned integers."""

    def __init__(self, dut, name: str, pattern: Iterator[bool] | None = None, *, signed: bool = False):
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.pattern = pattern or always()
        self.signed = signed
        self.received: list[int] = []
        self.ready.value = 0

    def drive(self) -> None:
        self.ready.value = int(next(self.pattern))

    def sample(self) -> None:
        if self.valid.value and self.ready.value:
            value = self.payload.value
            self.received.append(value.to_signed() if self.signed else value.to_unsigned())


async def reset(clk, rst, cycles: int = 2) -> None:
    """Hold synchronous reset ``rst`` high for ``cycles`` rising edges of ``clk``."""
    rst.value = 1
    for _ in range(cycles):
        await RisingEdge(clk)
    rst.value = 0


async def run_cycles(clk, ports, done, limit: int) -> int:
    """Step ``ports`` once per cycle until ``done()`` holds; the number of cycles taken.

    Raises ``AssertionError`` after ``limit`` cycles (a hung design must not hang the test).
    """
    cycles = 0
    while not done():
        if cycles >= limit:
            raise AssertionError(f"no progress: still running after {limit} cycles")
        await RisingEdge(clk)
        for port in ports:
            port.drive()
        await ReadOnly()
        for port in ports:
            port.sample()
        cycles += 1
    return cycles
