"""``segscope check``: find the ways a dataset's masks break the annotation standard.

Every check is a small function registered with :func:`check`; it receives a
:class:`CheckContext` (the class spec, the options, one :class:`MaskProfile` per mask, read raw)
and yields :class:`Finding` objects (severity, message, files, a one-line fix). The catalogue is
in ``docs/checks.md``.

>>> from segscope.check import CHECKS
>>> "binary-255" in CHECKS and "lossy-compression" in CHECKS
True
"""

from __future__ import annotations

from . import classic_checks, dataset_checks, format_checks, noise_checks  # noqa: E402,F401  (register)
from ._profile import CheckOptions, MaskProfile, classify_values, profile_mask
from ._registry import CHECKS, SEVERITIES, CheckContext, CheckInfo, Finding, check
from ._runner import CheckReport, list_check_masks, run_checks

__all__ = [
    "CHECKS",
    "SEVERITIES",
    "CheckContext",
    "CheckInfo",
    "CheckOptions",
    "CheckReport",
    "Finding",
    "MaskProfile",
    "check",
    "classify_values",
    "list_check_masks",
    "profile_mask",
    "run_checks",
]
