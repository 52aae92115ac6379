"""What to improve next: exact IoU gains of fixing each kind of error, ranked recommendations with
the rule behind each, and failure cases ranked per image by their dominant error type.

Gains are computed from counts, not guessed. A *scenario* repairs a set of error pixels (their
prediction set to the GT class); per class, ``TP' = TP + repaired pixels of that GT class``,
``FN' = FN − the same``, ``FP' = FP − repaired pixels predicted as that class``, and IoU' =
TP' / (TP' + FP' + FN'). The scenarios (see :data:`segscope.metrics.breakdown.FIX_SCENARIOS`):

- ``boundary``: every pixel that is a boundary error of its GT or of its predicted class;
- ``extent``: the same for extent errors;
- ``missed_segments``: every FN-segment pixel (the missed segments found);
- ``invented_segments``: every FP-segment pixel (the invented segments removed).

Resolving a confusion pair (GT a predicted as b) repairs exactly the pixels of that matrix cell.
"""

from __future__ import annotations

import math

import numpy as np

from .._numbers import is_number, number_or_none
from ..metrics.breakdown import ERROR_TYPES, FIX_SCENARIOS

__all__ = [
    "iou_from",
    "mean_iou",
    "scenario_gains",
    "pair_gain",
    "top_confusions",
    "recommend",
    "rank_failure_cases",
    "dominant_error",
]


def iou_from(tp, fp, fn) -> np.ndarray:
    """IoU per class, NaN where the union is empty."""
    tp = np.asarray(tp, np.float64)
    u = tp + np.asarray(fp, np.float64) + np.asarray(fn, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u > 0, tp / np.where(u > 0, u, 1), np.nan)


def mean_iou(iou, keep=None) -> float:
    v = np.asarray(iou, np.float64)
    if keep is not None:
        v = v[np.asarray(keep, bool)]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def scenario_gains(tp, fp, fn, fixed_gt, fixed_pred, keep=None) -> dict:
    """Per scenario: the IoU of every class after the repair, its gain, and the mIoU gain.

    ``fixed_gt``/``fixed_pred``: (S, K) repaired pixels by GT / predicted class per scenario.

    >>> g = scenario_gains([8, 4], [2, 1], [1, 2], [[1, 2]], [[2, 1]])
    >>> g["boundary"]["iou_after"].tolist(), round(g["boundary"]["miou_gain"], 4)
    ([1.0, 1.0], 0.3506)
    """
    tp = np.asarray(tp, np.int64)
    fp = np.asarray(fp, np.int64)
    fn = np.asarray(fn, np.int64)
    base = iou_from(tp, fp, fn)
    m0 = mean_iou(base, keep)
    out = {}
    for s, name in enumerate(FIX_SCENARIOS[: len(fixed_gt)]):
        fg = np.asarray(fixed_gt[s], np.int64)
        fpd = np.asarray(fixed_pred[s], np.int64)
        after = iou_from(tp + fg, fp - fpd, fn - fg)
        out[name] = {
            "iou_after": after,
            "iou_gain": np.where(np.isfinite(base), np.nan_to_num(after, nan=0.0) - base, np.nan),
            "miou_after": mean_iou(after, keep),
            "miou_gain": mean_iou(after, keep) - m0,
            "pixels": int(fg.sum()),
        }
    return out


def pair_gain(tp, fp, fn, a: int, b: int, n: int, keep=None) -> tuple[float, float, float]:
    """IoU gains of classes a and b and the mIoU gain when the n pixels of GT a predicted as b
    are predicted as a.

    >>> [round(x, 4) for x in pair_gain([8, 4], [2, 1], [1, 2], 1, 0, 2)]
    [0.2857, 0.1616, 0.2237]
    """
    tp = np.asarray(tp, np.int64).copy()
    fp = np.asarray(fp, np.int64).copy()
    fn = np.asarray(fn, np.int64).copy()
    before = iou_from(tp, fp, fn)
    tp[a] += n
    fn[a] -= n
    fp[b] -= n
    after = iou_from(tp, fp, fn)
    return (
        float(np.nan_to_num(after[a]) - before[a]),
        float(np.nan_to_num(after[b], nan=0.0) - before[b]) if np.isfinite(before[b]) else float("nan"),
        mean_iou(after, keep) - mean_iou(before, keep),
    )


def top_confusions(
    conf_fn: np.ndarray, conf_fp: np.ndarray, tp, fp, fn, names, pair_images=None, keep=None,
    top_k: int = 20, drill_k: int = 5,
) -> list[dict]:
    """The most costly (GT a → predicted b) pairs, largest first.

    ``conf_fn``: (3, K, K+1) FN pixels by type; ``conf_fp``: (3, K, K) the same pixels typed as FP
    of the predicted class. ``pair_images``: list of (image id, rows (a, b, n)) for the
    drill-down. Each entry: pixels, the share of a's FN and of b's FP, the error types on both
    sides, the exact IoU/mIoU gain of resolving it, and the images where it costs most.
    """
    k = len(names)
    total = np.asarray(conf_fn)[:, :, :k].sum(0)
    np.fill_diagonal(total, 0)
    flat = np.argsort(-total, axis=None, kind="stable")
    fn = np.asarray(fn)
    fp = np.asarray(fp)
    out = []
    picks = []
    for idx in flat[:top_k].tolist():
        a, b = divmod(idx, k)
        n = int(total[a, b])
        if n <= 0:
            break
        picks.append((a, b, n))
    drill = _drill(pair_images or [], {(a, b) for a, b, _ in picks}, drill_k)
    for a, b, n in picks:
        ga, gb, gm = pair_gain(tp, fp, fn, a, b, n, keep)
        out.append({
            "gt": names[a],
            "pred": names[b],
            "pixels": n,
            "share_of_gt_errors": n / int(fn[a]) if fn[a] else None,
            "share_of_pred_errors": n / int(fp[b]) if fp[b] else None,
            "fn_types": {t: int(conf_fn[i, a, b]) for i, t in enumerate(ERROR_TYPES)},
            "fp_types": {t: int(conf_fp[i, a, b]) for i, t in enumerate(ERROR_TYPES)},
            "iou_gain_gt": ga,
            "iou_gain_pred": gb,
            "miou_gain": gm,
            "images": drill.get((a, b), []),
        })
    return out


def _drill(pair_images, wanted: set, drill_k: int) -> dict:
    found: dict = {key: [] for key in wanted}
    for image_id, rows in pair_images:
        rows = np.asarray(rows).reshape(-1, 3)
        for a, b, n in rows.tolist():
            if (a, b) in found:
                found[(a, b)].append((n, image_id))
    return {
        key: [{"image": im, "pixels": n} for n, im in sorted(v, key=lambda t: (-t[0], t[1]))[:drill_k]]
        for key, v in found.items()
    }


def dominant_error(boundary: float, extent: float, segment: float) -> str:
    """The largest of the three shares ("none" when all are zero or undefined)."""
    vals = [(v if v is not None and math.isfinite(v) else 0.0) for v in (boundary, extent, segment)]
    if max(vals) <= 0:
        return "none"
    return ERROR_TYPES[int(np.argmax(vals))]


def rank_failure_cases(rows: list[dict], k: int = 10) -> tuple[list[dict], dict]:
    """Images ranked by their error share (1 − image mIoU), each with its dominant error type;
    and per type, the images ranked by that type's share."""
    def entry(r):
        return {
            "image": r["image"],
            "dominant_error": r.get("dominant_error", "none"),
            "error_share": number_or_none(r.get("error_share")),
            "boundary": number_or_none(r.get("e_boundary_ou")),
            "extent": number_or_none(r.get("e_extent_ou")),
            "segment": number_or_none(r.get("e_segment_ou")),
            "miou": number_or_none(r.get("miou")),
        }

    def key_of(name):
        return lambda r: (-(r.get(name) if is_number(r.get(name)) else -1.0), r["image"])

    usable = [r for r in rows if is_number(r.get("error_share"))]
    ranked = [entry(r) for r in sorted(usable, key=key_of("error_share"))[:k] if r["error_share"] > 0]
    by_type = {}
    for t in ERROR_TYPES:
        col = f"e_{t}_ou"
        rs = [r for r in usable if is_number(r.get(col)) and r[col] > 0]
        by_type[t] = [entry(r) for r in sorted(rs, key=key_of(col))[:k]]
    return ranked, by_type


# ---------------------------------------------------------------------- recommendations
ACTIONS = {
    "small_segments": "more data or oversampling of images with small '{c}' objects, a loss that weights "
                      "rare classes (class-balanced or focal), higher input resolution",
    "missed_segments": "'{c}' is missed as a whole: check how often it appears in the training data, "
                       "sample it more, and check its label definition",
    "invented_segments": "false alarms of '{c}': add hard negatives (look-alike regions) to training, "
                         "or raise its decision threshold",
    "boundary": "boundary errors of '{c}': a boundary-aware loss, higher-resolution output or a "
                "refinement head; check the labels' edge accuracy first",
    "extent": "found '{c}' regions are over- or under-grown: more context (larger receptive field, "
              "multi-scale), post-processing, and a review of how far '{c}' extends in the labels",
    "confusion": "'{c}' is predicted as '{b}': more examples that separate the two, hard-example "
                 "mining, and a check whether the label definitions overlap",
    "ambiguous": "annotators themselves disagree on '{c}' (inter-annotator IoU {x:.3f}): improve the "
                 "labelling guide before the model",
    "suspect_labels": "review the {n} suspect labels in suspect_labels.csv before training further",
    "annotation_jitter": "{x:.0%} of the boundary errors are thin slivers along GT edges: label jitter or a "
                         "1-2 px offset of the model; inspect a sample, judge boundaries with a tolerance "
                         "(boundary F-score) and clean the edges if the labels wander",
}


def recommend(
    names, tp, fp, fn, counts, gains: dict, pairs: list[dict], keep, seg: dict | None = None,
    bins=(0.001, 0.01), annotations: dict | None = None, limit: int = 10,
) -> list[dict]:
    """A short ranked list of recommendations, each with the rule that produced it.

    ``counts``: pooled (K, 7) error counts; ``gains``: :func:`scenario_gains` output; ``pairs``:
    :func:`top_confusions` output; ``seg``: :func:`segscope.metrics.segments.segment_metrics` output.
    Ranked by the exact mIoU gain of the repair behind each; at most ``limit`` of them, followed
    by the annotation notes (which have no model gain).
    """
    k = len(names)
    counts = np.asarray(counts, np.int64)
    tp = np.asarray(tp)
    keep = np.asarray(keep, bool)
    n_mean = max(1, int((keep & np.isfinite(iou_from(tp, fp, fn))).sum()))
    recs: list[dict] = []
    for c in range(k):
        if not keep[c]:
            continue
        e = {t: int(counts[c, 1 + 2 * i] + counts[c, 2 + 2 * i]) for i, t in enumerate(ERROR_TYPES)}
        total = sum(e.values())
        if total == 0:
            continue
        share = {t: e[t] / total for t in ERROR_TYPES}
        name = names[c]
        fn_s, fp_s = int(counts[c, 6]), int(counts[c, 5])
        if share["segment"] >= 0.5 and fn_s >= fp_s:
            small = None
            if seg is not None and seg["missed"][c].sum() > 0:
                small = float(seg["missed"][c, :-1].sum() / seg["missed"][c].sum())
            gain = _class_gain(gains, "missed_segments", c, n_mean)
            if small is not None and small >= 0.5 and len(bins):
                kind = "small_segments"
                rule = (f"segment errors are {share['segment']:.0%} of the errors of '{name}', mostly missed "
                        f"segments, and {small:.0%} of its missed segments are smaller than "
                        f"{100 * bins[-1]:g}% of the image")
            else:
                kind = "missed_segments"
                rule = (f"segment errors are {share['segment']:.0%} of the errors of '{name}' and missed "
                        f"segments ({fn_s} px) outweigh invented ones ({fp_s} px)")
            recs.append(_rec(kind, name, rule, gain, {"error_shares": share}))
        elif share["segment"] >= 0.5:
            recs.append(_rec("invented_segments", name,
                             f"segment errors are {share['segment']:.0%} of the errors of '{name}', mostly "
                             f"invented segments ({fp_s} px vs {fn_s} px missed)",
                             _class_gain(gains, "invented_segments", c, n_mean), {"error_shares": share}))
        if share["boundary"] >= 0.5:
            recs.append(_rec("boundary", name,
                             f"boundary errors are {share['boundary']:.0%} of the errors of '{name}'",
                             _class_gain(gains, "boundary", c, n_mean), {"error_shares": share}))
        if share["extent"] >= 0.5:
            recs.append(_rec("extent", name, f"extent errors are {share['extent']:.0%} of the errors of '{name}'",
                             _class_gain(gains, "extent", c, n_mean), {"error_shares": share}))
    for pr in pairs:
        sh = pr.get("share_of_gt_errors")
        if sh is not None and sh >= 0.25 and keep[names.index(pr["gt"])]:
            recs.append(_rec(
                "confusion", pr["gt"],
                f"{sh:.0%} of the missed pixels of '{pr['gt']}' are predicted as '{pr['pred']}' "
                f"({pr['pixels']} px)",
                pr["miou_gain"], {"pred": pr["pred"], "pixels": pr["pixels"]}, b=pr["pred"],
            ))
    recs.sort(key=lambda r: (-(r["miou_gain"] if r["miou_gain"] is not None else 0.0), r["kind"], r["class"] or ""))
    notes = []
    if annotations:
        for name, x in annotations.get("low_agreement", []):
            notes.append(_rec("ambiguous", name, f"inter-annotator IoU of '{name}' is {x:.3f} (below 0.9)",
                              None, {"inter_annotator_iou": x}, x=x))
        n = annotations.get("suspect_labels", 0)
        if n:
            notes.append(_rec("suspect_labels", None, f"{n} GT segments are contradicted by the model with "
                              f"mean probability of their label <= {annotations.get('suspect_max_prob', 0.1)}",
                              None, {"count": n}, n=n))
        x = annotations.get("sliver_share")
        if x is not None and x >= 0.5:
            notes.append(_rec("annotation_jitter", None,
                              f"slivers (<= {annotations.get('sliver_width', 2)} px thick) make up {x:.0%} of the "
                              f"boundary-error pixels", None, {"sliver_share": x}, x=x))
    out = recs[:limit] + notes
    for i, r in enumerate(out, 1):
        r["rank"] = i
    return out


def _class_gain(gains: dict, scenario: str, c: int, n_mean: int) -> float | None:
    g = gains.get(scenario)
    if g is None:
        return None
    v = float(g["iou_gain"][c])
    return v / n_mean if math.isfinite(v) else None


def _rec(kind, name, rule, gain, evidence, **fmt) -> dict:
    return {
        "rank": 0,
        "class": name,
        "kind": kind,
        "action": ACTIONS[kind].format(c=name, **fmt),
        "rule": rule,
        "miou_gain": gain,
        "evidence": evidence,
    }
