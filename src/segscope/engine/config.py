"""EvalConfig: every policy of one run, recorded in ``metrics.json`` under ``config``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..exceptions import SegscopeError

__all__ = [
    "EvalConfig",
]


@dataclass(frozen=True)
class EvalConfig:
    """Every policy of a run; recorded in ``metrics.json`` under ``config``."""

    exclude: tuple[str, ...] = ()
    allow_unknown_pred: bool = False
    analyses: tuple[str, ...] = ("boundary", "errors", "conventions")
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
    # other libraries' conventions computed besides the defaults ("NAME:key=value,...")
    conventions: tuple[str, ...] = ()

    def __post_init__(self):
        """Validate every policy once, where the config is made (a bad value is a
        :class:`SegscopeError` before any image is read)."""
        from ..metrics.bands import band_width
        from ..metrics.boundary import bf_tolerance, boundary_width, trimap_widths

        boundary_width((1, 1), self.boundary_ratio, self.boundary_px)
        bf_tolerance((1, 1), self.bf_ratio)
        if self.trimap:
            trimap_widths(self.trimap)
        band_width((1, 1), self.error_band_px, self.error_band_ratio)
        bins = tuple(float(b) for b in self.segment_bins)
        if any(not 0.0 < b < 1.0 for b in bins) or list(bins) != sorted(set(bins)):
            raise SegscopeError(
                f"segment bins (--segment-bins) must be increasing fractions in (0, 1), got {self.segment_bins!r}"
            )
        if not 0.0 < float(self.miss_threshold) <= 1.0:
            raise SegscopeError(f"the miss threshold must lie in (0, 1], got {self.miss_threshold!r}")
        from ..metrics.conventions import parse_convention

        object.__setattr__(self, "conventions", tuple(str(c) for c in self.conventions))
        for text in self.conventions:
            parse_convention(text)
        from .analyzers.base import check_analyses

        object.__setattr__(self, "analyses", check_analyses(self.analyses))

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
