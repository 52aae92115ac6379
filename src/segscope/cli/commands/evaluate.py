"""``segscope evaluate PREDS GTS``: metrics of predicted masks against ground truth."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ...engine.analyzers.base import optional_analyses
from ...io.files import is_folder, location, parse_storage_options, set_storage_options
from ...run import evaluate_folders
from .._common import (
    ClassesOpt,
    GtIdsOpt,
    IgnoreOpt,
    JobsOpt,
    MaxPixelsOpt,
    NumClassesOpt,
    PredIdsOpt,
    add_command,
    apply_max_pixels,
    err_console,
    existing_dir,
    progress,
    spec_from_options,
)
from ..summary import print_summary, sanity_warnings

EXAMPLE = """
Example:

    segscope evaluate preds/ gts/ --classes classes.yaml --out results/

    segscope evaluate preds/ gtFine/val --classes cityscapes --gt-suffix _gtFine_labelIds --out results/
"""


def parse_trimap(text: str) -> tuple[int, ...]:
    from ...exceptions import SegscopeError

    try:
        widths = tuple(sorted({int(t) for t in text.split(",") if t.strip()}))
    except ValueError:
        raise SegscopeError(f"--trimap takes comma-separated pixel widths, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise SegscopeError(f"--trimap widths must be >= 1, got {text!r}")
    return widths


def parse_bins(text: str) -> tuple[float, ...]:
    """``--segment-bins``: comma-separated size edges as fractions of the image (0.001,0.01);
    :class:`EvalConfig` checks them."""
    from ...exceptions import SegscopeError

    try:
        edges = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise SegscopeError(f"--segment-bins takes comma-separated fractions, got {text!r}") from None
    return edges


def evaluate(
    preds: str = typer.Argument(..., help="Folder of predicted masks (a path or a URL: s3://, gs://, https://, ...)."),
    gts: str = typer.Argument(..., help="Folder of ground-truth masks (a path or a URL)."),
    classes: Optional[str] = ClassesOpt,
    num_classes: Optional[int] = NumClassesOpt,
    ignore_index: Optional[str] = IgnoreOpt,
    out: str = typer.Option("results", "--out", "-o", help="Output folder (a path or a URL)."),
    pred_suffix: str = typer.Option("", "--pred-suffix", help="Suffix to strip from prediction file stems."),
    gt_suffix: str = typer.Option("", "--gt-suffix", help="Suffix to strip from GT stems, e.g. _gtFine_labelIds."),
    pred_ids: str = PredIdsOpt,
    gt_ids: str = GtIdsOpt,
    label_map: Optional[str] = typer.Option(
        None, "--label-map", help="Map raw GT values to class ids first, all at once: RAW:ID,RAW:ID (0:1,1:0 swaps)."
    ),
    reduce_zero_label: bool = typer.Option(
        False, "--reduce-zero-label", help="GT 0 is ignored and GT v is class v-1 (ADE20K style)."
    ),
    exclude: Optional[List[str]] = typer.Option(
        None, "--exclude", help="Leave a class out of the means (its pixels still count). Repeatable."
    ),
    allow_unknown_pred: bool = typer.Option(
        False, "--allow-unknown-pred", help="Count predicted ids outside the spec as misses instead of failing."
    ),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Evaluate the pairs that exist."),
    jobs: int = JobsOpt,
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="Run on Dask: 'dask' (local cluster) or a scheduler address."
    ),
    storage_options: Optional[str] = typer.Option(
        None, "--storage-options", help='fsspec options for the URLs, as JSON: \'{"anon": true}\'.'
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Keep finished shards, and continue from those a killed --resume run kept."
    ),
    skip: Optional[List[str]] = typer.Option(
        None, "--skip",
        help=f"Analyses to skip: {', '.join(optional_analyses())} (core metrics always run). Repeatable.",
    ),
    boundary_ratio: float = typer.Option(0.02, "--boundary-ratio", help="Boundary band width as a share of the image diagonal."),
    boundary_px: Optional[int] = typer.Option(None, "--boundary-px", help="Boundary band width in pixels.", min=1),
    bf_ratio: float = typer.Option(0.0075, "--bf-ratio", help="Boundary F-score tolerance as a share of the diagonal."),
    trimap: str = typer.Option("1,2,4,8,16", "--trimap", help="Trimap widths in pixels, comma-separated."),
    error_band_ratio: float = typer.Option(0.01, "--error-band-ratio", help="Error-breakdown band as a share of the diagonal."),
    error_band_px: Optional[int] = typer.Option(None, "--error-band-px", help="Error-breakdown band in pixels.", min=0),
    segment_bins: str = typer.Option(
        "0.001,0.01", "--segment-bins", help="Segment size bin edges as fractions of the image, comma-separated."
    ),
    miss_threshold: float = typer.Option(
        0.5, "--miss-threshold", help="A GT segment with recall below this is missed.", min=0.0, max=1.0
    ),
    instances: Optional[str] = typer.Option(None, "--instances", help="Instance masks (Cityscapes-style ids) for segment analysis."),
    gt2: Optional[str] = typer.Option(None, "--gt2", help="A second annotation of the same images."),
    probs: Optional[str] = typer.Option(None, "--probs", help="Model probabilities (.npy/.npz, K×H×W) per image."),
    images: Optional[str] = typer.Option(None, "--images", help="Original images, for the report's panels."),
    convention: Optional[List[str]] = typer.Option(
        None, "--convention",
        help="Also compute another library's convention with options set, e.g. mmseg:nan_to_num=0 "
             "(docs/conventions.md). Repeatable.",
    ),
    worst_k: int = typer.Option(10, "--worst-k", help="How many worst images to list.", min=1),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report into OUT/report/."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary table."),
    max_pixels: Optional[str] = MaxPixelsOpt,
) -> None:
    """Evaluate predicted masks against ground truth and write OUT/metrics.json, per_image.csv
    and confusion_matrix.csv."""
    apply_max_pixels(max_pixels)
    from ...classes import parse_label_map

    set_storage_options(parse_storage_options(storage_options))
    spec = spec_from_options(classes, num_classes, ignore_index, pred_ids, gt_ids).with_gt_mapping(
        parse_label_map(label_map, "--label-map"), reduce_zero_label)
    _existing(preds, "prediction")
    _existing(gts, "GT")
    for opt, path in (("--instances", instances), ("--gt2", gt2), ("--probs", probs), ("--images", images)):
        if path is not None:
            _existing(path, opt)
    skipped = set(skip or ())
    unknown = skipped - set(optional_analyses())
    if unknown:
        from ...exceptions import SegscopeError

        raise SegscopeError(f"--skip: unknown analysis {sorted(unknown)}; choose from {', '.join(optional_analyses())}")
    analyses = tuple(a for a in optional_analyses() if a not in skipped)
    with _ProgressBar() as bar:
        run = evaluate_folders(
            preds, gts, spec, out=out, images=images, report=report, jobs=jobs,
            pred_suffix=pred_suffix, gt_suffix=gt_suffix, allow_missing=allow_missing, scheduler=scheduler,
            progress=bar, pred_ids=pred_ids, gt_ids=gt_ids, resume=resume,
            exclude=tuple(exclude or ()),
            allow_unknown_pred=allow_unknown_pred,
            analyses=analyses,
            worst_k=worst_k,
            boundary_ratio=boundary_ratio,
            boundary_px=boundary_px,
            bf_ratio=bf_ratio,
            trimap=parse_trimap(trimap),
            error_band_ratio=error_band_ratio,
            error_band_px=error_band_px,
            segment_bins=parse_bins(segment_bins),
            miss_threshold=miss_threshold,
            instances_dir=instances or None,
            gt2_dir=gt2 or None,
            probs_dir=probs or None,
            conventions=tuple(convention or ()),
        )
    metrics, ev = run.metrics, run.evaluation
    for line in sanity_warnings(metrics, spec, ev.rows, run.pairs):
        err_console.print(f"[yellow]segscope: warning:[/] {escape(line)}", soft_wrap=True)
    if run.report is not None:
        err_console.print(f"report: {run.report}")
    if not quiet:
        print_summary(metrics)
    err_console.print(f"wrote {str(run.out).rstrip('/')}/metrics.json, per_image.csv, confusion_matrix.csv")


def _existing(path: str, what: str) -> None:
    """A local folder or a URL that exists and is a folder (one line if not)."""
    where = location(path)
    if isinstance(where, Path):
        existing_dir(where, what)
    elif not is_folder(where):
        from ...exceptions import SegscopeError

        raise SegscopeError(f"{what} folder does not exist", path)


class _ProgressBar(contextlib.ExitStack):
    """The ``progress(done, total)`` of :func:`evaluate_folders` as a terminal bar, closed when the
    last image is in (before the report draws its own)."""

    def __init__(self) -> None:
        super().__init__()
        self._advance = None

    def __call__(self, done: int, total: int) -> None:
        if self._advance is None:
            self._advance = self.enter_context(progress(total, "evaluating"))
        else:
            self._advance()
        if done >= total:
            self.close()


def register(app: typer.Typer) -> None:
    add_command(app, evaluate, EXAMPLE)
