"""Progress for long work (Verilator builds, Yosys/nextpnr runs, sweeps).

:func:`step` shows a live spinner with the elapsed time on an interactive terminal and plain
start/finish lines otherwise (CI logs, pytest capture), always on stderr so JSON on stdout stays clean.
"""

import contextlib
import sys
import time

from rich.console import Console

_console = Console(stderr=True)


@contextlib.contextmanager
def step(message: str):
    """Report ``message`` while the body runs, then how long it took."""
    start = time.monotonic()
    if _console.is_terminal:
        with _console.status(f"{message} …"):
            yield
    else:
        print(f"[accel] {message} …", file=sys.stderr, flush=True)
        yield
    elapsed = time.monotonic() - start
    if _console.is_terminal:
        _console.print(f"[green]✓[/green] {message} ({elapsed:.1f} s)")
    else:
        print(f"[accel] {message}: done in {elapsed:.1f} s", file=sys.stderr, flush=True)



@contextlib.contextmanager
def bar(what: str, total: int, done: int = 0, enabled: bool = True):
    """A progress bar on stderr for ``total`` ``what`` (``done`` of them finished before): finished/total,
    ``what`` per second over the whole run and the time left; the body calls the yielded function once per item finished."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed or 0:.1f} {what}/s")

    with Progress(what, BarColumn(), MofNCompleteColumn(), Rate(), "ETA", TimeRemainingColumn(),
                  console=_console, disable=not enabled, speed_estimate_period=24 * 3600) as progress:
        task = progress.add_task(what, total=total, completed=done)
        yield lambda: progress.advance(task)
