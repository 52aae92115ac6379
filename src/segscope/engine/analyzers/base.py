"""What an analyzer is told about an image, and the registry of analyzers."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...classes import ClassSpec
from ...exceptions import SegscopeError
from ..config import EvalConfig

__all__ = [
    "ImageContext",
    "ANALYZERS",
    "make_analyzers",
]


@dataclass
class ImageContext:
    """What an analyzer may know about the image besides its two masks."""

    image_id: str
    spec: ClassSpec
    config: EvalConfig
    pred_path: Path | None = None
    gt_path: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)


# name -> "module:Class"; core always runs, the others when named in EvalConfig.analyses
ANALYZERS: dict[str, str] = {
    "core": "segscope.engine.analyzers.core:CoreAnalyzer",
    "errors": "segscope.engine.analyzers.failure:ErrorAnalyzer",
    "boundary": "segscope.engine.analyzers.boundary:BoundaryAnalyzer",
}


def _load_analyzer(name: str):
    target = ANALYZERS.get(name)
    if target is None:
        raise SegscopeError(f"unknown analysis {name!r}; available: {', '.join(sorted(ANALYZERS))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def make_analyzers(spec: ClassSpec, config: EvalConfig) -> list:
    names = ["core"] + [a for a in config.analyses if a != "core" and a in ANALYZERS]
    return [_load_analyzer(n)(spec, config) for n in names]
