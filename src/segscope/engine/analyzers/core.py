"""The core analyzer: confusion counts and the region metrics of every run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..._numbers import finite_or_none
from ...classes import ClassSpec, validate_exclude
from ...exceptions import SegscopeError
from ...io.masks import read_mask
from ...io.results import atomic_write
from ...io.tables import write_csv
from ...metrics.confusion import confusion_counts
from ...metrics.region import image_miou, nanmean, per_class_metrics, summary_metrics
from ..config import EvalConfig
from .base import ImageContext

__all__ = [
    "CoreAnalyzer",
]


# ---------------------------------------------------------------------- the core analyzer
class CoreAnalyzer:
    """Confusion counts and the region metrics of ``segscope.metrics``."""

    name = "core"

    def __init__(self, spec: ClassSpec, config: EvalConfig):
        self.spec = spec
        self.config = config
        self.exclude = validate_exclude(spec, config.exclude)

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx: ImageContext) -> tuple[dict, dict]:
        spec = self.spec
        k = spec.num_classes
        ext = confusion_counts(pred, gt, k, spec.index_ignore)
        self._check(ext, pred, gt, ctx)
        pc = per_class_metrics(ext)
        valid = int(pc["gt_pixels"].sum())
        row: dict[str, Any] = {
            "image": ctx.image_id,
            "height": int(gt.shape[0]),
            "width": int(gt.shape[1]) if gt.ndim > 1 else 1,
            "valid_pixels": valid,
            "pixel_accuracy": float(pc["tp"].sum() / valid) if valid else float("nan"),
            "miou": image_miou(ext, self.exclude),
        }
        for name, value in zip(spec.names, pc["iou"]):
            row[f"iou_{name}"] = float(value)
        state = {
            "counts": ext,
            "image_tp": [pc["tp"]],
            "image_fp": [pc["fp"]],
            "image_fn": [pc["fn"]],
            "image_ids": [ctx.image_id],
        }
        return state, row

    def _check(self, ext: np.ndarray, pred, gt, ctx: ImageContext) -> None:
        k = self.spec.num_classes
        if ext[k].sum():
            raw = read_mask(ctx.gt_path, self.spec) if ctx.gt_path else ctx.extras.get("raw_masks", (pred, gt))[1]
            raise SegscopeError(
                f"GT has ids not in the class spec: {self.spec.describe_unknown(raw, 'gt')}",
                ctx.gt_path or ctx.image_id,
            )
        if ext[:k, k + 1].sum() and not self.config.allow_unknown_pred:
            raw = (read_mask(ctx.pred_path, self.spec, "pred") if ctx.pred_path
                   else ctx.extras.get("raw_masks", (pred, gt))[0])
            hint = ""
            if self.spec.name.startswith("cityscapes") and self.spec.pred_map is None:
                hint = " (predictions in labelIds? pass --pred-ids label)"
            raise SegscopeError(
                f"prediction has ids not in the class spec at valid pixels: "
                f"{self.spec.describe_unknown(raw, 'pred')}{hint}; --allow-unknown-pred counts them as misses",
                ctx.pred_path or ctx.image_id,
            )

    def finalize(self, state: dict, metrics: dict, rows: list[dict]) -> None:
        spec = self.spec
        counts = state["counts"]
        pc = per_class_metrics(counts)
        summary = summary_metrics(counts, self.exclude)
        total_gt = pc["gt_pixels"].sum()
        per_class = {}
        for i, name in enumerate(spec.names):
            per_class[name] = {
                "id": spec.ids[i],
                "iou": finite_or_none(pc["iou"][i]),
                "dice": finite_or_none(pc["dice"][i]),
                "precision": finite_or_none(pc["precision"][i]),
                "recall": finite_or_none(pc["recall"][i]),
                "accuracy": finite_or_none(pc["accuracy"][i]),
                "gt_pixels": int(pc["gt_pixels"][i]),
                "pred_pixels": int(pc["pred_pixels"][i]),
                "gt_share": float(pc["gt_pixels"][i] / total_gt) if total_gt else 0.0,
                "tp": int(pc["tp"][i]),
                "fp": int(pc["fp"][i]),
                "fn": int(pc["fn"][i]),
                "present": bool(pc["present"][i]),
                "excluded": i in self.exclude,
            }
        image_mious = [r["miou"] for r in rows]
        ranked = sorted(
            (r for r in rows if isinstance(r["miou"], float) and math.isfinite(r["miou"])),
            key=lambda r: (r["miou"], r["image"]),
        )
        k = spec.num_classes
        metrics.update(
            {
                "pixel_accuracy": summary["pixel_accuracy"],
                "mean_accuracy": summary["mean_accuracy"],
                "miou": summary["miou"],
                "mdice": summary["mdice"],
                "fwiou": summary["fwiou"],
                "miou_image": nanmean(image_mious),
                "valid_pixels": int(total_gt),
                "unmatched_pred_pixels": int(counts[:k, k:].sum()),
                "absent_classes": [n for n, p in zip(spec.names, pc["present"]) if not p],
                "excluded_classes": [spec.names[i] for i in self.exclude],
                "worst_images": [
                    {"image": r["image"], "miou": r["miou"], "pixel_accuracy": r["pixel_accuracy"]}
                    for r in ranked[: self.config.worst_k]
                ],
                "per_class": per_class,
                "confusion_matrix": counts[:k, :k].tolist(),
            }
        )

    def write(self, state: dict, metrics: dict, out_dir: Path) -> None:
        names = list(self.spec.names)
        counts = state["counts"]
        k = len(names)
        write_csv(out_dir / "confusion_matrix.csv", ["gt\\pred"] + names,
                  ([name] + row for name, row in zip(names, counts[:k, :k].tolist())))
        arrays = {
            "image_ids": np.array(state["image_ids"], dtype=str),
            "tp": np.array(state["image_tp"], dtype=np.int64).reshape(-1, k),
            "fp": np.array(state["image_fp"], dtype=np.int64).reshape(-1, k),
            "fn": np.array(state["image_fn"], dtype=np.int64).reshape(-1, k),
            "classes": np.array(names, dtype=str),
        }
        with atomic_write(out_dir / "per_image_counts.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)
