"""One run from folders: pair the masks, evaluate, write the results folder (and its report).

:func:`evaluate_folders` is what ``segscope evaluate`` calls, so Python and the command line
record the same ``metrics.json`` and write the same results folder: the run goes into a staging
folder (:func:`segscope.io.results.staged_results`), the report is built there too, and the
whole is swapped in at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from .classes import ClassSpec, load_spec
from .engine.config import EvalConfig
from .engine.evaluation import Evaluation
from .io.files import PairTable, join, location, pair_masks, set_storage_options, storage_options

__all__ = ["FolderRun", "evaluate_folders"]

#: options of the pairing and of the runner (the others are :class:`EvalConfig` fields)
PAIRING_OPTIONS = {"pred_suffix": "", "gt_suffix": "", "allow_missing": False}
RUN_OPTIONS = {"scheduler": None, "progress": None, "storage_options": None, "resume": False}
SPEC_OPTIONS = {"ignore_index": "keep", "pred_ids": "train", "gt_ids": "label"}
CONFIG_OPTIONS = {f.name for f in fields(EvalConfig)} - {"images_dir"}
PATH_OPTIONS = ("instances_dir", "gt2_dir", "probs_dir")


@dataclass
class FolderRun:
    """What :func:`evaluate_folders` returns.

    Attributes
    ----------
    evaluation : the filled :class:`~segscope.Evaluation` (states and per-image rows).
    metrics : the ``metrics.json`` dict, with the folders of the run under ``config``.
    pairs : the (prediction, GT) pairs evaluated.
    out : the results folder, or None when nothing was written.
    report : the report's ``index.html``, or None.
    """

    evaluation: Evaluation
    metrics: dict
    pairs: PairTable
    out: Path | str | None = None
    report: Path | str | None = None


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    classes: ClassSpec | str | Path | int,
    out: str | Path | None = None,
    images: str | Path | None = None,
    report: bool = False,
    jobs: int | None = None,
    **options: Any,
) -> FolderRun:
    """Evaluate a folder of predicted masks against a folder of GT masks.

    Parameters
    ----------
    pred_dir, gt_dir : the mask folders, paired by file id (see :func:`segscope.pair_masks`);
        local paths or fsspec URLs (``s3://bucket/preds``), as every folder and ``out`` may be.
    classes : a :class:`~segscope.ClassSpec`, a preset name (``"cityscapes"``), a YAML/JSON
        spec file, or an int for anonymous classes ``0..N-1``.
    out : the results folder to write (``metrics.json``, the CSVs and arrays, ``manifest.json``);
        None writes nothing. It always ends up holding one complete run: the previous one if
        this run fails or is killed, else this one.
    images : the original images, for the report's panels (recorded as ``images_dir``).
    report : also build the HTML report into ``out/report/`` (needs ``out``).
    jobs : worker processes (None or 0: all cores; 1: this process), for the evaluation and the
        report's panels.
    **options : :class:`~segscope.EvalConfig` fields (``analyses``, ``exclude``,
        ``boundary_px``, ``instances_dir``, ...); the pairing options ``pred_suffix``,
        ``gt_suffix``, ``allow_missing``; ``scheduler`` (a Dask address or ``"dask"``);
        ``storage_options``, a dict of fsspec options for the URLs (as pandas takes them);
        ``resume``, continue from the shards a killed run with ``resume`` kept (needs ``out``);
        ``progress``, a callable ``progress(done, total)`` called once with ``done=0`` and after
        every image; and, with a spec given by name or file, ``ignore_index``, ``pred_ids``,
        ``gt_ids`` as in :func:`segscope.load_spec`.

    Returns
    -------
    FolderRun
        the evaluation, the metrics dict, the pairs, and where the results and report went.

    Examples
    --------
    >>> import tempfile
    >>> from segscope.synth import write_dataset
    >>> data = write_dataset(tempfile.mkdtemp(), num_images=2, height=32, width=48)
    >>> run = evaluate_folders(data["pred"], data["gt"], data["classes"], analyses=(), jobs=1)
    >>> run.metrics["num_images"], run.metrics["config"]["gt_dir"] == str(data["gt"])
    (2, True)
    """
    unknown = set(options) - set(PAIRING_OPTIONS) - set(RUN_OPTIONS) - set(SPEC_OPTIONS) - CONFIG_OPTIONS
    if unknown:
        hint = " (give the images as images=)" if "images_dir" in unknown else ""
        raise TypeError(f"evaluate_folders() got unknown option(s) {', '.join(sorted(unknown))}{hint}")
    opt = {**PAIRING_OPTIONS, **RUN_OPTIONS, **SPEC_OPTIONS, **options}
    if report and out is None:
        raise ValueError("report=True needs out=: the report is built inside the results folder")
    if opt["resume"] and out is None:
        raise ValueError("resume=True needs out=: finished shards are kept in the results folder's staging folder")
    saved = storage_options()
    if opt["storage_options"] is not None:
        set_storage_options(opt["storage_options"])
    try:
        return _run(pred_dir, gt_dir, classes, out, images, report, jobs, options, opt)
    finally:
        if opt["storage_options"] is not None:
            set_storage_options(saved)


def _run(pred_dir, gt_dir, classes, out, images, report, jobs, options, opt) -> FolderRun:
    spec = _spec(classes, opt)
    config = _config(options, images)
    pred_dir, gt_dir = location(pred_dir), location(gt_dir)
    pairs = pair_masks(pred_dir, gt_dir, opt["pred_suffix"], opt["gt_suffix"], allow_missing=opt["allow_missing"])
    if out is None:
        ev, metrics = _evaluate(pairs, spec, config, pred_dir, gt_dir, jobs, opt)
        return FolderRun(ev, metrics, pairs)

    from .io.results import RESUME_DIR, staged_results

    out = location(out)
    inputs = {"prediction": pred_dir, "GT": gt_dir, "images": images, "instances": config.instances_dir,
              "second GT": config.gt2_dir, "probabilities": config.probs_dir}
    with staged_results(out, inputs, resume=opt["resume"]) as stage:
        ev, metrics = _evaluate(pairs, spec, config, pred_dir, gt_dir, jobs, opt, sink_dir=stage,
                                resume_dir=stage / RESUME_DIR if opt["resume"] else None)
        ev.save(stage, metrics)
        index = None
        if report:
            from .report import build_report

            index = build_report(stage, jobs=jobs or None, shown_as=out)
    return FolderRun(ev, metrics, pairs, out, join(out, index.relative_to(stage).as_posix()) if index is not None else None)


def _spec(classes, opt: dict) -> ClassSpec:
    if isinstance(classes, ClassSpec):
        return classes
    if isinstance(classes, bool) or not isinstance(classes, (int, str, Path)):
        raise TypeError(f"classes must be a ClassSpec, a preset name, a spec file or an int, not {type(classes).__name__}")
    if isinstance(classes, int):
        return load_spec(num_classes=classes, ignore_index=opt["ignore_index"])
    return load_spec(classes, ignore_index=opt["ignore_index"], pred_ids=opt["pred_ids"], gt_ids=opt["gt_ids"])


def _config(options: dict, images) -> EvalConfig:
    values = {k: v for k, v in options.items() if k in CONFIG_OPTIONS}
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
        elif key in PATH_OPTIONS and value is not None:
            values[key] = str(location(value))
    return EvalConfig(**values, images_dir=str(location(images)) if images is not None else None)


def _ids(spec: ClassSpec, opt: dict) -> tuple[str | None, str | None]:
    """The Cityscapes id conventions of the masks (None for other specs)."""
    if not spec.name.startswith("cityscapes"):
        return None, None
    named = re.fullmatch(r"cityscapes\(gt_ids=(\w+),pred_ids=(\w+)\)", spec.name)
    return (named.group(2), named.group(1)) if named else (opt["pred_ids"], opt["gt_ids"])


def _evaluate(pairs, spec: ClassSpec, config: EvalConfig, pred_dir, gt_dir, jobs, opt: dict,
              sink_dir: Path | None = None, resume_dir: Path | None = None):
    from .engine.runners import run_evaluation

    progress: Callable[[int, int], None] | None = opt["progress"]
    done = 0

    def advance(_result) -> None:
        nonlocal done
        done += 1
        progress(done, len(pairs))  # type: ignore[misc]

    if progress is not None:
        progress(0, len(pairs))
    ev = run_evaluation(pairs, spec, config, jobs=jobs, progress=advance if progress is not None else None,
                        scheduler=opt["scheduler"], sink_dir=sink_dir, resume_dir=resume_dir)
    metrics = ev.compute()
    pred_ids, gt_ids = _ids(spec, opt)
    metrics["config"].update({
        "pred_dir": str(pred_dir), "gt_dir": str(gt_dir), "pred_suffix": opt["pred_suffix"],
        "gt_suffix": opt["gt_suffix"], "pred_ids": pred_ids, "gt_ids": gt_ids,
    })
    return ev, metrics
