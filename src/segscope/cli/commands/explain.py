"""``segscope explain RESULTS_DIR``: every convention's mIoU and why it differs from segscope's."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ...conventions import explain_rows
from .._common import add_command, out_console


def explain(
    results: Path = typer.Argument(..., help="The results folder of a run (segscope evaluate --out)."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Print each convention's mIoU, its difference from segscope's and, in words, which policy
    causes the difference on this data.

    Example:

        segscope explain results/
    """
    rows = explain_rows(results)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"mIoU by convention ({results})")
    for col, justify in (("convention", "left"), ("mIoU", "right"), ("Δ vs segscope", "right"), ("why", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for row in rows:
        miou = "-" if row["miou"] is None else f"{row['miou']:.4f}"
        delta = "-" if row["delta"] is None else f"{row['delta']:+.4f}"
        same = row["delta"] is not None and abs(row["delta"]) < 1e-12
        table.add_row(row["convention"], miou, delta, "\n".join(row["why"]) or ("same as segscope" if same else ""))
    out_console.print(table)


def register(app: typer.Typer) -> None:
    add_command(app, explain)
