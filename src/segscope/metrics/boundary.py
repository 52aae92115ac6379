"""Boundary-aware metrics: Boundary IoU, the boundary F-score and trimap IoU.

Region IoU of a large object hides its boundary: a 500×500 square shifted by two pixels still has
an IoU of 0.992. The metrics here look only at the pixels near the edges. Definitions
(see ``docs/boundary.md`` for pictures):

**Band width.** ``d = max(1, round(ratio * sqrt(H**2 + W**2)))`` pixels for an H×W image
(Python's ``round``, half to even, as in the official Boundary IoU code), or a fixed ``px``.

**Boundary band.** For a binary mask ``M``, ``band(M, d)`` is the set of pixels of ``M`` whose
chessboard distance to a pixel outside ``M`` -- or outside the image -- is at most ``d``: ``M``
minus ``M`` eroded ``d`` times by a 3×3 square after padding the image with one ring of zeros (the
recipe of Cheng et al.). For a label map, the band of class ``c`` is ``band(L == c, d)``; pixels
with no class (ignore, unknown ids) count as "not c".

**Boundary IoU** of class ``c``, pooled over a dataset::

    I_c = Σ |band(G_c) ∩ band(P_c) ∩ valid|      U_c = Σ |(band(G_c) ∪ band(P_c)) ∩ valid|

with ``G_c = (gt == c)``, ``P_c = (pred == c)`` and ``valid`` the pixels whose GT is a class;
``boundary_iou_c = I_c / U_c``, undefined (NaN / null) when ``U_c = 0``.

**Boundary F-score** (the MATLAB ``bfscore`` convention), per image and class: the contour of a
mask is ``M`` minus ``M`` eroded once by the 4-connected cross after zero padding; with tolerance
``θ = bf_ratio * diagonal``, precision is the share of predicted contour pixels (at valid pixels)
whose Euclidean distance to the GT contour is ``< θ``, recall the share of GT contour pixels whose
distance to the predicted contour is ``< θ``; ``BF = 2PR / (P + R)`` (0 when both are 0). Both
contours empty: undefined (the image is skipped for that class); exactly one empty: 0.

**Trimap.** A GT *boundary pixel* is a pixel with a 4-neighbour of another GT value (the ignore
label counts as a value; the image frame is not a boundary). The trimap of width ``w`` holds the
valid pixels whose Euclidean distance to the nearest boundary pixel is ``< w`` -- a band ``w``
pixels deep on each side of a straight boundary. Trimap mIoU and pixel accuracy are computed
from the confusion counts inside it.

How it is fast: a pixel of class ``c`` lies in ``band(c)`` exactly when its ``(2d+1)²`` window
(the outside of the image counting as another label) holds a label other than ``c``, i.e. when it
is within chessboard distance ``d - 1`` of a pixel whose 3×3 window is not constant. So the bands
of all classes come from one map of label changes dilated once, in a few linear passes
independent of ``d``; bands of different classes are disjoint, so one pass over the pixel pairs
gives every ``I_c`` and ``U_c``; the same pass over the pixel pairs tallies the trimap counts,
from one exact Euclidean distance transform per image. Contour distances are found by searching
per-class, per-row sorted runs of contour pixels within ``θ`` (nearest rows first, rows with no
run nearby skipped by a 64-cell occupancy word per row, the run that matched a neighbour first of
all, and a matched run covering the rest of the query run it reaches).

References
----------
.. [1] B. Cheng, R. Girshick, P. Dollár, A. C. Berg, A. Kirillov. "Boundary IoU: Improving
   Object-Centric Image Segmentation Evaluation". CVPR 2021.
   :doi:`10.1109/CVPR46437.2021.01508`
.. [2] G. Csurka, D. Larlus, F. Perronnin. "What is a good evaluation measure for semantic
   segmentation?". BMVC 2013. :doi:`10.5244/C.27.32`
.. [3] P. Kohli, L. Ladický, P. H. S. Torr. "Robust Higher Order Potentials for Enforcing Label
   Consistency". IJCV 82(3), 2009 (the trimap evaluation). :doi:`10.1007/s11263-008-0202-0`
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .._lazy import kernels as _lazy_kernels
from .._numbers import class_count
from ..exceptions import SegscopeError
from .bands import MAX_BAND_PX, covering_radius, diagonal, ratio_width
from .confusion import PairCounts
from .region import summary_metrics

__all__ = [
    "BAND_WARN_SHARE",
    "BF_SCALE",
    "BoundaryWidthWarning",
    "boundary_width",
    "bf_tolerance",
    "boundary_bands",
    "boundary_counts",
    "boundary_iou",
    "contours",
    "bf_counts",
    "bf_score",
    "trimap_distance",
    "trimap_counts",
    "trimap_scores",
]

_kernels = _lazy_kernels("segscope.metrics._boundary_kernels")

BAND_WARN_SHARE = 0.8


BF_SCALE = float(2**40)  # per-image F-scores are summed as integers in units of 2**-40


class BoundaryWidthWarning(UserWarning):
    """The boundary band covers most labelled pixels, so Boundary IoU is close to plain IoU."""



# ====================================================================== array helpers
def as_labels(a, name: str = "mask") -> np.ndarray:
    """A 2-D contiguous integer label map from ``a`` (1-D becomes one row, bool becomes uint8)."""
    a = np.asarray(a)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise SegscopeError(f"{name} must be a 2-D label map, got shape {a.shape}")
    if a.dtype.kind == "b":
        a = a.view(np.uint8)
    elif a.dtype.kind not in "ui":
        raise SegscopeError(f"{name} must hold integers, got dtype {a.dtype}")
    elif a.dtype.itemsize == 8 and a.dtype.kind == "u":
        a = a.astype(np.int64)  # uint64 compares badly with signed class counts
    return np.ascontiguousarray(a)


def _gt_indices(gt, num_classes: int, ignore_index: int | None) -> np.ndarray:
    """GT as class indices, with ignored pixels moved to -1 when the ignore label is a class id."""
    gt = as_labels(gt, "gt")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise SegscopeError(f"ignore_index {ignore_index} is a class index (num_classes={num_classes})")
    if gt.size:
        bad = _kernels.count_unknown(gt, int(num_classes), -1 if ignore_index is None else int(ignore_index))
        if bad:
            raise SegscopeError(
                f"GT has {bad} pixel(s) with ids outside 0..{num_classes - 1}"
                + ("" if ignore_index is None else f" and not the ignore label {ignore_index}")
            )
    return gt


def _pair(pred, gt, num_classes, ignore_index):
    class_count(num_classes)
    gt = _gt_indices(gt, num_classes, ignore_index)
    pred = as_labels(pred, "pred")
    if pred.shape != gt.shape:
        raise SegscopeError(f"prediction shape {pred.shape} differs from GT shape {gt.shape}")
    return pred, gt


def boundary_width(shape: Sequence[int], ratio: float = 0.02, px: int | None = None) -> int:
    """The band width ``d`` in pixels for an image of ``shape`` (H, W).

    ``d = max(1, round(ratio * sqrt(H**2 + W**2)))`` with Python's ``round`` (half to even), as in
    the official Boundary IoU code; ``px`` (>= 1), when given, is used as it is.

    >>> boundary_width((1024, 2048))
    46
    >>> boundary_width((1024, 2048), ratio=0.005), boundary_width((10, 10), px=3)
    (11, 3)
    """
    if px is not None:
        if not 1 <= int(px) <= MAX_BAND_PX:
            raise SegscopeError(f"boundary width must be >= 1 pixel (at most {MAX_BAND_PX}), got {px}")
        return int(px)
    if not 0 < ratio <= 1:
        raise SegscopeError(f"boundary ratio must be > 0 and <= 1 (a share of the image diagonal), got {ratio}")
    h, w = (shape[0], shape[1]) if len(shape) > 1 else (1, shape[0])
    return max(1, ratio_width((h, w), ratio))


def bf_tolerance(shape: Sequence[int], ratio: float = 0.0075) -> float:
    """The boundary F-score tolerance ``θ = ratio * sqrt(H**2 + W**2)`` in pixels.

    >>> round(bf_tolerance((1024, 2048)), 3)
    17.173
    """
    if not 0 <= ratio < math.inf:
        raise SegscopeError(f"boundary F-score ratio must be >= 0 and finite, got {ratio}")
    h, w = (shape[0], shape[1]) if len(shape) > 1 else (1, shape[0])
    return float(ratio * diagonal((h, w)))


def disk_half_widths(theta: float) -> np.ndarray:
    """half[dy] = the largest dx with sqrt(dx² + dy²) < θ, for every dy with sqrt(dy²) < θ."""
    half = []
    dy = 0
    while math.sqrt(dy * dy) < theta:
        dx = int(math.sqrt(max(0.0, theta * theta - dy * dy))) + 1
        while dx >= 0 and not math.sqrt(dx * dx + dy * dy) < theta:
            dx -= 1
        half.append(dx)
        dy += 1
    return np.asarray(half, dtype=np.int64)


# ====================================================================== public functions
def boundary_bands(labels, num_classes: int, width: int) -> np.ndarray:
    """The boundary band of every class at once: True where a pixel of class ``c`` lies in
    ``band(labels == c, width)``.

    ``band(M, d)`` = ``M`` minus ``M`` eroded ``d`` times by a 3×3 square after zero padding,
    i.e. the pixels of ``M`` within chessboard distance ``d`` of a pixel outside ``M`` or outside
    the image. Values outside ``0..num_classes-1`` (ignore, unknown) are in no band and count as
    "not c" for every class. Bands of different classes are disjoint, so one boolean map holds
    them all; the cost does not depend on ``width``.

    Parameters
    ----------
    labels : (H, W) integer array of class indices.
    num_classes : number of classes K.
    width : band width ``d`` in pixels (>= 1), e.g. from :func:`boundary_width`.

    Returns
    -------
    (H, W) bool array.

    References
    ----------
    Cheng et al., "Boundary IoU", CVPR 2021, doi:10.1109/CVPR46437.2021.01508

    Examples
    --------
    >>> lab = np.array([[0, 0, 0, 0, 0],
    ...                 [0, 0, 0, 0, 0],
    ...                 [0, 0, 1, 1, 1],
    ...                 [0, 0, 1, 1, 1],
    ...                 [0, 0, 1, 1, 1]])
    >>> boundary_bands(lab, 2, 1).astype(int)
    array([[1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 0, 1],
           [1, 1, 1, 1, 1]])
    """
    lab = as_labels(labels, "labels")
    width = int(width)
    if width < 1:
        raise SegscopeError(f"boundary width must be >= 1 pixel, got {width}")
    out = np.empty(lab.shape, np.uint8)
    if lab.size:
        _kernels.band_kernel(lab, class_count(num_classes), width - 1, out, np.empty(lab.shape, np.uint8))
    return out.view(bool)




def boundary_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, width: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Boundary intersections ``I_c`` and unions ``U_c`` of one image (int64 arrays of length K).

    ``I_c = |band(G_c) ∩ band(P_c) ∩ valid|``, ``U_c = |(band(G_c) ∪ band(P_c)) ∩ valid|``; valid
    pixels are those whose GT is not ``ignore_index``. Sum them over images for dataset figures.

    >>> gt = np.array([[0, 0, 1, 1]] * 4)
    >>> pred = np.array([[0, 1, 1, 1]] * 4)
    >>> [a.tolist() for a in boundary_counts(pred, gt, 2, width=1)]
    [[4, 6], [8, 12]]
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    k = int(num_classes)
    inter = np.zeros(k, np.int64)
    gband = np.zeros(k, np.int64)
    pband = np.zeros(k, np.int64)
    boundary_raw(pred, gt, k, int(width), np.zeros(0, np.int64), inter, gband, pband, np.zeros(1, np.int64),
                 np.zeros((1, k + 1, k + 2), np.int64))
    return inter, gband + pband - inter


def boundary_raw(pred, gt, k, width, widths_sq, inter, gband, pband, valid, tri, scratch=None):
    """Add one pair's band counts (``width`` >= 1; 0: none) and trimap counts (ascending squared
    widths ``widths_sq``, maybe none) to the arrays given, in one pass; ``scratch``: a uint8
    array of the masks' shape to reuse (a fresh one when None)."""
    if gt.size == 0:
        return
    if scratch is None:
        scratch = np.empty(gt.shape if width else (0, 0), np.uint8)
    _kernels.boundary_kernel(pred, gt, k, int(width) - 1, widths_sq, scratch, inter, gband, pband, valid, tri)


def boundary_iou(
    pred, gt, num_classes: int, ignore_index: int | None = None, ratio: float = 0.02, px: int | None = None
) -> np.ndarray:
    """Boundary IoU of every class for one image (NaN where the union of the bands is empty).

    Parameters
    ----------
    pred, gt : (H, W) integer arrays of class indices; GT pixels equal to ``ignore_index`` count
        nowhere (but are "not c" when the bands are formed); prediction values outside
        ``0..num_classes-1`` belong to no class.
    num_classes : number of classes K.
    ignore_index : the GT ignore label, or None.
    ratio : band width as a share of the image diagonal (0.02 as in the paper; 0.005 suits
        Cityscapes-sized images).
    px : band width in pixels; overrides ``ratio``.

    Returns
    -------
    (K,) float64 array.

    References
    ----------
    B. Cheng, R. Girshick, P. Dollár, A. C. Berg, A. Kirillov, "Boundary IoU: Improving
    Object-Centric Image Segmentation Evaluation", CVPR 2021. doi:10.1109/CVPR46437.2021.01508

    Examples
    --------
    >>> gt = np.array([[0, 0, 1, 1]] * 4)
    >>> pred = np.array([[0, 1, 1, 1]] * 4)
    >>> boundary_iou(pred, gt, 2, px=1).tolist()
    [0.5, 0.5]
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    inter, union = boundary_counts(pred, gt, num_classes, ignore_index, boundary_width(gt.shape, ratio, px))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def contours(labels, num_classes: int) -> np.ndarray:
    """The contour of every class at once: True where a pixel of class ``c`` lies on the contour
    of ``labels == c`` -- the mask minus its erosion by the 4-connected cross after zero padding
    (a pixel of the mask with a 4-neighbour outside the mask or outside the image).

    >>> contours(np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1]]), 2).astype(int)
    array([[1, 1, 1],
           [1, 0, 1],
           [1, 1, 1]])
    """
    lab = as_labels(labels, "labels")
    k = class_count(num_classes)
    out = np.zeros(lab.shape, np.uint8)
    if lab.size:
        _kernels.contour_map(lab, k, out)
    return out.view(bool)


def bf_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, ratio: float = 0.0075,
    tolerance: float | None = None,
) -> np.ndarray:
    """Contour matching counts of one image, a (K, 4) int64 array with columns: predicted contour
    pixels (at valid pixels), of those within ``θ`` of the GT contour, GT contour pixels, of those
    within ``θ`` of the predicted contour. ``θ = tolerance`` or ``ratio × diagonal``; "within"
    means Euclidean distance ``< θ``.

    >>> gt = np.array([[0, 0, 1, 1]] * 3)
    >>> bf_counts(gt, gt, 2, tolerance=0.5).tolist()
    [[6, 6, 6, 6], [6, 6, 6, 6]]
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    theta = float(tolerance) if tolerance is not None else bf_tolerance(gt.shape, ratio)
    out = np.zeros((int(num_classes), 4), np.int64)
    if gt.size:
        _kernels.bf_kernel(pred, gt, int(num_classes), disk_half_widths(min(theta, covering_radius(gt.shape))), out)
    return out


def bf_from_counts(counts: np.ndarray) -> np.ndarray:
    """Per-class boundary F-scores from pooled ``(npred, mpred, ngt, mgt)`` counts (K × 4):
    NaN when both sides have no boundary, 0 when only one has."""
    counts = np.asarray(counts, dtype=np.float64)
    npred, mpred, ngt, mgt = counts.T
    out = np.full(len(counts), np.nan)
    one_empty = (npred == 0) != (ngt == 0)
    out[one_empty] = 0.0
    both = (npred > 0) & (ngt > 0)
    p = mpred[both] / npred[both]
    r = mgt[both] / ngt[both]
    s = p + r
    with np.errstate(divide="ignore", invalid="ignore"):
        out[both] = np.where(s > 0, 2 * p * r / np.where(s > 0, s, 1), 0.0)
    return out


def bf_score(
    pred, gt, num_classes: int, ignore_index: int | None = None, ratio: float = 0.0075,
    tolerance: float | None = None,
) -> np.ndarray:
    """Boundary F-score of every class for one image (NaN where both contours are empty).

    Contours are class masks minus their erosion by the 4-connected cross after zero padding;
    ``θ = tolerance`` pixels, or ``ratio`` times the image diagonal (0.0075 by default). Precision
    is the share of predicted contour pixels (at pixels whose GT is not ignored) with Euclidean
    distance ``< θ`` to the GT contour, recall the share of GT contour pixels within ``< θ`` of the
    predicted contour, ``BF = 2PR / (P + R)`` (0 when both are 0). Both contours empty: NaN;
    exactly one empty: 0. This is the convention of MATLAB's ``bfscore``.

    Parameters
    ----------
    pred, gt : (H, W) integer arrays of class indices.
    num_classes : number of classes K.
    ignore_index : the GT ignore label, or None.
    ratio : tolerance as a share of the image diagonal.
    tolerance : tolerance in pixels; overrides ``ratio``.

    Returns
    -------
    (K,) float64 array.

    References
    ----------
    G. Csurka, D. Larlus, F. Perronnin, "What is a good evaluation measure for semantic
    segmentation?", BMVC 2013. doi:10.5244/C.27.32

    Examples
    --------
    >>> gt = np.zeros((6, 6), int); gt[:, 3:] = 1
    >>> pred = np.zeros((6, 6), int); pred[:, 4:] = 1
    >>> bf_score(pred, gt, 3, tolerance=1.0).round(4).tolist()
    [0.6667, 0.6154, nan]
    """
    return bf_from_counts(bf_counts(pred, gt, num_classes, ignore_index, ratio, tolerance))


def trimap_distance(gt, max_width: int = 64) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest GT boundary pixel (a pixel with a
    4-neighbour holding another GT value; the ignore label is a value like any other), capped at
    ``max_width``. A pixel is in the trimap of width ``w`` when this distance is ``< w``.

    >>> trimap_distance(np.array([[0, 0, 0, 1, 1]]), max_width=4).tolist()
    [[2.0, 1.0, 0.0, 0.0, 1.0]]
    """
    g = as_labels(gt, "gt")
    cap = int(max_width)
    if cap < 1:
        raise SegscopeError(f"max_width must be >= 1, got {max_width}")
    d2 = np.empty(g.shape, np.int64)
    if g.size:
        _kernels.trimap_dist_kernel(g, cap, d2)
    return np.sqrt(d2.astype(np.float64))


def trimap_widths(widths) -> np.ndarray:
    """The trimap widths, sorted and unique, as int64; widths below 1 pixel are an error."""
    ws = sorted({int(w) for w in widths})
    if not ws or ws[0] < 1 or ws[-1] > MAX_BAND_PX:
        raise SegscopeError(f"trimap widths must be >= 1 pixel (at most {MAX_BAND_PX}), got {list(widths)}")
    return np.asarray(ws, dtype=np.int64)


def trimap_counts(pred, gt, num_classes: int, widths: Sequence[int] = (1, 2, 4, 8, 16),
                  ignore_index: int | None = None) -> np.ndarray:
    """Confusion counts inside the trimap of each width, shape ``(len(widths), K + 1, K + 2)`` in
    the extended layout of :func:`segscope.metrics.confusion.confusion_counts` (column K: predicted as no
    class). Widths are sorted ascending and deduplicated.

    >>> gt = np.array([[0, 0, 0, 1, 1, 1]])
    >>> pred = np.array([[0, 0, 1, 1, 1, 1]])
    >>> t = trimap_counts(pred, gt, 2, widths=(1, 2))
    >>> t[0, :2, :2].tolist(), t[1, :2, :2].tolist()
    ([[0, 1], [0, 1]], [[1, 1], [0, 2]])
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    ws = trimap_widths(widths)
    k = int(num_classes)
    out = np.zeros((len(ws) + 1, k + 1, k + 2), np.int64)
    z = np.zeros(k, np.int64)
    boundary_raw(pred, gt, k, 0, ws * ws, z, z, z, np.zeros(1, np.int64), out)
    return np.cumsum(out[:-1], axis=0)


def trimap_scores(pred, gt, num_classes: int, widths: Sequence[int] = (1, 2, 4, 8, 16),
                  ignore_index: int | None = None) -> dict[int, dict[str, float]]:
    """mIoU and pixel accuracy inside the trimap of each width, for one image:
    ``{width: {"miou": ..., "pixel_accuracy": ..., "pixels": ...}}`` (NaN when the trimap is empty).

    >>> gt = np.array([[0, 0, 0, 1, 1, 1]])
    >>> pred = np.array([[0, 0, 1, 1, 1, 1]])
    >>> s = trimap_scores(pred, gt, 2, widths=(1, 2))
    >>> s[1]["pixel_accuracy"], round(s[2]["miou"], 4)
    (0.5, 0.5833)
    """
    counts = trimap_counts(pred, gt, num_classes, widths, ignore_index)
    return {int(w): trimap_summary(c, ()) for w, c in zip(trimap_widths(widths), counts)}


def trimap_summary(ext: np.ndarray, exclude) -> dict:
    """mIoU, pixel accuracy and pixel count of one trimap band's extended confusion counts."""
    s = summary_metrics(ext, exclude)
    if isinstance(ext, PairCounts):
        pixels = int(ext.values[ext.coords()[0] < ext.shape[0] - 1].sum())
    else:
        pixels = int(ext[:-1].sum())
    return {"miou": s["miou"], "pixel_accuracy": s["pixel_accuracy"], "pixels": pixels}
