"""Error breakdown beyond IoU: boundary, extent and segment errors, per class, exact.

Every valid pixel of a class's prediction or ground truth is, one-vs-rest, exactly one of

- **TP** (predicted and labelled as the class),
- **boundary** error: a thin FP or FN region along a true boundary (within ``d`` pixels of both
  a TP and a TN pixel of the class, grown by ``d`` and kept only when it touches both),
- **extent** error: an FP/FN pixel in a predicted/GT segment that was found (has a TP pixel),
- **segment** error: an FP/FN pixel of a segment that was invented/missed entirely.

The method is Bernhard et al., "What's Outside the Intersection? Fine-grained Error Analysis for
Semantic Segmentation Beyond IoU", WACV 2024, doi:10.1109/WACV57701.2024.00103, reproduced
exactly as written down in ``error-breakdown.md``: the same integers as the published code.

The kernel shares its work across classes. A pixel takes part in at most two classes (its
predicted and its GT class), so instead of four distance transforms per class, every error pixel
asks its two classes' questions ("is there a TP / a TN of my class within ``d``?") by walking the
runs of equal (prediction, GT) pairs in the rows of the disk around it, nearest rows first, and
stops at the first answer. Connected components are labelled once per map (run-based union-find),
and every per-component fact comes from one pass over the label image.

Ratios (§8 of the method): with ``U = TP + FP + FN`` of a class, ``IoU + E_boundary/U +
E_extent/U + E_segment/U = 1``.

>>> import numpy as np
>>> gt = np.zeros((8, 8), np.uint8); gt[1:5, 1:5] = 1
>>> pred = np.zeros((8, 8), np.uint8); pred[1:5, 2:6] = 1
>>> error_counts(pred, gt, num_classes=2, band_px=1)[1].tolist()  # tp, fp_b, fn_b, fp_e, fn_e, fp_s, fn_s
[12, 4, 4, 0, 0, 0, 0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors_base import SegscopeError

try:
    import numba

    _njit = numba.njit(cache=True, nogil=True, boundscheck=False)
except ImportError:  # pragma: no cover
    def _njit(f):
        return f


__all__ = [
    "COUNT_KEYS",
    "ERROR_TYPES",
    "NO_ERROR",
    "BOUNDARY",
    "EXTENT",
    "SEGMENT",
    "FIX_SCENARIOS",
    "band_width",
    "disk_offsets",
    "ImageErrors",
    "analyze_image",
    "error_counts",
    "error_type_maps",
    "error_ratios",
    "error_means",
    "reference_error_counts",
]

COUNT_KEYS = ("tp", "fp_boundary", "fn_boundary", "fp_extent", "fn_extent", "fp_segment", "fn_segment")
ERROR_TYPES = ("boundary", "extent", "segment")
NO_ERROR, BOUNDARY, EXTENT, SEGMENT = 0, 1, 2, 3
# Which error pixels a "what if it were fixed" scenario repairs (see ImageErrors.fixed_gt).
FIX_SCENARIOS = ("boundary", "extent", "missed_segments", "invented_segments")
# A kept boundary component at most this many pixels thick (area / pixels touching the TP side)
# and no thicker than the band is a *sliver*: the signature of jittery annotation.
SLIVER_MAX_WIDTH = 2

_TP, _FPB, _FNB, _FPE, _FNE, _FPS, _FNS = range(7)


# ---------------------------------------------------------------------- band width and disk
def band_width(shape, band_px: int | None = None, band_ratio: float = 0.01) -> int:
    """The band width ``d`` in pixels (§2 of the method).

    ``band_px`` (an integer >= 0) is used as is; otherwise ``d = round(band_ratio * sqrt(H² + W²))``
    in IEEE double, rounded half to even, with no minimum (``d = 0`` means no boundary errors).

    >>> band_width((1024, 2048)), band_width((30, 40)), band_width((8, 8), band_px=2)
    (23, 0, 2)
    """
    if band_px is not None:
        if isinstance(band_px, bool) or int(band_px) != band_px or band_px < 0:
            raise SegscopeError(f"the error band must be an integer >= 0 pixels, got {band_px!r}")
        return int(band_px)
    ratio = float(band_ratio)
    if not 0.0 < ratio < 1.0:
        raise SegscopeError(f"the error band ratio must lie in (0, 1), got {band_ratio!r}")
    h, w = int(shape[0]), int(shape[1])
    return int(round(ratio * math.sqrt(float(h * h + w * w))))


def _row_widths(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the disk, nearest first: offsets dy and half-widths w(dy) = isqrt(d(d+1) - dy²)."""
    r2 = d * (d + 1)
    dys = [0]
    for k in range(1, d + 1):
        dys += [-k, k]
    wds = [math.isqrt(r2 - dy * dy) for dy in dys]
    return np.array(dys, dtype=np.int64), np.array(wds, dtype=np.int64)


def disk_offsets(d: int) -> np.ndarray:
    """The (dy, dx) offsets of the disk of radius ``d``: dy² + dx² <= d(d+1).

    >>> [len(disk_offsets(d)) for d in range(7)]
    [1, 9, 21, 37, 69, 97, 137]
    """
    r = np.arange(-d, d + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    keep = dy * dy + dx * dx <= d * (d + 1)
    return np.stack([dy[keep], dx[keep]], axis=1)


# ---------------------------------------------------------------------- numba kernels
@_njit
def _codes(pred, gt, k, ignore, p_out, g_out):
    """Class codes: 0..k-1, or -1 (GT: ignore; prediction: no class). Returns unknown counts."""
    bad_g = 0
    bad_p = 0
    for i in range(pred.size):
        gv = np.int64(gt[i])
        pv = np.int64(pred[i])
        if gv >= 0 and gv < k and gv != ignore:
            g_out[i] = gv
        else:
            g_out[i] = -1
            if gv != ignore:
                bad_g += 1
        if pv >= 0 and pv < k and pv != ignore:
            p_out[i] = pv
        else:
            p_out[i] = -1
            if pv != ignore:
                bad_p += 1
    return bad_g, bad_p


@_njit
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@_njit
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@_njit
def _label(v, labels):
    """8-connected components of equal non-negative values (run-based union-find).

    Writes component ids 0..n-1 (raster order of first pixel) or -1 into ``labels``; returns n
    and the value (class) of every component."""
    h, w = v.shape
    nruns = 0
    for y in range(h):
        x = 0
        while x < w:
            c = v[y, x]
            while x < w and v[y, x] == c:
                x += 1
            if c >= 0:
                nruns += 1
    rs = np.empty(nruns, np.int64)
    re = np.empty(nruns, np.int64)
    rv = np.empty(nruns, np.int64)
    rowptr = np.empty(h + 1, np.int64)
    n = 0
    for y in range(h):
        rowptr[y] = n
        x = 0
        while x < w:
            c = v[y, x]
            x0 = x
            while x < w and v[y, x] == c:
                x += 1
            if c >= 0:
                rs[n] = x0
                re[n] = x - 1
                rv[n] = c
                n += 1
    rowptr[h] = n
    parent = np.arange(nruns)
    for y in range(1, h):
        j = rowptr[y - 1]
        jend = rowptr[y]
        for i in range(rowptr[y], rowptr[y + 1]):
            s = rs[i]
            e = re[i]
            while j < jend and re[j] < s - 1:
                j += 1
            kk = j
            while kk < jend and rs[kk] <= e + 1:
                if rv[kk] == rv[i]:
                    _union(parent, kk, i)
                kk += 1
    lab = np.empty(nruns, np.int64)
    val = np.empty(nruns, np.int64)
    ncomp = 0
    for i in range(nruns):
        r = _find(parent, i)
        if r == i:
            lab[i] = ncomp
            val[ncomp] = rv[i]
            ncomp += 1
        else:
            lab[i] = lab[r]
    for y in range(h):
        for x in range(w):
            labels[y, x] = -1
        for i in range(rowptr[y], rowptr[y + 1]):
            li = lab[i]
            for x in range(rs[i], re[i] + 1):
                labels[y, x] = li
    return ncomp, val[:ncomp].copy()


@_njit
def _runs(p, g, k):
    """One pass over the rows: the runs the boundary step works on.

    Returns four run lists, each as (row, start, end, class) arrays in row-major order:
    TP runs (pred == GT == c), *cover* runs of c (pred == c or GT == c, merged per row; their
    complement in a row is TN*_c), FP query runs (pred == c != GT: FP*, ignore included) and FN
    query runs (GT == c != pred)."""
    h, w = p.shape
    npr = 0
    for y in range(h):
        x = 0
        while x < w:
            pv = p[y, x]
            gv = g[y, x]
            while x < w and p[y, x] == pv and g[y, x] == gv:
                x += 1
            npr += 1
    tp = np.empty((4, npr), np.int32)
    cv = np.empty((4, 2 * npr), np.int32)
    fp = np.empty((4, npr), np.int32)
    fn = np.empty((4, npr), np.int32)
    ntp = 0
    ncv = 0
    nfp = 0
    nfn = 0
    open_s = np.full(k, -2, np.int64)
    open_e = np.full(k, -2, np.int64)
    touched = np.empty(k, np.int64)
    for y in range(h):
        nt = 0
        fc = -1
        fs = 0
        fe = -2
        nc_ = -1
        ns = 0
        ne = -2
        x = 0
        while x < w:
            pv = p[y, x]
            gv = g[y, x]
            s = x
            while x < w and p[y, x] == pv and g[y, x] == gv:
                x += 1
            e = x - 1
            if pv == gv:
                if pv >= 0:
                    tp[0, ntp] = y
                    tp[1, ntp] = s
                    tp[2, ntp] = e
                    tp[3, ntp] = pv
                    ntp += 1
            else:
                if pv >= 0:
                    if fc == pv and fe == s - 1:
                        fe = e
                    else:
                        if fc >= 0:
                            fp[0, nfp] = y
                            fp[1, nfp] = fs
                            fp[2, nfp] = fe
                            fp[3, nfp] = fc
                            nfp += 1
                        fc = pv
                        fs = s
                        fe = e
                if gv >= 0:
                    if nc_ == gv and ne == s - 1:
                        ne = e
                    else:
                        if nc_ >= 0:
                            fn[0, nfn] = y
                            fn[1, nfn] = ns
                            fn[2, nfn] = ne
                            fn[3, nfn] = nc_
                            nfn += 1
                        nc_ = gv
                        ns = s
                        ne = e
            for c in (pv, gv):
                if c < 0:
                    continue
                if open_e[c] == -2:
                    touched[nt] = c
                    nt += 1
                    open_s[c] = s
                    open_e[c] = e
                elif open_e[c] >= s - 1:
                    if e > open_e[c]:
                        open_e[c] = e
                else:
                    cv[0, ncv] = y
                    cv[1, ncv] = open_s[c]
                    cv[2, ncv] = open_e[c]
                    cv[3, ncv] = c
                    ncv += 1
                    open_s[c] = s
                    open_e[c] = e
        if fc >= 0:
            fp[0, nfp] = y
            fp[1, nfp] = fs
            fp[2, nfp] = fe
            fp[3, nfp] = fc
            nfp += 1
        if nc_ >= 0:
            fn[0, nfn] = y
            fn[1, nfn] = ns
            fn[2, nfn] = ne
            fn[3, nfn] = nc_
            nfn += 1
        for t in range(nt):
            c = touched[t]
            cv[0, ncv] = y
            cv[1, ncv] = open_s[c]
            cv[2, ncv] = open_e[c]
            cv[3, ncv] = c
            ncv += 1
            open_e[c] = -2
    return tp[:, :ntp], cv[:, :ncv], fp[:, :nfp], fn[:, :nfn]


@_njit
def _csr(runs, k, h):
    """Index run lists by (class, row): runs of class c in row r are s[off[c*h+r]:off[c*h+r+1]]
    (sorted by x: the sort is stable and the input is row-major)."""
    n = runs.shape[1]
    off = np.zeros(k * h + 1, np.int64)
    for i in range(n):
        off[runs[3, i] * h + runs[0, i] + 1] += 1
    for j in range(k * h):
        off[j + 1] += off[j]
    pos = off[:-1].copy()
    s = np.empty(n, np.int32)
    e = np.empty(n, np.int32)
    for i in range(n):
        key = runs[3, i] * h + runs[0, i]
        j = pos[key]
        s[j] = runs[1, i]
        e[j] = runs[2, i]
        pos[key] = j + 1
    return off, s, e


@_njit
def _first_end_ge(e, i0, i1, x):
    """First index in [i0, i1) whose run end is >= x (ends are increasing)."""
    lo = i0
    hi = i1
    while lo < hi:
        mid = (lo + hi) >> 1
        if e[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@_njit
def _add(diff, prop, lo, hi, n):
    if lo < 0:
        lo = 0
    if hi > n - 1:
        hi = n - 1
    if lo <= hi:
        diff[prop, lo] += 1
        diff[prop, hi + 1] -= 1


@_njit
def _covered(diff, prop, n, cov):
    """Prefix-sum one property's difference array into ``cov``; True when all n are covered."""
    s = 0
    full = True
    for j in range(n):
        s += diff[prop, j]
        cov[prop, j] = s > 0
        if s <= 0:
            full = False
    return full


@_njit
def _near_runs(q, qok, a_off, a_s, a_e, b_off, b_s, b_e, use_b, h, w, dys, wds):
    """For every query run (row, x0, x1, class) with ``qok``: its pixels within d of a run of the
    A lists of its class (property 0) and, with ``use_b``, within d of a pixel of its class NOT
    covered by the B lists (property 1). Returns the sub-runs where all asked properties hold.

    Every run met in a row of the disk covers an interval of the query run (collected in
    difference arrays); rows are visited nearest first and the walk stops once the whole query
    run is answered."""
    nq = q.shape[1]
    nd = dys.size
    cap = 0
    for j in range(nq):
        if qok[j]:
            cap += (q[2, j] - q[1, j] + 2) // 2
    out = np.empty((4, cap), np.int32)
    nout = 0
    diff = np.zeros((2, w + 2), np.int32)
    cov = np.zeros((2, w + 1), np.bool_)
    for j in range(nq):
        if not qok[j]:
            continue
        y = q[0, j]
        x0 = q[1, j]
        x1 = q[2, j]
        c = q[3, j]
        n = x1 - x0 + 1
        for t in range(n + 1):
            diff[0, t] = 0
            diff[1, t] = 0
        need_a = True
        need_b = use_b
        check = 0
        for i in range(nd):
            r = y + dys[i]
            if r >= 0 and r < h:
                wd = wds[i]
                lo = x0 - wd
                if lo < 0:
                    lo = 0
                hi = x1 + wd
                if hi > w - 1:
                    hi = w - 1
                base = c * h + r
                if need_a:
                    i1 = a_off[base + 1]
                    idx = _first_end_ge(a_e, a_off[base], i1, lo)
                    while idx < i1 and a_s[idx] <= hi:
                        s_ = a_s[idx] if a_s[idx] > lo else lo
                        e_ = a_e[idx] if a_e[idx] < hi else hi
                        _add(diff, 0, s_ - wd - x0, e_ + wd - x0, n)
                        idx += 1
                if need_b:
                    i1 = b_off[base + 1]
                    idx = _first_end_ge(b_e, b_off[base], i1, lo)
                    pos = lo
                    while pos <= hi:
                        if idx < i1 and b_s[idx] <= pos:
                            pos = b_e[idx] + 1
                            idx += 1
                        else:
                            gap_end = hi
                            if idx < i1 and b_s[idx] - 1 < hi:
                                gap_end = b_s[idx] - 1
                            _add(diff, 1, pos - wd - x0, gap_end + wd - x0, n)
                            pos = gap_end + 1
            if i == check or i == nd - 1:
                check = 2 * check + 2
                if need_a and _covered(diff, 0, n, cov):
                    need_a = False
                if need_b and _covered(diff, 1, n, cov):
                    need_b = False
                if not need_a and not need_b:
                    break
        t = 0
        while t < n:
            if (not need_a or cov[0, t]) and (not need_b or cov[1, t]):
                t0 = t
                while t < n and (not need_a or cov[0, t]) and (not need_b or cov[1, t]):
                    t += 1
                out[0, nout] = y
                out[1, nout] = x0 + t0
                out[2, nout] = x0 + t - 1
                out[3, nout] = c
                nout += 1
            else:
                t += 1
    return out[:, :nout]


@_njit
def _gap(b_off, b_s, b_e, base, lo, hi):
    """Is some pixel of [lo, hi] not covered by the runs b[base]?"""
    i1 = b_off[base + 1]
    idx = _first_end_ge(b_e, b_off[base], i1, lo)
    if idx >= i1 or b_s[idx] > lo:
        return True
    return b_e[idx] < hi


@_njit
def _filter_runs(cr, tp_off, tp_s, tp_e, cv_off, cv_s, cv_e, h, w, g, count_valid, mark, keep_bit,
                 sliver_width, sliver):
    """Component filter (§5.3-4) on candidate runs of one side: 8-connected components of equal
    class; keep those touching a TP and a TN* of their class; mark their pixels with
    ``keep_bit``. Tallies sliver pixels (kept components at most ``sliver_width`` thick, thickness
    = valid pixels / pixels touching the TP) per class."""
    nc = cr.shape[1]
    rowptr = np.zeros(h + 1, np.int64)
    for i in range(nc):
        rowptr[cr[0, i] + 1] += 1
    for y in range(h):
        rowptr[y + 1] += rowptr[y]
    parent = np.arange(nc)
    for y in range(1, h):
        j = rowptr[y - 1]
        jend = rowptr[y]
        for i in range(rowptr[y], rowptr[y + 1]):
            s = cr[1, i]
            e = cr[2, i]
            while j < jend and cr[2, j] < s - 1:
                j += 1
            kk = j
            while kk < jend and cr[1, kk] <= e + 1:
                if cr[3, kk] == cr[3, i]:
                    _union(parent, kk, i)
                kk += 1
    touch = np.zeros(nc, np.uint8)
    area = np.zeros(nc, np.int64)
    contact = np.zeros(nc, np.int64)
    cdiff = np.zeros(w + 2, np.int32)
    for i in range(nc):
        y = cr[0, i]
        s = cr[1, i]
        e = cr[2, i]
        c = cr[3, i]
        n = e - s + 1
        for t in range(n + 1):
            cdiff[t] = 0
        flags = 0
        lo = s - 1 if s > 0 else 0
        hi = e + 1 if e < w - 1 else w - 1
        for r in range(y - 1, y + 2):
            if r < 0 or r >= h:
                continue
            base = c * h + r
            i1 = tp_off[base + 1]
            idx = _first_end_ge(tp_e, tp_off[base], i1, s - 1)
            while idx < i1 and tp_s[idx] <= e + 1:
                flags |= 1
                a0 = tp_s[idx] - 1 - s
                a1 = tp_e[idx] + 1 - s
                if a0 < 0:
                    a0 = 0
                if a1 > n - 1:
                    a1 = n - 1
                if a0 <= a1:
                    cdiff[a0] += 1
                    cdiff[a1 + 1] -= 1
                idx += 1
            if not (flags & 2) and _gap(cv_off, cv_s, cv_e, base, lo, hi):
                flags |= 2
        acc = 0
        ncontact = 0
        for t in range(n):
            acc += cdiff[t]
            if acc > 0:
                ncontact += 1
        if count_valid:
            nvalid = 0
            for x in range(s, e + 1):
                if g[y, x] >= 0:
                    nvalid += 1
        else:
            nvalid = n
        root = _find(parent, i)
        touch[root] |= flags
        area[root] += nvalid
        contact[root] += ncontact
    for i in range(nc):
        root = _find(parent, i)
        if touch[root] == 3:
            y = cr[0, i]
            for x in range(cr[1, i], cr[2, i] + 1):
                mark[y, x] |= keep_bit
            if root == i and area[i] > 0 and area[i] <= sliver_width * contact[i]:
                sliver[cr[3, i]] += area[i]


@_njit
def _assign(p, g, lp, lg, php, ghp, mark, k, counts, fp_type, fn_type, conf_fn, conf_fp, fixed_gt, fixed_pred):
    """Final typing (§6-7): counts per class, the two type maps, confusion per error type and the
    per-scenario tallies of pixels that a fix would repair."""
    h, w = p.shape
    for y in range(h):
        for x in range(w):
            pv = p[y, x]
            gv = g[y, x]
            fp_type[y, x] = 0
            fn_type[y, x] = 0
            if gv < 0:
                continue
            if pv == gv:
                counts[gv, 0] += 1
                continue
            cb = mark[y, x]
            if cb & 8:
                tn = 1
            elif ghp[lg[y, x]]:
                tn = 2
            else:
                tn = 3
            fn_type[y, x] = tn
            counts[gv, 2 * tn] += 1
            pj = pv if pv >= 0 else k
            conf_fn[tn - 1, gv, pj] += 1
            tp_ = 0
            if pv >= 0:
                if cb & 4:
                    tp_ = 1
                elif php[lp[y, x]]:
                    tp_ = 2
                else:
                    tp_ = 3
                fp_type[y, x] = tp_
                counts[pv, 2 * tp_ - 1] += 1
                conf_fp[tp_ - 1, gv, pv] += 1
            # scenarios: 0 boundary, 1 extent, 2 missed segments (fn), 3 invented segments (fp)
            for s in range(4):
                if s == 0:
                    hit = tn == 1 or tp_ == 1
                elif s == 1:
                    hit = tn == 2 or tp_ == 2
                elif s == 2:
                    hit = tn == 3
                else:
                    hit = tp_ == 3
                if hit:
                    fixed_gt[s, gv] += 1
                    fixed_pred[s, pj] += 1


# ---------------------------------------------------------------------- one image
@dataclass
class ImageErrors:
    """Everything the breakdown of one image produces.

    Attributes
    ----------
    counts : (K, 7) int64, columns :data:`COUNT_KEYS`.
    band_px : the band width ``d`` used.
    fp_type, fn_type : (H, W) uint8 maps; 0 no error of that side, 1 boundary, 2 extent, 3 segment.
        ``fp_type`` types the pixel as an FP of its predicted class, ``fn_type`` as an FN of its GT
        class. Ignored pixels are 0 in both.
    conf_fn : (3, K, K+1) int64: FN pixels by type (boundary, extent, segment), GT class × predicted
        class (column K: no class).
    conf_fp : (3, K, K) int64: the same pixels typed as FP of their predicted class.
    fixed_gt, fixed_pred : (4, K) and (4, K+1) int64: per :data:`FIX_SCENARIOS`, the error pixels
        a fix would repair, by GT class and by predicted class.
    gt_labels, pred_labels : (H, W) int32 8-connected components of each class in GT / prediction
        (-1 where none); ``gt_components`` / ``pred_components`` hold their facts.
    sliver_px : (K,) int64 pixels of thin boundary slivers per class (FP and FN sides).
    """

    counts: np.ndarray
    band_px: int
    fp_type: np.ndarray
    fn_type: np.ndarray
    conf_fn: np.ndarray
    conf_fp: np.ndarray
    fixed_gt: np.ndarray
    fixed_pred: np.ndarray
    gt_labels: np.ndarray
    pred_labels: np.ndarray
    gt_components: dict
    pred_components: dict
    sliver_px: np.ndarray
    codes: tuple[np.ndarray, np.ndarray]


def _to_codes(pred, gt, num_classes: int, ignore_index, allow_unknown_pred: bool, allow_unknown_gt: bool = False):
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise SegscopeError(f"prediction shape {pred.shape} differs from GT shape {gt.shape}")
    if pred.ndim != 2:
        raise SegscopeError(f"masks must be 2-D, got shape {pred.shape}")
    for name, a in (("prediction", pred), ("GT", gt)):
        if a.dtype.kind not in "uib":
            raise SegscopeError(f"{name} must hold integer labels, got dtype {a.dtype}")
    if num_classes < 1:
        raise SegscopeError(f"num_classes must be >= 1, got {num_classes}")
    code = np.int16 if num_classes < 2**15 else np.int32
    p = np.empty(pred.shape, code)
    g = np.empty(gt.shape, code)
    ign = -(2**62) if ignore_index is None else int(ignore_index)
    pr = np.ascontiguousarray(pred).reshape(-1)
    gr = np.ascontiguousarray(gt).reshape(-1)
    if pr.dtype == np.bool_:
        pr = pr.view(np.uint8)
    if gr.dtype == np.bool_:
        gr = gr.view(np.uint8)
    bad_g, bad_p = _codes(pr, gr, int(num_classes), ign, p.reshape(-1), g.reshape(-1))
    if bad_g and not allow_unknown_gt:
        raise SegscopeError(f"GT has {bad_g} pixel(s) with labels outside 0..{num_classes - 1} and not the ignore label")
    if bad_p and not allow_unknown_pred:
        raise SegscopeError(
            f"prediction has {bad_p} pixel(s) with labels outside 0..{num_classes - 1} and not the ignore label"
        )
    return p, g


def analyze_image(p: np.ndarray, g: np.ndarray, num_classes: int, band_px: int) -> ImageErrors:
    """The full breakdown of one image from class codes (int32, -1 = ignore / no class).

    Use :func:`error_counts` or :func:`error_type_maps` for raw label maps; this is the kernel
    the evaluation runs per image.
    """
    k = int(num_classes)
    h, w = p.shape
    d = int(band_px)
    lp = np.empty((h, w), np.int32)
    lg = np.empty((h, w), np.int32)
    n_p, cls_p = _label(p, lp)
    n_g, cls_g = _label(g, lg)
    tp_runs, cv_runs, fp_runs, fn_runs = _runs(p, g, k)
    php = np.zeros(n_p, bool)
    ghp = np.zeros(n_g, bool)
    if tp_runs.shape[1]:
        php[lp[tp_runs[0], tp_runs[1]]] = True
        ghp[lg[tp_runs[0], tp_runs[1]]] = True
    mark = np.zeros((h, w), np.uint8)
    sliver = np.zeros(k, np.int64)
    if d > 0 and tp_runs.shape[1]:
        dys, wds = _row_widths(d)
        tp_off, tp_s, tp_e = _csr(tp_runs, k, h)
        cv_off, cv_s, cv_e = _csr(cv_runs, k, h)
        sw = min(SLIVER_MAX_WIDTH, d)
        for q, labels, has, bit, count_valid in ((fp_runs, lp, php, 4, True), (fn_runs, lg, ghp, 8, False)):
            if not q.shape[1]:
                continue
            every = np.ones(q.shape[1], bool)
            seeds = _near_runs(q, every, tp_off, tp_s, tp_e, cv_off, cv_s, cv_e, True, h, w, dys, wds)
            if not seeds.shape[1]:
                continue
            sd_off, sd_s, sd_e = _csr(seeds, k, h)
            found = has[labels[q[0], q[1]]]
            cand = _near_runs(q, found, sd_off, sd_s, sd_e, sd_off, sd_s, sd_e, False, h, w, dys, wds)
            if cand.shape[1]:
                _filter_runs(cand, tp_off, tp_s, tp_e, cv_off, cv_s, cv_e, h, w, g, count_valid, mark, bit,
                             sw, sliver)
    counts = np.zeros((k, 7), np.int64)
    fp_type = np.empty((h, w), np.uint8)
    fn_type = np.empty((h, w), np.uint8)
    conf_fn = np.zeros((3, k, k + 1), np.int64)
    conf_fp = np.zeros((3, k, k), np.int64)
    fixed_gt = np.zeros((4, k), np.int64)
    fixed_pred = np.zeros((4, k + 1), np.int64)
    _assign(p, g, lp, lg, php, ghp, mark, k, counts, fp_type, fn_type, conf_fn, conf_fp, fixed_gt, fixed_pred)
    return ImageErrors(
        counts=counts, band_px=d, fp_type=fp_type, fn_type=fn_type, conf_fn=conf_fn, conf_fp=conf_fp,
        fixed_gt=fixed_gt, fixed_pred=fixed_pred[:, :k], gt_labels=lg, pred_labels=lp,
        gt_components={"n": n_g, "cls": cls_g, "has_tp": ghp},
        pred_components={"n": n_p, "cls": cls_p, "has_tp": php},
        sliver_px=sliver, codes=(p, g),
    )


# ---------------------------------------------------------------------- public functions
def error_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01, *, allow_unknown_pred: bool = False,
) -> np.ndarray:
    """Per-class error counts of one image: a (num_classes, 7) int64 array.

    Columns, in order (:data:`COUNT_KEYS`): ``tp, fp_boundary, fn_boundary, fp_extent, fn_extent,
    fp_segment, fn_segment``. Pooled counts of a dataset are the sums over images.

    Parameters
    ----------
    pred, gt : (H, W) integer label maps; every label must be in ``[0, num_classes)`` or equal
        ``ignore_index``.
    num_classes : C.
    ignore_index : the GT label of pixels that are not scored (they still take part in the
        geometry as "not this class"); in a prediction it means "no class". None: no ignore label.
    band_px : band width in pixels; when None, ``round(band_ratio * diagonal)``.
    band_ratio : relative band width (default 0.01 of the image diagonal).
    allow_unknown_pred : treat predicted labels outside the classes as "no class" instead of
        raising.

    Returns
    -------
    numpy.ndarray of shape (num_classes, 7).

    References
    ----------
    Bernhard et al., "What's Outside the Intersection? Fine-grained Error Analysis for Semantic
    Segmentation Beyond IoU", WACV 2024. doi:10.1109/WACV57701.2024.00103

    Examples
    --------
    A 3-px overshoot (example E2a/E2b of the method): extent errors at d = 1, boundary at d = 2.

    >>> gt = np.tile([1, 1, 1, 0, 0, 0, 0, 0], (8, 1)); pred = np.tile([1, 1, 1, 1, 1, 1, 0, 0], (8, 1))
    >>> error_counts(pred, gt, 2, band_px=1)[1].tolist()
    [24, 0, 0, 24, 0, 0, 0]
    >>> error_counts(pred, gt, 2, band_px=2)[1].tolist()
    [24, 24, 0, 0, 0, 0, 0]
    """
    p, g = _to_codes(pred, gt, num_classes, ignore_index, allow_unknown_pred)
    d = band_width(p.shape, band_px, band_ratio)
    return analyze_image(p, g, num_classes, d).counts


def error_type_maps(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01, *, allow_unknown_pred: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel error types of one image: ``(fp_type, fn_type)``, two (H, W) uint8 maps.

    Codes: 0 no error of that side, 1 boundary, 2 extent, 3 segment. ``fp_type`` types each pixel
    as an FP of its *predicted* class, ``fn_type`` as an FN of its *GT* class (a pixel with GT a
    and prediction b is both, typed independently). Ignored GT pixels are 0 in both maps.
    Parameters as in :func:`error_counts`.

    Examples
    --------
    >>> gt = np.array([[1, 1, 0, 0]] * 4); pred = np.array([[1, 1, 1, 0]] * 4)
    >>> fp, fn = error_type_maps(pred, gt, 2, band_px=1)
    >>> fp[0].tolist(), fn[0].tolist()
    ([0, 0, 1, 0], [0, 0, 1, 0])
    """
    p, g = _to_codes(pred, gt, num_classes, ignore_index, allow_unknown_pred)
    d = band_width(p.shape, band_px, band_ratio)
    res = analyze_image(p, g, num_classes, d)
    return res.fp_type, res.fn_type


def _div(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def error_ratios(counts) -> dict[str, np.ndarray]:
    """Per-class ratios (§8) from (pooled) counts of shape (K, 7); 0/0 is NaN.

    Keys: ``iou``, ``union``, ``fp_{t}_ou``, ``fn_{t}_ou``, ``e_{t}_ou`` for t in boundary,
    extent, segment, and ``e_boundary_renormed``, ``e_extent_renormed``, ``e_segment_renormed``.
    ``iou + e_boundary_ou + e_extent_ou + e_segment_ou == 1`` wherever the union is non-zero.

    >>> r = error_ratios(np.array([[12, 4, 4, 0, 0, 0, 0]]))
    >>> float(r["iou"][0]), float(r["e_boundary_ou"][0]), float(r["e_boundary_renormed"][0])
    (0.6, 0.4, 0.4)
    """
    c = np.asarray(counts, dtype=np.int64).reshape(-1, 7)
    tp = c[:, _TP]
    fp = {"boundary": c[:, _FPB], "extent": c[:, _FPE], "segment": c[:, _FPS]}
    fn = {"boundary": c[:, _FNB], "extent": c[:, _FNE], "segment": c[:, _FNS]}
    e = {t: fp[t] + fn[t] for t in ERROR_TYPES}
    union = tp + sum(e.values())
    out = {"iou": _div(tp, union), "union": union}
    for t in ERROR_TYPES:
        out[f"fp_{t}_ou"] = _div(fp[t], union)
        out[f"fn_{t}_ou"] = _div(fn[t], union)
        out[f"e_{t}_ou"] = _div(e[t], union)
    out["e_boundary_renormed"] = _div(e["boundary"], tp + e["boundary"])
    out["e_extent_renormed"] = _div(e["extent"], tp + e["boundary"] + e["extent"])
    out["e_segment_renormed"] = _div(e["segment"], union)
    return out


RATIO_KEYS = tuple(
    [f"e_{t}_ou" for t in ERROR_TYPES]
    + [f"{s}_{t}_ou" for t in ERROR_TYPES for s in ("fp", "fn")]
    + [f"e_{t}_renormed" for t in ERROR_TYPES]
)


def error_means(counts, keep=None) -> dict[str, float]:
    """Dataset means of the ratios: unweighted over classes, skipping NaN (§8).

    ``keep``: optional boolean mask of the classes taking part (e.g. to leave excluded classes
    out). Keys: ``miou``, ``me_boundary_ou`` ... (``m`` + each ratio key).
    """
    r = error_ratios(counts)
    keep = np.ones(len(r["iou"]), bool) if keep is None else np.asarray(keep, bool)

    def mean(v):
        v = np.asarray(v)[keep]
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else float("nan")

    out = {"miou": mean(r["iou"])}
    for key in RATIO_KEYS:
        out["m" + key] = mean(r[key])
    return out


# ---------------------------------------------------------------------- plain reference
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
    p, g = _to_codes(pred, gt, num_classes, ignore_index, False)
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
