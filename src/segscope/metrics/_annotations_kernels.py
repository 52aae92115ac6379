"""Compiled loops behind :mod:`segscope.metrics.annotations` (imported on first use)."""

from __future__ import annotations

import numpy as np

from .._jit import njit


@njit
def agreement(p, g, g2, k, out_conf, out_amb):
    """Inter-annotator confusion (rows GT, columns GT2, both valid) and, on ambiguous pixels (GT
    valid, GT2 different or ignored), the model's tp / fp / fn per class."""
    h, w = g.shape
    for y in range(h):
        for x in range(w):
            a = g[y, x]
            if a < 0:
                continue
            b = g2[y, x]
            if b >= 0:
                out_conf[a, b] += 1
            if b == a:
                continue
            pv = p[y, x]
            if pv == a:
                out_amb[a, 0] += 1
            else:
                out_amb[a, 2] += 1
                if pv >= 0:
                    out_amb[pv, 1] += 1


@njit
def prob_sums(seg, n, cls, g, probs, k):
    h, w = seg.shape
    own = np.zeros(n, np.float64)
    votes = np.zeros((n, k), np.int64)
    for y in range(h):
        for x in range(w):
            s = seg[y, x]
            if s < 0 or g[y, x] < 0:
                continue
            own[s] += probs[cls[s], y, x]
            best = 0
            bv = probs[0, y, x]
            for c in range(1, k):
                v = probs[c, y, x]
                if v > bv:
                    bv = v
                    best = c
            votes[s, best] += 1
    return own, votes
