"""Other libraries' numbers for a finished run, and why each differs from segscope's.

``compute(results, "mmseg:nan_to_num=0")`` gives one convention's block for a results folder, a
:class:`~segscope.io.run_folder.Results`, an :class:`~segscope.engine.evaluation.Evaluation` or
a ``metrics.json`` dict; :func:`explain` gives the table of ``segscope explain``: each
convention's mIoU, its difference from segscope's, and the policies that cause it on this data.
The definitions are in :mod:`segscope.metrics.conventions` and ``docs/conventions.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .analysis.compare import load_counts
from .engine.analyzers.conventions import convention_data
from .engine.evaluation import Evaluation
from .exceptions import SegscopeError
from .io.run_folder import Results, load_results
from .engine.sinks import CHUNK
from .metrics.confusion import matrix_from_json
from .metrics.conventions import (
    CONVENTIONS,
    ConventionData,
    convention_block,
    default_conventions,
    image_sums,
    parse_convention,
)

__all__ = [
    "compute",
    "data_of",
    "explain",
    "explain_rows",
]

#: conventions that need each image's counts (a bare metrics dict does not have them)
_IMAGEWISE = ("torchmetrics-meaniou", "smp-micro-imagewise", "smp-macro-imagewise", "smp-weighted-imagewise",
              "segscope")


def _from_metrics(metrics: dict, counts_file: Path | None) -> ConventionData:
    names = tuple(str(n) for n in metrics.get("classes") or metrics["per_class"])
    cm = matrix_from_json(metrics)
    if cm is None or cm.shape != (len(names), len(names)):
        raise SegscopeError("metrics.json has no K × K confusion matrix to compute conventions from")
    per_class = metrics["per_class"]  # beyond 256 classes: no entry for a class without pixels
    gt = np.array([int((per_class.get(n) or {}).get("gt_pixels", 0)) for n in names], np.int64)
    sums = None
    if counts_file is not None and counts_file.exists():
        counts = load_counts(counts_file.parent)  # checked: ids and N × K arrays
        ids = [str(i) for i in counts["image_ids"]]
        order = np.array(sorted(range(len(ids)), key=ids.__getitem__), np.int64)
        arrays = [counts[key] for key in ("tp", "fp", "fn")]
        if arrays[0].shape[1] != len(names):
            raise SegscopeError(f"per-image counts: {arrays[0].shape[1]} classes, metrics.json has {len(names)}",
                                counts_file)
        sums = image_sums(((np.asarray(a[block], np.int64) for a in arrays)
                           for block in np.array_split(order, max(1, len(order) // CHUNK))), len(names))
    cfg = metrics.get("config") or {}
    exclude = tuple(sorted(names.index(n) for n in cfg.get("exclude") or () if n in names))
    miou_image = metrics.get("miou_image")
    return ConventionData(cm, gt, names, sums, float("nan") if miou_image is None else float(miou_image), exclude)


def data_of(results) -> tuple[ConventionData, dict]:
    """``(counts, metrics)`` of a results folder (path or :class:`Results`), an
    :class:`Evaluation` or a ``metrics.json`` dict."""
    if isinstance(results, Evaluation):
        states = {"core": results.states["core"]}
        return convention_data(results.spec, results.config, states, results.sink), {}
    if isinstance(results, (str, Path)):
        results = load_results(results)
    if isinstance(results, Results):
        return _from_metrics(results.metrics, results.dir / "per_image_counts.npz"), results.metrics
    if isinstance(results, dict):
        return _from_metrics(results, None), results
    raise SegscopeError(f"cannot compute conventions of a {type(results).__name__}: give a results folder, "
                        "an Evaluation or a metrics dict")


def compute(results, convention: str) -> dict:
    """One convention's block (as in ``metrics.json``'s ``conventions``) for ``results``.

    A block the run already holds under that exact name is returned as stored (with
    ``--instances`` it holds the instance-level figures, which need the instance records).

    >>> from segscope import Evaluation, EvalConfig
    >>> ev = Evaluation(3, EvalConfig(analyses=()))
    >>> _ = ev.update([[0, 1], [2, 2]], [[0, 1], [1, 1]])
    >>> compute(ev, "detectron2")["miou"], compute(ev, "segscope")["miou"]
    (0.6666666666666666, 0.4444444444444444)
    """
    parse_convention(convention)
    data, metrics = data_of(results)
    stored = (metrics.get("conventions") or {}).get(convention) if metrics else None
    if stored is not None:
        return stored
    if parse_convention(convention)[0] in _IMAGEWISE and not data.per_image_known:
        raise SegscopeError(f"the {convention!r} convention needs each image's counts "
                            "(per_image_counts.npz of a results folder)")
    return convention_block(convention, data)


# ---------------------------------------------------------------------- why they differ
def _listing(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _reasons(convention: str, d: ConventionData) -> list[str]:
    """The policies of ``convention`` that make its mIoU differ from segscope's on ``d``."""
    name, options = parse_convention(convention)
    defaults = {k: v for k, (v, _) in CONVENTIONS[name][1].items()}
    opt = {**defaults, **options}
    tp, fp, fn, gt = d.tp, d.fp, d.fn, np.asarray(d.gt, np.int64)
    names = list(d.names)
    absent = [n for n, u in zip(names, tp + fp + fn) if u == 0]
    pred_only = [i for i in range(len(names)) if gt[i] == 0 and fp[i] > 0]
    out: list[str] = []
    if d.exclude:
        out.append(f"segscope leaves out the excluded {_listing([names[i] for i in d.exclude])}; {name} keeps them")
    if name == "detectron2":
        for i in pred_only:
            images = int(d.sums.fp_images[i]) if d.sums is not None else "some"
            out.append(f"class {names[i]!r} has no GT pixels but is predicted in {images} image(s): detectron2 "
                       "leaves it out of the mean, segscope counts its IoU of 0")
        unmatched = int(gt.sum() - d.gt_matched.sum())
        if unmatched:
            out.append(f"{unmatched} labelled pixels are predicted as no class: detectron2 counts them nowhere, "
                       "segscope counts them as misses")
    elif name == "mmseg" and opt["nan_to_num"] is not None and absent:
        for n in absent:
            out.append(f"class {n!r} appears in no image: mmseg with nan_to_num={opt['nan_to_num']:g} adds a "
                       f"{opt['nan_to_num']:g} to the mean")
    elif name.startswith("smp-"):
        zd = opt["zero_division"]
        if name in ("smp-macro", "smp-weighted") and absent and zd:
            for n in absent:
                out.append(f"class {n!r} appears in no image: {name} with zero_division={zd:g} scores it {zd:g}")
        if name.endswith("imagewise"):
            empty = int(d.sums.images * len(names) - d.sums.iou_count.sum())
            out.append(f"{name} averages per-image IoUs over images; {empty} (image, class) pairs have an empty "
                       f"union and score {zd:g} (zero_division)")
        if name.startswith("smp-micro"):
            out.append(f"{name} pools the pixels of every class, so large classes weigh more")
        if name.startswith("smp-weighted"):
            out.append(f"{name} weighs each class by its GT pixels" +
                       (" and then divides by the number of classes" if name.endswith("imagewise") else ""))
    elif name == "torchmetrics-meaniou":
        out.append("torchmetrics MeanIoU averages per-image IoUs over every (image, class) pair with a non-empty "
                   "union, so a class predicted in an image without it scores 0 there; segscope pools pixels")
        if not opt["include_background"]:
            out.append(f"include_background=false leaves out class {names[0]!r}")
    elif name == "torchmetrics-jaccard-micro":
        out.append("micro pools the pixels of every class, so large classes weigh more")
    elif name == "torchmetrics-jaccard-weighted":
        out.append("weighted weighs each class by its GT pixels; classes without GT pixels weigh 0")
    elif name == "cityscapes":
        out.append("the Cityscapes evaluator keeps every class with a non-empty union, as segscope does")
    return out


def explain_rows(results) -> list[dict[str, Any]]:
    """One row per convention of the run: ``convention``, ``miou``, ``delta`` (its mIoU minus
    segscope's; None where either is undefined) and ``why`` (sentences; empty when equal)."""
    data, metrics = data_of(results)
    stored = dict(metrics.get("conventions") or {}) if metrics else {}
    names = list(stored) or list(default_conventions(data.names))
    if not stored and not data.per_image_known:
        names = [n for n in names if parse_convention(n)[0] not in _IMAGEWISE]
    base = (metrics.get("miou") if metrics else None)
    if base is None:
        base = (stored.get("segscope") or compute(results, "segscope"))["miou"]
    rows = []
    for name in names:
        block = stored.get(name) or convention_block(name, data)
        miou = block.get("miou")
        delta = None if miou is None or base is None else float(miou) - float(base)
        why = [] if delta is not None and abs(delta) < 1e-12 else _reasons(name, data)
        rows.append({"convention": name, "miou": miou, "delta": delta, "why": why})
    return rows


def explain(results) -> str:
    """The table of ``segscope explain`` as plain text."""
    lines = [f"{'convention':<34} {'mIoU':>8} {'Δ vs segscope':>14}  why"]
    for row in explain_rows(results):
        miou = "-" if row["miou"] is None else f"{row['miou']:.4f}"
        delta = "-" if row["delta"] is None else f"{row['delta']:+.4f}"
        why = "; ".join(row["why"]) or ("same as segscope" if row["delta"] is not None and abs(row["delta"]) < 1e-12
                                        else "")
        lines.append(f"{row['convention']:<34} {miou:>8} {delta:>14}  {why}")
    return "\n".join(lines)
