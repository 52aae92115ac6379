"""The progress bar of long loops (evaluation, checks, conversion, panels), on stderr."""

from __future__ import annotations

import contextlib
import sys

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(total: int, description: str, enabled: bool | None = None, console=None):
    """Yield ``advance(n=1)`` for a rich progress bar on stderr.

    Shown on a terminal only (and for more than one item), unless ``enabled`` says otherwise;
    never for ``total <= 0``. ``console``: the rich console to draw on (default: a new one on
    stderr).

    >>> with progress_bar(3, "work", enabled=False) as advance:
    ...     advance()
    """
    show = (sys.stderr.isatty() and total > 1) if enabled is None else enabled
    if not show or total <= 0:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console or Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
