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
from ...metrics.conventions import ConventionData, convention_block, default_conventions
from ..config import EvalConfig
from ..sinks import Sink
from .base import ImageContext, register

__all__ = [
    "ConventionsAnalyzer",
    "convention_data",
]


def convention_data(spec: ClassSpec, config: EvalConfig, states: Mapping[str, dict], sink: Sink) -> ConventionData:
    """The counts of a run as :class:`~segscope.metrics.conventions.ConventionData`."""
    counts = np.asarray(states["core"]["counts"], np.int64)
    k = spec.num_classes
    n = len(sink)
    per_image = {key: np.zeros((n, k), np.int64) for key in ("tp", "fp", "fn")}
    for i, record in enumerate(sink.records("core", "sorted")):
        for key, array in per_image.items():
            array[i] = record[key]
    instances = None
    if config.instances_dir and "errors" in config.analyses:
        rows = [np.asarray(r["instances"], np.int64).reshape(-1, 3)
                for r in sink.records("errors", "sorted") if r is not None and "instances" in r]
        instances = np.concatenate(rows) if rows else np.zeros((0, 3), np.int64)
    return ConventionData(
        cm=counts[:k, :k], gt=counts[:k].sum(axis=1), image_tp=per_image["tp"], image_fp=per_image["fp"],
        image_fn=per_image["fn"], names=tuple(spec.names), exclude=validate_exclude(spec, config.exclude),
        instances=instances,
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
