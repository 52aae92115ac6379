"""Run the checks: list the files, read every mask once (in a process pool), run every check."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import IMAGE_SUFFIXES, MASK_SUFFIXES
from ._profile import JPEG_SUFFIXES, CheckOptions, MaskProfile, profile_mask
from ._registry import CHECKS, SEVERITIES, CheckContext, Finding

__all__ = ["run_checks", "CheckReport", "pool_map", "list_files"]


# ---------------------------------------------------------------------- a small process pool
_worker_state: dict = {}
#: with ``jobs=0`` smaller batches are read in this process
AUTO_POOL_MIN = 32


def _init(func, args) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    _worker_state["func"] = func
    _worker_state["args"] = args


def _call(task):
    return _worker_state["func"](*task, *_worker_state["args"])


def pool_map(
    func: Callable, tasks: Sequence[tuple], args: tuple = (), jobs: int | None = None,
    advance: Callable[[int], None] | None = None,
) -> Iterator:
    """Yield ``func(*task, *args)`` for every task, in order, over ``jobs`` processes (1: in this
    process; 0/None: all cores, except that fewer than ``AUTO_POOL_MIN`` tasks run in this process,
    where starting workers would cost more than it saves). At most two tasks per worker are in
    flight."""
    from ..engine.runners import default_jobs

    if not jobs or jobs < 1:
        jobs = default_jobs() if len(tasks) >= AUTO_POOL_MIN else 1
    jobs = min(jobs, len(tasks)) or 1
    if jobs == 1:
        for task in tasks:
            out = func(*task, *args)
            if advance:
                advance(1)
            yield out
        return
    import multiprocessing as mp

    ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(func, args)) as pool:
        it = iter(tasks)
        futures = [pool.submit(_call, t) for _, t in zip(range(2 * jobs), it)]
        while futures:
            out = futures.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                futures.append(pool.submit(_call, nxt))
            if advance:
                advance(1)
            yield out


# ---------------------------------------------------------------------- listing files
def _key(path: Path, root: Path, suffix: str) -> str:
    rel = path.relative_to(root)
    stem = rel.name[: -len(rel.suffix)] if rel.suffix else rel.name
    if suffix and stem.endswith(suffix):
        stem = stem[: -len(suffix)]
    return (rel.parent / stem).as_posix() if rel.parent != Path(".") else stem


def list_files(folder: Path, suffixes: Iterable[str], suffix: str = "") -> dict[str, Path]:
    """id -> file for the files under ``folder`` (recursive) with one of ``suffixes`` whose stem
    ends with ``suffix``; a second file with the same id gets its extension appended to the id."""
    found: dict[str, Path] = {}
    suffixes = tuple(suffixes)
    for f in sorted(folder.rglob("*")):
        if not f.is_file() or f.name.startswith(".") or f.suffix.lower() not in suffixes:
            continue
        stem = f.name[: -len(f.suffix)]
        if suffix and not stem.endswith(suffix):
            continue
        key = _key(f, folder, suffix)
        if key in found:
            key = f"{key}{f.suffix}"
        found[key] = f
    return found


def _pair_keys(masks: dict[str, Path], images: dict[str, Path]) -> dict[str, Path]:
    """Re-key ``images`` by the mask ids when the two folders are nested differently."""
    if set(masks) & set(images) or not masks or not images:
        return images
    flat_m = {k.rsplit("/", 1)[-1]: k for k in masks}
    flat_i = {k.rsplit("/", 1)[-1]: v for k, v in images.items()}
    if len(flat_m) == len(masks) and len(flat_i) == len(images):
        return {flat_m.get(k, k): v for k, v in flat_i.items()}
    return images


# ---------------------------------------------------------------------- the report
@dataclass
class CheckReport:
    """The findings of one ``segscope check`` run and the dataset's statistics."""

    findings: list[Finding]
    num_masks: int
    num_images: int | None
    stats: dict
    spec_name: str
    gt_dir: str
    images_dir: str | None = None
    checks_run: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def by_severity(self) -> dict[str, list[Finding]]:
        return {s: [f for f in self.findings if f.severity == s] for s in SEVERITIES}

    def exit_code(self, strict: bool = False) -> int:
        """1 when errors were found (with ``strict``: errors or warnings), else 0."""
        c = self.counts()
        return 1 if c["error"] or (strict and c["warning"]) else 0

    def to_dict(self) -> dict:
        return {
            "gt_dir": self.gt_dir,
            "images_dir": self.images_dir,
            "class_spec": self.spec_name,
            "num_masks": self.num_masks,
            "num_images": self.num_images,
            "checks_run": self.checks_run,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
        }


def _load_checks() -> None:
    from . import classic_checks, dataset_checks, format_checks, noise_checks  # noqa: F401  (registers)


def run_checks(
    gt_dir: str | Path,
    spec: ClassSpec,
    images_dir: str | Path | None = None,
    options: CheckOptions | None = None,
    jobs: int | None = 1,
    advance: Callable[[int], None] | None = None,
) -> CheckReport:
    """Check every mask under ``gt_dir`` (and its image under ``images_dir``) against ``spec``.

    Each mask is read once, raw, in ``jobs`` worker processes (0: all cores); then every registered
    check (except ``options.skip``) looks at the whole dataset.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from segscope.io import write_mask
    >>> from segscope.classes import ClassSpec
    >>> d = tempfile.mkdtemp()
    >>> write_mask(f"{d}/a.png", np.array([[0, 0], [0, 255]], dtype=np.uint8))
    >>> report = run_checks(d, ClassSpec.anonymous(2))
    >>> [f.check for f in report.findings if f.severity == "error"]
    ['binary-255', 'unknown-ids']
    """
    _load_checks()
    options = options or CheckOptions()
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise SegscopeError("no such folder" if not gt_dir.exists() else "not a folder", gt_dir)
    unknown = set(options.skip) - set(CHECKS)
    if unknown:
        raise SegscopeError(f"unknown check(s) {sorted(unknown)}; checks are {', '.join(sorted(CHECKS))}")
    masks = list_files(gt_dir, MASK_SUFFIXES + JPEG_SUFFIXES, options.suffix)
    if not masks:
        what = f" ending in {options.suffix!r}" if options.suffix else ""
        raise SegscopeError(f"no mask files{what} ({', '.join(MASK_SUFFIXES)}) found", gt_dir)
    images = None
    if images_dir is not None:
        images_dir = Path(images_dir)
        if not images_dir.is_dir():
            raise SegscopeError("no such folder" if not images_dir.exists() else "not a folder", images_dir)
        images = _pair_keys(masks, list_files(images_dir, IMAGE_SUFFIXES, options.image_suffix))
    tasks = [(k, str(p), str(images[k]) if images and k in images else None) for k, p in masks.items()]
    profiles: list[MaskProfile] = list(pool_map(_profile_task, tasks, (spec, options), jobs, advance))
    ctx = CheckContext(
        spec=spec, options=options,
        profiles=[p for p in profiles if p.error is None],
        unreadable=[p for p in profiles if p.error is not None],
        mask_ids={k: str(p) for k, p in masks.items()},
        image_ids=None if images is None else {k: str(p) for k, p in images.items()},
        root=str(gt_dir), image_root=str(images_dir) if images_dir is not None else "",
    )
    findings: list[Finding] = []
    ran = []
    for cid, info in sorted(CHECKS.items()):
        if cid in options.skip:
            continue
        ran.append(cid)
        findings.extend(info.func(ctx))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order[f.severity], f.check))
    return CheckReport(
        findings=findings, num_masks=len(masks), num_images=None if images is None else len(images),
        stats={**ctx.stats, "class_spec": spec.name, "ignore_index": spec.ignore_index},
        spec_name=spec.name, gt_dir=str(gt_dir), images_dir=None if images_dir is None else str(images_dir),
        checks_run=ran,
    )


def _profile_task(image_id, path, image_path, spec, options):
    return profile_mask(image_id, path, spec, options, image_path)
