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
import io as _io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .._version import __version__
from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import Pair
from ..io.masks import read_pair
from ..io.tables import csv_text
from ..io.results import atomic_write, write_json
from .analyzers.base import ImageContext, make_analyzers
from .config import EvalConfig

__all__ = [
    "merge_states",
    "ImageResult",
    "analyze_arrays",
    "evaluate_pair",
    "Evaluation",
    "write_per_image_csv",
    "evaluate_arrays",
]


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
    pred, gt = read_pair(pair, spec)
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
        extras = {"raw_masks": (pred, gt)} if raw else {}
        if raw:
            pred = self.spec.to_index(pred, "pred")
            gt = self.spec.to_index(gt, "gt")
        image_id = image_id if image_id is not None else f"image_{len(self.rows):05d}"
        ctx = ImageContext(image_id, self.spec, self.config, extras=extras)
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
        from ..schema import check_metrics
        check_metrics(metrics)
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
    if isinstance(v, str):
        return csv_text(v)
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
