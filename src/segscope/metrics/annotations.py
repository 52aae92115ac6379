"""Suspect and ambiguous annotations.

Three signals, each counted apart from the model's own errors:

- **Second annotation** (``--gt2``): the inter-annotator IoU per class (the ceiling any model can
  reach against these labels) and the *ambiguous* pixels where the two annotations disagree.
  Model errors that fall on ambiguous pixels are tallied separately, and the model's IoU is also
  given with ambiguous pixels left out.
- **Model probabilities** (``--probs``): per GT segment the mean probability of its given label.
  A segment of at least :data:`SUSPECT_MIN_PIXELS` pixels whose mean is at most
  :data:`SUSPECT_MAX_PROB` is a *suspect label*: the model contradicts it with high confidence.
  Suspects are ranked by that mean (lowest first), then by size.
- **Slivers** (always): thin boundary-error components along GT edges (at most
  :data:`segscope.metrics.breakdown.SLIVER_MAX_WIDTH` px thick and no thicker than the band), per image: a
  signal of jittery annotation rather than a model fault.
"""

from __future__ import annotations

import numpy as np

from .._lazy import kernels as _lazy_kernels

__all__ = [
    "SUSPECT_MAX_PROB",
    "SUSPECT_MIN_PIXELS",
    "SUSPECT_COLUMNS",
    "agreement_counts",
    "agreement_metrics",
    "segment_probabilities",
    "suspect_labels",
]

_kernels = _lazy_kernels("segscope.metrics._annotations_kernels")

SUSPECT_MAX_PROB = 0.1


SUSPECT_MIN_PIXELS = 8


SUSPECT_COLUMNS = ("image", "class", "size", "y0", "x0", "y1", "x1", "label_prob", "model_class", "model_share")


def agreement_counts(p: np.ndarray, g: np.ndarray, g2: np.ndarray, num_classes: int) -> dict:
    """Additive counts for one image from class codes (-1 = ignore / no class).

    Returns ``{"conf2": K×K, "ambiguous": K×3 (tp, fp, fn of the model on ambiguous pixels)}``.

    >>> g = np.array([[0, 0, 1, 1]]); g2 = np.array([[0, 1, 1, 1]]); p = np.array([[0, 0, 0, 1]])
    >>> c = agreement_counts(p, g, g2, 2)
    >>> c["conf2"].tolist(), c["ambiguous"].tolist()
    ([[1, 1], [0, 2]], [[1, 0, 0], [0, 0, 0]])
    """
    k = int(num_classes)
    conf = np.zeros((k, k), np.int64)
    amb = np.zeros((k, 3), np.int64)
    _kernels.agreement(p, g, g2, k, conf, amb)
    return {"conf2": conf, "ambiguous": amb}


def agreement_metrics(conf2: np.ndarray, amb: np.ndarray, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict:
    """Per class: inter-annotator IoU, ambiguous GT pixels, the share of the model's errors on
    ambiguous pixels, and the model's IoU with ambiguous pixels left out."""
    conf2 = np.asarray(conf2, np.float64)
    inter = np.diag(conf2)
    union2 = conf2.sum(1) + conf2.sum(0) - inter
    a_tp, a_fp, a_fn = (np.asarray(amb[:, i], np.float64) for i in range(3))
    errors = np.asarray(fp, np.float64) + np.asarray(fn, np.float64)
    u_tp = np.asarray(tp, np.float64) - a_tp
    u_union = u_tp + (np.asarray(fp) - a_fp) + (np.asarray(fn) - a_fn)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "inter_annotator_iou": np.where(union2 > 0, inter / np.where(union2 > 0, union2, 1), np.nan),
            "ambiguous_pixels": (a_tp + a_fn).astype(np.int64),
            "ambiguous_error_share": np.where(errors > 0, (a_fp + a_fn) / np.where(errors > 0, errors, 1), np.nan),
            "iou_unambiguous": np.where(u_union > 0, u_tp / np.where(u_union > 0, u_union, 1), np.nan),
        }


def segment_probabilities(seg: np.ndarray, n: int, cls: np.ndarray, g: np.ndarray, probs: np.ndarray):
    """Per GT segment: the summed probability of its own label and the argmax votes (n×K).

    ``probs``: K×H×W probabilities. One pass over the pixels."""
    k = probs.shape[0]
    return _kernels.prob_sums(seg, int(n), np.asarray(cls, np.int64), g, np.ascontiguousarray(probs), k)


def suspect_labels(
    image_id: str, seg, n, cls, size, box, g, probs, max_prob: float = SUSPECT_MAX_PROB,
    min_pixels: int = SUSPECT_MIN_PIXELS,
) -> list[tuple]:
    """Suspect GT segments of one image, as rows of :data:`SUSPECT_COLUMNS`.

    >>> seg = np.array([[0, 0, 0, 1]]); g = np.array([[1, 1, 1, 0]])
    >>> probs = np.zeros((2, 1, 4)); probs[0, 0, :3] = 0.95; probs[1, 0, :3] = 0.05; probs[0, 0, 3] = 1
    >>> suspect_labels("a", seg, 2, np.array([1, 0]), np.array([3, 1]), np.zeros((2, 4), int), g, probs, min_pixels=1)
    [('a', 1, 3, 0, 0, 0, 0, 0.05, 0, 1.0)]
    """
    own, votes = segment_probabilities(seg, n, cls, g, probs)
    size = np.asarray(size)
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(size > 0, own / np.maximum(size, 1), np.nan)
    pick = np.nonzero((size >= min_pixels) & (mean <= max_prob) & (np.asarray(cls) >= 0))[0]
    for s in pick.tolist():
        v = votes[s].copy()
        v[cls[s]] = -1
        best = int(np.argmax(v))
        out.append((
            image_id, int(cls[s]), int(size[s]), *map(int, box[s]), round(float(mean[s]), 6), best,
            float(votes[s, best] / size[s]),
        ))
    out.sort(key=lambda r: (r[7], -r[2], r[0]))
    return out
