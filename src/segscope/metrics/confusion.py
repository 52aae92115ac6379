"""The confusion-matrix kernel: the one pass over every pixel pair.

``confusion_counts`` returns an extended matrix of shape ``(K + 1, K + 2)``:

- rows ``0..K-1``: GT class; row ``K``: a GT id the spec does not know (always an error);
- columns ``0..K-1``: predicted class; column ``K``: "no class" (the prediction holds the ignore
  label, or an id the spec maps to nothing); column ``K + 1``: a predicted id the spec does not know.

GT-ignore pixels are counted nowhere. The plain K×K confusion matrix is the top-left block.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import SegscopeError

__all__ = ["confusion_counts", "confusion_matrix", "ConfusionState"]

_kernels = None

# Below this many pixels the 256×256 table of the uint8 path costs more than it saves.
_U8_TABLE_MIN_PIXELS = 1 << 15
# Pixels per pass of the uint8 path: its uint32 table cells can never overflow.
_U8_CHUNK = 1 << 31
# Elements recoded to bytes at a time for wider dtypes (two such buffers stay in cache).
_WIDE_CHUNK = 1 << 16


def _load_kernels():
    """Import the compiled loops on first use (numba's import is the largest part of
    ``import segscope`` otherwise)."""
    global _kernels
    if _kernels is None:
        from . import _confusion_kernels

        _kernels = _confusion_kernels
    return _kernels


def _as_kernel_array(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a).reshape(-1)
    if a.dtype.kind == "b":
        return a.view(np.uint8)
    if a.dtype.kind not in "ui":
        raise SegscopeError(f"masks must hold integers, got dtype {a.dtype}")
    if a.dtype == np.uint64:
        # Compare as int64 in the kernel; ids past int64 can only be unknown ids anyway.
        big = np.iinfo(np.int64).max
        if a.size and a.max() > big:
            a = np.minimum(a, big)
        a = a.astype(np.int64)
    elif not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if a.ctypes.data % 8:
        a = a.copy()  # the kernels read 64-bit words: start on a word boundary
    return a


def _common(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both masks in one dtype (the kernels walk them as 64-bit words)."""
    if pred.dtype == gt.dtype:
        return pred, gt
    dt = np.result_type(pred.dtype, gt.dtype)
    if dt.kind not in "ui" or dt.itemsize > 8 or dt == np.uint64:
        dt = np.dtype(np.int64)
    return pred.astype(dt), gt.astype(dt)


def _words(a: np.ndarray) -> np.ndarray:
    per_word = 8 // a.itemsize
    return a[: a.size - a.size % per_word].view(np.uint64)


def _count_into(pred: np.ndarray, gt: np.ndarray, k: int, ignore: int | None, out: np.ndarray) -> None:
    kern = _load_kernels()
    pred, gt = _common(_as_kernel_array(pred), _as_kernel_array(gt))
    n = gt.size
    if n == 0:
        return
    info = np.iinfo(gt.dtype)
    has_ignore = ignore is not None and info.min <= ignore <= info.max
    ign = int(ignore) if has_ignore else 0
    if n < _U8_TABLE_MIN_PIXELS or (gt.dtype != np.uint8 and not 1 <= k <= 254):
        kern.count_words(_words(gt), _words(pred), gt, pred, 8 // gt.itemsize, k, ign, has_ignore, out)
        return
    hist = np.zeros(2 * kern.HIST_STRIDE, dtype=np.uint32)
    if gt.dtype == np.uint8:
        gw, pw = _words(gt), _words(pred)
        chunk = _U8_CHUNK // 8
        for start in range(0, max(gw.size, 1), chunk):  # one pass at least: the tail
            if start:
                hist[:] = 0
            kern.count_u8(gw, pw, gt, pred, start, min(start + chunk, gw.size), hist)
            if start + chunk >= gw.size:
                kern.count_u8_tail(gt, pred, gw.size * 8, hist)
            kern.fold_u8(hist, k, ign, has_ignore, out)
        return
    # Wider dtypes, K <= 254: recoded to bytes chunk by chunk (ignore -> 255 unless a class id).
    gbuf = np.empty(_WIDE_CHUNK, dtype=np.uint8)
    pbuf = np.empty(_WIDE_CHUNK, dtype=np.uint8)
    fold_ign = ign if has_ignore and 0 <= ign < k else 255
    for start in range(0, n, _U8_CHUNK):
        if start:
            hist[:] = 0
        stop = start + _U8_CHUNK
        kern.count_wide(gt[start:stop], pred[start:stop], k, ign, gbuf, pbuf,
                        gbuf.view(np.uint64), pbuf.view(np.uint64), hist)
        kern.fold_u8(hist, k, fold_ign, has_ignore, out)


def confusion_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int | None) -> np.ndarray:
    """Extended confusion counts of one pair of class-index masks (see the module docstring)."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise SegscopeError(f"prediction shape {pred.shape} differs from GT shape {gt.shape}")
    out = np.zeros((num_classes + 1, num_classes + 2), dtype=np.int64)
    _count_into(pred, gt, int(num_classes), None if ignore_index is None else int(ignore_index), out)
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
    >>> _ = s.update(np.array([[0, 1]]), np.array([[0, 0]]))
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
