"""Shards: consecutive pairs evaluated as one task, their summed results, and the store that keeps
finished shards in the staging folder so that ``--resume`` continues a killed run.

A shard is the range ``[start, stop)`` of a run's :class:`~segscope.io.PairTable`. Its result is
the states of its images summed in input order plus each image's row and records; handing the
images to an :class:`~segscope.engine.evaluation.Evaluation` in input order, the first carrying
the shard's summed states, adds up to the same states as adding the images one by one (states
merge by addition, lists concatenate in order, rankings keep their best by key).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from ..classes import ClassSpec
from ..io.files import PairTable
from ..io.results import atomic_write
from .analyzers.base import make_analyzers
from .config import EvalConfig
from .evaluation import ImageResult, evaluate_pair, merge_states

__all__ = ["ShardResult", "evaluate_shard", "shard_images", "ShardStore", "ShardSizer", "missing_ranges"]


@dataclass
class ShardResult:
    """The summed states of the pairs ``[start, stop)``, each image's row and records (its
    :class:`ImageResult` without states), and the seconds the shard took where it ran."""

    start: int
    stop: int
    states: dict[str, dict]
    images: list[ImageResult] = field(default_factory=list)
    seconds: float = 0.0


def evaluate_shard(pairs: Sequence, start: int, spec: ClassSpec, config: EvalConfig,
                   analyzers: list | None = None) -> ShardResult:
    """Evaluate ``pairs`` (the run's pairs ``start .. start + len(pairs)``) into one result."""
    t0 = time.perf_counter()
    analyzers = analyzers if analyzers is not None else make_analyzers(spec, config)
    return shard_of(start, (evaluate_pair(pair, spec, config, analyzers) for pair in pairs), t0)


def shard_of(start: int, results, t0: float | None = None) -> ShardResult:
    """Fold per-image results (in input order) into the result of the shard that begins at
    ``start``."""
    t0 = time.perf_counter() if t0 is None else t0
    states: dict[str, dict] = {}
    images = []
    for result in results:
        for name, state in result.states.items():
            states[name] = merge_states(states.setdefault(name, {}), state)
        images.append(ImageResult(result.image_id, {}, result.row, result.records))
    return ShardResult(start, start + len(images), states, images, time.perf_counter() - t0)


def shard_images(shard: ShardResult) -> Iterator[ImageResult]:
    """The shard's images in input order, the first carrying the shard's summed states."""
    for i, image in enumerate(shard.images):
        yield ImageResult(image.image_id, shard.states if i == 0 else {}, image.row, image.records)


def missing_ranges(total: int, done: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges of ``0 .. total`` that the ``done`` ranges leave out.

    >>> missing_ranges(10, [(2, 4), (6, 10)])
    [(0, 2), (4, 6)]
    """
    out, at = [], 0
    for start, stop in sorted(done):
        if start > at:
            out.append((at, start))
        at = max(at, stop)
    if at < total:
        out.append((at, total))
    return out


class ShardSizer:
    """Shard sizes of about :attr:`target_s` seconds of work, from the seconds per image measured
    on the shards that came back; at the end of a run shards shrink so that every worker still
    gets some of the rest.

    >>> sizer = ShardSizer(workers=2)
    >>> sizer.next(1000)
    8
    >>> sizer.observe(8, 0.08)  # 10 ms per image
    >>> sizer.next(100_000), sizer.next(300)
    (100, 75)
    """

    FIRST = 8
    MAX = 4096

    def __init__(self, workers: int, target_s: float = 1.0):
        self.workers = max(1, int(workers))
        self.target_s = target_s
        self.images = 0
        self.seconds = 0.0

    def observe(self, images: int, seconds: float) -> None:
        self.images += images
        self.seconds += seconds

    def next(self, remaining: int) -> int:
        if not self.images:
            size = self.FIRST
        else:
            per_image = max(self.seconds / self.images, 1e-6)
            size = int(self.target_s / per_image)
        tail = -(-remaining // (2 * self.workers))  # keep every worker busy to the end
        return max(1, min(size, tail, self.MAX, remaining))


class ShardStore:
    """Finished shards of one run, kept in ``folder`` (inside the staging folder) for ``--resume``.

    ``plan`` identifies the run (its pairs, class spec and config); shards kept for another plan
    are removed when the store opens. Each shard is one pickle written atomically, so a killed
    run leaves only whole shards.
    """

    def __init__(self, folder: str | Path, pairs: PairTable, spec: ClassSpec, config: EvalConfig):
        self.folder = Path(folder)
        digest = hashlib.sha256()
        digest.update(pairs.fingerprint().encode())
        digest.update(json.dumps(spec.to_dict(), sort_keys=True, default=str).encode())
        digest.update(json.dumps(config.to_dict(), sort_keys=True, default=str).encode())
        self.plan = digest.hexdigest()
        plan_file = self.folder / "plan.txt"
        with contextlib.suppress(OSError):
            if plan_file.read_text() != self.plan:
                shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not plan_file.exists():
            with atomic_write(plan_file) as fh:
                fh.write(self.plan)

    def done(self) -> list[tuple[int, int]]:
        """The ranges of the shards kept, in order."""
        out = []
        for name in os.listdir(self.folder):
            m = re.fullmatch(r"shard-(\d+)-(\d+)\.pkl", name)
            if m:
                out.append((int(m.group(1)), int(m.group(2))))
        return sorted(out)

    def _path(self, start: int, stop: int) -> Path:
        return self.folder / f"shard-{start:09d}-{stop:09d}.pkl"

    def put(self, shard: ShardResult) -> None:
        with atomic_write(self._path(shard.start, shard.stop), "wb") as fh:
            pickle.dump(shard, fh, protocol=pickle.HIGHEST_PROTOCOL)

    def get(self, start: int, stop: int) -> ShardResult:
        with open(self._path(start, stop), "rb") as fh:
            return pickle.load(fh)
