"""Comparing two runs on the same images: per-class deltas of every metric, and a paired
bootstrap confidence interval over images for the mIoU delta and each class's IoU delta.

The bootstrap resamples *images* (the same resample for both runs, so the comparison is paired)
and recomputes the **dataset-level** IoU of each run exactly from the per-image counts that
``segscope evaluate`` writes (``per_image_counts.npz``: ``image_ids``, ``tp``, ``fp``, ``fn``,
N×K): IoU_c = Σ tp / Σ (tp + fp + fn) over the resampled images, mIoU = mean over the classes
with a non-empty union that are not excluded, as in ``metrics.json``.

Examples
--------
>>> import numpy as np
>>> tp_a = np.array([[8, 1], [6, 0]]); fp_a = np.array([[1, 1], [0, 2]]); fn_a = np.array([[1, 1], [2, 0]])
>>> d = bootstrap_delta((tp_a, fp_a, fn_a), (tp_a, fp_a, fn_a), n_boot=200, seed=0)
>>> d["miou"]["delta"], d["miou"]["ci_low"], d["miou"]["ci_high"]
(0.0, 0.0, 0.0)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .._numbers import finite_or_none, is_number, nanmean
from ..exceptions import SegscopeError
from ..io.results import make_folder, staged_files, write_json
from ..io.tables import round_repr, write_csv

__all__ = [
    "load_counts",
    "dataset_iou",
    "bootstrap_weights",
    "bootstrap_delta",
    "compare_runs",
    "write_comparison",
]


def load_counts(results_dir: str | Path) -> dict:
    """``per_image_counts.npz`` of a run: ``image_ids`` (N,), ``tp``, ``fp``, ``fn`` (N×K int64)
    and ``classes`` when recorded."""
    path = Path(results_dir) / "per_image_counts.npz"
    if not path.exists():
        raise SegscopeError("no per_image_counts.npz (evaluate with this version of segscope)", Path(results_dir))
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception as exc:
        raise SegscopeError(f"cannot read per-image counts: {exc}", path) from None
    for key in ("image_ids", "tp", "fp", "fn"):
        if key not in out:
            raise SegscopeError(f"per-image counts lack {key!r}", path)
    n = len(out["image_ids"])
    for key in ("tp", "fp", "fn"):
        a = np.asarray(out[key], dtype=np.int64)
        if a.ndim != 2 or a.shape[0] != n:
            raise SegscopeError(f"per-image counts: {key!r} has shape {a.shape}, expected ({n}, K)", path)
        out[key] = a
    out["image_ids"] = np.asarray([str(i) for i in out["image_ids"]])
    return out


def dataset_iou(tp, fp, fn) -> np.ndarray:
    """Per-class IoU from pooled counts: ``tp / (tp + fp + fn)``, NaN where the union is 0.
    Works on (K,) or (B, K) arrays.

    >>> dataset_iou(np.array([4, 0]), np.array([1, 0]), np.array([0, 0])).tolist()
    [0.8, nan]
    """
    tp = np.asarray(tp, dtype=np.float64)
    union = tp + np.asarray(fp, dtype=np.float64) + np.asarray(fn, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / np.where(union > 0, union, 1.0), np.nan)


def _mean_rows(iou: np.ndarray, keep: np.ndarray) -> np.ndarray:
    v = np.where(keep[None, :] & np.isfinite(iou), iou, 0.0)
    n = (keep[None, :] & np.isfinite(iou)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, v.sum(axis=1) / np.maximum(n, 1), np.nan)


def bootstrap_weights(n_images: int, n_boot: int, seed: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
    """How often each image is drawn in resamples ``start..stop`` of ``n_boot`` (a (B, N) array
    of counts, each row summing to N). Resample ``b`` depends only on ``seed`` and ``b``, so
    chunks of resamples can be drawn independently.

    >>> w = bootstrap_weights(5, 3, seed=1)
    >>> w.shape, w.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    """
    stop = n_boot if stop is None else stop
    rows = []
    for b in range(start, stop):
        rng = np.random.default_rng([seed, b])
        rows.append(np.bincount(rng.integers(0, n_images, size=n_images), minlength=n_images))
    return np.array(rows, dtype=np.int64).reshape(-1, n_images)


#: The most bootstrap resamples: their deltas are held in memory, (K + 1) floats each.
MAX_BOOT = 1_000_000


def bootstrap_delta(
    counts_a: Sequence[np.ndarray], counts_b: Sequence[np.ndarray], *, exclude: Sequence[int] = (),
    n_boot: int = 1000, ci: float = 0.95, seed: int = 0, chunk: int = 250,
) -> dict:
    """Paired bootstrap of the mIoU delta (B − A) and of each class's IoU delta.

    Parameters
    ----------
    counts_a, counts_b : ``(tp, fp, fn)`` per image for runs A and B, each N×K, the same images in
        the same order.
    exclude : class indices left out of the mIoU.
    n_boot : resamples; ci : the confidence level; seed : the random seed.

    Returns
    -------
    ``{"miou": {...}, "per_class": [{...}] * K}``, each with ``a``, ``b``, ``delta`` (on all images),
    ``ci_low``, ``ci_high`` (percentile interval), ``p_better`` (share of resamples with a positive
    delta) and ``resamples`` (resamples where the delta is defined).
    """
    ta, fa, na = (np.asarray(x, dtype=np.float64) for x in counts_a)
    tb, fb, nb = (np.asarray(x, dtype=np.float64) for x in counts_b)
    if not (ta.shape == fa.shape == na.shape == tb.shape == fb.shape == nb.shape) or ta.ndim != 2:
        raise SegscopeError(f"the two runs' per-image counts differ in shape: {ta.shape} vs {tb.shape}")
    if not 0.0 < ci < 1.0:
        raise SegscopeError(f"the confidence level must lie in (0, 1), got {ci}")
    if not 1 <= n_boot <= MAX_BOOT:
        raise SegscopeError(f"the number of resamples (--n-boot) must lie in 1..{MAX_BOOT:,}, got {n_boot}")
    if not 0 <= seed:
        raise SegscopeError(f"the random seed (--seed) must be an integer >= 0, got {seed}")
    n, k = ta.shape
    keep = np.ones(k, dtype=bool)
    keep[list(exclude)] = False
    iou_a = dataset_iou(ta.sum(0), fa.sum(0), na.sum(0))
    iou_b = dataset_iou(tb.sum(0), fb.sum(0), nb.sum(0))
    miou_a, miou_b = nanmean(iou_a, keep), nanmean(iou_b, keep)
    d_miou = np.empty(n_boot)
    d_cls = np.empty((n_boot, k))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        w = bootstrap_weights(n, n_boot, seed, start, stop).astype(np.float64)
        # float64 sums of integer counts are exact below 2**53
        ia = dataset_iou(w @ ta, w @ fa, w @ na)
        ib = dataset_iou(w @ tb, w @ fb, w @ nb)
        d_miou[start:stop] = _mean_rows(ib, keep) - _mean_rows(ia, keep)
        d_cls[start:stop] = ib - ia
    alpha = (1.0 - ci) / 2.0

    def summary(a: float, b: float, samples: np.ndarray) -> dict:
        s = samples[np.isfinite(samples)]
        delta = b - a if math.isfinite(a) and math.isfinite(b) else float("nan")
        if s.size == 0:
            lo = hi = p = float("nan")
        else:
            lo, hi = (float(v) for v in np.quantile(s, [alpha, 1.0 - alpha]))
            p = float((s > 0).mean())
        return {"a": finite_or_none(a), "b": finite_or_none(b), "delta": finite_or_none(delta), "ci_low": finite_or_none(lo), "ci_high": finite_or_none(hi),
                "p_better": finite_or_none(p), "resamples": int(s.size)}

    return {
        "miou": summary(miou_a, miou_b, d_miou),
        "per_class": [summary(float(iou_a[c]), float(iou_b[c]), d_cls[:, c]) for c in range(k)],
        "n_boot": int(n_boot),
        "ci": float(ci),
        "seed": int(seed),
        "images": int(n),
    }


def _numeric_items(d: dict) -> dict:
    return {k: v for k, v in d.items() if is_number(v)}


def _delta(a, b):
    return (b - a) if a is not None and b is not None else None


def compare_runs(
    a: str | Path, b: str | Path, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0, top: int = 10,
) -> dict:
    """Compare two results folders of the same classes (B against A).

    Returns a dict with ``summary`` (every top-level metric of both runs and its delta),
    ``per_class`` (name -> metric -> {a, b, delta}), ``bootstrap`` (see :func:`bootstrap_delta`,
    on the images both runs evaluated), ``images`` (per-image mIoU of both, sorted by delta) and
    the ``improved`` / ``regressed`` ids (``top`` each).
    """
    from ..io.run_folder import load_results

    ra, rb = load_results(a), load_results(b)
    if ra.names != rb.names:
        raise SegscopeError(f"the runs have different classes ({len(ra.names)} vs {len(rb.names)}: "
                            f"{ra.names[:4]}… vs {rb.names[:4]}…)", Path(b))
    ma, mb = ra.metrics, rb.metrics
    summary = {}
    sa, sb = _numeric_items(ma), _numeric_items(mb)
    for key in [k for k in sa if k in sb and k not in ("num_images",)] + ["num_images"]:
        if key in sa and key in sb:
            summary[key] = {"a": sa[key], "b": sb[key], "delta": sb[key] - sa[key]}
    per_class = {}
    # beyond 256 classes a class without pixels has no entry (per_class_omitted): nor here
    kept = [n for n in ra.names if n in ma["per_class"] or n in mb["per_class"]]
    for name in kept:
        ea = ma["per_class"].get(name) or {}
        eb = mb["per_class"].get(name) or {}
        keys = [k for k in ea if k in eb and k != "id"]
        row = {}
        for k in keys:
            va, vb = ea.get(k), eb.get(k)
            num_a = isinstance(va, (int, float)) and not isinstance(va, bool)
            num_b = isinstance(vb, (int, float)) and not isinstance(vb, bool)
            if (num_a or va is None) and (num_b or vb is None) and (num_a or num_b):
                row[k] = {"a": va, "b": vb, "delta": _delta(va, vb)}
        per_class[name] = row
    ca, cb = load_counts(a), load_counts(b)
    ids_a = {str(i): j for j, i in enumerate(ca["image_ids"])}
    ids_b = {str(i): j for j, i in enumerate(cb["image_ids"])}
    common = sorted(set(ids_a) & set(ids_b))
    if not common:
        raise SegscopeError("the two runs share no image id", Path(b))
    ja = np.array([ids_a[i] for i in common])
    jb = np.array([ids_b[i] for i in common])
    excluded = sorted(set(ma.get("excluded_classes") or []) | set(mb.get("excluded_classes") or []))
    exclude = [ra.names.index(n) for n in excluded if n in ra.names]
    boot = bootstrap_delta(
        (ca["tp"][ja], ca["fp"][ja], ca["fn"][ja]), (cb["tp"][jb], cb["fp"][jb], cb["fn"][jb]),
        exclude=exclude, n_boot=n_boot, ci=ci, seed=seed,
    )
    boot["per_class"] = {n: s for n, s in zip(ra.names, boot["per_class"]) if n in per_class}
    boot["only_in_a"] = len(ids_a) - len(common)
    boot["only_in_b"] = len(ids_b) - len(common)
    rows_a, rows_b = ra.row_by_id(), rb.row_by_id()
    images = []
    for i in common:
        va = rows_a.get(i, {}).get("miou")
        vb = rows_b.get(i, {}).get("miou")
        images.append({"image": i, "miou_a": va, "miou_b": vb,
                       "delta": _delta(va, vb) if isinstance(va, float) and isinstance(vb, float) else None})
    defined = [r for r in images if r["delta"] is not None]
    defined.sort(key=lambda r: (r["delta"], r["image"]))
    regressed = [r["image"] for r in defined[:top] if r["delta"] < 0]
    improved = [r["image"] for r in reversed(defined[-top:]) if r["delta"] > 0]
    images.sort(key=lambda r: (r["delta"] is None, r["delta"] if r["delta"] is not None else 0.0, r["image"]))
    return {
        "a": str(ra.dir), "b": str(rb.dir), "classes": ra.names, "excluded_classes": excluded,
        "summary": summary, "per_class": per_class, "bootstrap": boot, "images": images,
        "improved": improved, "regressed": regressed,
    }


def write_comparison(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``compare.json``, ``per_class_deltas.csv`` and ``per_image_deltas.csv`` (all three
    or none: they are moved into ``out_dir`` together, :func:`~segscope.io.results.staged_files`)."""
    out_dir = make_folder(out_dir, "comparison folder")
    with staged_files(out_dir, "comparison folder", last="compare.json") as stage:
        _write_comparison(result, stage)
    return [out_dir / "compare.json", out_dir / "per_class_deltas.csv", out_dir / "per_image_deltas.csv"]


def _write_comparison(result: dict, out_dir: Path) -> None:
    write_json(out_dir / "compare.json", result)
    metrics = []
    for row in result["per_class"].values():
        for k in row:
            if k not in metrics:
                metrics.append(k)
    boot = result["bootstrap"]["per_class"]
    class_rows = []
    for name, row in result["per_class"].items():
        cells = [name]
        for k in metrics:
            v = row.get(k, {})
            cells += [v.get("a"), v.get("b"), v.get("delta")]
        cells += [boot[name]["ci_low"], boot[name]["ci_high"]]
        class_rows.append(cells)
    write_csv(out_dir / "per_class_deltas.csv",
              ["class"] + [f"{k}_{s}" for k in metrics for s in ("a", "b", "delta")]
              + ["iou_delta_ci_low", "iou_delta_ci_high"], class_rows, number=round_repr(10))
    write_csv(out_dir / "per_image_deltas.csv", ["image", "miou_a", "miou_b", "delta"],
              ([r["image"], r["miou_a"], r["miou_b"], r["delta"]] for r in result["images"]),
              number=round_repr(10))

