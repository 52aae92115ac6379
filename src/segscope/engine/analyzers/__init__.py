"""Analyzers: each turns one (prediction, GT) pair into an additive state, a per-image row and a
per-image record, and the pooled states into keys of ``metrics.json``.

base
    the Analyzer protocol, ImageContext and the registry (``register``, ``analyzer_names``,
    ``optional_analyses``, ``make_analyzers``)
core
    confusion counts and region metrics (always runs)
boundary
    Boundary IoU, boundary F-score, trimap IoU
failure
    error breakdown, segments, suspect labels, what to improve next
conventions
    other libraries' mIoU conventions from the core's counts (no pixels read)
"""
