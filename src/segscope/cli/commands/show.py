"""``segscope show IMAGE_ID --results DIR``: the panel of one image."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._common import MaxPixelsOpt, add_command, apply_max_pixels, err_console


def show(
    image_id: str = typer.Argument(..., help="The image id (its file name without extension, as in per_image.csv)."),
    results: Path = typer.Option(Path("results"), "--results", "-r", help="The results folder of the run."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output PNG (default IMAGE_ID_panel.png)."),
    class_name: Optional[str] = typer.Option(
        None, "--class", help="Show one class's errors: its false positives and false negatives by type."
    ),
    max_pixels: Optional[str] = MaxPixelsOpt,
) -> None:
    """Draw one image's panel: original | GT | prediction | error map | boundary comparison
    (zoomed to the worst region), titled with its mIoU and worst classes.

    Example:

        segscope show street_0013 --results results/ --out street_0013.png
    """
    from ...exceptions import SegscopeError

    apply_max_pixels(max_pixels)
    from ...report.data import load_results, locate_sources
    from ...report.panels import PanelJob, render_panel, safe_name

    res = load_results(results)
    if res.spec is None:
        raise SegscopeError(f"cannot rebuild the class spec: {res.spec_note}", results)
    sources = locate_sources(res.dir, res.metrics)
    if sources.reason:
        raise SegscopeError(sources.reason, results)
    pair = sources.pairs.get(image_id)
    if pair is None:
        known = sorted(sources.pairs)
        hint = f" (e.g. {', '.join(known[:3])})" if known else ""
        raise SegscopeError(f"no image {image_id!r} in this run{hint}", results)
    class_index = res.spec.index_of(class_name) if class_name is not None else None
    out = out or Path(f"{safe_name(image_id)}_panel.png")
    cfg = res.config
    exclude = tuple(res.names.index(n) for n in res.metrics.get("excluded_classes") or [] if n in res.names)
    stats = render_panel(PanelJob(
        image_id, pair[0], pair[1], sources.image_for(image_id), out, res.spec, exclude,
        cfg.get("error_band_px"), cfg.get("error_band_ratio") or 0.01, class_index,
        dominant_error=res.row_by_id().get(image_id, {}).get("dominant_error") or None,
    ))
    miou = stats.get("miou")
    err_console.print(f"wrote {out} (image mIoU {miou:.3f})" if isinstance(miou, float) and miou == miou else f"wrote {out}")


def register(app: typer.Typer) -> None:
    add_command(app, show)
