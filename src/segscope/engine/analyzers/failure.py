"""The failure-analysis analyzer of ``segscope evaluate`` (analysis name ``errors``).

Per image it runs the exact error breakdown (:mod:`segscope.metrics.breakdown`), the segment analysis
(:mod:`segscope.metrics.segments`) and the annotation checks (:mod:`segscope.metrics.annotations`); at the end it
turns the pooled counts into the keys of ``metrics.json`` described in ``docs/failure-analysis.md``
and writes ``confusion_by_type.npz``, ``confusion_pairs.json``, ``missed_segments.csv``,
``invented_segments.csv``, ``per_image_errors.npz`` and (with ``--probs``) ``suspect_labels.csv``.
"""

from __future__ import annotations

import heapq
import itertools
from operator import itemgetter
from pathlib import Path
from typing import Mapping

import numpy as np

from ..._numbers import finite_or_none, is_number, share
from ...analysis import recommend as rec
from ...classes import ClassSpec, validate_exclude
from ...exceptions import SegscopeError
from ...io.files import AuxIndex
from ...io.masks import load_probs, read_mask
from ...io.results import write_json
from ...io.tables import round_repr, write_csv
from ...metrics import annotations as ann
from ...metrics import segments as segs
from ...metrics.breakdown import (
    COUNT_KEYS,
    ERROR_TYPES,
    RATIO_KEYS,
    SLIVER_MAX_WIDTH,
    to_codes,
    analyze_image,
    band_width,
    error_means,
    error_ratios,
)
from ...metrics.confusion import (
    DENSE_MATRIX_CLASSES,
    DENSE_STATE_CLASSES,
    ClassSubset,
    PairCounts,
    dense_counts,
    present_classes,
)
from ...metrics.conventions import cityscapes_groups
from ...metrics.region import image_miou
from ..sinks import Sink, TopK, chunked, write_npz
from .base import register

__all__ = [
    "TOP_PAIRS",
    "ErrorAnalyzer",
]

TOP_PAIRS = 50
# the rankings of failure cases: per-image column -> the state key of its TopK
_RANKINGS = {"error_share": "error_share", **{f"e_{t}_ou": t for t in ERROR_TYPES}}
_CASE_KEYS = ("image", "dominant_error", "error_share", "e_boundary_ou", "e_extent_ou", "e_segment_ou", "miou")


@register
class ErrorAnalyzer:
    """Failure analysis: error breakdown, confusion by error type, segments, annotations, gains.

    State: additive counts, the band widths used, and bounded rankings (:class:`TopK`) of the
    failure cases and of the images with most slivers. Record of an image: its per-class error
    counts, its confusion pairs, its missed and invented segments (and instances, suspect labels).
    """

    name = "errors"
    needs = ("core",)  # the image's confusion counts, for the image mIoU of failure cases
    keys = ("error_breakdown", "confusion_pairs", "segments", "annotations", "improvements", "recommendations",
            "failure_cases", "failure_cases_by_type")
    optional = True

    def __init__(self, spec: ClassSpec, config):
        self.spec = spec
        self.config = config
        self.k = spec.num_classes
        self.exclude = validate_exclude(spec, config.exclude)
        self.bins = tuple(float(b) for b in config.segment_bins)  # validated by EvalConfig
        self._aux: dict[str, AuxIndex] = {}
        self.sparse = self.k > DENSE_STATE_CLASSES
        self.groups = cityscapes_groups(spec.names)  # the categories of the instance rows' group_tp

    def _index(self, kind: str) -> AuxIndex | None:
        folder = {"instances": self.config.instances_dir, "gt2": self.config.gt2_dir,
                  "probs": self.config.probs_dir}[kind]
        if not folder:
            return None
        if kind not in self._aux:
            suffixes = (".npy", ".npz") if kind == "probs" else (".png", ".npy", ".bmp", ".tif", ".tiff")
            what = {"instances": "instance mask", "gt2": "second annotation", "probs": "probabilities"}[kind]
            self._aux[kind] = AuxIndex(folder, suffixes, what)
        return self._aux[kind]

    def _class_of_label(self, lids: np.ndarray) -> np.ndarray:
        lids = np.asarray(lids, np.int64)
        out = np.full(lids.shape, -1, np.int64)
        ok = (lids >= 0) & (lids < 65536)
        if ok.any():
            idx = np.asarray(self.spec.to_index(lids[ok].astype(np.uint16 if lids.max() > 255 else np.uint8), "gt"),
                             np.int64)
            idx[(idx < 0) | (idx >= self.k)] = -1
            out[ok] = idx
        return out

    # ------------------------------------------------------------------ per image
    def image(self, pred: np.ndarray, gt: np.ndarray, ctx) -> tuple[dict, dict, dict]:
        k = self.k
        cfg = self.config
        ign = self.spec.index_ignore
        image_id = ctx.image_id
        inst = raw2 = None
        inst_index = self._index("instances")
        if inst_index is not None:
            inst_path = inst_index.find(image_id)
            inst = read_mask(inst_path)
            if inst.shape != np.shape(gt):
                raise SegscopeError(f"instance mask size {inst.shape} differs from the GT's {np.shape(gt)}", inst_path)
        gt2_index = self._index("gt2")
        if gt2_index is not None:
            path = gt2_index.find(image_id)
            raw2 = self.spec.to_index(read_mask(path, self.spec), "gt")
            if raw2.shape != np.shape(gt):
                raise SegscopeError(f"second annotation size {raw2.shape} differs from the GT's {np.shape(gt)}", path)
        class_of_label = self._class_of_label
        sub = None
        if self.sparse:
            # the kernels see only the classes of this image (its masks and instances)
            if inst is None and raw2 is None:
                sub, pred, gt = ctx.classes_present(pred, gt)
            else:
                extra = self._class_of_label(np.unique(inst[inst >= 1000]) // 1000) if inst is not None else ()
                sub = ClassSubset.of((pred, gt) if raw2 is None else (pred, gt, raw2), k, extra)
                pred, gt = sub.recode(pred, ign), sub.recode(gt, ign)
                raw2 = None if raw2 is None else sub.recode(raw2, ign)
            k, ign = sub.m, sub.ignore

            def class_of_label(lids):
                return sub.compact(self._class_of_label(lids))

        p, g = to_codes(pred, gt, k, ign, allow_unknown_pred=True, allow_unknown_gt=True)
        d = band_width(g.shape, cfg.error_band_px, cfg.error_band_ratio)
        res = analyze_image(p, g, k, d, maps=False)
        counts = res.counts
        total = res.conf_fn[:, :, :k].sum(0)
        np.fill_diagonal(total, 0)
        a_idx, b_idx = np.nonzero(total)
        if sub is not None:
            pairs = np.stack([sub.classes[a_idx], sub.classes[b_idx], total[a_idx, b_idx]], axis=1).astype(np.int64)
        else:
            pairs = np.stack([a_idx, b_idx, total[a_idx, b_idx]], axis=1).astype(np.int64)
        state = {
            "counts": counts,
            "conf_fn": res.conf_fn,
            "conf_fp": res.conf_fp,
            "fixed_gt": res.fixed_gt,
            "fixed_pred": res.fixed_pred,
            "sliver_px": res.sliver_px,
            "band_px_used": {str(int(res.band_px)): 1},
        }
        record = {"counts": counts if sub is None else sub.scatter(counts), "pairs": pairs}
        exclude = list(self.exclude) if sub is None else [int(c) for c in sub.compact(list(self.exclude)) if c >= 0]
        row = self._image_row(counts, res, exclude)
        # segments (components, or instances)
        segments = None
        if inst is not None:
            segments = segs.instance_segments(inst, class_of_label, res)
        groups = self.groups if self.groups is None or sub is None else self.groups[sub.classes]
        seg_state, seg_row, facts = segs.image_segments(
            res, image_id, k, self.bins, float(cfg.miss_threshold), segments, return_facts=True, groups=groups
        )
        record["missed"] = seg_state.pop("missed")
        record["invented"] = seg_state.pop("invented")
        if "instances" in seg_state:
            record["instances"] = seg_state.pop("instances")[0]
        state["segments"] = seg_state
        row.update(seg_row)
        # a second annotation
        if raw2 is not None:
            _, g2 = to_codes(raw2, raw2, k, ign, allow_unknown_pred=True, allow_unknown_gt=True)
            agree = ann.agreement_counts(p, g, g2, k)
            state["gt2"] = agree
            a = agree["ambiguous"]
            row["ambiguous_pixels"] = int(a[:, 0].sum() + a[:, 2].sum())
            errs = int(counts[:, 1:].sum())
            row["ambiguous_error_share"] = float((a[:, 1].sum() + a[:, 2].sum()) / errs) if errs else float("nan")
        # model probabilities
        probs = ctx.extras.get("probs")  # K×H×W probabilities held in memory (segscope.torch)
        probs_index = self._index("probs") if probs is None else None
        if probs_index is not None:
            path = probs_index.find(image_id)
            probs = load_probs(path, self.k, g.shape)
        if probs is not None:
            seg, n, cls, size, box = facts
            seg = res.gt_labels if seg is None else seg
            if sub is not None:
                cls = np.where(cls >= 0, sub.classes[np.maximum(cls, 0)], -1)
            sus = ann.suspect_labels(image_id, seg, n, cls, size, box, g, probs)
            state["suspect_count"] = len(sus)
            record["suspects"] = sus
            row["suspect_labels"] = len(sus)
        if sub is not None:
            self._to_spec_classes(sub, state, record)
        state.update(self._rankings(image_id, row, image_miou(ctx.states["core"]["counts"], self.exclude)))
        return state, row, record

    @staticmethod
    def _to_spec_classes(sub: ClassSubset, state: dict, record: dict) -> None:
        """Put one image's compact-class results at the spec's class indices: class-indexed
        counts as :class:`PairCounts`, class ids of listed rows mapped back."""
        classes = sub.classes

        def spec_class(c):
            return int(classes[c]) if c >= 0 else -1

        for key, axes in (("counts", (0,)), ("conf_fn", (1, 2)), ("conf_fp", (1, 2)), ("fixed_gt", (1,)),
                          ("fixed_pred", (1,)), ("sliver_px", (0,))):
            state[key] = sub.sparse(state[key], axes)
        seg = state["segments"]
        for key in list(seg):
            seg[key] = sub.sparse(seg[key])
        if "gt2" in state:
            state["gt2"] = {"conf2": sub.sparse(state["gt2"]["conf2"], (0, 1)),
                            "ambiguous": sub.sparse(state["gt2"]["ambiguous"])}
        record["missed"] = [(r[0], spec_class(r[1]), *r[2:10], spec_class(r[10])) for r in record["missed"]]
        record["invented"] = [(r[0], spec_class(r[1]), *r[2:8], spec_class(r[8])) for r in record["invented"]]
        if "instances" in record:
            items = np.asarray(record["instances"]).copy()
            if items.size:
                items[:, 0] = classes[items[:, 0]]
            record["instances"] = items

    def _rankings(self, image_id: str, row: dict, miou: float) -> dict:
        """This image's entries in the bounded rankings: failure cases (as
        :func:`~segscope.analysis.recommend.rank_failure_cases` ranks them) and slivers."""
        k = self.config.worst_k
        case = {key: row.get(key) for key in _CASE_KEYS[:-1]}
        case["image"] = image_id
        case["miou"] = miou
        usable = is_number(row.get("error_share"))
        cases = {}
        for col, key in _RANKINGS.items():
            v = row.get(col)
            take = usable and (col == "error_share" or (is_number(v) and v > 0))
            # one dict shared by every ranking the image enters: equal by identity when merged back
            cases[key] = TopK.of(k, (-v, image_id) if take else None, case)
        sliver = row.get("sliver_px")
        return {
            "cases": cases,
            "slivers": TopK.of(k, (-sliver, image_id) if sliver else None, {"image": image_id, "sliver_px": sliver}),
        }

    def _image_row(self, counts: np.ndarray, res, exclude: list) -> dict:
        r = error_ratios(counts)
        gt_px = counts[:, 0] + counts[:, 2] + counts[:, 4] + counts[:, 6]
        keep = gt_px > 0
        keep[exclude] = False
        row: dict = {}
        for key in RATIO_KEYS:
            v = r[key][keep]
            v = v[np.isfinite(v)]
            row[key] = float(v.mean()) if v.size else float("nan")
        iou = r["iou"][keep]
        iou = iou[np.isfinite(iou)]
        row["error_share"] = float(1.0 - iou.mean()) if iou.size else float("nan")
        row["dominant_error"] = rec.dominant_error(row["e_boundary_ou"], row["e_extent_ou"], row["e_segment_ou"])
        for i, t in enumerate(ERROR_TYPES):
            row[f"err_{t}_px"] = int(counts[:, 1 + 2 * i].sum() + counts[:, 2 + 2 * i].sum())
        row["error_band_px"] = res.band_px
        row["sliver_px"] = int(res.sliver_px.sum())
        return row

    # ------------------------------------------------------------------ the end
    def _keep(self) -> np.ndarray:
        keep = np.ones(self.k, bool)
        keep[list(self.exclude)] = False
        return keep

    def _confusions(self, state: dict, sink: Sink, drill_k: int = 5) -> list[dict]:
        """:func:`~segscope.analysis.recommend.top_confusions` of the pooled counts, with the
        drill-down images read from the records: per pair only the ``drill_k`` images where it
        costs most are kept while reading, so memory does not grow with the run."""
        names = list(self.spec.names)
        counts = np.asarray(state["counts"], np.int64)
        tp = counts[:, 0]
        fp = counts[:, 1] + counts[:, 3] + counts[:, 5]
        fn = counts[:, 2] + counts[:, 4] + counts[:, 6]
        keep = self._keep()
        local = None
        if self.sparse:
            # only classes with pixels can be confused: the pairs of the classes present
            sub = self._present(counts)
            if not sub.m:
                return []
            conf_fn, conf_fp = sub.gather(state["conf_fn"], (1, 2)), sub.gather(state["conf_fp"], (1, 2))
            at = sub.classes
            tp, fp, fn, keep = tp[at], fp[at], fn[at], keep[at]
            names = [names[c] for c in at.tolist()]
            local = {c: i for i, c in enumerate(at.tolist())}
        else:
            conf_fn = np.asarray(state["conf_fn"])
            conf_fp = np.asarray(state["conf_fp"])
        picks = rec.top_confusions(conf_fn, conf_fp, tp, fp, fn, names, None, keep, top_k=TOP_PAIRS, drill_k=drill_k)
        index = {name: i for i, name in enumerate(names)}
        found: dict[tuple[int, int], list] = {(index[p["gt"]], index[p["pred"]]): [] for p in picks}

        def by_cost(t):
            return -t[0], t[1]

        for image_id, r in zip(sink.ids(), sink.records(self.name)):
            for a, b, n in np.asarray(r["pairs"]).reshape(-1, 3).tolist():
                if local is not None:
                    a, b = local.get(a, -1), local.get(b, -1)
                kept = found.get((a, b))
                if kept is not None:
                    kept.append((n, image_id))
                    if len(kept) > 4 * drill_k:
                        kept[:] = sorted(kept, key=by_cost)[:drill_k]  # stable: ties keep arrival order
        pair_images = [(image_id, [(a, b, n)]) for (a, b), kept in found.items()
                       for n, image_id in sorted(kept, key=by_cost)[:drill_k]]
        return rec.top_confusions(conf_fn, conf_fp, tp, fp, fn, names, pair_images, keep,
                                  top_k=TOP_PAIRS, drill_k=drill_k)

    def _present(self, counts: np.ndarray) -> ClassSubset:
        """The classes with pixels (a non-empty union) in pooled error counts."""
        return ClassSubset(np.flatnonzero(counts.sum(1) > 0), self.k)

    def _pooled(self, state: dict) -> dict:
        """The pooled state with its per-class counts dense (length K); the class × class
        confusions stay as they are (:class:`PairCounts` with many classes)."""
        if not self.sparse:
            return state
        out = dict(state)
        for key in ("counts", "fixed_gt", "fixed_pred", "sliver_px"):
            out[key] = dense_counts(state[key])
        out["segments"] = {key: dense_counts(v) for key, v in state["segments"].items()}
        if "gt2" in state:
            out["gt2"] = {"conf2": state["gt2"]["conf2"], "ambiguous": dense_counts(state["gt2"]["ambiguous"])}
        return out

    def _confused_with(self, state: dict, counts: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per class with FN pixels: the classes its GT pixels were predicted as, and how many."""
        k = self.k
        if self.sparse:
            sub = self._present(counts)
            if not sub.m:
                return {}
            total = sub.gather(state["conf_fn"], (1, 2))[:, :, : sub.m].sum(0)
            at = sub.classes
        else:
            total = np.asarray(state["conf_fn"])[:, :, :k].sum(0)
            at = np.arange(k)
        return {int(c): (at, total[i]) for i, c in enumerate(at.tolist())}

    def _agreement(self, state: dict, tp, fp, fn) -> dict:
        """:func:`~segscope.metrics.annotations.agreement_metrics` of the pooled counts."""
        conf2, amb = state["gt2"]["conf2"], state["gt2"]["ambiguous"]
        if not self.sparse:
            return ann.agreement_metrics(conf2, amb, tp, fp, fn)
        k = self.k
        at = np.union1d(np.flatnonzero((tp + fp + fn) > 0), present_classes((conf2, (0, 1), k)))
        if not at.size:
            at = np.zeros(1, np.int64)
        sub = ClassSubset(at, k)
        part = ann.agreement_metrics(sub.gather(conf2, (0, 1)), amb[at], tp[at], fp[at], fn[at])
        return {key: sub.scatter(v, fill=0 if key == "ambiguous_pixels" else np.nan) for key, v in part.items()}

    def _listed(self, sink: Sink, key: str):
        """Every image's ``key`` rows (missed / invented segments, suspects), in arrival order."""
        return (row for r in sink.records(self.name) for row in r.get(key, ()))

    def _by_image(self, sink: Sink, key: str, sort_key):
        """The ``key`` rows of every image, images in id order, each image's rows by ``sort_key``
        (the order of one stable sort of all rows by (image, sort_key))."""
        pairs = zip(sink.ids("sorted"), sink.records(self.name, "sorted"))
        for _, group in itertools.groupby(pairs, key=itemgetter(0)):
            rows = [row for _, r in group for row in r.get(key, ())]
            rows.sort(key=sort_key)
            yield from rows

    def finalize(self, states: Mapping[str, dict], sink: Sink) -> dict:
        names = list(self.spec.names)
        k = self.k
        state = self._pooled(states[self.name])
        metrics: dict = {}
        counts = np.asarray(state["counts"], np.int64)
        keep = self._keep()
        ratios = error_ratios(counts)
        tp = counts[:, 0]
        fp = counts[:, 1] + counts[:, 3] + counts[:, 5]
        fn = counts[:, 2] + counts[:, 4] + counts[:, 6]
        gains = rec.scenario_gains(tp, fp, fn, state["fixed_gt"], state["fixed_pred"], keep)
        pairs = self._confusions(state, sink, drill_k=5)
        seg_state = state["segments"]
        sm = segs.segment_metrics(seg_state)
        labels = segs.bin_labels(self.bins)
        iiou = None
        if self.config.instances_dir:
            items = np.concatenate([segs.instance_rows(r["instances"]) for r in sink.records(self.name)] or
                                   [np.zeros((0, 3), np.int64)])
            iiou = segs.iiou(items, fp, k)
        agree = None
        if "gt2" in state:
            agree = self._agreement(state, tp, fp, fn)
        sliver = np.asarray(state["sliver_px"], np.int64)
        per_class = metrics["per_class"] = {}
        confused = self._confused_with(state, counts)
        for c, name in enumerate(names):
            entry = per_class[name] = {}
            entry["errors"] = {key: int(v) for key, v in zip(COUNT_KEYS, counts[c])}
            for key in RATIO_KEYS:
                entry[key] = finite_or_none(ratios[key][c])
            entry["iou_gain"] = {s: finite_or_none(g["iou_gain"][c]) for s, g in gains.items()}
            at, row = confused.get(c, (None, None))
            if row is None:
                entry["confused_with"] = []
            else:
                row = row.copy()
                row[at == c] = 0
                top = [int(j) for j in np.argsort(-row, kind="stable")[:3] if row[j] > 0]
                entry["confused_with"] = [
                    {"class": names[at[j]], "pixels": int(row[j]), "share_of_errors": share(row[j], fn[c])}
                    for j in top
                ]
            entry["segments"] = {
                "bins": labels,
                "count": sm["count"][c].tolist(),
                "missed": sm["missed"][c].tolist(),
                "missed_rate": [finite_or_none(x) for x in sm["missed_rate"][c]],
                "recall": [finite_or_none(x) for x in sm["recall"][c]],
                "iou": [finite_or_none(x) for x in sm["iou"][c]],
            }
            entry["missed_segment_rate"] = finite_or_none(sm["class_missed_rate"][c])
            entry["invented_segments"] = int(seg_state["invented_n"][c])
            entry["sliver_pixels"] = int(sliver[c])
            if iiou is not None:
                entry["iiou"] = finite_or_none(iiou[c])
            if agree is not None:
                for key in ("inter_annotator_iou", "ambiguous_error_share", "iou_unambiguous"):
                    entry[key] = finite_or_none(agree[key][c])
                entry["ambiguous_pixels"] = int(agree["ambiguous_pixels"][c])
        means = error_means(counts, keep)
        e_tot = {t: int(counts[:, 1 + 2 * i].sum() + counts[:, 2 + 2 * i].sum()) for i, t in enumerate(ERROR_TYPES)}
        all_err = sum(e_tot.values())
        breakdown = {key: finite_or_none(v) for key, v in means.items()}
        breakdown.update({
            "band_px": self.config.error_band_px,
            "band_ratio": None if self.config.error_band_px is not None else self.config.error_band_ratio,
            "error_pixels": {t: e_tot[t] for t in ERROR_TYPES},
            "error_shares": {t: (e_tot[t] / all_err if all_err else None) for t in ERROR_TYPES},
        })
        metrics["error_breakdown"] = breakdown
        metrics["confusion_pairs"] = pairs[:10]
        n_seg = int(seg_state["seg_n"].sum())
        n_missed = int(seg_state["seg_missed"].sum())
        tot = {key: seg_state[key].sum(0) for key in ("seg_n", "seg_missed", "seg_tp", "seg_size", "seg_union")}
        segments_out = {
            "source": "instances" if self.config.instances_dir else "components",
            "bins": list(self.bins),
            "bin_labels": labels,
            "miss_threshold": float(self.config.miss_threshold),
            "gt_segments": n_seg,
            "missed_segments": n_missed,
            "missed_segment_rate": n_missed / n_seg if n_seg else None,
            "invented_segments": int(seg_state["invented_n"].sum()),
            "invented_pixels": int(seg_state["invented_px"].sum()),
            "by_size": [
                {
                    "bin": labels[b],
                    "count": int(tot["seg_n"][b]),
                    "missed_rate": share(tot["seg_missed"][b], tot["seg_n"][b]),
                    "recall": share(tot["seg_tp"][b], tot["seg_size"][b]),
                    "iou": share(tot["seg_tp"][b], tot["seg_union"][b]),
                }
                for b in range(len(labels))
            ],
            "largest_missed": [self._missed_dict(r) for r in heapq.nsmallest(
                10, self._listed(sink, "missed"), key=lambda r: (-r[2], r[0], r[4], r[5]))],
        }
        if iiou is not None:
            segments_out["iiou"] = finite_or_none(rec.mean_iou(iiou, keep))
        metrics["segments"] = segments_out
        # annotations
        boundary_px = e_tot["boundary"]
        sliver_total = int(sliver.sum())
        jitter_rank = state["slivers"].values()
        annotations = {
            "slivers": {
                "max_width_px": SLIVER_MAX_WIDTH,
                "pixels": sliver_total,
                "share_of_boundary_errors": sliver_total / boundary_px if boundary_px else None,
                "share_of_errors": sliver_total / all_err if all_err else None,
                "images": [{"image": r["image"], "sliver_px": r["sliver_px"]} for r in jitter_rank],
            }
        }
        low = []
        if agree is not None:
            iai = agree["inter_annotator_iou"]
            annotations["gt2"] = {
                "inter_annotator_miou": finite_or_none(rec.mean_iou(iai, keep)),
                "miou_unambiguous": finite_or_none(rec.mean_iou(agree["iou_unambiguous"], keep)),
                "ambiguous_pixels": int(agree["ambiguous_pixels"].sum()),
                "ambiguous_error_share": share(
                    state["gt2"]["ambiguous"][:, 1].sum() + state["gt2"]["ambiguous"][:, 2].sum(), fp.sum() + fn.sum()
                ),
            }
            low = [(names[c], float(iai[c])) for c in range(k) if keep[c] and np.isfinite(iai[c]) and iai[c] < 0.9]
        suspects = None
        if self.config.probs_dir:
            suspects = state.get("suspect_count", 0)
            annotations["suspect_labels"] = {
                "count": suspects,
                "max_label_prob": ann.SUSPECT_MAX_PROB,
                "min_pixels": ann.SUSPECT_MIN_PIXELS,
                "top": [self._suspect_dict(r) for r in heapq.nsmallest(10, self._listed(sink, "suspects"),
                                                                        key=_suspect_order)],
            }
        metrics["annotations"] = annotations
        # what to improve next
        improvements = {
            "miou": finite_or_none(means["miou"]),
            "if_fixed": {
                s: {"miou_gain": finite_or_none(g["miou_gain"]), "miou_after": finite_or_none(g["miou_after"]), "pixels": g["pixels"]}
                for s, g in gains.items()
            },
            "if_confusion_resolved": [
                {"gt": p_["gt"], "pred": p_["pred"], "pixels": p_["pixels"], "miou_gain": finite_or_none(p_["miou_gain"])}
                for p_ in pairs[:10]
            ],
        }
        metrics["improvements"] = improvements
        metrics["recommendations"] = rec.recommend(
            names, tp, fp, fn, counts, gains, pairs, keep, sm, self.bins,
            {
                "low_agreement": low,
                "suspect_labels": suspects or 0,
                "suspect_max_prob": ann.SUSPECT_MAX_PROB,
                "sliver_share": annotations["slivers"]["share_of_boundary_errors"],
                "sliver_width": SLIVER_MAX_WIDTH,
            },
        )
        # every image among the worst k of some ranking ranks there as among all images
        cases = {id(v): v for ranking in state["cases"].values() for v in ranking.values()}
        ranked, by_type = rec.rank_failure_cases(sorted(cases.values(), key=itemgetter("image")),
                                                 self.config.worst_k)
        metrics["failure_cases"] = ranked
        metrics["failure_cases_by_type"] = by_type
        metrics["config"] = {"error_band_px_used": sorted(int(v) for v in state["band_px_used"])}
        self._pairs_all = pairs
        return metrics

    def _missed_dict(self, r) -> dict:
        names = self.spec.names
        return {
            "image": r[0], "class": names[r[1]], "size": r[2], "relative_size": r[3], "bbox": list(r[4:8]),
            "recall": r[8], "iou": r[9], "predicted_as": names[r[10]] if r[10] >= 0 else None,
        }

    def _suspect_dict(self, r) -> dict:
        names = self.spec.names
        return {
            "image": r[0], "class": names[r[1]], "size": r[2], "bbox": list(r[3:7]), "label_prob": r[7],
            "model_class": names[r[8]], "model_share": r[9],
        }

    def write(self, states: Mapping[str, dict], metrics: dict, sink: Sink, out_dir: Path) -> None:
        names = list(self.spec.names)
        k = self.k
        state = self._pooled(states[self.name])
        if k > DENSE_MATRIX_CLASSES:
            # the non-zero cells only: rows (type, GT class, predicted class, pixels)
            arrays = {}
            for side in ("fn", "fp"):
                cells = state[f"conf_{side}"]
                cells = cells if isinstance(cells, PairCounts) else PairCounts.from_dense(cells)
                arrays[f"{side}_cells"] = np.stack([*cells.coords(), cells.values], axis=1).astype(np.int64)
                arrays[f"{side}_shape"] = np.array(cells.shape, np.int64)
            arrays.update({"classes": np.array(names, dtype=str), "types": np.array(ERROR_TYPES, dtype=str)})
        else:
            arrays = {"fn": dense_counts(state["conf_fn"]), "fp": dense_counts(state["conf_fp"]),
                      "classes": np.array(names, dtype=str), "types": np.array(ERROR_TYPES, dtype=str)}
        write_npz(out_dir / "confusion_by_type.npz", [(n, a.dtype, a.shape, a) for n, a in arrays.items()])
        pairs = getattr(self, "_pairs_all", None)
        if pairs is None:
            pairs = self._confusions(state, sink)
        write_json(out_dir / "confusion_pairs.json", {"classes": names, "types": list(ERROR_TYPES), "pairs": pairs})
        missed = self._by_image(sink, "missed", lambda r: (-r[2], r[4], r[5]))
        _write_csv(out_dir / "missed_segments.csv", segs.MISSED_COLUMNS,
                   ((r[0], names[r[1]], *r[2:10], names[r[10]] if r[10] >= 0 else "") for r in missed))
        invented = self._by_image(sink, "invented", lambda r: (-r[2], r[4], r[5]))
        _write_csv(out_dir / "invented_segments.csv", segs.INVENTED_COLUMNS,
                   ((r[0], names[r[1]], *r[2:8], names[r[8]] if r[8] >= 0 else "") for r in invented))
        if self.config.probs_dir:
            sus = sorted(self._listed(sink, "suspects"), key=_suspect_order)
            _write_csv(out_dir / "suspect_labels.csv", ann.SUSPECT_COLUMNS,
                       ((r[0], names[r[1]], *r[2:8], names[r[8]], r[9]) for r in sus))
        n = len(sink)
        ids_dtype = f"<U{max(1, sink.max_id_len)}"
        classes, columns = np.array(names, dtype=str), np.array(COUNT_KEYS, dtype=str)
        write_npz(out_dir / "per_image_errors.npz", [
            ("image_ids", ids_dtype, (n,), (np.array(b, ids_dtype) for b in chunked(sink.ids("sorted")))),
            ("counts", np.int64, (n, k, 7), (np.array([r["counts"] for r in block], np.int64).reshape(-1, k, 7)
                                             for block in chunked(sink.records(self.name, "sorted")))),
            ("classes", classes.dtype, classes.shape, classes),
            ("columns", columns.dtype, columns.shape, columns),
        ])


def _suspect_order(r) -> tuple:
    return r[7], -r[2], r[0], r[3], r[4]


def _write_csv(path: Path, header, rows) -> None:
    write_csv(path, header, rows, number=round_repr(8, nonfinite=None))
