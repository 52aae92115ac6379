"""``segscope convert SRC DST --from FORMAT --to FORMAT``: change how masks store their labels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .._common import (
    ClassesOpt,
    IgnoreOpt,
    JobsOpt,
    MaxPixelsOpt,
    add_command,
    apply_max_pixels,
    err_console,
    out_console,
    parse_ignore,
    progress,
)
from .check import usage_error

EXAMPLE = """
Formats: index, rgb, palette, labelids, trainids, zero-label, reduced.

Examples:

    segscope convert masks_rgb/ masks/ --from rgb --to index --classes classes.yaml

    segscope convert gtFine/ gt_train/ --from labelids --to trainids --suffix _gtFine_labelIds

    segscope convert masks/ narrowed/ --from index --to index --mapping merge.yaml --dry-run

Nothing is written with --dry-run; sources are never overwritten; a conversion that would lose information (merged ids, values with no place in the target) is refused unless --force-lossy.
"""


def convert(
    src: Path = typer.Argument(..., help="A mask file, or a folder of masks (searched recursively)."),
    dst: Path = typer.Argument(..., help="The output file, or the output folder (relative paths are kept)."),
    from_format: str = typer.Option(..., "--from", help="Format of SRC.", metavar="FORMAT"),
    to_format: str = typer.Option(..., "--to", help="Format to write.", metavar="FORMAT"),
    classes: Optional[str] = ClassesOpt,
    ignore_index: Optional[str] = IgnoreOpt,
    mapping: Optional[str] = typer.Option(
        None, "--mapping", help="old -> new ids: a YAML/JSON file, or inline '255:1,3:ignore' (applied in the target's ids).",
        metavar="FILE",
    ),
    suffix: str = typer.Option("", "--suffix", help="Only masks whose stem ends with this, e.g. _gtFine_labelIds."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would change; write nothing."),
    force_lossy: bool = typer.Option(
        False, "--force-lossy", "--allow-lossy", help="Go ahead even when values merge or have no place (they become ignore)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace output files that exist already."),
    jobs: int = JobsOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No value table."),
    max_pixels: Optional[str] = MaxPixelsOpt,
) -> None:
    """Convert label masks between formats: RGB colour <-> index PNG (through the class spec's
    colours), palette <-> index PNG, Cityscapes labelIds -> trainIds, ADE zero label <-> reduced,
    and id remapping (merge or drop classes) from a mapping file."""
    from ...classes import load_spec
    from ...convert import check_formats, plan_conversion, refusal, run_conversion
    from ...exceptions import SegscopeError

    apply_max_pixels(max_pixels)
    try:
        check_formats(from_format, to_format)
    except SegscopeError as exc:
        raise usage_error(str(exc)) from None
    if from_format == to_format and mapping is None and from_format != "index":
        raise usage_error(f"--from {from_format} --to {to_format} changes nothing; give --mapping")
    spec = load_spec(classes) if classes is not None else None
    ignore = parse_ignore(ignore_index)
    from ...convert import list_sources

    n = len(list_sources(src, suffix)) if src.is_dir() else 1
    with progress(n, "reading") as advance:
        plan = plan_conversion(src, dst, from_format, to_format, spec, mapping, ignore, suffix, jobs, advance)
    if not quiet:
        print_plan(plan)
    why = refusal(plan, force_lossy, overwrite)
    if dry_run:
        if why:
            out_console.print(f"dry run: the conversion of {len(plan.files)} file(s) would be refused; nothing written")
        else:
            out_console.print(f"dry run: would write {len(plan.files)} file(s) to {escape(str(plan.dst))}; nothing written")
        if why:
            raise SegscopeError(why, plan.dst)
        return
    with progress(len(plan.files), "converting") as advance:
        written = run_conversion(plan, force_lossy, overwrite, jobs, advance)
    lossy = " (lossy, as asked)" if plan.losses else ""
    err_console.print(f"wrote {written} file(s) to {escape(str(plan.dst))}{lossy}")


def print_plan(plan, limit: int = 40) -> None:
    """The value table of a conversion: each source value, where it goes, pixels and files."""
    table = Table(
        title=f"{plan.from_format} -> {plan.to_format}: {len(plan.files)} file(s), {plan.changed_pixels():,} px change id",
        title_justify="left",
    )
    for col in ("source", "to", "pixels", "files", "note"):
        table.add_column(col, justify="right" if col in ("pixels", "files") else "left")
    for row in plan.rows[:limit]:
        target = "—" if row.target is None else str(row.target)
        style = "red" if (row.target is None or row.note.startswith("merged")) else None
        table.add_row(escape(row.source_text()), target, f"{row.pixels:,}", str(row.files), escape(row.note), style=style)
    if len(plan.rows) > limit:
        table.add_row(f"… {len(plan.rows) - limit} more", "", "", "", "")
    out_console.print(table)
    if plan.losses:
        for loss in plan.losses:
            out_console.print(f"[red]loses information:[/] {escape(loss)}")
    else:
        out_console.print("lossless: every source value keeps a distinct value")


def register(app: typer.Typer) -> None:
    add_command(app, convert, EXAMPLE)
