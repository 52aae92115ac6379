"""The confusion-matrix kernel: the one pass over every pixel pair.

``confusion_counts`` returns an extended matrix of shape ``(K + 1, K + 2)``:

- rows ``0..K-1``: GT class; row ``K``: a GT id the spec does not know (always an error);
- columns ``0..K-1``: predicted class; column ``K``: "no class" (the prediction holds the ignore
  label, or an id the spec maps to nothing); column ``K + 1``: a predicted id the spec does not know.

GT-ignore pixels are counted nowhere. The plain K×K confusion matrix is the top-left block.
"""

from __future__ import annotations

import numpy as np

from .errors_base import SegscopeError

__all__ = ["confusion_counts", "confusion_matrix", "ConfusionState"]

try:  # numba is a hard dependency; the fallback keeps `import segscope` alive on odd platforms
    import numba

    _njit = numba.njit(cache=True, nogil=True, boundscheck=False)
except ImportError:  # pragma: no cover
    numba = None

    def _njit(f):
        return f


@_njit
def _confusion_kernel(pred, gt, k, ignore, out):
    # Runs of identical (gt, pred) pairs are common in masks: count them in a register and touch
    # the matrix once per run, which avoids store-to-load stalls on the same cell.
    n = gt.size
    if n == 0:
        return
    prev_g = gt[0]
    prev_p = pred[0]
    run = 0
    for i in range(n):
        g = gt[i]
        p = pred[i]
        if g == prev_g and p == prev_p:
            run += 1
            continue
        _flush(prev_g, prev_p, run, k, ignore, out)
        prev_g = g
        prev_p = p
        run = 1
    _flush(prev_g, prev_p, run, k, ignore, out)


@_njit
def _flush(g, p, run, k, ignore, out):
    if g == ignore:
        return
    gi = g if g < k else k
    if p < k:
        pj = p
    elif p == ignore:
        pj = k
    else:
        pj = k + 1
    out[gi, pj] += run


def _as_kernel_array(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a).reshape(-1)
    if a.dtype.kind == "b":
        return a.view(np.uint8)
    if a.dtype.kind not in "ui":
        raise SegscopeError(f"masks must hold integers, got dtype {a.dtype}")
    if a.dtype.kind == "i" and a.size and a.min() < 0:
        # Negative labels are unknown ids; shift them out of range so the kernel flags them.
        a = np.where(a < 0, np.iinfo(np.int64).max, a.astype(np.int64))
    return a


def confusion_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int | None) -> np.ndarray:
    """Extended confusion counts of one pair of class-index masks (see the module docstring)."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise SegscopeError(f"prediction shape {pred.shape} differs from GT shape {gt.shape}")
    out = np.zeros((num_classes + 1, num_classes + 2), dtype=np.int64)
    ignore = -1 if ignore_index is None else int(ignore_index)
    _confusion_kernel(_as_kernel_array(pred), _as_kernel_array(gt), num_classes, ignore, out)
    return out


def confusion_matrix(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """K×K confusion matrix (rows GT, columns prediction), GT-ignore pixels excluded.

    Ids outside ``0..num_classes-1`` (other than the ignore label) raise an error; a prediction
    equal to the ignore label at a valid pixel belongs to no class and is left out of the matrix.

    >>> pred = np.array([[0, 0, 1], [0, 1, 1], [0, 0, 1]])
    >>> gt = np.array([[0, 0, 1], [0, 1, 1], [0, 1, 1]])
    >>> confusion_matrix(pred, gt, num_classes=2)
    array([[4, 0],
           [1, 4]])
    """
    ext = confusion_counts(pred, gt, num_classes, ignore_index)
    check_ids(ext)
    return ext[:num_classes, :num_classes].copy()


def check_ids(ext: np.ndarray, allow_unknown_pred: bool = False, where: str | None = None) -> None:
    """Raise if the extended counts saw unknown ids at valid pixels."""
    k = ext.shape[0] - 1
    bad_gt = int(ext[k].sum())
    if bad_gt:
        raise SegscopeError(f"GT has {bad_gt} pixel(s) with ids outside the class spec", where)
    bad_pred = int(ext[:k, k + 1].sum())
    if bad_pred and not allow_unknown_pred:
        raise SegscopeError(
            f"prediction has {bad_pred} valid pixel(s) with ids outside the class spec", where
        )


class ConfusionState:
    """Mergeable confusion counts: ``update`` per image, ``merge`` by addition, ``matrix`` at the end.

    >>> s = ConfusionState(2)
    >>> s.update(np.array([[0, 1]]), np.array([[0, 0]]))
    >>> s.matrix.tolist()
    [[1, 1], [0, 0]]
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.counts = np.zeros((num_classes + 1, num_classes + 2), dtype=np.int64)

    def update(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        ext = confusion_counts(pred, gt, self.num_classes, self.ignore_index)
        self.counts += ext
        return ext

    def merge(self, other: "ConfusionState") -> "ConfusionState":
        if other.num_classes != self.num_classes:
            raise ValueError("cannot merge confusion states of different class counts")
        self.counts += other.counts
        return self

    @property
    def matrix(self) -> np.ndarray:
        k = self.num_classes
        return self.counts[:k, :k]

    @property
    def missed(self) -> np.ndarray:
        """Per GT class: valid pixels predicted as no class (ignore label or unknown id)."""
        k = self.num_classes
        return self.counts[:k, k:].sum(axis=1)
