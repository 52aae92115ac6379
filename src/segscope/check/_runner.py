"""Run the checks: list the files, read every mask once (in a process pool), run every check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..engine.pool import pool_map
from ..io.files import IMAGE_SUFFIXES, JPEG_SUFFIXES, MASK_SUFFIXES, list_files
from ._profile import CheckOptions, MaskProfile, profile_mask
from ._registry import CHECKS, SEVERITIES, CheckContext, Finding

__all__ = ["run_checks", "CheckReport", "list_check_masks"]


# ---------------------------------------------------------------------- listing files
def list_check_masks(folder: str | Path, suffix: str = "") -> dict[str, Path]:
    """id -> file for the masks ``segscope check`` reads under ``folder`` (JPEG ones included, to
    be reported); a second file with the same id gets its extension appended to the id."""
    return list_files(folder, MASK_SUFFIXES + JPEG_SUFFIXES, suffix=suffix, duplicates="extension")


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
    unknown = set(options.skip) - set(CHECKS)
    if unknown:
        raise SegscopeError(f"unknown check(s) {sorted(unknown)}; checks are {', '.join(sorted(CHECKS))}")
    masks = list_check_masks(gt_dir, options.suffix)
    images = None
    if images_dir is not None:
        images_dir = Path(images_dir)
        found = list_files(images_dir, IMAGE_SUFFIXES, suffix=options.image_suffix, duplicates="extension",
                           allow_empty=True, what="images")
        images = _pair_keys(masks, found)
    tasks = [(k, str(p), str(images[k]) if images and k in images else None) for k, p in masks.items()]
    profiles: list[MaskProfile] = list(pool_map(_profile_task, tasks, (spec, options), jobs, advance, method="forkserver"))
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
