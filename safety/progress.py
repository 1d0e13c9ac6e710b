"""Progress of long steps (sampling, embedding, training) for people at a terminal.

Code that loops calls `report(label, done, total)`; it costs nothing unless a `progress_bar` is open
in the same context. The CLI opens one (rich, on stderr) only when stderr is a terminal and `--json`
is not given, so scripts and JSON output never see it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[str, int, int], None]
_reporter: ContextVar[Reporter | None] = ContextVar("sealframe_progress", default=None)


def report(label: str, done: int, total: int) -> None:
    """`done` of `total` units of the step called `label` are finished."""
    fn = _reporter.get()
    if fn is not None:
        fn(label, done, total)


@contextmanager
def progress_bar(title: str, enabled: bool = True) -> Iterator[None]:
    """Show a rich progress bar for the `report` calls made inside (when stderr is a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(title, total=None)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"{title}: {label}", completed=done, total=total)

        token = _reporter.set(update)
        try:
            yield
        finally:
            _reporter.reset(token)
