"""``segscope compare A B``: per-class deltas of two runs with bootstrap confidence intervals."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .._common import JobsOpt, add_command, err_console, fmt, out_console


def _signed(x) -> str:
    return "—" if x is None else f"{x:+.3f}"


def compare(
    a: Path = typer.Argument(..., help="Results folder of run A (the reference)."),
    b: Path = typer.Argument(..., help="Results folder of run B (compared against A)."),
    out: Path = typer.Option(Path("comparison"), "--out", "-o", help="Output folder."),
    report: bool = typer.Option(False, "--report", help="Also write OUT/report/index.html with A | B | GT panels."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples.", min=1),
    ci: float = typer.Option(0.95, "--ci", help="Confidence level of the intervals."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the bootstrap."),
    top: int = typer.Option(10, "--top", help="How many most improved / regressed images to list.", min=0),
    jobs: int = JobsOpt,
) -> None:
    """Compare two evaluations of the same images: per-class deltas of every metric, and a
    paired bootstrap confidence interval over images for the mIoU delta and each class's IoU delta.
    Writes OUT/compare.json, per_class_deltas.csv and per_image_deltas.csv.

    Example:

        segscope compare results_baseline/ results_new/ --out comparison/ --report
    """
    from ...analysis.compare import compare_runs, write_comparison
    from ...exceptions import SegscopeError

    if not 0.0 < ci < 1.0:
        raise SegscopeError(f"--ci must lie in (0, 1), got {ci}")
    result = compare_runs(a, b, n_boot=n_boot, ci=ci, seed=seed, top=top)
    write_comparison(result, out)
    boot = result["bootstrap"]
    table = Table(title=f"IoU per class: B − A ({boot['images']} images, {boot['n_boot']} resamples)",
                  title_justify="left")
    for col in ("class", "IoU A", "IoU B", "delta", f"{100 * ci:g}% CI"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, s in boot["per_class"].items():  # in the order of classes; only those with pixels beyond 256
        sig = s["ci_low"] is not None and (s["ci_low"] > 0 or s["ci_high"] < 0)
        style = None if not sig else ("green" if s["delta"] > 0 else "red")
        table.add_row(name, fmt(s["a"]), fmt(s["b"]), _signed(s["delta"]),
                      f"[{_signed(s['ci_low'])}, {_signed(s['ci_high'])}]", style=style)
    out_console.print(table)
    m = boot["miou"]
    out_console.print(f"mIoU {fmt(m['a'])} → {fmt(m['b'])}  delta {_signed(m['delta'])}  "
                      f"{100 * ci:g}% CI [{_signed(m['ci_low'])}, {_signed(m['ci_high'])}]")
    if boot["only_in_a"] or boot["only_in_b"]:
        err_console.print(f"[yellow]note:[/] {boot['only_in_a']} image(s) only in A and {boot['only_in_b']} only "
                          f"in B were left out of the intervals")
    if report:
        from ...report import build_compare_report

        index = build_compare_report(result, out / "report", jobs=jobs or None)
        err_console.print(f"report: {index}")
    err_console.print(f"wrote {out}/compare.json, per_class_deltas.csv, per_image_deltas.csv")


def register(app: typer.Typer) -> None:
    add_command(app, compare)
