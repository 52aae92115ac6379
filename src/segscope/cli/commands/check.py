"""``segscope check GTS``: find masks that break the annotation standard, before training."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from .._common import (
    ClassesOpt,
    GtIdsOpt,
    IgnoreOpt,
    JobsOpt,
    MaxPixelsOpt,
    NumClassesOpt,
    add_command,
    apply_max_pixels,
    err_console,
    out_console,
    progress,
    spec_from_options,
)

EXAMPLE = """
Example:

    segscope check data/gt --images data/images --classes data/classes.yaml --json check.json

Exit status: 0 when clean or only notes, 1 when errors are found (--strict: also warnings).
"""

STYLE = {"error": ("red", "✗"), "warning": ("yellow", "!"), "note": ("cyan", "·")}


def usage_error(message: str):
    """A usage error (the command line exits 2)."""
    try:
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - typer without a vendored click
        from click.exceptions import UsageError
    return UsageError(message)


def check(
    gts: Path = typer.Argument(..., help="Folder of ground-truth masks (searched recursively)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder of the images, to compare sizes and find missing files."),
    classes: Optional[str] = ClassesOpt,
    num_classes: Optional[int] = NumClassesOpt,
    ignore_index: Optional[str] = IgnoreOpt,
    gt_ids: str = GtIdsOpt,
    suffix: str = typer.Option("", "--suffix", help="Only masks whose stem ends with this (stripped to pair with images)."),
    image_suffix: str = typer.Option("", "--image-suffix", help="Suffix stripped from image stems, e.g. _leftImg8bit."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the findings as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
    jobs: int = JobsOpt,
    min_fragment: int = typer.Option(4, "--min-fragment", help="Regions smaller than this many pixels are tiny fragments.", min=1),
    max_ignore: float = typer.Option(0.5, "--max-ignore", help="Flag masks with a larger share of ignored pixels.", min=0.0, max=1.0),
    min_images: int = typer.Option(5, "--min-images", help="Flag classes found in fewer masks than this.", min=1),
    max_imbalance: float = typer.Option(1000.0, "--max-imbalance", help="Flag a largest/smallest class pixel ratio above this.", min=1.0),
    skip: Optional[List[str]] = typer.Option(None, "--skip", help="A check id not to run. Repeatable."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary line."),
    max_pixels: Optional[str] = MaxPixelsOpt,
) -> None:
    """Read every mask once and report what breaks the annotation standard: unknown ids and
    colours, mixed formats, 0/255 binary masks, labelIds vs trainIds, unreduced or twice-reduced
    zero labels, shifted ids, JPEG damage, size mismatches, missing and duplicate files, ignored or
    empty masks, absent, rare and imbalanced classes, and annotation noise."""
    from ...check import CheckOptions, run_checks
    from ...check import list_check_masks
    from ...exceptions import SegscopeError
    from ...io.results import write_json

    apply_max_pixels(max_pixels)
    if (classes is None) == (num_classes is None):
        raise usage_error("give the classes: either --classes SPEC or --num-classes N")
    from ...check import CHECKS

    unknown = sorted(set(skip or ()) - set(CHECKS))
    if unknown:
        raise usage_error(f"--skip: unknown check(s) {', '.join(unknown)}; checks are {', '.join(sorted(CHECKS))}")
    spec = spec_from_options(classes, num_classes, ignore_index, gt_ids=gt_ids)
    if not gts.is_dir():
        raise SegscopeError("GT folder does not exist" if not gts.exists() else "GT is not a folder", gts)
    options = CheckOptions(
        min_fragment=min_fragment, max_ignore=max_ignore, min_images=min_images, max_imbalance=max_imbalance,
        skip=tuple(skip or ()), suffix=suffix, image_suffix=image_suffix,
    )
    n = len(list_check_masks(gts, suffix))
    with progress(n, "checking") as advance:
        report = run_checks(gts, spec, images, options, jobs=jobs, advance=advance)
    if json_out is not None:
        write_json(json_out, report.to_dict())
        err_console.print(f"wrote {escape(str(json_out))}")
    print_report(report, quiet=quiet, strict=strict)
    code = report.exit_code(strict)
    if code:
        raise typer.Exit(code)


def print_report(report, quiet: bool = False, strict: bool = False) -> None:
    """The terminal report: findings grouped by severity, then one summary line."""
    con = out_console
    what = f"{report.num_masks} mask(s)"
    if report.num_images is not None:
        what += f", {report.num_images} image(s)"
    if not quiet:
        con.print(f"[bold]segscope check[/]: {what}, classes: {escape(report.spec_name)}")
        for severity, findings in report.by_severity().items():
            if not findings:
                continue
            colour, mark = STYLE[severity]
            con.print()
            con.print(f"[bold {colour}]{severity}s ({len(findings)})[/]")
            for f in findings:
                con.print(f"[{colour}]{mark}[/] [bold]{escape(f.check)}[/]: {escape(f.message)}")
                if f.files:
                    shown = ", ".join(f.files[:3])
                    more = f" … ({len(f.files)} files)" if len(f.files) > 3 else f" ({len(f.files)} file{'s' if len(f.files) > 1 else ''})"
                    con.print(f"    files: {escape(shown)}{more}", soft_wrap=True)
                con.print(f"    fix:   {escape(f.fix)}", soft_wrap=True)
        con.print()
    c = report.counts()
    parts = [f"{c['error']} error{'s' if c['error'] != 1 else ''}", f"{c['warning']} warning{'s' if c['warning'] != 1 else ''}",
             f"{c['note']} note{'s' if c['note'] != 1 else ''}"]
    verdict = "[bold red]fails[/]" if report.exit_code(strict) else "[bold green]passes[/]"
    con.print(f"{', '.join(parts)} in {report.num_masks} mask(s): {verdict}")


def register(app: typer.Typer) -> None:
    add_command(app, check, EXAMPLE)
