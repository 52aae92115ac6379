"""Region metrics computed from confusion counts.

Definitions (``tp``, ``fp``, ``fn`` per class, from counts pooled over the dataset):

- IoU = tp / (tp + fp + fn); Dice = 2 tp / (2 tp + fp + fn)
- precision = tp / (tp + fp); recall = class accuracy = tp / (tp + fn)
- pixel accuracy = Σ tp / Σ (tp + fn)  (valid pixels)
- mean accuracy = mean recall over classes with GT pixels
- mIoU = mean IoU over *present* classes (non-empty union)
- fwIoU = Σ_c freq_c · IoU_c, freq_c = GT pixels of c / valid pixels (renormalised over the
  classes kept in the means)

A class with an empty union is *absent*: its IoU is undefined (None / NaN) and it is left out of
every mean. A class predicted but absent from GT has IoU 0 and counts. Classes named in
``exclude`` keep their pixels but are left out of the means.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._numbers import nanmean, ratio
from .confusion import PairCounts, confusion_matrix

__all__ = [
    "class_counts_from_confusion",
    "per_class_metrics",
    "summary_metrics",
    "iou_per_class",
    "nanmean",
]


def class_counts_from_confusion(counts: np.ndarray) -> dict[str, np.ndarray]:
    """tp, fp, fn, gt and pred pixel counts per class.

    ``counts`` is either a K×K matrix or the ``(K+1)×(K+2)`` extended counts of
    :func:`segscope.metrics.confusion.confusion_counts` (valid pixels predicted as no class count as fn),
    dense or as :class:`~segscope.metrics.confusion.PairCounts`.
    """
    if isinstance(counts, PairCounts):
        return counts.class_counts()
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape[0] == counts.shape[1]:
        k = counts.shape[0]
        cm = counts
        missed = np.zeros(k, dtype=np.int64)
    else:
        k = counts.shape[0] - 1
        cm = counts[:k, :k]
        missed = counts[:k, k:].sum(axis=1)
    tp = np.diag(cm).copy()
    gt = cm.sum(axis=1) + missed
    pred = cm.sum(axis=0)
    return {"tp": tp, "fp": pred - tp, "fn": gt - tp, "gt": gt, "pred": pred}


def per_class_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class arrays: iou, dice, precision, recall, accuracy, gt_pixels, pred_pixels, present."""
    c = class_counts_from_confusion(counts)
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    union = tp + fp + fn
    recall = ratio(tp, tp + fn)
    return {
        "iou": ratio(tp, union),
        "dice": ratio(2 * tp, 2 * tp + fp + fn),
        "precision": ratio(tp, tp + fp),
        "recall": recall,
        "accuracy": recall,
        "gt_pixels": c["gt"],
        "pred_pixels": c["pred"],
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "present": union > 0,
    }


def summary_metrics(counts: np.ndarray, exclude: Sequence[int] = ()) -> dict[str, float]:
    """Dataset-level pixel accuracy, mean accuracy, mIoU, mean Dice and fwIoU."""
    pc = per_class_metrics(counts)
    k = len(pc["iou"])
    keep = np.ones(k, dtype=bool)
    keep[list(exclude)] = False
    gt = pc["gt_pixels"].astype(np.float64)
    total = gt.sum()
    freq = gt / total if total > 0 else np.zeros(k)
    iou = pc["iou"]
    fw_mask = keep & (gt > 0) & np.isfinite(iou)
    fw_weight = freq[fw_mask].sum()
    fwiou = float((freq[fw_mask] * iou[fw_mask]).sum() / fw_weight) if fw_weight > 0 else float("nan")
    return {
        "pixel_accuracy": float(pc["tp"].sum() / total) if total > 0 else float("nan"),
        "mean_accuracy": nanmean(pc["recall"], keep),
        "miou": nanmean(iou, keep),
        "mdice": nanmean(pc["dice"], keep),
        "fwiou": fwiou,
    }


def image_miou(counts: np.ndarray, exclude: Sequence[int] = ()) -> float:
    """Image-level mIoU: mean IoU over the classes present in this image's GT."""
    pc = per_class_metrics(counts)
    keep = pc["gt_pixels"] > 0
    keep[list(exclude)] = False
    return nanmean(pc["iou"], keep)


def iou_per_class(
    pred: np.ndarray,
    gt: np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
    absent: float = float("nan"),
) -> np.ndarray:
    """IoU of every class for one pair of masks.

    A class absent from both masks gets ``absent`` (NaN by default; ``absent=0.0`` gives the
    teaching convention in which an empty union scores 0).

    >>> pred = [[0, 0, 1], [0, 1, 1], [0, 0, 1]]
    >>> gt = [[0, 0, 1], [0, 1, 1], [0, 1, 1]]
    >>> float(iou_per_class(pred, gt, num_classes=2)[1])
    0.8
    """
    cm = confusion_matrix(np.asarray(pred), np.asarray(gt), num_classes, ignore_index)
    iou = per_class_metrics(cm)["iou"]
    return np.where(np.isnan(iou), absent, iou)
