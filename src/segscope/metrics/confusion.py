"""The confusion-matrix kernel: the one pass over every pixel pair.

``confusion_counts`` returns an extended matrix of shape ``(K + 1, K + 2)``:

- rows ``0..K-1``: GT class; row ``K``: a GT id the spec does not know (always an error);
- columns ``0..K-1``: predicted class; column ``K``: "no class" (the prediction holds the ignore
  label, or an id the spec maps to nothing); column ``K + 1``: a predicted id the spec does not know.

GT-ignore pixels are counted nowhere. The plain K×K confusion matrix is the top-left block.
"""

from __future__ import annotations

import numpy as np

from .._numbers import class_count
from ..exceptions import SegscopeError

__all__ = [
    "confusion_counts", "confusion_matrix", "ConfusionState", "PairCounts", "ClassSubset", "class_block", "dense_counts",
    "present_classes", "matrix_json", "matrix_from_json", "DENSE_STATE_CLASSES", "DENSE_MATRIX_CLASSES",
]

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
    k = class_count(num_classes)
    ext = confusion_counts(pred, gt, k, ignore_index)
    check_ids(ext)
    return ext[:k, :k].copy()


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
        self.num_classes = num_classes = class_count(num_classes)
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


# ---------------------------------------------------------------------- counts over many classes
#: with more classes than this, per-image states keep only the classes an image holds
#: (:class:`ClassSubset`) and their class-indexed counts are :class:`PairCounts`
DENSE_STATE_CLASSES = 64

#: with more classes than this, ``metrics.json`` holds the confusion matrix as its non-zero
#: cells (``confusion_matrix_sparse``) instead of a K × K list (``confusion_matrix``)
DENSE_MATRIX_CLASSES = 256

# pending cells a PairCounts may collect before it folds them (amortised merging)
_FOLD_MIN = 4096


class PairCounts:
    """Additive integer counts of an array of fixed ``shape``, kept as its non-zero cells.

    The sparse form of a count array indexed by classes (a confusion matrix, per-class
    tallies): memory and merging follow the cells present, not the shape. ``a + b`` adds;
    ``np.asarray(counts)`` is the dense array (only for shapes that fit in memory).

    >>> a = PairCounts.from_dense(np.array([[3, 0], [0, 1]]))
    >>> b = PairCounts((2, 2), [1], [2])
    >>> np.asarray(a + b).tolist()
    [[3, 2], [0, 1]]
    """

    __slots__ = ("shape", "_index", "_values", "_folded")

    def __init__(self, shape, index=(), values=()):
        self.shape = tuple(int(s) for s in shape)
        self._index = np.asarray(index, np.int64).reshape(-1)
        self._values = np.asarray(values, np.int64).reshape(-1)
        self._folded = 0  # cells known sorted and unique

    @classmethod
    def from_dense(cls, a) -> "PairCounts":
        """The non-zero cells of a dense integer array."""
        a = np.asarray(a)
        flat = a.reshape(-1)
        index = np.flatnonzero(flat)
        out = cls(a.shape, index, flat[index])
        out._folded = index.size
        return out

    def _fold(self) -> None:
        if self._folded == self._index.size:
            return
        index, inverse = np.unique(self._index, return_inverse=True)
        values = np.zeros(index.size, np.int64)
        np.add.at(values, inverse.reshape(-1), self._values)
        keep = values != 0
        self._index, self._values = index[keep], values[keep]
        self._folded = self._index.size

    @property
    def index(self) -> np.ndarray:
        """The flat (C-order) positions of the non-zero cells, ascending."""
        self._fold()
        return self._index

    @property
    def values(self) -> np.ndarray:
        """The counts of the cells of :attr:`index`."""
        self._fold()
        return self._values

    def coords(self) -> tuple[np.ndarray, ...]:
        """The non-zero cells' positions, one array per axis."""
        return np.unravel_index(self.index, self.shape)

    def __add__(self, other):
        if isinstance(other, (int, np.integer)) and other == 0:
            return self
        if not isinstance(other, PairCounts):
            other = PairCounts.from_dense(other)
        if other.shape != self.shape:
            raise ValueError(f"cannot add counts of shapes {self.shape} and {other.shape}")
        out = PairCounts(self.shape)
        out._index = np.concatenate([self._index, other._index])
        out._values = np.concatenate([self._values, other._values])
        out._folded = max(self._folded, other._folded)
        if out._index.size > max(_FOLD_MIN, 2 * out._folded):
            out._fold()
        return out

    __radd__ = __add__

    def __getstate__(self):
        self._fold()
        return self.shape, self._index, self._values

    def __setstate__(self, state):
        self.shape, self._index, self._values = state
        self._folded = self._index.size

    def __array__(self, dtype=None, copy=None):
        out = np.zeros(self.shape, np.int64)
        out.reshape(-1)[self.index] = self.values
        return out if dtype is None else out.astype(dtype)

    def to_dense(self) -> np.ndarray:
        """The dense array."""
        return np.asarray(self)

    def __repr__(self) -> str:
        return f"PairCounts(shape={self.shape}, cells={self.index.size})"

    def sum(self) -> int:
        """The total count."""
        return int(self.values.sum())

    def take(self, i: int) -> "PairCounts":
        """The sub-array ``[i]`` of the first axis."""
        step = int(np.prod(self.shape[1:], dtype=np.int64))
        lo = np.searchsorted(self.index, i * step)
        hi = np.searchsorted(self.index, (i + 1) * step)
        out = PairCounts(self.shape[1:], self.index[lo:hi] - i * step, self.values[lo:hi])
        out._folded = hi - lo
        return out

    def class_counts(self) -> dict[str, np.ndarray]:
        """tp, fp, fn, gt and pred pixels per class of a K×K matrix or of ``(K+1)×(K+2)``
        extended counts, as :func:`segscope.metrics.region.class_counts_from_confusion`."""
        rows, cols = self.coords()
        v = self.values
        k = self.shape[0] if self.shape[0] == self.shape[1] else self.shape[0] - 1
        in_rows = rows < k
        cm = in_rows & (cols < k)
        tp = _tally(rows[cm & (rows == cols)], v[cm & (rows == cols)], k)
        gt = _tally(rows[in_rows], v[in_rows], k)
        pred = _tally(cols[cm], v[cm], k)
        return {"tp": tp, "fp": pred - tp, "fn": gt - tp, "gt": gt, "pred": pred}


def _tally(at: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.int64)
    np.add.at(out, at, values)
    return out


def class_block(counts, num_classes: int):
    """The K × K block (GT class × predicted class) of ``(K+1)×(K+2)`` extended counts, in the
    form they are kept: a dense array, or :class:`PairCounts`.

    >>> class_block(np.array([[2, 1, 0, 0], [0, 3, 0, 1], [0, 0, 0, 0]]), 2).tolist()
    [[2, 1], [0, 3]]
    """
    k = int(num_classes)
    if not isinstance(counts, PairCounts):
        return np.asarray(counts, np.int64)[:k, :k]
    rows, cols = counts.coords()
    inside = (rows < k) & (cols < k)
    out = PairCounts((k, k), rows[inside] * k + cols[inside], counts.values[inside])
    out._folded = int(inside.sum())
    return out


def dense_counts(counts) -> np.ndarray:
    """A state's count array as a dense int64 array, whether it is kept dense or as
    :class:`PairCounts` (the one way to read the core analyzer's ``counts``: the ``(K+1)×(K+2)``
    extended confusion counts of :func:`confusion_counts`).

    >>> dense_counts(PairCounts((2, 3), [4], [7])).tolist()
    [[0, 0, 0], [0, 7, 0]]
    """
    return np.asarray(counts, np.int64)


class ClassSubset:
    """The classes present in an image (or a run), as compact indices ``0 .. m-1``.

    With many classes, kernels run on masks whose class indices are recoded to the classes
    present (:meth:`recode`: the ignore label becomes ``m``, unknown ids ``m + 1``), so their
    arrays follow the classes present; :meth:`sparse` and :meth:`scatter` put their results
    back at the spec's class indices. The order of the classes is kept, so every tie-break by
    class index is unchanged.

    Parameters
    ----------
    classes : the spec's class indices present, ascending.
    num_classes : K of the spec.
    """

    def __init__(self, classes, num_classes: int):
        self.classes = np.asarray(classes, np.int64).reshape(-1)
        self.num_classes = int(num_classes)
        self.m = self.classes.size
        self.ignore = self.m

    @classmethod
    def of(cls, masks, num_classes: int, extra=()) -> "ClassSubset":
        """The classes ``0 .. num_classes-1`` that occur in any of ``masks`` (and the class
        indices in ``extra``); at least one class, so that kernels get K >= 1."""
        k = int(num_classes)
        present = np.zeros(k, bool)
        for mask in masks:
            a = np.asarray(mask).reshape(-1)
            if a.dtype.kind == "b":
                a = a.view(np.uint8)
            if a.dtype in (np.uint8, np.uint16) and a.size > 4096:
                seen = np.bincount(a, minlength=1) > 0
                present[: min(k, seen.size)] |= seen[:k]
            else:
                v = np.unique(a)
                v = v[(v >= 0) & (v < k)].astype(np.int64)
                present[v] = True
        extra = np.asarray(extra, np.int64).reshape(-1)
        present[extra[(extra >= 0) & (extra < k)]] = True
        classes = np.flatnonzero(present)
        return cls(classes if classes.size else np.zeros(1, np.int64), k)

    def recode(self, mask: np.ndarray, ignore: int | None) -> np.ndarray:
        """``mask`` in compact indices: a present class its position, the ignore label ``m``,
        any other value ``m + 1``."""
        a = np.asarray(mask)
        if a.dtype.kind == "b":
            a = a.view(np.uint8)
        dtype = np.uint16 if self.m + 2 <= 65535 else np.int32
        if a.dtype in (np.uint8, np.uint16):
            lut = np.full(256 if a.dtype == np.uint8 else 65536, self.m + 1, dtype)
            if ignore is not None and 0 <= ignore < lut.size:
                lut[ignore] = self.m
            ok = self.classes[self.classes < lut.size]
            lut[ok] = np.arange(ok.size, dtype=dtype)
            return lut[a]
        flat = a.reshape(-1).astype(np.int64)
        pos = np.searchsorted(self.classes, flat)
        pos_c = np.minimum(pos, self.m - 1)
        hit = self.classes[pos_c] == flat
        out = np.where(hit, pos_c, self.m + 1)
        if ignore is not None:
            out[flat == ignore] = self.m
        return out.astype(dtype).reshape(a.shape)

    def compact(self, index) -> np.ndarray:
        """Spec class indices as compact ones (-1 for a class not in the subset)."""
        index = np.asarray(index, np.int64)
        pos = np.minimum(np.searchsorted(self.classes, index), self.m - 1)
        return np.where(self.classes[pos] == index, pos, -1)

    def _maps(self, shape, axes):
        maps = []
        for axis, n in enumerate(shape):
            if axis in axes:
                extra = n - self.m
                maps.append(np.concatenate([self.classes, self.num_classes + np.arange(extra, dtype=np.int64)]))
            else:
                maps.append(np.arange(n, dtype=np.int64))
        return maps

    def _global_shape(self, shape, axes):
        return tuple(self.num_classes + n - self.m if axis in axes else n for axis, n in enumerate(shape))

    def sparse(self, a, axes=(0,)) -> PairCounts:
        """Counts ``a`` over compact classes (its class ``axes`` of length ``m`` plus trailing
        extra slots) as :class:`PairCounts` over the spec's classes."""
        a = np.asarray(a)
        shape = self._global_shape(a.shape, axes)
        nz = np.nonzero(a)
        maps = self._maps(a.shape, axes)
        index = np.ravel_multi_index(tuple(m[c] for m, c in zip(maps, nz)), shape) if a.ndim else np.zeros(0, np.int64)
        out = PairCounts(shape, index, a[nz])
        out._folded = out._index.size  # maps are increasing: C order is kept
        return out

    def scatter(self, a, axes=(0,), fill=0) -> np.ndarray:
        """``a`` over compact classes as a dense array over the spec's classes (``fill``
        elsewhere)."""
        a = np.asarray(a)
        out = np.full(self._global_shape(a.shape, axes), fill, a.dtype)
        out[np.ix_(*self._maps(a.shape, axes))] = a
        return out

    def gather(self, counts, axes=(0,)) -> np.ndarray:
        """The dense sub-array of ``counts`` (dense or :class:`PairCounts`, over the spec's
        classes) at the subset's classes (and the trailing extra slots of each class axis)."""
        shape = counts.shape
        local = tuple(self.m + n - self.num_classes if axis in axes else n for axis, n in enumerate(shape))
        if not isinstance(counts, PairCounts):
            return np.asarray(counts)[np.ix_(*self._maps(local, axes))]
        out = np.zeros(local, np.int64)
        coords = counts.coords()
        where = []
        keep = np.ones(counts.index.size, bool)
        for axis, c in enumerate(coords):
            if axis in axes:
                pos = np.where(c >= self.num_classes, self.m + c - self.num_classes, self.compact(c))
                keep &= pos >= 0
                where.append(pos)
            else:
                where.append(c)
        out[tuple(w[keep] for w in where)] = counts.values[keep]
        return out


def present_classes(*counts, axes_of=None) -> np.ndarray:
    """The class indices ``< K`` with a non-zero cell on a class axis of any of ``counts``
    (``(array_or_PairCounts, axes, K)`` triples), ascending."""
    found = []
    for c, axes, k in counts:
        if isinstance(c, PairCounts):
            coords = c.coords()
        else:
            coords = np.nonzero(np.asarray(c))
        for axis in axes:
            v = coords[axis]
            found.append(v[v < k])
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def matrix_json(counts, num_classes: int) -> dict:
    """The ``metrics.json`` keys of a pooled confusion matrix (dense ``(K+1)×(K+2)`` extended
    counts or :class:`PairCounts` of them): ``confusion_matrix``, a K × K list, up to
    :data:`DENSE_MATRIX_CLASSES` classes; beyond, ``confusion_matrix_sparse`` with the non-zero
    cells of the K × K block (``gt``, ``pred`` class indices and ``pixels``, row by row).

    >>> matrix_json(np.array([[2, 1, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0]]), 2)
    {'confusion_matrix': [[2, 1], [0, 3]]}
    """
    k = int(num_classes)
    if k <= DENSE_MATRIX_CLASSES:
        return {"confusion_matrix": dense_counts(counts)[:k, :k].tolist()}
    pc = counts if isinstance(counts, PairCounts) else PairCounts.from_dense(counts)
    rows, cols = pc.coords()
    keep = (rows < k) & (cols < k)
    return {"confusion_matrix_sparse": {
        "num_classes": k,
        "gt": rows[keep].tolist(),
        "pred": cols[keep].tolist(),
        "pixels": pc.values[keep].tolist(),
    }}


def matrix_from_json(metrics: dict) -> PairCounts | None:
    """The K × K confusion matrix of a ``metrics.json`` dict, from either form of
    :func:`matrix_json`, as :class:`PairCounts` (``np.asarray`` for the dense matrix); None
    when it holds neither or a malformed one. The one reader of both forms.

    >>> m = matrix_from_json({"confusion_matrix": [[2, 1], [0, 3]]})
    >>> m.coords()[1].tolist(), m.values.tolist()
    ([0, 1, 1], [2, 1, 3])
    >>> np.asarray(matrix_from_json(matrix_json(np.asarray(m), 2))).tolist()
    [[2, 1], [0, 3]]
    """
    dense = metrics.get("confusion_matrix")
    try:
        if isinstance(dense, list) and dense:
            a = np.asarray(dense)
            if a.ndim != 2 or a.shape[0] != a.shape[1] or a.dtype.kind not in "uif":
                return None
            if a.dtype.kind == "f" and not (np.isfinite(a).all() and (a == np.round(a)).all()):
                return None  # counts are whole numbers
            return PairCounts.from_dense(a.astype(np.int64))
        sparse = metrics.get("confusion_matrix_sparse")
        if isinstance(sparse, dict):
            k = int(sparse["num_classes"])
            rows, cols, pixels = (np.asarray(sparse[key], np.int64) for key in ("gt", "pred", "pixels"))
            if rows.shape != cols.shape or rows.shape != pixels.shape or rows.ndim != 1:
                return None
            if rows.size and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= k):
                return None
            return PairCounts((k, k), rows * k + cols, pixels)
    except (KeyError, TypeError, ValueError):
        return None
    return None
