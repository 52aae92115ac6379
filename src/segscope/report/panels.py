"""Rendering per-image panels, in parallel worker processes, with a progress bar."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .._progress import progress_bar
from ..classes import ClassSpec
from ..engine.pool import default_jobs, pool_map
from ..exceptions import SegscopeError

__all__ = ["PanelJob", "CompareJob", "render_panel", "render_compare", "render_all", "safe_name", "progress_bar"]


def safe_name(image_id: str) -> str:
    """A file name for an image id (ids may hold '/' or odd characters; a short hash keeps
    changed names unique).

    >>> safe_name("street_0001"), safe_name("aachen/aachen_000000_000019")
    ('street_0001', 'aachen_aachen_000000_000019-6297383f')
    """
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id).strip("._") or "image"
    if clean != image_id:
        clean = f"{clean[:80]}-{hashlib.sha1(image_id.encode('utf-8')).hexdigest()[:8]}"
    return clean


@dataclass
class PanelJob:
    """One panel: which files to read and where the PNG goes."""

    image_id: str
    pred: Path
    gt: Path
    image: Path | None
    out: Path
    spec: ClassSpec
    exclude: tuple[int, ...] = ()
    band_px: int | None = None
    band_ratio: float = 0.01
    class_index: int | None = None
    dominant_error: str | None = None  # from per_image.csv, shown in the title


@dataclass
class CompareJob:
    """One A | B | GT panel."""

    image_id: str
    gt: Path
    pred_a: Path
    pred_b: Path
    image: Path | None
    out: Path
    spec: ClassSpec
    miou_a: float | None = None
    miou_b: float | None = None
    label_a: str = "A"
    label_b: str = "B"
    extra: dict = field(default_factory=dict)


def _read_pair(spec: ClassSpec, pred: Path, gt: Path):
    from ..io.masks import read_pair

    p, g = read_pair(pred, spec, gt)
    if p.shape != g.shape:
        raise SegscopeError(f"prediction size {p.shape} differs from GT size {g.shape}", pred)
    return p, g


def _read_image(path: Path | None):
    if path is None:
        return None
    from ..io.masks import read_image

    try:
        return read_image(path)
    except SegscopeError:
        return None


def render_panel(job: PanelJob) -> dict:
    """Read one pair (and its image), draw its panel to ``job.out`` and return its stats
    (error pixels by type, the dominant type, the image mIoU)."""
    from .. import viz

    p, g = _read_pair(job.spec, job.pred, job.gt)
    img = _read_image(job.image)
    spec = job.spec
    data = viz.panel_data(
        p, g, spec.names, spec.colors, image=img, image_id=job.image_id, ignore_index=spec.index_ignore,
        band_px=job.band_px, band_ratio=job.band_ratio, exclude=job.exclude,
    )
    if job.dominant_error:
        data.stats["dominant_error"] = job.dominant_error
    viz.save_panel(job.out, data, class_index=job.class_index)
    stats = dict(data.stats)
    stats["miou"] = data.miou
    stats["has_image"] = img is not None
    return stats


def render_compare(job: CompareJob) -> dict:
    """Draw one A | B | GT panel to ``job.out``."""
    from .. import viz

    pa, g = _read_pair(job.spec, job.pred_a, job.gt)
    pb, _ = _read_pair(job.spec, job.pred_b, job.gt)
    img = _read_image(job.image)
    rgb = viz.compare_image(
        job.image_id, g, pa, pb, job.spec.names, job.spec.colors, image=img, ignore_index=job.spec.index_ignore,
        label_a=job.label_a, label_b=job.label_b, miou_a=job.miou_a, miou_b=job.miou_b,
    )
    viz.save_rgb(job.out, rgb)
    return {"has_image": img is not None}


def _run(job):
    fn = render_compare if isinstance(job, CompareJob) else render_panel
    try:
        return job.image_id, fn(job), None
    except SegscopeError as exc:
        return job.image_id, None, str(exc)
    except Exception as exc:  # a picture must not sink the report
        return job.image_id, None, f"{type(exc).__name__}: {exc}"


def _init_worker() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")


def render_all(
    jobs: Iterable, workers: int | None = None, progress: Callable[[int], None] | bool | None = None,
    description: str = "rendering panels",
) -> tuple[dict[str, dict], dict[str, str]]:
    """Render panels (``PanelJob`` / ``CompareJob``) in parallel processes (the bounded pool of
    :mod:`segscope.engine.pool`; fewer than four panels are drawn in this process).

    ``workers``: processes (None or 0: all cores; 1: in this process). ``progress``: a callable
    ``advance(n)``, True/False to force the terminal bar on/off, or None for a bar on a terminal.
    Returns ``(stats by image id, error message by image id)``; a failed picture is reported,
    never raised.
    """
    jobs = list(jobs)
    done: dict[str, dict] = {}
    failed: dict[str, str] = {}
    if not jobs:
        return done, failed
    n = 1 if len(jobs) < 4 else workers or default_jobs()
    cm = contextlib.nullcontext(progress) if callable(progress) else progress_bar(
        len(jobs), description, None if progress is None else bool(progress))
    with cm as advance:
        def record(res):
            image_id, stats, err = res
            if err is None:
                done[image_id] = stats
            else:
                failed[image_id] = err
            advance(1)

        for res in pool_map(_run, [(job,) for job in jobs], jobs=n, initializer=_init_worker,
                            describe=lambda task: f"drawing the picture of {task[0].image_id!r}"):
            record(res)
    return done, failed
