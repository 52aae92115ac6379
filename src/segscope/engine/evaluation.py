"""Evaluation: the states of one run, with update / merge / compute / save.

Per image, every enabled *analyzer* (:mod:`segscope.engine.analyzers`) turns a (pred, gt) pair
of class-index masks into

- a **state**: a dict of additive counts (NumPy integer arrays, ints, bounded
  :class:`~segscope.engine.sinks.TopK` lists) that merges by addition,
- a **row**: that image's own figures for ``per_image.csv``, and
- a **record**: the rest of that image the outputs need (per-class counts, listed segments).

States merge by addition, so one loop, a process pool or a Dask cluster give identical numbers.
Rows and records go to a *sink* (:mod:`segscope.engine.sinks`): Python lists by default, or
files in a folder (``DiskSink``), so that memory stays flat however many images a run has. At
the end each analyzer turns the pooled states (its own and those it needs) and the records into
its part of ``metrics.json`` and its files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .._version import __version__
from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import Pair
from ..io.masks import read_pair
from ..io.tables import round_repr, write_csv
from ..io.results import make_folder, write_json
from ..metrics.confusion import DENSE_MATRIX_CLASSES
from .analyzers.base import ImageContext, make_analyzers
from .config import EvalConfig
from .sinks import DiskSink, MemorySink, Sink

__all__ = [
    "merge_states",
    "ImageResult",
    "analyze_arrays",
    "run_analyzers",
    "evaluate_pair",
    "Evaluation",
    "write_per_image_csv",
    "evaluate_arrays",
]


def merge_states(a: dict, b: dict) -> dict:
    """Add state ``b`` into state ``a`` and return ``a``: arrays, numbers and
    :class:`~segscope.engine.sinks.TopK` lists add, lists concatenate, dicts recurse. ``a`` is
    updated in place (lists grow, arrays are replaced)."""
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
    """One image's states (analyzer name -> state), its row and its records."""

    image_id: str
    states: dict[str, dict]
    row: dict[str, Any]
    records: dict[str, Any] = field(default_factory=dict)


def analyze_arrays(
    pred_idx: np.ndarray, gt_idx: np.ndarray, ctx: ImageContext, analyzers: list
) -> ImageResult:
    """Run every analyzer on one pair of class-index masks (see :func:`run_analyzers`); a 1-D
    mask is one row, an H×W×1 mask is H×W, as when masks are read from files."""
    pred_idx, gt_idx = _label_map(pred_idx), _label_map(gt_idx)
    if pred_idx.ndim != 2 or gt_idx.ndim != 2:
        raise SegscopeError(f"masks must be 2-D (H×W) label maps, got prediction shape {pred_idx.shape} and GT "
                            f"shape {gt_idx.shape}; add a batch one image at a time", ctx.pred_path or ctx.image_id)
    if pred_idx.shape != gt_idx.shape:
        where = ctx.pred_path or ctx.image_id
        raise SegscopeError(
            f"prediction size {_size(pred_idx)} differs from GT size {_size(gt_idx)}"
            + (f" ({ctx.gt_path})" if ctx.gt_path else ""),
            where,
        )
    return run_analyzers(pred_idx, gt_idx, ctx, analyzers)


def _label_map(a: np.ndarray) -> np.ndarray:
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a


def run_analyzers(pred_idx: np.ndarray, gt_idx: np.ndarray, ctx: ImageContext, analyzers: list,
                  done: ImageResult | None = None) -> ImageResult:
    """Run ``analyzers`` in order on one pair of class-index masks of equal shape, after the
    states, row and records of ``done`` (analyzers that ran elsewhere, e.g. the core's counts
    made on a tensor's device), which it extends.

    The analyzers see the masks as read-only views: masks decoded from PNG are read-only, so
    every source of masks gives the kernels one array type, and each kernel is compiled once per
    mask dtype.
    """
    pred_idx, gt_idx = _read_only(pred_idx), _read_only(gt_idx)
    result = done if done is not None else ImageResult(ctx.image_id, {}, {}, {})
    for analyzer in analyzers:
        ctx.states = {name: result.states[name] for name in analyzer.needs}
        state, part, record = analyzer.image(pred_idx, gt_idx, ctx)
        result.states[analyzer.name] = state
        result.row.update(part)
        if record is not None:
            result.records[analyzer.name] = record
    ctx.states = {}
    return result


def _read_only(a: np.ndarray) -> np.ndarray:
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


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
    sink : where per-image rows and records go (:mod:`segscope.engine.sinks`): by default a
        :class:`~segscope.engine.sinks.MemorySink`; a :class:`~segscope.engine.sinks.DiskSink`
        keeps memory flat in the number of images.

    Examples
    --------
    >>> ev = Evaluation(2, config=EvalConfig(analyses=()))
    >>> _ = ev.update([[0, 0, 1], [0, 1, 1], [0, 0, 1]], [[0, 0, 1], [0, 1, 1], [0, 1, 1]])
    >>> round(ev.compute()["per_class"]["1"]["iou"], 4)
    0.8
    """

    def __init__(self, spec: ClassSpec | int, config: EvalConfig | None = None, ignore_index: int | None = None,
                 sink: Sink | None = None):
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
            spec = ClassSpec.anonymous(int(spec), ignore_index)
        elif not isinstance(spec, ClassSpec):
            raise TypeError(f"spec must be a ClassSpec or an int (the number of classes), not {type(spec).__name__}; "
                            "segscope.load_spec reads presets and spec files")
        self.spec = spec
        self.config = config or EvalConfig()
        self.analyzers = make_analyzers(self.spec, self.config)
        self.states: dict[str, dict] = {}
        self.sink: Sink = sink if sink is not None else MemorySink()

    @property
    def rows(self):
        """The per-image rows in arrival order (a list with the memory sink, else a view)."""
        if isinstance(self.sink, MemorySink):
            return self.sink.row_list
        return self.sink.view("rows")

    def __len__(self) -> int:
        return len(self.sink)

    # -- accumulation
    def update(self, pred, gt, image_id: str | None = None, raw: bool = True) -> dict:
        """Add one image. ``pred`` and ``gt`` hold raw label ids (``raw=False``: class indices)."""
        pred = np.asarray(pred)
        gt = np.asarray(gt)
        extras = {"raw_masks": (pred, gt)} if raw else {}
        if raw:
            pred = self.spec.to_index(pred, "pred")
            gt = self.spec.to_index(gt, "gt")
        image_id = image_id if image_id is not None else f"image_{len(self.sink):05d}"
        ctx = ImageContext(image_id, self.spec, self.config, extras=extras)
        result = analyze_arrays(pred, gt, ctx, self.analyzers)
        self.add(result)
        return result.row

    def add(self, result: ImageResult) -> None:
        """Fold in the result of one image (from :func:`evaluate_pair`, maybe in another process)."""
        for name, state in result.states.items():
            self.states[name] = merge_states(self.states.setdefault(name, {}), state)
        self.sink.add(result.image_id, result.row, result.records)

    def merge(self, other: "Evaluation") -> "Evaluation":
        """Add another evaluation's states (same spec and config) to this one."""
        if other.spec.names != self.spec.names:
            raise ValueError("cannot merge evaluations of different class specs")
        for name, state in other.states.items():
            self.states[name] = merge_states(self.states.setdefault(name, {}), state)
        for image_id, row, records in other.sink.items():
            self.sink.add(image_id, row, records)
        return self

    def records(self, name: str, order: str = "arrival"):
        """The per-image records of analyzer ``name`` (``order="sorted"``: by image id)."""
        return self.sink.records(name, order)

    # -- results
    def _states_for(self, analyzer) -> dict[str, dict]:
        return {name: self.states[name] for name in (analyzer.name, *analyzer.needs)}

    def compute(self) -> dict:
        """The ``metrics.json`` dict."""
        if not len(self.sink):
            raise SegscopeError("nothing to evaluate: no image was added")
        metrics: dict[str, Any] = {
            "segscope_version": __version__,
            "classes": list(self.spec.names),
            "num_images": len(self.sink),
        }
        for analyzer in self.analyzers:
            part = analyzer.finalize(self._states_for(analyzer), self.sink)
            extra = set(part) - set(analyzer.keys) - {"per_class", "config"}
            if extra:
                raise RuntimeError(f"analyzer {analyzer.name!r} added undeclared keys {sorted(extra)}")
            _merge_part(metrics, part)
        metrics["config"] = {
            **self.config.to_dict(),
            "class_spec": self.spec.name,
            "num_classes": self.spec.num_classes,
            "ignore_index": self.spec.ignore_index,
            "class_ids": list(self.spec.ids),
            "analyses": [a.name for a in self.analyzers],
            **metrics.get("config", {}),
        }
        if self.spec.num_classes > DENSE_MATRIX_CLASSES:
            _leave_out_empty_classes(metrics)
        return metrics

    def per_image_rows(self) -> list[dict]:
        """The per-image rows sorted by image id."""
        return list(self.sink.rows("sorted"))

    def save(self, out_dir: str | Path, metrics: dict | None = None) -> dict:
        """Write ``metrics.json``, ``per_image.csv``, ``confusion_matrix.csv`` and analyzer files.

        With a :class:`~segscope.engine.sinks.DiskSink` in ``out_dir``, this completes that
        folder: the record files move out of it once the outputs are written.
        """
        metrics = metrics if metrics is not None else self.compute()
        out_dir = make_folder(out_dir, "results folder")
        for analyzer in self.analyzers:
            analyzer.write(self._states_for(analyzer), metrics, self.sink, out_dir)
        write_per_image_csv(out_dir / "per_image.csv", self.sink.view("rows", "sorted"))
        write_json(out_dir / "class_spec.json", self.spec.to_dict())
        from ..schema import check_metrics
        check_metrics(metrics)
        write_json(out_dir / "metrics.json", metrics)
        if isinstance(self.sink, DiskSink) and self.sink.folder.resolve() == out_dir.resolve():
            self.sink.release()
        return metrics


def _leave_out_empty_classes(metrics: dict) -> None:
    """Beyond ``DENSE_MATRIX_CLASSES`` classes, ``metrics.json`` follows the classes present: a
    class that no pixel of the GT or of the predictions has (and that is not excluded) gets no
    ``per_class`` entry, nor a ``per_class_iou`` entry in the convention blocks, whose IoU of
    every such class (all its counts are 0, so one value per convention) is ``per_class_iou_omitted``."""
    per_class = metrics["per_class"]
    empty = [name for name, e in per_class.items()
             if not e.get("gt_pixels") and not e.get("pred_pixels") and not e.get("excluded")]
    for name in empty:
        del per_class[name]
    metrics["per_class_omitted"] = len(empty)
    for block in (metrics.get("conventions") or {}).values():
        ious = block.get("per_class_iou")
        if not isinstance(ious, dict) or not empty:
            continue
        values = {ious.get(name) for name in empty}
        if len(values) == 1:
            for name in empty:
                ious.pop(name, None)
            block["per_class_iou_omitted"] = values.pop()


def _merge_part(metrics: dict, part: dict) -> None:
    """Merge one analyzer's part into ``metrics``: dicts (``per_class``, ``config``) recurse."""
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(metrics.get(key), dict):
            _merge_part(metrics[key], value)
        else:
            metrics[key] = value


def write_per_image_csv(path: Path, rows) -> None:
    """Write ``per_image.csv``: one line per row, the columns in order of first appearance.

    ``rows``: a list, or any sized object that can be iterated twice (a sink's view): once to
    find the columns, once to write; each pass is linear in rows × columns.
    """
    columns: dict[str, None] = {}
    shapes: set[tuple] = set()
    for row in rows:
        shape = tuple(row)
        if shape not in shapes:
            shapes.add(shape)
            columns.update(dict.fromkeys(shape))
    names = list(columns)
    write_csv(path, names, ([row.get(k) for k in names] for row in rows), number=round_repr(10))


def evaluate_arrays(
    preds: Iterable, gts: Iterable, spec: ClassSpec | int, config: EvalConfig | None = None,
    ignore_index: int | None = None,
) -> dict:
    """Evaluate in-memory masks (raw ids) and return the metrics dict; ``preds`` and ``gts`` must
    hold as many masks each (else a :class:`SegscopeError`, not a silently shorter run)."""
    ev = Evaluation(spec, config, ignore_index=ignore_index)
    ran_out = object()
    for i, (p, g) in enumerate(itertools.zip_longest(preds, gts, fillvalue=ran_out)):
        if p is ran_out or g is ran_out:
            raise SegscopeError(f"preds and gts hold different numbers of masks: {'preds' if p is ran_out else 'gts'} "
                                f"ran out after {i:,}")
        ev.update(p, g, image_id=f"image_{i:05d}")
    return ev.compute()
