"""EvalConfig: every policy of one run, recorded in ``metrics.json`` under ``config``."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = [
    "EvalConfig",
]


@dataclass(frozen=True)
class EvalConfig:
    """Every policy of a run; recorded in ``metrics.json`` under ``config``."""

    exclude: tuple[str, ...] = ()
    allow_unknown_pred: bool = False
    analyses: tuple[str, ...] = ("boundary", "errors")
    worst_k: int = 10
    # boundary metrics
    boundary_ratio: float = 0.02
    boundary_px: int | None = None
    bf_ratio: float = 0.0075
    trimap: tuple[int, ...] = (1, 2, 4, 8, 16)
    # failure analysis
    error_band_ratio: float = 0.01
    error_band_px: int | None = None
    segment_bins: tuple[float, ...] = (0.001, 0.01)
    miss_threshold: float = 0.5
    instances_dir: str | None = None
    gt2_dir: str | None = None
    probs_dir: str | None = None
    images_dir: str | None = None

    def __post_init__(self) -> None:
        from .analyzers.base import check_analyses

        object.__setattr__(self, "analyses", check_analyses(self.analyses))

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
