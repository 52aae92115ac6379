"""Analyzers: each turns one (prediction, GT) pair into an additive state and a per-image row,
and the pooled states into keys of ``metrics.json``.

base
    ImageContext and the registry (``make_analyzers``)
core
    confusion counts and region metrics (always runs)
boundary
    Boundary IoU, boundary F-score, trimap IoU
failure
    error breakdown, segments, suspect labels, what to improve next
"""
