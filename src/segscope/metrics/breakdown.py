"""Error breakdown beyond IoU: boundary, extent and segment errors, per class, exact.

Every valid pixel of a class's prediction or ground truth is, one-vs-rest, exactly one of

- **TP** (predicted and labelled as the class),
- **boundary** error: a thin FP or FN region along a true boundary (within ``d`` pixels of both
  a TP and a TN pixel of the class, grown by ``d`` and kept only when it touches both),
- **extent** error: an FP/FN pixel in a predicted/GT segment that was found (has a TP pixel),
- **segment** error: an FP/FN pixel of a segment that was invented/missed entirely.

The method is Bernhard et al., "What's Outside the Intersection? Fine-grained Error Analysis for
Semantic Segmentation Beyond IoU", WACV 2024, doi:10.1109/WACV57701.2024.00103, reproduced
exactly as written down in ``error-breakdown.md``: the same integers as the published code.

The kernel shares its work across classes. A pixel takes part in at most two classes (its
predicted and its GT class), so instead of four distance transforms per class, every error pixel
asks its two classes' questions ("is there a TP / a TN of my class within ``d``?") by walking the
runs of equal (prediction, GT) pairs in the rows of the disk around it, nearest rows first, and
stops at the first answer. Connected components are labelled once per map (run-based union-find)
and kept as runs; the pass that types the pixels also gathers every per-component fact the
segment analysis needs (:attr:`ImageErrors.segment_facts`).

Ratios (§8 of the method): with ``U = TP + FP + FN`` of a class, ``IoU + E_boundary/U +
E_extent/U + E_segment/U = 1``.

>>> import numpy as np
>>> gt = np.zeros((8, 8), np.uint8); gt[1:5, 1:5] = 1
>>> pred = np.zeros((8, 8), np.uint8); pred[1:5, 2:6] = 1
>>> error_counts(pred, gt, num_classes=2, band_px=1)[1].tolist()  # tp, fp_b, fn_b, fp_e, fn_e, fp_s, fn_s
[12, 4, 4, 0, 0, 0, 0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._lazy import kernels as _lazy_kernels
from .._numbers import class_count, nanmean, ratio
from ..exceptions import SegscopeError
from .bands import band_width, covering_radius

__all__ = [
    "COUNT_KEYS",
    "ERROR_TYPES",
    "FIX_SCENARIOS",
    "SLIVER_MAX_WIDTH",
    "band_width",
    "disk_offsets",
    "ImageErrors",
    "analyze_image",
    "error_counts",
    "error_type_maps",
    "error_ratios",
    "RATIO_KEYS",
    "error_means",
]

_kernels = _lazy_kernels("segscope.metrics._breakdown_kernels")

COUNT_KEYS = ("tp", "fp_boundary", "fn_boundary", "fp_extent", "fn_extent", "fp_segment", "fn_segment")


ERROR_TYPES = ("boundary", "extent", "segment")


NO_ERROR, BOUNDARY, EXTENT, SEGMENT = 0, 1, 2, 3


# Which error pixels a "what if it were fixed" scenario repairs (see ImageErrors.fixed_gt).
FIX_SCENARIOS = ("boundary", "extent", "missed_segments", "invented_segments")


# A kept boundary component at most this many pixels thick (area / pixels touching the TP side)
# and no thicker than the band is a *sliver*: the signature of jittery annotation.
SLIVER_MAX_WIDTH = 2


_TP, _FPB, _FNB, _FPE, _FNE, _FPS, _FNS = range(7)


# Query runs of one row and class whose start lies at most this far past the previous end walk
# the disk together (one span).
_JOIN = 64


# ---------------------------------------------------------------------- band width and disk
def _row_widths(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the disk, nearest first: offsets dy and half-widths w(dy) = isqrt(d(d+1) - dy²)."""
    r2 = d * (d + 1)
    dys = [0]
    for k in range(1, d + 1):
        dys += [-k, k]
    wds = [math.isqrt(r2 - dy * dy) for dy in dys]
    return np.array(dys, dtype=np.int64), np.array(wds, dtype=np.int64)


def disk_offsets(d: int) -> np.ndarray:
    """The (dy, dx) offsets of the disk of radius ``d``: dy² + dx² <= d(d+1).

    >>> [len(disk_offsets(d)) for d in range(7)]
    [1, 9, 21, 37, 69, 97, 137]
    """
    r = np.arange(-d, d + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    keep = dy * dy + dx * dx <= d * (d + 1)
    return np.stack([dy[keep], dx[keep]], axis=1)


# ---------------------------------------------------------------------- one image
@dataclass
class ImageErrors:
    """Everything the breakdown of one image produces.

    Attributes
    ----------
    counts : (K, 7) int64, columns :data:`COUNT_KEYS`.
    band_px : the band width ``d`` used.
    fp_type, fn_type : (H, W) uint8 maps (None with ``maps=False``); 0 no error of that side, 1 boundary, 2 extent, 3 segment.
        ``fp_type`` types the pixel as an FP of its predicted class, ``fn_type`` as an FN of its GT
        class. Ignored pixels are 0 in both.
    conf_fn : (3, K, K+1) int64: FN pixels by type (boundary, extent, segment), GT class × predicted
        class (column K: no class).
    conf_fp : (3, K, K) int64: the same pixels typed as FP of their predicted class.
    fixed_gt, fixed_pred : (4, K) and (4, K+1) int64: per :data:`FIX_SCENARIOS`, the error pixels
        a fix would repair, by GT class and by predicted class.
    gt_runs, pred_runs : the 8-connected components of each class in GT / prediction, as runs
        (row pointers, first and last columns, component ids); the properties ``gt_labels`` /
        ``pred_labels`` draw them as (H, W) int32 maps (-1 where none); ``gt_components`` /
        ``pred_components`` hold their facts.
    sliver_px : (K,) int64 pixels of thin boundary slivers per class (FP and FN sides).
    codes : the (prediction, GT) class codes analysed.
    segment_facts : per GT component its valid pixels, TP pixels and bbox [y0, x0, y1, x1) of
        its valid pixels; the same per predicted component; the (GT, predicted component) pairs
        sharing a TP pixel (2 × n; each pair once, in order of GT component).
    pair_runs : the runs of equal (prediction, GT) pairs, as ``(row pointers, runs)``: rows first
        column, prediction run and GT run (indices into ``pred_runs`` / ``gt_runs``; -1 where the
        code is negative).
    """

    counts: np.ndarray
    band_px: int
    fp_type: np.ndarray
    fn_type: np.ndarray
    conf_fn: np.ndarray
    conf_fp: np.ndarray
    fixed_gt: np.ndarray
    fixed_pred: np.ndarray
    gt_runs: tuple
    pred_runs: tuple
    gt_components: dict
    pred_components: dict
    sliver_px: np.ndarray
    codes: tuple[np.ndarray, np.ndarray]
    segment_facts: tuple
    pair_runs: tuple

    @property
    def gt_labels(self) -> np.ndarray:
        """(H, W) int32 component ids of the GT (-1 where none), drawn from ``gt_runs``."""
        return _paint(self.gt_runs, self.codes[1].shape)

    @property
    def pred_labels(self) -> np.ndarray:
        """(H, W) int32 component ids of the prediction (-1 where none)."""
        return _paint(self.pred_runs, self.codes[0].shape)


def _paint(runs: tuple, shape) -> np.ndarray:
    out = np.empty(shape, np.int32)
    _kernels.paint(*runs, out)
    return out


def to_codes(pred, gt, num_classes: int, ignore_index, allow_unknown_pred: bool, allow_unknown_gt: bool = False):
    """Check a (pred, GT) pair of class indices and turn it into the kernels' signed codes (ignored
    and unknown labels get codes of their own); bad shapes or dtypes are a :class:`SegscopeError`."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise SegscopeError(f"prediction shape {pred.shape} differs from GT shape {gt.shape}")
    if pred.ndim != 2:
        raise SegscopeError(f"masks must be 2-D, got shape {pred.shape}")
    for name, a in (("prediction", pred), ("GT", gt)):
        if a.dtype.kind not in "uib":
            raise SegscopeError(f"{name} must hold integer labels, got dtype {a.dtype}")
    num_classes = class_count(num_classes)
    code = np.int8 if num_classes < 2**7 else np.int16 if num_classes < 2**15 else np.int32
    p = np.empty(pred.shape, code)
    g = np.empty(gt.shape, code)
    ign = -(2**62) if ignore_index is None else int(ignore_index)
    pr = np.ascontiguousarray(pred).reshape(-1)
    gr = np.ascontiguousarray(gt).reshape(-1)
    if pr.dtype == np.bool_:
        pr = pr.view(np.uint8)
    if gr.dtype == np.bool_:
        gr = gr.view(np.uint8)
    bad_g, bad_p = _kernels.codes(pr, gr, int(num_classes), ign, p.reshape(-1), g.reshape(-1))
    if bad_g and not allow_unknown_gt:
        raise SegscopeError(f"GT has {bad_g} pixel(s) with labels outside 0..{num_classes - 1} and not the ignore label")
    if bad_p and not allow_unknown_pred:
        raise SegscopeError(
            f"prediction has {bad_p} pixel(s) with labels outside 0..{num_classes - 1} and not the ignore label"
        )
    return p, g


def analyze_image(p: np.ndarray, g: np.ndarray, num_classes: int, band_px: int, maps: bool = True) -> ImageErrors:
    """The full breakdown of one image from class codes (signed integers from :func:`to_codes`, -1 = ignore / no class).

    Use :func:`error_counts` or :func:`error_type_maps` for raw label maps; this is the kernel
    the evaluation runs per image. ``maps=False`` leaves out the two per-pixel type maps
    (``fp_type`` and ``fn_type`` are then None).
    """
    k = int(num_classes)
    h, w = p.shape
    d = int(band_px)
    (n_p, cls_p, *p_runs), php, (n_g, cls_g, *g_runs), ghp, xptr, xr, tp_runs, cv_runs, fp_runs, fn_runs = (
        _kernels.scan(p, g, k))
    mark = np.zeros((h, w), np.uint8)
    sliver = np.zeros(k, np.int64)
    if d > 0 and tp_runs.shape[1]:
        dys, wds = _row_widths(min(d, covering_radius((h, w))))
        tp_off, tp_s, tp_e = _kernels.csr(tp_runs, k, h)
        cv_off, cv_s, cv_e = _kernels.csr(cv_runs, k, h)
        sw = min(SLIVER_MAX_WIDTH, d)
        tpm = np.empty((h, w), p.dtype)  # the class where prediction == GT, else -1 (rows as needed)
        filled = np.zeros(h, np.uint8)
        for q, lab, has, bit in ((fp_runs, p_runs[3], php, 4), (fn_runs, g_runs[3], ghp, 8)):
            if not q.shape[1]:
                continue
            ask = np.ones(q.shape[1], np.uint8)
            seeds = _kernels.near_runs(q, ask, tp_off, tp_s, tp_e, cv_off, cv_s, cv_e, True, h, w, dys, wds, _JOIN)
            if not seeds.shape[1]:
                continue
            sd_off, sd_s, sd_e = _kernels.csr(seeds, k, h)
            # seeds are candidates: a run that is all seed (ask == 2) is one without a look
            ask *= has[lab[q[4]]]
            cand = _kernels.near_runs(q, ask, sd_off, sd_s, sd_e, sd_off, sd_s, sd_e, False, h, w, dys, wds, _JOIN)
            if cand.shape[1]:
                _kernels.filter_runs(cand, h, w, p, g, tpm, filled, mark, bit, sw, sliver)
    counts = np.zeros((k, 7), np.int64)
    shape = (h, w) if maps else (0, 0)
    fp_type = np.empty(shape, np.uint8)
    fn_type = np.empty(shape, np.uint8)
    conf_fn = np.zeros((3, k, k + 1), np.int64)
    conf_fp = np.zeros((3, k, k), np.int64)
    fixed_gt = np.zeros((4, k), np.int64)
    fixed_pred = np.zeros((4, k + 1), np.int64)
    gfacts = np.zeros((n_g, 2), np.int64)
    pfacts = np.zeros((n_p, 2), np.int64)
    gbox = np.empty((n_g, 4), np.int64)
    pbox = np.empty((n_p, 4), np.int64)
    links, nl = _kernels.assign(xptr, xr, p_runs[3], cls_p, g_runs[3], cls_g, php, ghp, mark, k, counts, bool(maps),
                                fp_type, fn_type, conf_fn, conf_fp, fixed_gt, fixed_pred, gfacts, gbox, pfacts, pbox,
                                np.empty((2, 1024), np.int64))
    facts = (gfacts[:, 0], gfacts[:, 1], gbox, pfacts[:, 0], pfacts[:, 1], pbox, links[:, :nl])
    return ImageErrors(
        counts=counts, band_px=d, fp_type=fp_type if maps else None, fn_type=fn_type if maps else None,
        conf_fn=conf_fn, conf_fp=conf_fp,
        fixed_gt=fixed_gt, fixed_pred=fixed_pred[:, :k], gt_runs=tuple(g_runs), pred_runs=tuple(p_runs),
        gt_components={"n": n_g, "cls": cls_g, "has_tp": ghp},
        pred_components={"n": n_p, "cls": cls_p, "has_tp": php},
        sliver_px=sliver, codes=(p, g), segment_facts=facts, pair_runs=(xptr, xr),
    )


# ---------------------------------------------------------------------- public functions
def error_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01, *, allow_unknown_pred: bool = False,
) -> np.ndarray:
    """Per-class error counts of one image: a (num_classes, 7) int64 array.

    Columns, in order (:data:`COUNT_KEYS`): ``tp, fp_boundary, fn_boundary, fp_extent, fn_extent,
    fp_segment, fn_segment``. Pooled counts of a dataset are the sums over images.

    Parameters
    ----------
    pred, gt : (H, W) integer label maps; every label must be in ``[0, num_classes)`` or equal
        ``ignore_index``.
    num_classes : C.
    ignore_index : the GT label of pixels that are not scored (they still take part in the
        geometry as "not this class"); in a prediction it means "no class". None: no ignore label.
    band_px : band width in pixels; when None, ``round(band_ratio * diagonal)``.
    band_ratio : relative band width (default 0.01 of the image diagonal).
    allow_unknown_pred : treat predicted labels outside the classes as "no class" instead of
        raising.

    Returns
    -------
    numpy.ndarray of shape (num_classes, 7).

    References
    ----------
    Bernhard et al., "What's Outside the Intersection? Fine-grained Error Analysis for Semantic
    Segmentation Beyond IoU", WACV 2024. doi:10.1109/WACV57701.2024.00103

    Examples
    --------
    A 3-px overshoot (example E2a/E2b of the method): extent errors at d = 1, boundary at d = 2.

    >>> gt = np.tile([1, 1, 1, 0, 0, 0, 0, 0], (8, 1)); pred = np.tile([1, 1, 1, 1, 1, 1, 0, 0], (8, 1))
    >>> error_counts(pred, gt, 2, band_px=1)[1].tolist()
    [24, 0, 0, 24, 0, 0, 0]
    >>> error_counts(pred, gt, 2, band_px=2)[1].tolist()
    [24, 24, 0, 0, 0, 0, 0]
    """
    p, g = to_codes(pred, gt, num_classes, ignore_index, allow_unknown_pred)
    d = band_width(p.shape, band_px, band_ratio)
    return analyze_image(p, g, num_classes, d).counts


def error_type_maps(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01, *, allow_unknown_pred: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel error types of one image: ``(fp_type, fn_type)``, two (H, W) uint8 maps.

    Codes: 0 no error of that side, 1 boundary, 2 extent, 3 segment. ``fp_type`` types each pixel
    as an FP of its *predicted* class, ``fn_type`` as an FN of its *GT* class (a pixel with GT a
    and prediction b is both, typed independently). Ignored GT pixels are 0 in both maps.
    Parameters as in :func:`error_counts`.

    Examples
    --------
    >>> gt = np.array([[1, 1, 0, 0]] * 4); pred = np.array([[1, 1, 1, 0]] * 4)
    >>> fp, fn = error_type_maps(pred, gt, 2, band_px=1)
    >>> fp[0].tolist(), fn[0].tolist()
    ([0, 0, 1, 0], [0, 0, 1, 0])
    """
    p, g = to_codes(pred, gt, num_classes, ignore_index, allow_unknown_pred)
    d = band_width(p.shape, band_px, band_ratio)
    res = analyze_image(p, g, num_classes, d)
    return res.fp_type, res.fn_type


def error_ratios(counts) -> dict[str, np.ndarray]:
    """Per-class ratios (§8) from (pooled) counts of shape (K, 7); 0/0 is NaN.

    Keys: ``iou``, ``union``, ``fp_{t}_ou``, ``fn_{t}_ou``, ``e_{t}_ou`` for t in boundary,
    extent, segment, and ``e_boundary_renormed``, ``e_extent_renormed``, ``e_segment_renormed``.
    ``iou + e_boundary_ou + e_extent_ou + e_segment_ou == 1`` wherever the union is non-zero.

    >>> r = error_ratios(np.array([[12, 4, 4, 0, 0, 0, 0]]))
    >>> float(r["iou"][0]), float(r["e_boundary_ou"][0]), float(r["e_boundary_renormed"][0])
    (0.6, 0.4, 0.4)
    """
    c = np.asarray(counts, dtype=np.int64).reshape(-1, 7)
    tp = c[:, _TP]
    fp = {"boundary": c[:, _FPB], "extent": c[:, _FPE], "segment": c[:, _FPS]}
    fn = {"boundary": c[:, _FNB], "extent": c[:, _FNE], "segment": c[:, _FNS]}
    e = {t: fp[t] + fn[t] for t in ERROR_TYPES}
    union = tp + sum(e.values())
    out = {"iou": ratio(tp, union), "union": union}
    for t in ERROR_TYPES:
        out[f"fp_{t}_ou"] = ratio(fp[t], union)
        out[f"fn_{t}_ou"] = ratio(fn[t], union)
        out[f"e_{t}_ou"] = ratio(e[t], union)
    out["e_boundary_renormed"] = ratio(e["boundary"], tp + e["boundary"])
    out["e_extent_renormed"] = ratio(e["extent"], tp + e["boundary"] + e["extent"])
    out["e_segment_renormed"] = ratio(e["segment"], union)
    return out


RATIO_KEYS = tuple(
    [f"e_{t}_ou" for t in ERROR_TYPES]
    + [f"{s}_{t}_ou" for t in ERROR_TYPES for s in ("fp", "fn")]
    + [f"e_{t}_renormed" for t in ERROR_TYPES]
)


def error_means(counts, keep=None) -> dict[str, float]:
    """Dataset means of the ratios: unweighted over classes, skipping NaN (§8).

    ``keep``: optional boolean mask of the classes taking part (e.g. to leave excluded classes
    out). Keys: ``miou``, ``me_boundary_ou`` ... (``m`` + each ratio key).
    """
    r = error_ratios(counts)
    keep = np.ones(len(r["iou"]), bool) if keep is None else np.asarray(keep, bool)

    def mean(v):
        return nanmean(v, keep)

    out = {"miou": mean(r["iou"])}
    for key in RATIO_KEYS:
        out["m" + key] = mean(r[key])
    return out


