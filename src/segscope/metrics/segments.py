"""Small objects, missed and invented segments, and the instance-weighted iIoU.

A *GT segment* is an 8-connected component of one class in the GT (or, with instance masks, one
instance; GT pixels outside every instance fall back to components). Per segment:

- recall = its pixels predicted as its class / its size;
- IoU = those pixels / (its size + the false-positive pixels of the predicted components of its
  class that overlap it);
- *missed* when recall < ``miss_threshold`` (default 0.5).

Segments are binned by size relative to the image (``bins``: edges as fractions of H×W, default
(0.001, 0.01): < 0.1 %, 0.1–1 %, >= 1 %). An *invented segment* is a predicted component with no
pixel on GT of its class (and at least one valid pixel).

All per-segment facts come from one pass over the label images, never a scan of the image per
segment.

iIoU (Cityscapes): per class, ``iTP = Σ_i tp_i · w_i``, ``iFN = Σ_i (size_i − tp_i) · w_i`` with
``w_i = mean instance size of the class / size_i``, and ``iIoU = iTP / (iTP + FP + iFN)`` with the
class's plain (unweighted) FP pixels. The mean instance size is taken over the evaluated set.

With instance masks, the state also lists every GT instance as a row of :data:`INSTANCE_COLUMNS`:
its class, its pixels predicted as its class, its size, and its pixels predicted as any class of
its class's group (``groups``: a class → group array, such as the Cityscapes categories; without
groups each class is its own group).
"""

from __future__ import annotations

import math

import numpy as np

from .._lazy import kernels as _lazy_kernels
from .._numbers import ratio
from .breakdown import ImageErrors

__all__ = [
    "MAX_LISTED",
    "MISSED_COLUMNS",
    "INVENTED_COLUMNS",
    "bin_labels",
    "size_bins",
    "INSTANCE_COLUMNS",
    "instance_segments",
    "instance_rows",
    "image_segments",
    "segment_metrics",
    "iiou",
]

_kernels = _lazy_kernels("segscope.metrics._segments_kernels")

# At most this many missed / invented segments of one image are listed (largest first); the
# counts are always complete.
MAX_LISTED = 500


MISSED_COLUMNS = (
    "image", "class", "size", "relative_size", "y0", "x0", "y1", "x1", "recall", "iou", "predicted_as",
)


INVENTED_COLUMNS = ("image", "class", "size", "relative_size", "y0", "x0", "y1", "x1", "gt_under")

#: the columns of the instance rows (valid pixels of the instance; ``group_tp``: those predicted as
#: any class of its class's group)
INSTANCE_COLUMNS = ("class", "tp", "size", "group_tp")


def bin_labels(bins) -> list[str]:
    """Readable names of the size bins.

    >>> bin_labels((0.001, 0.01))
    ['<0.1%', '0.1-1%', '>=1%']
    """
    edges = [float(b) for b in bins]

    def pct(x):
        return f"{100 * x:g}%"

    if not edges:
        return ["all"]
    out = [f"<{pct(edges[0])}"]
    for a, b in zip(edges, edges[1:]):
        out.append(f"{100 * a:g}-{pct(b)}")
    out.append(f">={pct(edges[-1])}")
    return out


def size_bins(relative_size, bins) -> np.ndarray:
    """Bin index of each relative size (0 .. len(bins))."""
    return np.searchsorted(np.asarray(bins, dtype=np.float64), np.asarray(relative_size, np.float64), side="right")


def instance_segments(instances: np.ndarray, class_of_label, res: ImageErrors):
    """GT segments from a Cityscapes-style instance map.

    ``instances``: H×W ids; an id >= 1000 is instance ``id % 1000`` of label id ``id // 1000``.
    ``class_of_label``: maps an array of label ids to class indices (-1: not a scored class).
    GT pixels outside every instance keep their connected component.

    Returns ``(labels, n, cls, is_instance)``.
    """
    inst = np.asarray(instances)
    if inst.shape != res.gt_labels.shape:
        raise ValueError(f"instance map shape {inst.shape} differs from the masks' {res.gt_labels.shape}")
    n_g = res.gt_components["n"]
    labels = res.gt_labels.copy()
    cls = res.gt_components["cls"]
    sel = inst >= 1000
    if not sel.any():
        return labels, n_g, cls, np.zeros(n_g, bool)
    ids, inverse = np.unique(inst[sel], return_inverse=True)
    icls = np.asarray(class_of_label(ids // 1000), dtype=np.int64)
    ok = icls >= 0
    new = np.where(ok[inverse], n_g + inverse, labels[sel])
    labels[sel] = new
    n = n_g + len(ids)
    all_cls = np.concatenate([cls, np.where(ok, icls, -1)])
    is_inst = np.concatenate([np.zeros(n_g, bool), ok])
    return labels, n, all_cls, is_inst


def instance_rows(rows) -> np.ndarray:
    """Instance rows (a record's ``instances``) as an n × len(:data:`INSTANCE_COLUMNS`) int64 array."""
    return np.asarray(rows, np.int64).reshape(-1, len(INSTANCE_COLUMNS))


def _group_tp(seg, ids, cls, box, p, g, groups) -> np.ndarray:
    """Per segment of ``ids``, its valid pixels predicted as a class of its class's group,
    visiting only its bbox."""
    groups = np.asarray(groups, np.int64)
    out = np.zeros(len(ids), np.int64)
    for r, s in enumerate(ids.tolist()):
        y0, x0, y1, x1 = box[s]
        q = p[y0:y1, x0:x1]
        ok = (seg[y0:y1, x0:x1] == s) & (g[y0:y1, x0:x1] >= 0) & (q >= 0)
        out[r] = np.count_nonzero(groups[q[ok]] == groups[cls[s]])
    return out


def image_segments(
    res: ImageErrors, image_id: str, num_classes: int, bins=(0.001, 0.01), miss_threshold: float = 0.5,
    segments=None, return_facts: bool = False, groups=None,
):
    """Segment analysis of one image: ``(state, row)``, plus with ``return_facts`` the segments'
    ``(labels, n, cls, size, bbox)`` (``labels`` None for the GT components of ``res``: they are
    ``res.gt_labels``, drawn only when asked for).

    ``segments``: optional ``(labels, n, cls, is_instance)`` from :func:`instance_segments`;
    default: the GT components of ``res``. The state holds additive per-class×bin tallies and the
    lists of missed and invented segments (see :data:`MISSED_COLUMNS`, :data:`INVENTED_COLUMNS`),
    and with instances their rows (:data:`INSTANCE_COLUMNS`; ``groups``: the group of each class).
    """
    p, g = res.codes
    h, w = g.shape
    k = int(num_classes)
    area = max(1, h * w)
    nb = len(bins) + 1
    n_p = res.pred_components["n"]
    pcls = res.pred_components["cls"]
    if segments is None:
        # the GT components as runs; the label map only when the caller asks for the facts
        seg, n, cls, is_inst = None, res.gt_components["n"], res.gt_components["cls"], None
        size, tp, box, psize, ptp, pbox, links = res.segment_facts
    else:
        seg, n, cls, is_inst = segments
        cls = np.asarray(cls, dtype=np.int64)
        size, tp, box, psize, ptp, pbox, links = _kernels.segment_pass(seg, n, cls, res.pred_labels, n_p, pcls, p, g)
    cls = np.asarray(cls, dtype=np.int64)
    pfp = psize - ptp
    union = size.copy()
    if links.shape[1]:
        s_idx, q_idx = links
        if seg is not None:  # the segment pass repeats pairs; the breakdown's are distinct
            key = np.unique(links[0] * max(1, n_p) + links[1])
            s_idx, q_idx = key // max(1, n_p), key % max(1, n_p)
        union += np.bincount(s_idx, weights=pfp[q_idx].astype(np.float64), minlength=n).astype(np.int64)
    live = (size > 0) & (cls >= 0)
    rel = size / area
    b = size_bins(rel, bins)
    recall = np.where(size > 0, tp / np.maximum(size, 1), 0.0)
    missed = live & (recall < miss_threshold)
    flat = cls * nb + b

    def tally(mask, weights=None):
        out = np.bincount(flat[mask], weights=None if weights is None else weights[mask].astype(np.float64),
                          minlength=k * nb)
        return out.astype(np.int64).reshape(k, nb)

    state = {
        "seg_n": tally(live),
        "seg_missed": tally(missed),
        "seg_tp": tally(live, tp),
        "seg_size": tally(live, size),
        "seg_union": tally(live, union),
    }
    # missed segments, largest first; invented segments: predicted components with no pixel on
    # GT of their class
    mi = np.nonzero(missed)[0]
    mi = mi[np.argsort(-size[mi], kind="stable")][:MAX_LISTED]
    inv = (ptp == 0) & (psize > 0)
    ii = np.nonzero(inv)[0]
    ii = ii[np.argsort(-psize[ii], kind="stable")][:MAX_LISTED]
    xptr, xr = res.pair_runs
    hist, phist = _kernels.pair_hists(xptr, xr, w, res.gt_runs[3], res.gt_components["cls"], res.pred_runs[3], pcls,
                                      mi if seg is None else mi[:0], res.segment_facts[2], ii, pbox, k + 1)
    missed_rows = []
    if mi.size:
        if seg is not None:
            hist = _kernels.label_hist(seg, mi, box, p, k + 1, g)
        at = np.arange(mi.size)
        hist[at, cls[mi]] = -1
        best = hist.argmax(1)
        pred_as = np.where((hist[at, best] <= 0) | (best == k), -1, best)
        u = union[mi]
        iou = np.where(u > 0, tp[mi] / np.maximum(u, 1), 0.0)
        missed_rows = list(zip(
            [image_id] * mi.size, cls[mi].tolist(), size[mi].tolist(), rel[mi].tolist(), *box[mi].T.tolist(),
            recall[mi].tolist(), iou.tolist(), pred_as.tolist(),
        ))
    inv_n = np.bincount(pcls[inv], minlength=k).astype(np.int64) if n_p else np.zeros(k, np.int64)
    inv_px = (np.bincount(pcls[inv], weights=psize[inv].astype(np.float64), minlength=k).astype(np.int64)
              if n_p else np.zeros(k, np.int64))
    invented_rows = []
    if ii.size:
        hist = phist[:, :k]
        under = np.where(hist.any(1), hist.argmax(1), -1)
        invented_rows = list(zip(
            [image_id] * ii.size, pcls[ii].tolist(), psize[ii].tolist(), (psize[ii] / area).tolist(),
            *pbox[ii].T.tolist(), under.tolist(),
        ))
    state.update({
        "invented_n": inv_n,
        "invented_px": inv_px,
        "missed": missed_rows,
        "invented": invented_rows,
    })
    if is_inst is not None:
        sel = live & np.asarray(is_inst, bool)
        group_tp = tp[sel] if groups is None else _group_tp(seg, np.nonzero(sel)[0], cls, box, p, g, groups)
        state["instances"] = [np.stack([cls[sel], tp[sel], size[sel], group_tp], axis=1).astype(np.int64)]
    n_live = int(live.sum())
    row = {
        "gt_segments": n_live,
        "missed_segments": int(missed.sum()),
        "missed_segment_rate": float(missed.sum() / n_live) if n_live else float("nan"),
        "invented_segments": int(inv.sum()),
    }
    if return_facts:
        return state, row, (seg, n, cls, size, box)
    return state, row


def segment_metrics(state: dict) -> dict:
    """Per class × bin arrays from the pooled segment state: count, missed, missed_rate, recall
    (pixel-pooled), iou (pooled segment IoU), and per class the overall missed rate."""
    n = state["seg_n"]
    return {
        "count": n,
        "missed": state["seg_missed"],
        "missed_rate": ratio(state["seg_missed"], n),
        "recall": ratio(state["seg_tp"], state["seg_size"]),
        "iou": ratio(state["seg_tp"], state["seg_union"]),
        "class_missed_rate": ratio(state["seg_missed"].sum(1), n.sum(1)),
    }


def iiou(items: np.ndarray, fp: np.ndarray, num_classes: int) -> np.ndarray:
    """Instance-weighted IoU per class from rows (class, tp, size, ...) of every instance and the
    classes' FP pixel counts; NaN for classes without instances.

    >>> items = np.array([[0, 10, 10], [0, 0, 90]])  # a found small and a missed large instance
    >>> float(np.round(iiou(items, np.array([0]), 1)[0], 3))
    0.5
    """
    out = np.full(num_classes, np.nan)
    items = np.asarray(items, np.int64)
    items = items.reshape(-1, 3) if items.ndim < 2 else items[:, :3]
    if not len(items):
        return out
    order = np.lexsort((items[:, 2], items[:, 1], items[:, 0]))
    items = items[order]
    for c in np.unique(items[:, 0]).tolist():
        rows = items[items[:, 0] == c]
        rows = rows[rows[:, 2] > 0]
        if not len(rows):
            continue
        avg = rows[:, 2].sum() / len(rows)
        itp = math.fsum((rows[:, 1] * avg / rows[:, 2]).tolist())
        ifn = math.fsum(((rows[:, 2] - rows[:, 1]) * avg / rows[:, 2]).tolist())
        den = itp + ifn + float(fp[c])
        out[c] = itp / den if den > 0 else np.nan
    return out
