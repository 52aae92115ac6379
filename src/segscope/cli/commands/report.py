"""``segscope report RESULTS``: the HTML report of a results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._common import JobsOpt, MaxPixelsOpt, add_command, apply_max_pixels, err_console


def report(
    results: Path = typer.Argument(..., help="A results folder written by `segscope evaluate`."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Report folder (default RESULTS/report)."),
    worst_k: int = typer.Option(12, "--worst-k", help="Failure cases in the gallery (per error type).", min=0),
    max_panels: int = typer.Option(
        200, "--max-panels", help="Draw a panel for every image up to this many; beyond, for the worst ones.", min=0
    ),
    jobs: int = JobsOpt,
    max_pixels: Optional[str] = MaxPixelsOpt,
) -> None:
    """Write RESULTS/report/index.html: summary, per-class table, imbalance and confusion plots,
    boundary and error sections when their numbers exist, a gallery of failure cases and a
    sortable per-image table. It opens from disk, with no network.

    Example:

        segscope report results/ --worst-k 20
    """
    from ...report import build_report

    apply_max_pixels(max_pixels)

    index = build_report(results, out=out, worst_k=worst_k, max_panels=max_panels, jobs=jobs or None)
    err_console.print(f"report: {index}")


def register(app: typer.Typer) -> None:
    add_command(app, report)
