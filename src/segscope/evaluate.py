"""Evaluation: the states of one run, with update / merge / compute.

Per image, every enabled *analyzer* turns a (pred, gt) pair of class-index masks into

- a **state**: a dict of additive counts (NumPy integer arrays, ints) and lists (concatenated), and
- a **row**: that image's own figures for ``per_image.csv``.

States merge by addition, so one loop, a process pool or a Dask cluster give identical numbers.
At the end each analyzer turns its pooled state into keys of ``metrics.json``.

An analyzer is a class with ``name``, ``__init__(spec, config)``, ``image(pred, gt, ctx) ->
(state, row)`` and ``finalize(state, metrics, rows) -> None`` (which adds its keys to the
``metrics`` dict), and optionally ``write(state, metrics, out_dir)`` for extra files.
"""

from __future__ import annotations

import csv
import importlib
import io as _io
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import __version__
from .classes import ClassSpec, validate_exclude
from .confusion import confusion_counts
from .errors_base import SegscopeError
from .io import Pair, atomic_write, read_mask, write_json
from .metrics import image_miou, nanmean, per_class_metrics, summary_metrics

__all__ = ["EvalConfig", "Evaluation", "ImageContext", "evaluate_pair", "merge_states", "ANALYZERS"]


@dataclass(frozen=True)
class EvalConfig:
    """Every policy of a run; recorded in ``metrics.json`` under ``config``."""

    exclude: tuple[str, ...] = ()
    allow_unknown_pred: bool = False
    analyses: tuple[str, ...] = ("boundary", "errors")
    worst_k: int = 10
    # boundary metrics
    boundary_ratio: float = 0.02
    boundary_px: int | None = None
    bf_ratio: float = 0.0075
    trimap: tuple[int, ...] = (1, 2, 4, 8, 16)
    # failure analysis
    error_band_ratio: float = 0.01
    error_band_px: int | None = None
    segment_bins: tuple[float, ...] = (0.001, 0.01)
    miss_threshold: float = 0.5
    instances_dir: str | None = None
    gt2_dir: str | None = None
    probs_dir: str | None = None
    images_dir: str | None = None

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class ImageContext:
    """What an analyzer may know about the image besides its two masks."""

    image_id: str
    spec: ClassSpec
    config: EvalConfig
    pred_path: Path | None = None
    gt_path: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)


# name -> "module:Class"; core always runs, the others when named in EvalConfig.analyses
ANALYZERS: dict[str, str] = {
    "core": "segscope.evaluate:CoreAnalyzer",
    "errors": "segscope.failure:ErrorAnalyzer",
    "boundary": "segscope.boundary:BoundaryAnalyzer",
}


def _load_analyzer(name: str):
    target = ANALYZERS.get(name)
    if target is None:
        raise SegscopeError(f"unknown analysis {name!r}; available: {', '.join(sorted(ANALYZERS))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def make_analyzers(spec: ClassSpec, config: EvalConfig) -> list:
    names = ["core"] + [a for a in config.analyses if a != "core" and a in ANALYZERS]
    return [_load_analyzer(n)(spec, config) for n in names]


def merge_states(a: dict, b: dict) -> dict:
    """Add state ``b`` into state ``a`` and return ``a``: arrays and numbers add, lists
    concatenate, dicts recurse. ``a`` is updated in place (lists grow, arrays are replaced)."""
    for key, value in b.items():
        if key not in a:
            a[key] = list(value) if isinstance(value, list) else value
        elif isinstance(value, dict):
            a[key] = merge_states(a[key], value)
        elif isinstance(value, list):
            a[key].extend(value)
        else:
            a[key] = a[key] + value
    return a


# ---------------------------------------------------------------------- the core analyzer
class CoreAnalyzer:
    """Confusion counts and the region metrics of ``segscope.metrics``."""

    name = "core"

    def __init__(self, spec: ClassSpec, config: EvalConfig):
        self.spec = spec
        self.config = config
        self.exclude = validate_exclude(spec, config.exclude)

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx: ImageContext) -> tuple[dict, dict]:
        spec = self.spec
        k = spec.num_classes
        ext = confusion_counts(pred, gt, k, spec.index_ignore)
        self._check(ext, pred, gt, ctx)
        pc = per_class_metrics(ext)
        valid = int(pc["gt_pixels"].sum())
        row: dict[str, Any] = {
            "image": ctx.image_id,
            "height": int(gt.shape[0]),
            "width": int(gt.shape[1]) if gt.ndim > 1 else 1,
            "valid_pixels": valid,
            "pixel_accuracy": float(pc["tp"].sum() / valid) if valid else float("nan"),
            "miou": image_miou(ext, self.exclude),
        }
        for name, value in zip(spec.names, pc["iou"]):
            row[f"iou_{name}"] = float(value)
        state = {
            "counts": ext,
            "image_tp": [pc["tp"]],
            "image_fp": [pc["fp"]],
            "image_fn": [pc["fn"]],
            "image_ids": [ctx.image_id],
        }
        return state, row

    def _check(self, ext: np.ndarray, pred, gt, ctx: ImageContext) -> None:
        k = self.spec.num_classes
        if ext[k].sum():
            raw = read_mask(ctx.gt_path, self.spec) if ctx.gt_path else gt
            raise SegscopeError(
                f"GT has ids not in the class spec: {self.spec.describe_unknown(raw, 'gt')}",
                ctx.gt_path or ctx.image_id,
            )
        if ext[:k, k + 1].sum() and not self.config.allow_unknown_pred:
            raw = read_mask(ctx.pred_path, self.spec, "pred") if ctx.pred_path else pred
            hint = ""
            if self.spec.name.startswith("cityscapes") and self.spec.pred_map is None:
                hint = " (predictions in labelIds? pass --pred-ids label)"
            raise SegscopeError(
                f"prediction has ids not in the class spec at valid pixels: "
                f"{self.spec.describe_unknown(raw, 'pred')}{hint}; --allow-unknown-pred counts them as misses",
                ctx.pred_path or ctx.image_id,
            )

    def finalize(self, state: dict, metrics: dict, rows: list[dict]) -> None:
        spec = self.spec
        counts = state["counts"]
        pc = per_class_metrics(counts)
        summary = summary_metrics(counts, self.exclude)
        total_gt = pc["gt_pixels"].sum()
        per_class = {}
        for i, name in enumerate(spec.names):
            per_class[name] = {
                "id": spec.ids[i],
                "iou": _num(pc["iou"][i]),
                "dice": _num(pc["dice"][i]),
                "precision": _num(pc["precision"][i]),
                "recall": _num(pc["recall"][i]),
                "accuracy": _num(pc["accuracy"][i]),
                "gt_pixels": int(pc["gt_pixels"][i]),
                "pred_pixels": int(pc["pred_pixels"][i]),
                "gt_share": float(pc["gt_pixels"][i] / total_gt) if total_gt else 0.0,
                "tp": int(pc["tp"][i]),
                "fp": int(pc["fp"][i]),
                "fn": int(pc["fn"][i]),
                "present": bool(pc["present"][i]),
                "excluded": i in self.exclude,
            }
        image_mious = [r["miou"] for r in rows]
        ranked = sorted(
            (r for r in rows if isinstance(r["miou"], float) and math.isfinite(r["miou"])),
            key=lambda r: (r["miou"], r["image"]),
        )
        k = spec.num_classes
        metrics.update(
            {
                "pixel_accuracy": summary["pixel_accuracy"],
                "mean_accuracy": summary["mean_accuracy"],
                "miou": summary["miou"],
                "mdice": summary["mdice"],
                "fwiou": summary["fwiou"],
                "miou_image": nanmean(image_mious),
                "valid_pixels": int(total_gt),
                "unmatched_pred_pixels": int(counts[:k, k:].sum()),
                "absent_classes": [n for n, p in zip(spec.names, pc["present"]) if not p],
                "excluded_classes": [spec.names[i] for i in self.exclude],
                "worst_images": [
                    {"image": r["image"], "miou": r["miou"], "pixel_accuracy": r["pixel_accuracy"]}
                    for r in ranked[: self.config.worst_k]
                ],
                "per_class": per_class,
                "confusion_matrix": counts[:k, :k].tolist(),
            }
        )

    def write(self, state: dict, metrics: dict, out_dir: Path) -> None:
        names = list(self.spec.names)
        counts = state["counts"]
        k = len(names)
        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["gt\\pred"] + names)
        for name, row in zip(names, counts[:k, :k].tolist()):
            w.writerow([name] + row)
        with atomic_write(out_dir / "confusion_matrix.csv", "w", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
        arrays = {
            "image_ids": np.array(state["image_ids"], dtype=str),
            "tp": np.array(state["image_tp"], dtype=np.int64).reshape(-1, k),
            "fp": np.array(state["image_fp"], dtype=np.int64).reshape(-1, k),
            "fn": np.array(state["image_fn"], dtype=np.int64).reshape(-1, k),
            "classes": np.array(names, dtype=str),
        }
        with atomic_write(out_dir / "per_image_counts.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------- per-image work
@dataclass
class ImageResult:
    image_id: str
    states: dict[str, dict]
    row: dict[str, Any]


def analyze_arrays(
    pred_idx: np.ndarray, gt_idx: np.ndarray, ctx: ImageContext, analyzers: list
) -> ImageResult:
    """Run every analyzer on one pair of class-index masks."""
    if pred_idx.shape != gt_idx.shape:
        where = ctx.pred_path or ctx.image_id
        raise SegscopeError(
            f"prediction size {_size(pred_idx)} differs from GT size {_size(gt_idx)}"
            + (f" ({ctx.gt_path})" if ctx.gt_path else ""),
            where,
        )
    states, row = {}, {}
    for analyzer in analyzers:
        state, part = analyzer.image(pred_idx, gt_idx, ctx)
        states[analyzer.name] = state
        row.update(part)
    return ImageResult(ctx.image_id, states, row)


def _size(a: np.ndarray) -> str:
    return "×".join(str(s) for s in a.shape)


def evaluate_pair(pair: Pair, spec: ClassSpec, config: EvalConfig, analyzers: list | None = None) -> ImageResult:
    """Read one prediction/GT pair from disk and analyse it (the unit of parallel work)."""
    analyzers = analyzers if analyzers is not None else make_analyzers(spec, config)
    gt = spec.to_index(read_mask(pair.gt, spec), "gt")
    pred = spec.to_index(read_mask(pair.pred, spec, "pred"), "pred")
    ctx = ImageContext(pair.image_id, spec, config, pair.pred, pair.gt)
    return analyze_arrays(pred, gt, ctx, analyzers)


# ---------------------------------------------------------------------- the evaluation
class Evaluation:
    """The state of one evaluation: ``update`` with masks, ``merge`` two, ``compute`` the metrics.

    Parameters
    ----------
    spec : a :class:`~segscope.classes.ClassSpec`, or an int for anonymous classes.
    config : an :class:`EvalConfig`; defaults run every analysis.
    ignore_index : with an int ``spec``, the ignore label.

    Examples
    --------
    >>> ev = Evaluation(2, config=EvalConfig(analyses=()))
    >>> _ = ev.update([[0, 0, 1], [0, 1, 1], [0, 0, 1]], [[0, 0, 1], [0, 1, 1], [0, 1, 1]])
    >>> round(ev.compute()["per_class"]["1"]["iou"], 4)
    0.8
    """

    def __init__(self, spec: ClassSpec | int, config: EvalConfig | None = None, ignore_index: int | None = None):
        self.spec = ClassSpec.anonymous(spec, ignore_index) if isinstance(spec, int) else spec
        self.config = config or EvalConfig()
        self.analyzers = make_analyzers(self.spec, self.config)
        self.states: dict[str, dict] = {}
        self.rows: list[dict] = []

    # -- accumulation
    def update(self, pred, gt, image_id: str | None = None, raw: bool = True) -> dict:
        """Add one image. ``pred`` and ``gt`` hold raw label ids (``raw=False``: class indices)."""
        pred = np.asarray(pred)
        gt = np.asarray(gt)
        if raw:
            pred = self.spec.to_index(pred, "pred")
            gt = self.spec.to_index(gt, "gt")
        image_id = image_id if image_id is not None else f"image_{len(self.rows):05d}"
        ctx = ImageContext(image_id, self.spec, self.config)
        result = analyze_arrays(pred, gt, ctx, self.analyzers)
        self.add(result)
        return result.row

    def add(self, result: ImageResult) -> None:
        """Fold in the result of one image (from :func:`evaluate_pair`, maybe in another process)."""
        for name, state in result.states.items():
            self.states[name] = merge_states(self.states.setdefault(name, {}), state)
        self.rows.append(result.row)

    def merge(self, other: "Evaluation") -> "Evaluation":
        """Add another evaluation's states (same spec and config) to this one."""
        if other.spec.names != self.spec.names:
            raise ValueError("cannot merge evaluations of different class specs")
        for name, state in other.states.items():
            self.states[name] = merge_states(self.states.setdefault(name, {}), state)
        self.rows.extend(other.rows)
        return self

    # -- results
    def compute(self) -> dict:
        """The ``metrics.json`` dict."""
        if not self.rows:
            raise SegscopeError("nothing to evaluate: no image was added")
        order = sorted(range(len(self.rows)), key=lambda i: self.rows[i]["image"])
        rows = [self.rows[i] for i in order]
        metrics: dict[str, Any] = {
            "segscope_version": __version__,
            "classes": list(self.spec.names),
            "num_images": len(self.rows),
        }
        for analyzer in self.analyzers:
            analyzer.finalize(self.states[analyzer.name], metrics, rows)
        metrics["config"] = {
            **self.config.to_dict(),
            "class_spec": self.spec.name,
            "num_classes": self.spec.num_classes,
            "ignore_index": self.spec.ignore_index,
            "class_ids": list(self.spec.ids),
            "analyses": [a.name for a in self.analyzers],
            **metrics.get("config", {}),
        }
        return metrics

    def per_image_rows(self) -> list[dict]:
        return sorted(self.rows, key=lambda r: r["image"])

    def save(self, out_dir: str | Path, metrics: dict | None = None) -> dict:
        """Write ``metrics.json``, ``per_image.csv``, ``confusion_matrix.csv`` and analyzer files."""
        out_dir = Path(out_dir)
        metrics = metrics if metrics is not None else self.compute()
        out_dir.mkdir(parents=True, exist_ok=True)
        for analyzer in self.analyzers:
            writer = getattr(analyzer, "write", None)
            if writer is not None:
                writer(self.states[analyzer.name], metrics, out_dir)
        write_per_image_csv(out_dir / "per_image.csv", self.per_image_rows())
        write_json(out_dir / "class_spec.json", self.spec.to_dict())
        write_json(out_dir / "metrics.json", metrics)
        return metrics


def write_per_image_csv(path: Path, rows: list[dict]) -> None:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: _csv_value(row.get(k)) for k in columns})
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(buf.getvalue())


def _csv_value(v):
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(round(v, 10))
    return "" if v is None else v


def evaluate_arrays(
    preds: Iterable, gts: Iterable, spec: ClassSpec | int, config: EvalConfig | None = None,
    ignore_index: int | None = None,
) -> dict:
    """Evaluate in-memory masks (raw ids) and return the metrics dict."""
    ev = Evaluation(spec, config, ignore_index=ignore_index)
    for i, (p, g) in enumerate(zip(preds, gts)):
        ev.update(p, g, image_id=f"image_{i:05d}")
    return ev.compute()
