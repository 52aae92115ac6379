"""The boundary analyzer of ``segscope evaluate``: Boundary IoU, boundary F-score and trimap IoU per run."""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np

from ..._lazy import kernels as _lazy_kernels
from ..._numbers import finite_or_none
from ...metrics.boundary import (
    BAND_WARN_SHARE,
    BF_SCALE,
    BoundaryWidthWarning,
    as_labels,
    bf_from_counts,
    boundary_raw,
    disk_half_widths,
    trimap_summary,
    trimap_widths,
    bf_tolerance,
    boundary_width,
)
from ...metrics.bands import covering_radius
from ...metrics.confusion import DENSE_STATE_CLASSES, PairCounts
from ...metrics.region import nanmean, per_class_metrics
from .base import register

__all__ = [
    "BoundaryAnalyzer",
]

_kernels = _lazy_kernels("segscope.metrics._boundary_kernels")

_KEEP_SCRATCH_PIXELS = 1 << 24  # scratch masks of images up to this size are reused

# ====================================================================== the analyzer
@register
class BoundaryAnalyzer:
    """Boundary IoU, boundary F-score and trimap metrics as an analysis of ``segscope evaluate``.

    State (additive integers): per-class band intersections and unions, band and valid pixel
    totals, the band widths and tolerances used (``{value: images}``), per-class sums of the
    per-image boundary F-scores (fixed point, units of 2**-40, so that any merge order gives the
    same number) with the number of images where each is defined, and the trimap confusion
    counts per width. With more than :data:`~segscope.metrics.confusion.DENSE_STATE_CLASSES`
    classes the kernels run on the classes present in the image and the class-indexed counts
    are :class:`~segscope.metrics.confusion.PairCounts`.

    Examples
    --------
    >>> from segscope import Evaluation, EvalConfig
    >>> ev = Evaluation(2, EvalConfig(analyses=("boundary",), boundary_px=1, trimap=(1,)))
    >>> _ = ev.update([[0, 1, 1, 1]] * 4, [[0, 0, 1, 1]] * 4)
    >>> m = ev.compute()
    >>> m["per_class"]["1"]["boundary_iou"], m["mboundary_iou"]
    (0.5, 0.5)
    """

    name = "boundary"
    needs = ("core",)  # the pooled confusion counts, for min(IoU, Boundary IoU)
    keys = ("mboundary_iou", "mbf_score", "boundary_band_share", "trimap")
    optional = True

    def __init__(self, spec, config):
        from ...classes import validate_exclude

        self.spec = spec
        self.config = config
        self.k = spec.num_classes
        self.exclude = validate_exclude(spec, config.exclude)
        self.widths = trimap_widths(config.trimap) if config.trimap else np.zeros(0, np.int64)
        self.sparse = self.k > DENSE_STATE_CLASSES
        self._half_cache: dict[float, np.ndarray] = {}
        self._local = threading.local()  # per-thread scratch masks, reused image after image

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _half(self, theta: float) -> np.ndarray:
        half = self._half_cache.get(theta)
        if half is None:
            half = self._half_cache[theta] = disk_half_widths(theta)
        return half

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx) -> tuple[dict, dict, None]:
        k = self.k
        pred = as_labels(pred, "pred")
        gt = as_labels(gt, "gt")
        exclude = list(self.exclude)
        sub = None
        if self.sparse:
            sub, pred, gt = ctx.classes_present(pred, gt)
            k = sub.m
            exclude = [int(c) for c in sub.compact(exclude) if c >= 0]
        d = boundary_width(gt.shape, self.config.boundary_ratio, self.config.boundary_px)
        theta = bf_tolerance(gt.shape, self.config.bf_ratio)
        inter = np.zeros(k, np.int64)
        gband = np.zeros(k, np.int64)
        pband = np.zeros(k, np.int64)
        valid = np.zeros(1, np.int64)
        bf = np.zeros((k, 4), np.int64)
        nw = len(self.widths)
        tri = np.zeros((nw + 1, k + 1, k + 2), np.int64)
        if gt.size:
            scratch = getattr(self._local, "masks", None)
            if scratch is None or scratch.shape != gt.shape:
                scratch = np.empty(gt.shape, np.uint8)
                # kept for the next image of this size, unless it is huge: then the later
                # analyses of this image get the memory back
                self._local.masks = scratch if gt.size <= _KEEP_SCRATCH_PIXELS else None
            boundary_raw(pred, gt, k, d, self.widths * self.widths, inter, gband, pband, valid, tri, scratch)
            _kernels.bf_kernel(pred, gt, k, self._half(min(theta, covering_radius(gt.shape))), bf)
        union = gband + pband - inter
        bf_image = bf_from_counts(bf)
        defined = np.isfinite(bf_image)
        # image level: classes present in this image's GT, as for the image mIoU
        keep = gband > 0  # a class present in the GT always has a non-empty band
        keep[exclude] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            biou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        bf_keep = np.ones(k, bool)
        bf_keep[exclude] = False
        row = {
            "boundary_px": d,
            "boundary_miou": nanmean(biou, keep),
            "mbf_score": nanmean(bf_image, bf_keep),
        }
        state = {
            "inter": inter,
            "union": union,
            "band_pixels": int(gband.sum()),
            "valid_pixels": int(valid[0]),
            "px_used": {str(d): 1},
            "theta_used": {repr(round(theta, 4)): 1},
            "bf_sum": np.where(defined, np.rint(np.where(defined, bf_image, 0) * BF_SCALE), 0).astype(np.int64),
            "bf_count": defined.astype(np.int64),
            "trimap": np.cumsum(tri[:-1], axis=0) if nw else tri[:0],
        }
        if sub is not None:
            for key in ("inter", "union", "bf_sum", "bf_count"):
                state[key] = sub.sparse(state[key])
            state["trimap"] = sub.sparse(state["trimap"], (1, 2)) if nw else np.zeros((0, self.k + 1, self.k + 2),
                                                                                       np.int64)
        return state, row, None

    def finalize(self, states, sink) -> dict:
        k = self.k
        names = self.spec.names
        state = states[self.name]
        region_iou = per_class_metrics(states["core"]["counts"])["iou"]
        inter = np.asarray(state["inter"], np.int64)
        union = np.asarray(state["union"], np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            biou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        # boundary F-score: mean over the images where it is defined (fixed-point sums: exact
        # integer addition, so any merge order gives the same number)
        count = np.asarray(state["bf_count"], np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            bf = np.where(count > 0, np.asarray(state["bf_sum"], np.float64) / BF_SCALE / np.maximum(count, 1), np.nan)
        per_class: dict = {}
        metrics: dict = {"per_class": per_class}
        keep = np.ones(k, bool)
        keep[list(self.exclude)] = False
        for i, name in enumerate(names):
            entry = per_class[name] = {}
            b = finite_or_none(biou[i])
            iou = finite_or_none(region_iou[i])
            entry["boundary_iou"] = b
            entry["min_iou_boundary_iou"] = None if b is None or iou is None else min(iou, b)
            entry["bf_score"] = finite_or_none(bf[i])
            entry["boundary_intersection"] = int(inter[i])
            entry["boundary_union"] = int(union[i])
        share = state["band_pixels"] / state["valid_pixels"] if state["valid_pixels"] else float("nan")
        metrics["mboundary_iou"] = finite_or_none(nanmean(biou, keep))
        metrics["mbf_score"] = finite_or_none(nanmean(bf, keep))
        metrics["boundary_band_share"] = finite_or_none(share)
        trimap = {}
        counts = state["trimap"]
        if isinstance(counts, PairCounts):
            counts = [counts.take(i) for i in range(len(self.widths))]
        for w, ext in zip(self.widths.tolist(), counts):
            s = trimap_summary(ext, self.exclude)
            trimap[str(w)] = {"miou": finite_or_none(s["miou"]), "pixel_accuracy": finite_or_none(s["pixel_accuracy"]),
                              "pixels": s["pixels"]}
        metrics["trimap"] = trimap
        config = metrics["config"] = {}
        config["boundary_px_used"] = sorted(int(v) for v in state["px_used"])
        config["bf_tolerance_px_used"] = sorted(float(v) for v in state["theta_used"])
        config["trimap"] = self.widths.tolist()
        if math.isfinite(share) and share > BAND_WARN_SHARE:
            warnings.warn(
                f"the boundary band covers {100 * share:.0f}% of the labelled pixels, so Boundary IoU is "
                f"close to plain IoU; use a smaller --boundary-ratio (e.g. 0.005 for Cityscapes-sized "
                f"images) or --boundary-px",
                BoundaryWidthWarning,
                stacklevel=2,
            )
        return metrics

    def write(self, states, metrics, sink, out_dir) -> None:
        """No files of its own: its figures are in ``metrics.json`` and ``per_image.csv``."""
