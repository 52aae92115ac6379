"""The one rule for a band width given as a fraction of the image diagonal: the error band of
the failure analysis (:func:`band_width`), the boundary band (``boundary.boundary_width``) and
the pictures all use :func:`ratio_width`."""

from __future__ import annotations

import math
from typing import Sequence

from ..exceptions import SegscopeError


def diagonal(shape: Sequence[int]) -> float:
    """``sqrt(H² + W²)`` of an (H, W, …) shape, in IEEE double.

    >>> diagonal((30, 40))
    50.0
    """
    h, w = int(shape[0]), int(shape[1])
    return math.sqrt(float(h * h + w * w))


#: The widest band in pixels (``--boundary-px``, ``--error-band-px``, ``--trimap``): squared
#: widths stay well inside int64 in the kernels.
MAX_BAND_PX = (1 << 31) - 1


def covering_radius(shape: Sequence[int]) -> int:
    """``H + W``: a disk of this radius around any pixel of an H×W image covers the whole image, so
    a wider band or tolerance reaches no further (wider ones are computed at this radius).

    >>> covering_radius((30, 40))
    70
    """
    return int(shape[0]) + int(shape[1])


def ratio_width(shape: Sequence[int], ratio: float) -> int:
    """``round(ratio × sqrt(H² + W²))`` pixels, rounded half to even (Python's ``round``), with no
    minimum; callers validate ``ratio`` and apply their own floor.

    >>> ratio_width((1024, 2048), 0.02), ratio_width((1024, 2048), 0.01), ratio_width((30, 40), 0.01)
    (46, 23, 0)
    """
    return int(round(ratio * diagonal(shape)))


def band_width(shape, band_px: int | None = None, band_ratio: float = 0.01) -> int:
    """The error band width ``d`` in pixels (§2 of the method in :mod:`segscope.metrics.breakdown`).

    ``band_px`` (an integer >= 0) is used as is; otherwise ``d = round(band_ratio * sqrt(H² + W²))``
    in IEEE double, rounded half to even, with no minimum (``d = 0`` means no boundary errors).

    >>> band_width((1024, 2048)), band_width((30, 40)), band_width((8, 8), band_px=2)
    (23, 0, 2)
    """
    if band_px is not None:
        if isinstance(band_px, bool) or int(band_px) != band_px or not 0 <= band_px <= MAX_BAND_PX:
            raise SegscopeError(f"the error band must be an integer >= 0 pixels (at most {MAX_BAND_PX}), got {band_px!r}")
        return int(band_px)
    ratio = float(band_ratio)
    if not 0.0 < ratio < 1.0:
        raise SegscopeError(f"the error band ratio must lie in (0, 1), got {band_ratio!r}")
    return ratio_width(shape, ratio)
