"""Plain, slow reference implementations that the fast metrics are tested (and benchmarked)
against. They share nothing with the kernels: the per-class recipes as published."""

from __future__ import annotations

import numpy as np

from segscope.metrics.breakdown import band_width, to_codes


def reference_band(mask, width: int) -> np.ndarray:
    """``band(M, d)`` by the official recipe, for one binary mask: pad with one ring of zeros,
    erode ``width`` times with a 3×3 square, subtract. Plain NumPy, one class at a time; the
    reference that :func:`boundary_bands` is tested against.

    >>> m = np.zeros((5, 5), bool); m[1:5, 1:5] = True
    >>> reference_band(m, 1).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1],
           [0, 1, 0, 0, 1],
           [0, 1, 0, 0, 1],
           [0, 1, 1, 1, 1]])
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 1:
        m = m.reshape(1, -1)
    cur = np.pad(m, 1, constant_values=False)
    for _ in range(int(width)):
        p = np.pad(cur, 1, constant_values=True)  # beyond the zero ring: the ring decides
        rows = p[:, :-2] & p[:, 1:-1] & p[:, 2:]
        cur = rows[:-2] & rows[1:-1] & rows[2:]
    return m & ~cur[1:-1, 1:-1]


def reference_error_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01,
) -> np.ndarray:
    """A straightforward per-class implementation of the same breakdown (slow; for checking).

    Class by class, with exact Euclidean distance transforms for "within d", ``scipy.ndimage``
    labelling for components and a 3×3 dilation for "touches". It shares nothing with the fast
    kernel and serves as its independent check in tests and benchmarks.
    """
    from scipy import ndimage as ndi

    pred = np.asarray(pred)
    gt = np.asarray(gt)
    p, g = to_codes(pred, gt, num_classes, ignore_index, False)
    h, w = g.shape
    d = band_width(g.shape, band_px, band_ratio)
    r2 = d * (d + 1)
    eight = np.ones((3, 3), bool)
    valid = g >= 0
    out = np.zeros((num_classes, 7), np.int64)
    if h == 0 or w == 0:
        return out

    def within(s):
        if not s.any():
            return np.zeros_like(s)
        dist = ndi.distance_transform_edt(~s, return_distances=True)
        return np.rint(dist * dist) <= r2

    def touches(s):
        return ndi.binary_dilation(s, structure=eight)

    def boundary(e, tp, tn):
        if d == 0 or not tp.any() or not tn.any() or not e.any():
            return np.zeros_like(e)
        seeds = e & within(tp) & within(tn)
        cand = e & within(seeds)
        lab, n = ndi.label(cand, structure=eight)
        if n == 0:
            return np.zeros_like(e)
        hit_tp = np.zeros(n + 1, bool)
        hit_tn = np.zeros(n + 1, bool)
        hit_tp[lab[touches(tp) & cand]] = True
        hit_tn[lab[touches(tn) & cand]] = True
        keep = hit_tp & hit_tn
        keep[0] = False
        return keep[lab]

    def found(mask, tp):
        lab, n = ndi.label(mask, structure=eight)
        has = np.zeros(n + 1, bool)
        has[lab[tp]] = True
        has[0] = False
        return has[lab]

    for c in range(num_classes):
        P = p == c
        G = g == c
        if not P.any() and not G.any():
            continue
        TP = P & G
        FPs = P & ~G
        FN = ~P & G
        TN = ~P & ~G
        fpb = boundary(FPs, TP, TN)
        fnb = boundary(FN, TP, TN)
        fp_rest = FPs & ~fpb & valid
        fn_rest = FN & ~fnb
        p_found = found(P, TP)
        g_found = found(G, TP)
        out[c] = [
            TP.sum(), (fpb & valid).sum(), fnb.sum(),
            (fp_rest & p_found).sum(), (fn_rest & g_found).sum(),
            (fp_rest & ~p_found).sum(), (fn_rest & ~g_found).sum(),
        ]
    return out
