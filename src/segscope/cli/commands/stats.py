"""``segscope stats GTS``: per-class pixel counts, frequencies and imbalance of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ...exceptions import SegscopeError
from ...io.files import LISTED_NAMES, list_masks, some_names
from ...io.masks import read_mask
from ...io.results import write_json
from ...stats import ClassCountState
from .._common import (
    ClassesOpt,
    GtIdsOpt,
    IgnoreOpt,
    MaxPixelsOpt,
    NumClassesOpt,
    add_command,
    apply_max_pixels,
    err_console,
    existing_dir,
    out_console,
    parse_ignore,
    progress,
    spec_from_options,
)


def compute_stats(gts: Path, spec, suffix: str = "", advance=lambda n=1: None, ignore_index=None) -> dict:
    """Statistics of every mask under ``gts``.

    With ``spec=None`` every distinct label value found is a class (named by its value), and
    ``ignore_index`` (if given) is left out.
    """
    files = list_masks(gts, suffix)
    if spec is None:
        spec = _spec_from_values(files.values(), ignore_index)
    state = ClassCountState(spec)
    for image_id, path in files.items():
        state.update(spec.to_index(read_mask(path, spec), "gt"))
        advance()
    result = state.compute()
    result["class_spec"] = spec.name
    result["ignore_index"] = spec.ignore_index
    if result["unknown_pixels"]:
        raise SegscopeError(
            f"{result['unknown_pixels']} pixel(s) hold ids outside the class spec (segscope check names them)", gts
        )
    return result


def _spec_from_values(paths, ignore_index):
    import numpy as np

    from ...classes import ClassSpec

    seen: set[int] = set()
    for path in paths:
        mask = read_mask(path)
        values = set(np.unique(mask).tolist())
        values.discard(ignore_index)
        if values and min(values) < 0:
            raise SegscopeError("negative label values; give --classes or --num-classes", path)
        seen.update(values)
    top = max(seen) + 1 if seen else 1
    if ignore_index is not None and ignore_index < top:
        values = sorted(seen)
        from ...classes import generate_palette

        return ClassSpec(tuple(str(v) for v in values), tuple(values), tuple(generate_palette(len(values))),
                         ignore_index, name="values found", colors_given=False)
    return ClassSpec.anonymous(top, ignore_index)


def stats(
    gts: Path = typer.Argument(..., help="Folder of ground-truth masks."),
    classes: Optional[str] = ClassesOpt,
    num_classes: Optional[int] = NumClassesOpt,
    ignore_index: Optional[str] = IgnoreOpt,
    gt_ids: str = GtIdsOpt,
    suffix: str = typer.Option("", "--suffix", help="Only masks whose stem ends with this, e.g. _gtFine_labelIds."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the statistics as JSON."),
    max_pixels: Optional[str] = MaxPixelsOpt,
) -> None:
    """Per-class pixel counts, frequencies, images per class and the imbalance ratio.

    Without --classes/--num-classes, every label value found is a class.

    Example:

        segscope stats gts/ --classes cityscapes --suffix _gtFine_labelIds --json stats.json
    """
    apply_max_pixels(max_pixels)
    if classes is None and num_classes is None:
        spec = None  # every label value found is a class
        ignore = parse_ignore(ignore_index)
        ignore = None if ignore == "keep" else ignore
    else:
        spec = spec_from_options(classes, num_classes, ignore_index, gt_ids=gt_ids)
        ignore = spec.ignore_index
    existing_dir(gts, "GT")
    n = len(list_masks(gts, suffix))
    with progress(n, "counting") as advance:
        result = compute_stats(gts, spec, suffix, advance, ignore_index=ignore)
    if json_out is not None:
        write_json(json_out, result)
        err_console.print(f"wrote {json_out}")
    absent = result["absent_classes"]
    shown = result["classes"]
    left_out = len(absent) > LISTED_NAMES  # thousands of empty rows would hide the classes that occur
    if left_out:
        never = set(absent)
        shown = [c for c in shown if c not in never]
    table = Table(title=f"class statistics ({result['num_images']} masks)", title_justify="left")
    for col in ("class", "pixels", "frequency", "images", "median-freq weight"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name in sorted(shown, key=lambda c: -result["class_counts"][c]):
        table.add_row(
            name, f"{result['class_counts'][name]:,}", f"{100 * result['frequency'][name]:.3f}%",
            str(result["images_with_class"][name]), f"{result['median_frequency_weights'][name]:.3f}",
        )
    out_console.print(table)
    ratio = result["imbalance_ratio"]
    out_console.print(
        f"imbalance ratio (largest / smallest non-zero class): {ratio:,.1f}" if ratio else "no labelled pixels"
    )
    out_console.print(f"ignored pixels: {result['ignore_pixels']:,}")
    if absent:
        where = " (left out of the table)" if left_out else ""
        out_console.print(f"classes that never occur{where}: {some_names(absent, LISTED_NAMES)}")


def register(app: typer.Typer) -> None:
    add_command(app, stats)
