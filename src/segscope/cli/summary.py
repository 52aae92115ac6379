"""The terminal summary of an evaluation and the sanity warnings printed with it."""

from __future__ import annotations

import math

from rich.table import Table

import numpy as np

from ..classes import CITYSCAPES, ClassSpec
from ..io.files import LISTED_NAMES, printable, some_names
from ..metrics.confusion import matrix_from_json
from ._common import fmt, out_console


def print_summary(metrics: dict, console=None) -> None:
    """Per-class table sorted by IoU with the GT pixel share beside it, then the summary."""
    console = console or out_console
    table = Table(title=f"per-class results ({metrics['num_images']} images)", title_justify="left")
    table.add_column("class")
    table.add_column("IoU", justify="right")
    table.add_column("GT share", justify="right")
    table.add_column("Dice", justify="right")
    table.add_column("precision", justify="right")
    table.add_column("recall", justify="right")
    extra = "boundary_iou" in next(iter(metrics["per_class"].values()), {})
    if extra:
        table.add_column("boundary IoU", justify="right")
    rows = sorted(
        metrics["per_class"].items(),
        key=lambda kv: (kv[1]["iou"] is None, kv[1]["iou"] if kv[1]["iou"] is not None else 0.0),
    )
    for name, m in rows:
        share = m.get("gt_share", 0.0)
        style = "red" if m["iou"] is not None and m["iou"] < 0.5 else None
        cells = [
            name + (" (excluded)" if m.get("excluded") else "") + ("" if m["present"] else " (absent)"),
            fmt(m["iou"]), f"{100 * share:.2f}%", fmt(m["dice"]), fmt(m["precision"]), fmt(m["recall"]),
        ]
        if extra:
            cells.append(fmt(m.get("boundary_iou")))
        table.add_row(*cells, style=style)
    console.print(table)
    line = (
        f"mIoU {fmt(metrics['miou'])}  ·  pixel accuracy {fmt(metrics['pixel_accuracy'])}  ·  "
        f"mean accuracy {fmt(metrics['mean_accuracy'])}  ·  fwIoU {fmt(metrics['fwiou'])}  ·  "
        f"image mIoU {fmt(metrics['miou_image'])}"
    )
    if "mboundary_iou" in metrics:
        line += f"  ·  boundary mIoU {fmt(metrics['mboundary_iou'])}"
    console.print(line)
    gap = hidden_failure(metrics)
    if gap:
        console.print(f"[bold yellow]note:[/] {gap}")
    if metrics.get("absent_classes"):
        absent = metrics["absent_classes"]
        console.print(f"absent (no GT, no prediction; left out of the means): {some_names(absent, LISTED_NAMES)}")


def hidden_failure(metrics: dict) -> str | None:
    """One sentence when a high pixel accuracy hides a failed small class."""
    pa = metrics.get("pixel_accuracy")
    worst = [
        (m["iou"], name, m.get("gt_share", 0.0))
        for name, m in metrics["per_class"].items()
        if m["iou"] is not None and not m.get("excluded") and m["gt_pixels"] > 0
    ]
    if pa is None or not worst:
        return None
    iou, name, share = min(worst)
    if pa - iou >= 0.3:
        return (
            f"pixel accuracy {pa:.3f} hides class '{name}' at IoU {iou:.3f}: it covers only "
            f"{100 * share:.2f}% of the labelled pixels."
        )
    return None


def sanity_warnings(metrics: dict, spec: ClassSpec, rows: list[dict], pairs=None) -> list[str]:
    """Warnings for the classic mix-ups (Cityscapes labelIds vs trainIds, mostly-ignored GT, one
    folder given as both the predictions and the GT)."""
    out = []
    same = pairs.same_files() if pairs is not None else 0
    if same:
        out.append(f"{same} of {len(pairs)} pair(s) read one file as both the prediction and the GT "
                   f"({printable(str(pairs.gt_dir))}): their scores are perfect by construction; "
                   "check the two folders")
    total = sum(r["height"] * r["width"] for r in rows)
    valid = metrics.get("valid_pixels", 0)
    if total and valid / total < 0.2:
        hint = " GT in trainIds? pass --gt-ids train." if spec.name.startswith("cityscapes") and spec.gt_map else ""
        out.append(f"only {100 * valid / total:.1f}% of GT pixels are valid (the rest are ignored).{hint}")
    if spec.name.startswith("cityscapes") and spec.pred_map is None:
        matrix = matrix_from_json(metrics)
        cm = np.asarray(matrix) if matrix is not None else np.zeros((0, 0), np.int64)
        label_ids = [lid for _, lid, _ in CITYSCAPES]
        on_label = sum(int(cm[g, lid]) for g, lid in enumerate(label_ids) if lid < len(cm) and g < len(cm))
        if valid and on_label / valid > 0.3 and (metrics["miou"] or 0) < 0.3:
            out.append(
                "predictions look like Cityscapes labelIds (mIoU near zero, predicted ids match the GT's "
                "labelIds): pass --pred-ids label"
            )
    miou = metrics.get("miou")
    if miou is not None and isinstance(miou, float) and not math.isnan(miou) and miou < 0.05 and not out:
        out.append("mIoU is near zero: check that predictions and GT use the same class ids")
    return out
