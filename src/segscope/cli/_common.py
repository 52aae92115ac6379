"""Options and helpers shared by several commands."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .._progress import progress_bar
from ..classes import ClassSpec, load_spec
from ..exceptions import SegscopeError

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

CLASSES_HELP = "Class spec: a YAML/JSON file, or a preset (voc, cityscapes, ade20k)."

ClassesOpt = typer.Option(None, "--classes", "-c", help=CLASSES_HELP, metavar="SPEC")
NumClassesOpt = typer.Option(None, "--num-classes", "-n", help="Anonymous classes 0..N-1 instead of a spec.", min=1)
IgnoreOpt = typer.Option(
    None, "--ignore-index", help="Ignore label (overrides the spec's; negative such as -1 allowed; 'none' for no ignore label).",
    metavar="I",
)
PredIdsOpt = typer.Option("train", "--pred-ids", help="cityscapes: predictions hold 'train' ids or official 'label' ids.")
GtIdsOpt = typer.Option("label", "--gt-ids", help="cityscapes: GT holds official 'label' ids or 'train' ids.")
JobsOpt = typer.Option(0, "--jobs", "-j", help="Worker processes (0: all cores).", min=0)
MaxPixelsOpt = typer.Option(
    None, "--max-pixels",
    help="Refuse images and masks larger than this many pixels, before decoding (default 268435456 = 16384², "
         "or SEGSCOPE_MAX_PIXELS; 0 or 'none': no limit).",
    metavar="N",
)


def add_command(app: typer.Typer, func, example: str = "") -> None:
    """Register ``func`` as a command: its docstring, dedented, then ``example`` as the help page,
    and the docstring's first paragraph, on one line, in the list of ``segscope --help``."""
    doc = inspect.cleandoc(func.__doc__ or "")
    parts = [doc, inspect.cleandoc(example)] if example.strip() else [doc]
    summary = re.sub(r"\s+", " ", doc.split("\n\n")[0]).strip()
    app.command(help="\n\n".join(parts), short_help=summary)(func)


def parse_ignore(value: Optional[str]):
    """``--ignore-index``: "keep" when not given, None for 'none'/'null', else the integer (-1 too)."""
    if value is None:
        return "keep"
    if value.strip().lower() in ("none", "null"):
        return None
    try:
        return int(value)
    except ValueError:
        raise SegscopeError(f"--ignore-index must be an integer or 'none', got {value!r}") from None


def apply_max_pixels(value: Optional[str]) -> None:
    """Put ``--max-pixels`` in force for this run (and its worker processes)."""
    if value is not None:
        from ..io.masks import set_max_pixels

        set_max_pixels(value)


def spec_from_options(
    classes: Optional[str], num_classes: Optional[int], ignore_index: Optional[str],
    pred_ids: str = "train", gt_ids: str = "label",
) -> ClassSpec:
    return load_spec(
        classes, num_classes=num_classes, ignore_index=parse_ignore(ignore_index), pred_ids=pred_ids, gt_ids=gt_ids
    )


def progress(total: int, description: str, enabled: bool | None = None):
    """Yield an ``advance()`` callable driving a progress bar on stderr (on a terminal only,
    unless ``enabled`` says otherwise)."""
    return progress_bar(total, description, enabled, console=err_console)


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if x != x:
            return "—"
        return f"{x:.{digits}f}"
    return str(x)


def existing_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise SegscopeError(f"{what} folder does not exist", path)
    if not path.is_dir():
        raise SegscopeError(f"{what} is not a folder", path)
    return path
