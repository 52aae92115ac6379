"""The check registry: findings, the dataset context every check reads, and ``@check``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..classes import ClassSpec
from ..io.files import some_names
from ..stats import ClassCountState
from ._profile import CheckOptions, MaskProfile

__all__ = ["SEVERITIES", "Finding", "CheckContext", "CheckInfo", "CHECKS", "check", "some"]

SEVERITIES = ("error", "warning", "note")


@dataclass
class Finding:
    """One problem found in a dataset.

    Parameters
    ----------
    check : the id of the check that found it.
    severity : ``error``, ``warning`` or ``note``.
    message : one sentence saying what is wrong, with numbers.
    fix : a one-line suggested fix.
    files : every file concerned (the report names the first few and counts them all).
    details : numbers for machines (written to ``--json``).
    """

    check: str
    severity: str
    message: str
    fix: str
    files: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self, max_files: int = 50) -> dict:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "num_files": len(self.files),
            "files": list(self.files[:max_files]),
            "details": self.details,
        }


@dataclass
class CheckContext:
    """Everything the checks may look at: the spec, the options and one profile per mask.

    ``profiles`` holds the readable masks, ``unreadable`` the others; ``mask_ids`` / ``image_ids``
    map ids to files (``image_ids`` is None without ``--images``).
    """

    spec: ClassSpec
    options: CheckOptions
    profiles: list[MaskProfile]
    unreadable: list[MaskProfile] = field(default_factory=list)
    mask_ids: dict[str, str] = field(default_factory=dict)
    image_ids: dict[str, str] | None = None
    root: str = ""
    image_root: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def values(self) -> Counter:
        """Raw value -> pixels over the dataset (index and palette masks; colour masks give ids)."""
        if "values" not in self._cache:
            total: Counter = Counter()
            for p in self.profiles:
                total.update(p.values)
            self._cache["values"] = total
        return self._cache["values"]

    @property
    def files_with_value(self) -> Counter:
        """Raw value -> number of masks holding it."""
        if "files_with" not in self._cache:
            total: Counter = Counter()
            for p in self.profiles:
                total.update(p.values.keys())
            self._cache["files_with"] = total
        return self._cache["files_with"]

    @property
    def state(self) -> ClassCountState:
        """The dataset's class statistics (the numbers of ``segscope stats``)."""
        if "state" not in self._cache:
            state = ClassCountState(self.spec)
            for p in self.profiles:
                if p.class_pixels is None:
                    continue
                state.pixels += p.class_pixels
                state.images_with += p.class_pixels > 0
                state.ignore_pixels += p.ignore_pixels
                state.unknown_pixels += p.unknown_pixels
                state.total_pixels += p.total_pixels
                state.num_images += 1
            self._cache["state"] = state
        return self._cache["state"]

    @property
    def stats(self) -> dict:
        if "stats" not in self._cache:
            self._cache["stats"] = self.state.compute()
        return self._cache["stats"]

    def fname(self, profile_or_path) -> str:
        """A file's name relative to the GT folder (or the image folder), for messages."""
        path = getattr(profile_or_path, "path", profile_or_path)
        path = Path(str(path))
        for root in (self.root, self.image_root):
            if root:
                try:
                    return path.relative_to(root).as_posix()
                except ValueError:
                    continue
        return str(path)

    def index_profiles(self) -> list[MaskProfile]:
        """Profiles of single-channel masks (not colour-coded)."""
        return [p for p in self.profiles if p.kind not in ("rgb", "rgba") and not (p.kind == "jpeg" and p.mode.startswith("RGB"))]

    def is_known(self, values: Iterable[int]) -> np.ndarray:
        from ._profile import classify_values

        return classify_values(self.spec, list(values)) != -2


@dataclass(frozen=True)
class CheckInfo:
    id: str
    severity: str  # the usual severity (a check may report others)
    title: str
    func: Callable[[CheckContext], Iterable[Finding]]


CHECKS: dict[str, CheckInfo] = {}


def check(check_id: str, severity: str, title: str):
    """Register a check: a function ``ctx -> iterable of Finding``.

    >>> @check("demo-check", "note", "an example")
    ... def _demo(ctx):
    ...     return []
    >>> CHECKS.pop("demo-check").title
    'an example'
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")

    def deco(func):
        if check_id in CHECKS:
            raise ValueError(f"check {check_id!r} registered twice")
        CHECKS[check_id] = CheckInfo(check_id, severity, title, func)
        return func

    return deco


def some(names: Iterable[str], limit: int = 3) -> str:
    """``a, b, c and 4 more``.

    >>> some(["a", "b", "c", "d", "e"])
    'a, b, c and 2 more'
    """
    return some_names(list(names), limit)


def px(n: int) -> str:
    return f"{int(n):,} px"
