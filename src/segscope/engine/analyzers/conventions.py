"""The conventions analyzer: other libraries' mIoU and headline figures from the run's counts.

It reads no pixel: its blocks come from the core's pooled confusion counts and the core's
per-image tp / fp / fn records (and, with ``--instances``, the instance records of the failure
analysis), through :mod:`segscope.metrics.conventions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ...classes import ClassSpec, validate_exclude
from ...metrics.confusion import class_block
from ...metrics.conventions import ConventionData, convention_block, default_conventions, image_sums
from ...metrics.region import class_counts_from_confusion, nanmean
from ...metrics.segments import instance_rows
from ..config import EvalConfig
from ..sinks import Sink, chunked
from .base import ImageContext, register

__all__ = [
    "ConventionsAnalyzer",
    "convention_data",
]


def convention_data(spec: ClassSpec, config: EvalConfig, states: Mapping[str, dict], sink: Sink) -> ConventionData:
    """The counts of a run as :class:`~segscope.metrics.conventions.ConventionData`: the core's
    pooled counts (kept sparse with many classes) and its per-image records, summed block by
    block so that memory does not grow with the number of images."""
    k = spec.num_classes
    counts = states["core"]["counts"]
    gt = class_counts_from_confusion(counts)["gt"]

    def blocks():
        for block in chunked(sink.records("core", "sorted")):
            yield tuple(np.array([r[key] for r in block], np.int64).reshape(-1, k) for key in ("tp", "fp", "fn"))

    mious = np.fromiter((r["miou"] for r in sink.records("core", "sorted")), np.float64, len(sink))
    instances = None
    if config.instances_dir and "errors" in config.analyses:
        rows = [instance_rows(r["instances"])
                for r in sink.records("errors", "sorted") if r is not None and "instances" in r]
        instances = np.concatenate(rows) if rows else instance_rows(())
    return ConventionData(
        cm=class_block(counts, k), gt=gt, names=tuple(spec.names), sums=image_sums(blocks(), k),
        miou_image=nanmean(mious), exclude=validate_exclude(spec, config.exclude), instances=instances,
    )


@register
class ConventionsAnalyzer:
    """The ``conventions`` block of ``metrics.json``: one block per convention (the defaults of
    :func:`~segscope.metrics.conventions.default_conventions` and ``EvalConfig.conventions``).

    State: none of its own (it reads the core's). Record: none.
    """

    name = "conventions"
    needs: tuple[str, ...] = ("core",)
    keys = ("conventions",)
    optional = True

    def __init__(self, spec: ClassSpec, config: EvalConfig):
        self.spec = spec
        self.config = config

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx: ImageContext) -> tuple[dict, dict, None]:
        return {}, {}, None

    def finalize(self, states: Mapping[str, dict], sink: Sink) -> dict:
        data = convention_data(self.spec, self.config, states, sink)
        names = dict.fromkeys((*default_conventions(self.spec.names), *self.config.conventions))
        return {"conventions": {name: convention_block(name, data) for name in names}}

    def write(self, states: Mapping[str, dict], metrics: dict, sink: Sink, out_dir: Path) -> None:
        """No files of its own: the blocks are in ``metrics.json``."""
