"""Small numeric helpers shared across segscope: finite-or-None scalars, safe ratios, NaN means,
the distinct values of a label array, and the check of a class count argument."""

from __future__ import annotations

import math

import numpy as np

from .exceptions import SegscopeError

__all__ = ["finite_or_none", "is_number", "number_or_none", "share", "ratio", "nanmean", "compact_labels",
           "class_count"]


def finite_or_none(x) -> float | None:
    """``x`` as a float, or None when it is None, NaN or infinite (for JSON: no NaN there).

    >>> finite_or_none(1), finite_or_none(float("nan")), finite_or_none(None)
    (1.0, None, None)
    """
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def is_number(x) -> bool:
    """True for a finite int or float (not a bool, not None, not a string).

    >>> is_number(0.5), is_number(True), is_number(float("inf")), is_number("1")
    (True, False, False, False)
    """
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def number_or_none(x) -> float | None:
    """``x`` as a float when it :func:`is_number`, else None (for values of unknown type, such as
    cells read back from a table).

    >>> number_or_none(2), number_or_none("2"), number_or_none(True)
    (2.0, None, None)
    """
    return float(x) if is_number(x) else None


def share(a, b) -> float | None:
    """``a / b`` as a float, None when ``b`` is 0.

    >>> share(1, 4), share(3, 0)
    (0.25, None)
    """
    return float(a) / float(b) if b else None


def ratio(a, b) -> np.ndarray:
    """Elementwise ``a / b`` in float64, NaN where ``b`` is not positive (0/0: undefined).

    >>> ratio([1, 2], [4, 0]).tolist()
    [0.25, nan]
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def nanmean(values, keep: np.ndarray | None = None) -> float:
    """Mean of the finite values (those selected by ``keep``); NaN when there are none.

    >>> nanmean([1.0, float("nan"), 3.0]), nanmean([1.0, 2.0], keep=np.array([False, True]))
    (2.0, 2.0)
    """
    v = np.asarray(values, dtype=np.float64)
    if keep is not None:
        v = v[keep]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def compact_labels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, lab)``: the sorted distinct values of ``mask`` and an int32 array of the
    same shape holding each pixel's position in ``values`` (order is kept, so "between" survives).

    >>> values, lab = compact_labels(np.array([[5, 5, 200], [0, 5, 200]], dtype=np.uint8))
    >>> values.tolist(), lab.tolist()
    ([0, 5, 200], [[1, 1, 2], [0, 1, 2]])
    """
    mask = np.asarray(mask)
    if mask.dtype in (np.uint8, np.uint16) and mask.size:
        present = np.bincount(mask.reshape(-1), minlength=1) > 0
        values = np.flatnonzero(present)
        lut = np.zeros(present.size, np.int32)
        lut[values] = np.arange(values.size, dtype=np.int32)
        return values.astype(np.int64), lut[mask]
    values, inverse = np.unique(mask, return_inverse=True)
    return values.astype(np.int64), inverse.reshape(mask.shape).astype(np.int32)


def class_count(num_classes, name: str = "num_classes") -> int:
    """``num_classes`` as an int, or a one-line :class:`SegscopeError` when it is not an integer
    >= 1 (a bool, a float, 0 or a negative number).

    >>> class_count(np.int64(3)), class_count(19)
    (3, 19)
    >>> class_count(2.5)
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: num_classes must be an integer >= 1, got 2.5
    """
    if (isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer))
            or num_classes < 1):
        raise SegscopeError(f"{name} must be an integer >= 1, got {num_classes!r}")
    return int(num_classes)
