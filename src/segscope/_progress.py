"""What a long run tells the person waiting, on stderr: the progress bar of long loops
(evaluation, checks, conversion, panels) and one-off notices (kernels being compiled).

Notices go to the handler the command line installs (:func:`set_notice_handler`); a library
caller gets none unless it installs one.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Callable

__all__ = ["progress_bar", "notice", "set_notice_handler"]

_notice_handler: Callable[[str], None] | None = None


def set_notice_handler(handler: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Send :func:`notice` texts to ``handler`` (None: nowhere); returns the previous handler.

    >>> seen = []
    >>> old = set_notice_handler(seen.append)
    >>> notice("compiling kernels, once: about 9 s")
    >>> _ = set_notice_handler(old)
    >>> seen
    ['compiling kernels, once: about 9 s']
    """
    global _notice_handler
    old, _notice_handler = _notice_handler, handler
    return old


def notice(text: str) -> None:
    """Tell the person running segscope something once (see :func:`set_notice_handler`)."""
    if _notice_handler is not None:
        _notice_handler(text)


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
