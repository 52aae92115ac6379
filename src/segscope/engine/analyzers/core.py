"""The core analyzer: confusion counts and the region metrics of every run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..._numbers import finite_or_none
from ...classes import ClassSpec, validate_exclude
from ...exceptions import SegscopeError
from ...io.masks import read_mask
from ...io.tables import round_repr, write_csv
from ...metrics.confusion import (
    DENSE_MATRIX_CLASSES,
    DENSE_STATE_CLASSES,
    ClassSubset,
    PairCounts,
    confusion_counts,
    dense_counts,
    matrix_json,
    present_classes,
)
from ...metrics.region import image_miou, nanmean, per_class_metrics, summary_metrics
from ..config import EvalConfig
from ..sinks import Sink, TopK, chunked, write_npz
from .base import ImageContext, register

__all__ = [
    "CoreAnalyzer",
    "WIDE_CLASS_LIMIT",
]

#: up to this many classes ``per_image.csv`` has one ``iou_<class>`` column per class; with
#: more, the per-class figures of each image go to ``per_image_classes.csv`` (long format)
WIDE_CLASS_LIMIT = 64


# ---------------------------------------------------------------------- the core analyzer
@register
class CoreAnalyzer:
    """Confusion counts and the region metrics of ``segscope.metrics``.

    State: the extended confusion counts and the worst images (a :class:`TopK` by image mIoU).
    The counts are a dense ``(K+1)×(K+2)`` array up to
    :data:`~segscope.metrics.confusion.DENSE_STATE_CLASSES` classes, else
    :class:`~segscope.metrics.confusion.PairCounts` of the cells present; read them with
    :func:`~segscope.metrics.confusion.dense_counts` (or pass them to the functions of
    :mod:`segscope.metrics.region`, which take both). Record of an image: its per-class tp, fp,
    fn (dense, length K) and its mIoU (for ``miou_image``, the mean over images in image-id
    order, and ``per_image_counts.npz``).
    """

    name = "core"
    needs: tuple[str, ...] = ()
    keys = ("pixel_accuracy", "mean_accuracy", "miou", "mdice", "fwiou", "miou_image", "valid_pixels",
            "unmatched_pred_pixels", "absent_classes", "excluded_classes", "worst_images", "confusion_matrix",
            "confusion_matrix_sparse")
    optional = False

    def __init__(self, spec: ClassSpec, config: EvalConfig):
        self.spec = spec
        self.config = config
        self.exclude = validate_exclude(spec, config.exclude)
        self.wide = spec.num_classes <= WIDE_CLASS_LIMIT
        self.sparse = spec.num_classes > DENSE_STATE_CLASSES

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx: ImageContext) -> tuple[dict, dict, dict]:
        spec = self.spec
        if self.sparse:
            sub, p, g = ctx.classes_present(pred, gt)
            ext = confusion_counts(p, g, sub.m, sub.ignore)
            self._check(ext, pred, gt, ctx)
            ext = sub.sparse(ext, (0, 1))
        else:
            ext = confusion_counts(pred, gt, spec.num_classes, spec.index_ignore)
            self._check(ext, pred, gt, ctx)
        return self.image_from_counts(ext, gt.shape, ctx)

    def image_from_counts(self, ext, shape: tuple[int, ...], ctx: ImageContext) -> tuple[dict, dict, dict]:
        """:meth:`image` from an image's extended confusion counts (dense, or sparse above
        ``DENSE_STATE_CLASSES`` classes), counted elsewhere (on the device of a tensor,
        :mod:`segscope.torch`) and checked for unknown ids already."""
        spec = self.spec
        if self.sparse and isinstance(ext, np.ndarray):
            ext = PairCounts.from_dense(ext)
        pc = per_class_metrics(ext)
        valid = int(pc["gt_pixels"].sum())
        row: dict[str, Any] = {
            "image": ctx.image_id,
            "height": int(shape[0]),
            "width": int(shape[1]) if len(shape) > 1 else 1,
            "valid_pixels": valid,
            "pixel_accuracy": float(pc["tp"].sum() / valid) if valid else float("nan"),
            "miou": image_miou(ext, self.exclude),
        }
        if self.wide:
            for name, value in zip(spec.names, pc["iou"]):
                row[f"iou_{name}"] = float(value)
        miou = row["miou"]
        worst = (miou, ctx.image_id) if isinstance(miou, float) and math.isfinite(miou) else None
        state = {
            "counts": ext,
            "worst": TopK.of(self.config.worst_k, worst, {"image": ctx.image_id, "miou": miou,
                                                          "pixel_accuracy": row["pixel_accuracy"]}),
        }
        record = {"tp": pc["tp"], "fp": pc["fp"], "fn": pc["fn"], "miou": miou}
        return state, row, record

    def _check(self, ext: np.ndarray, pred, gt, ctx: ImageContext) -> None:
        k = ext.shape[0] - 1
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

    def finalize(self, states: Mapping[str, dict], sink: Sink) -> dict:
        spec = self.spec
        state = states[self.name]
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
        image_mious = np.fromiter((r["miou"] for r in sink.records(self.name, "sorted")), np.float64, len(sink))
        k = spec.num_classes
        return {
                "pixel_accuracy": summary["pixel_accuracy"],
                "mean_accuracy": summary["mean_accuracy"],
                "miou": summary["miou"],
                "mdice": summary["mdice"],
                "fwiou": summary["fwiou"],
                "miou_image": nanmean(image_mious),
                "valid_pixels": int(total_gt),
                "unmatched_pred_pixels": _unmatched(counts, k),
                "absent_classes": [n for n, p in zip(spec.names, pc["present"]) if not p],
                "excluded_classes": [spec.names[i] for i in self.exclude],
                "worst_images": [dict(v) for v in state["worst"].values()],
                "per_class": per_class,
                **matrix_json(counts, k),
        }

    def write(self, states: Mapping[str, dict], metrics: dict, sink: Sink, out_dir: Path) -> None:
        """``confusion_matrix.csv``, ``per_image_counts.npz`` (images in arrival order) and, with
        more than :data:`WIDE_CLASS_LIMIT` classes, ``per_image_classes.csv``."""
        names = list(self.spec.names)
        counts = states[self.name]["counts"]
        k = len(names)
        if k > DENSE_MATRIX_CLASSES:
            # the classes present in the GT or the predictions, rows and columns alike
            present = present_classes((counts, (0, 1), k))
            sub = ClassSubset(present, k)
            shown = [names[c] for c in present.tolist()]
            block = sub.gather(counts, (0, 1))[: sub.m, : sub.m] if sub.m else np.zeros((0, 0), np.int64)
        else:
            shown, block = names, dense_counts(counts)[:k, :k]
        write_csv(out_dir / "confusion_matrix.csv", ["gt\\pred"] + shown,
                  ([name] + row for name, row in zip(shown, block.tolist())))
        n = len(sink)
        classes = np.array(names, dtype=str)
        ids_dtype = f"<U{max(1, sink.max_id_len)}"

        def column(key):
            return (np.array([r[key] for r in block], np.int64).reshape(-1, k)
                    for block in chunked(sink.records(self.name)))

        write_npz(out_dir / "per_image_counts.npz", [
            ("image_ids", ids_dtype, (n,), (np.array(b, ids_dtype) for b in chunked(sink.ids()))),
            ("tp", np.int64, (n, k), column("tp")),
            ("fp", np.int64, (n, k), column("fp")),
            ("fn", np.int64, (n, k), column("fn")),
            ("classes", classes.dtype, classes.shape, classes),
        ])
        if not self.wide:
            write_csv(out_dir / "per_image_classes.csv", PER_IMAGE_CLASS_COLUMNS, self._class_rows(sink),
                      number=round_repr(10))

    def _class_rows(self, sink: Sink):
        names = self.spec.names
        for image_id, r in zip(sink.ids("sorted"), sink.records(self.name, "sorted")):
            tp, fp, fn = (np.asarray(r[key], np.int64) for key in ("tp", "fp", "fn"))
            for c in np.flatnonzero(tp + fp + fn).tolist():
                union = int(tp[c] + fp[c] + fn[c])
                yield image_id, names[c], int(tp[c]), int(fp[c]), int(fn[c]), float(tp[c]) / union


def _unmatched(counts, k: int) -> int:
    """Valid pixels predicted as no class (the ignore label or an unknown id)."""
    if isinstance(counts, PairCounts):
        rows, cols = counts.coords()
        return int(counts.values[(rows < k) & (cols >= k)].sum())
    return int(counts[:k, k:].sum())


#: the columns of ``per_image_classes.csv``: one line per image and class present in its GT or
#: prediction (IoU is then defined)
PER_IMAGE_CLASS_COLUMNS = ("image", "class", "tp", "fp", "fn", "iou")
