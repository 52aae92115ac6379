"""Boundary-aware metrics: Boundary IoU, the boundary F-score and trimap IoU.

Region IoU of a large object hides its boundary: a 500×500 square shifted by two pixels still has
an IoU of 0.992. The metrics here look only at the pixels near the edges. Definitions
(see ``docs/boundary.md`` for pictures):

**Band width.** ``d = max(1, round(ratio * sqrt(H**2 + W**2)))`` pixels for an H×W image
(Python's ``round``, half to even, as in the official Boundary IoU code), or a fixed ``px``.

**Boundary band.** For a binary mask ``M``, ``band(M, d)`` is the set of pixels of ``M`` whose
chessboard distance to a pixel outside ``M`` -- or outside the image -- is at most ``d``: ``M``
minus ``M`` eroded ``d`` times by a 3×3 square after padding the image with one ring of zeros (the
recipe of Cheng et al.). For a label map, the band of class ``c`` is ``band(L == c, d)``; pixels
with no class (ignore, unknown ids) count as "not c".

**Boundary IoU** of class ``c``, pooled over a dataset::

    I_c = Σ |band(G_c) ∩ band(P_c) ∩ valid|      U_c = Σ |(band(G_c) ∪ band(P_c)) ∩ valid|

with ``G_c = (gt == c)``, ``P_c = (pred == c)`` and ``valid`` the pixels whose GT is a class;
``boundary_iou_c = I_c / U_c``, undefined (NaN / null) when ``U_c = 0``.

**Boundary F-score** (the MATLAB ``bfscore`` convention), per image and class: the contour of a
mask is ``M`` minus ``M`` eroded once by the 4-connected cross after zero padding; with tolerance
``θ = bf_ratio * diagonal``, precision is the share of predicted contour pixels (at valid pixels)
whose Euclidean distance to the GT contour is ``< θ``, recall the share of GT contour pixels whose
distance to the predicted contour is ``< θ``; ``BF = 2PR / (P + R)`` (0 when both are 0). Both
contours empty: undefined (the image is skipped for that class); exactly one empty: 0.

**Trimap.** A GT *boundary pixel* is a pixel with a 4-neighbour of another GT value (the ignore
label counts as a value; the image frame is not a boundary). The trimap of width ``w`` holds the
valid pixels whose Euclidean distance to the nearest boundary pixel is ``< w`` -- a band ``w``
pixels deep on each side of a straight boundary. Trimap mIoU and pixel accuracy are computed
from the confusion counts inside it.

How it is fast: a pixel of class ``c`` lies in ``band(c)`` exactly when its ``(2d+1)²`` window
(the outside of the image counting as another label) holds a label other than ``c``, i.e. when it
is within chessboard distance ``d - 1`` of a pixel whose 3×3 window is not constant. So the bands
of all classes come from one map of label changes dilated once, in a few linear passes
independent of ``d``; bands of different classes are disjoint, so one pass over the pixel pairs
gives every ``I_c`` and ``U_c``. Contour distances are found by searching per-class, per-row
sorted runs of contour pixels within ``θ`` (nearest rows first, the run that matched a neighbour
first of all); the trimap uses one exact Euclidean distance transform per image.

References
----------
.. [1] B. Cheng, R. Girshick, P. Dollár, A. C. Berg, A. Kirillov. "Boundary IoU: Improving
   Object-Centric Image Segmentation Evaluation". CVPR 2021.
   :doi:`10.1109/CVPR46437.2021.01508`
.. [2] G. Csurka, D. Larlus, F. Perronnin. "What is a good evaluation measure for semantic
   segmentation?". BMVC 2013. :doi:`10.5244/C.27.32`
.. [3] P. Kohli, L. Ladický, P. H. S. Torr. "Robust Higher Order Potentials for Enforcing Label
   Consistency". IJCV 82(3), 2009 (the trimap evaluation). :doi:`10.1007/s11263-008-0202-0`
"""

from __future__ import annotations

import math
import threading
import warnings
from typing import Sequence

import numpy as np

from .errors_base import SegscopeError
from .metrics import nanmean, summary_metrics

__all__ = [
    "BoundaryAnalyzer",
    "BoundaryWidthWarning",
    "bf_counts",
    "bf_score",
    "bf_tolerance",
    "boundary_bands",
    "boundary_counts",
    "boundary_iou",
    "boundary_width",
    "contours",
    "reference_band",
    "trimap_counts",
    "trimap_distance",
    "trimap_scores",
]

try:  # numba is a hard dependency; the fallback keeps `import segscope` alive on odd platforms
    import numba

    _njit = numba.njit(cache=True, nogil=True, boundscheck=False)
except ImportError:  # pragma: no cover
    numba = None

    def _njit(f):
        return f


BAND_WARN_SHARE = 0.8
BF_SCALE = float(2**40)  # per-image F-scores are summed as integers in units of 2**-40


class BoundaryWidthWarning(UserWarning):
    """The boundary band covers most labelled pixels, so Boundary IoU is close to plain IoU."""


# ====================================================================== kernels (numba)
# Hot loops index with slices (``src[s:]``) rather than ``src[x + s]``: numba cannot prove
# ``x + s >= 0`` and its negative-index wraparound then stops LLVM from vectorizing the loop.
@_njit
def _or_fwd(dst, src, s, w):
    """dst[x] = src[x] | src[x + s] (src beyond the row counts as 0)."""
    n = max(w - s, 0)
    ahead = src[s:]
    for x in range(n):
        dst[x] = src[x] | ahead[x]
    for x in range(n, w):
        dst[x] = src[x]


@_njit
def _or_bwd(dst, src, s, w):
    """dst[x] = src[x] | src[x - s] (src before the row counts as 0)."""
    n = max(w - s, 0)
    for x in range(min(s, w)):
        dst[x] = src[x]
    dst_s = dst[s:]
    src_s = src[s:]
    for x in range(n):
        dst_s[x] = src_s[x] | src[x]


@_njit
def _dilate_row(a, b, w, r):
    """Dilate the 0/1 row ``a`` in place by the segment [-r, r] (b: scratch), by doubling:
    ceil(log2(r + 1)) vectorized passes per direction."""
    flip = False
    for direction in range(2):
        cov = 1
        while cov < r + 1:
            s = min(cov, r + 1 - cov)
            if direction == 0:
                if flip:
                    _or_fwd(a, b, s, w)
                else:
                    _or_fwd(b, a, s, w)
            else:
                if flip:
                    _or_bwd(a, b, s, w)
                else:
                    _or_bwd(b, a, s, w)
            flip = not flip
            cov += s
    if flip:
        for x in range(w):
            a[x] = b[x]


@_njit
def _band_kernel(lab, k, r, out, change):
    """out[y, x] = 1 where lab[y, x] is a class (0..k-1) lying in its own class's band of width
    r + 1, else 0: the map of non-constant 3×3 windows (image frame included), dilated by the
    (2r+1)² square -- horizontally per row, vertically by a sliding window count. ``change`` is
    scratch space of lab's shape (uint8)."""
    h, w = lab.shape
    tmp = np.empty(w, np.uint8)
    for y in range(h):
        row = change[y]
        if y == 0 or y == h - 1 or w <= 2:
            for x in range(w):
                row[x] = 1
        else:
            b = lab[y]
            a = lab[y - 1]
            c = lab[y + 1]
            bm = b[1:]
            b2 = b[2:]
            a1 = a[1:]
            a2 = a[2:]
            c1 = c[1:]
            c2 = c[2:]
            inner = row[1:]
            for x in range(w - 2):
                v = bm[x]
                inner[x] = (
                    (a[x] != v) | (a1[x] != v) | (a2[x] != v) | (b[x] != v) | (b2[x] != v)
                    | (c[x] != v) | (c1[x] != v) | (c2[x] != v)
                )
            row[0] = 1
            row[w - 1] = 1
        if r > 0:
            _dilate_row(row, tmp, w, r)
    cnt = np.zeros(w, np.int32)
    for yy in range(min(r, h)):
        src = change[yy]
        for x in range(w):
            cnt[x] += src[x]
    for y in range(h):
        if y + r < h:
            src = change[y + r]
            for x in range(w):
                cnt[x] += src[x]
        if y - r - 1 >= 0:
            src = change[y - r - 1]
            for x in range(w):
                cnt[x] -= src[x]
        lr = lab[y]
        orow = out[y]
        for x in range(w):
            v = lr[x]
            orow[x] = (cnt[x] > 0) & (v >= 0) & (v < k)


@_njit
def _count_unknown(gt, k, ignore):
    """Pixels holding neither a class index (0..k-1) nor the ignore value."""
    flat = gt.reshape(-1)
    n = 0
    for i in range(flat.shape[0]):
        v = flat[i]
        n += ((v < 0) | (v >= k)) & (v != ignore)
    return n


HIST_MAX = 1 << 18  # codes per pixel up to this many: counted in small histograms


@_njit
def _hist_row(code, w, hist):
    """hist[x % 4, code[x]] += 1: four interleaved histograms, so that runs of equal codes do not
    wait on each other's stores."""
    n4 = w >> 2
    for q in range(n4):
        x = q << 2
        hist[0, code[x]] += 1
        hist[1, code[x + 1]] += 1
        hist[2, code[x + 2]] += 1
        hist[3, code[x + 3]] += 1
    for x in range(n4 << 2, w):
        hist[0, code[x]] += 1


@_njit
def _band_count_kernel(pred, gt, k, bp, bg, inter, gband, pband, valid):
    """Per class: |band(G)∩band(P)∩valid|, |band(G)∩valid|, |band(P)∩valid|; valid pixel count.
    Each row is packed into one code per pixel, code = ((g·(k+1) + p)·4 + 2·inG + inP) with k
    standing for "no class", then tallied (a histogram for up to 255 classes, else run by run)."""
    h, w = gt.shape
    kk = k + 1
    size = kk * kk * 4
    small = size <= HIST_MAX
    hist = np.zeros((4 if small else 0, size if small else 0), np.int64)
    code = np.empty(w, np.int64)
    for y in range(h):
        grow = gt[y]
        prow = pred[y]
        arow = bg[y]
        brow = bp[y]
        for x in range(w):
            g = np.int64(grow[x])
            p = np.int64(prow[x])
            gi = g if (g >= 0) & (g < k) else k
            pi = p if (p >= 0) & (p < k) else k
            code[x] = (gi * kk + pi) * 4 + np.int64(arow[x]) * 2 + np.int64(brow[x])
        if small:
            _hist_row(code, w, hist)
            continue
        x = 0
        while x < w:
            c = code[x]
            x0 = x
            x += 1
            while x < w and code[x] == c:
                x += 1
            gp = c >> 2
            g = gp // kk
            if g >= k:
                continue
            run = x - x0
            p = gp - g * kk
            valid[0] += run
            if c & 2:
                gband[g] += run
            if c & 1:
                pband[p] += run
                if (c & 2) and p == g:
                    inter[g] += run
    if small:
        for c in range(size):
            n = hist[0, c] + hist[1, c] + hist[2, c] + hist[3, c]
            if n == 0:
                continue
            gp = c >> 2
            g = gp // kk
            if g >= k:
                continue
            p = gp - g * kk
            valid[0] += n
            if c & 2:
                gband[g] += n
            if c & 1:
                pband[p] += n
                if (c & 2) and p == g:
                    inter[g] += n


@_njit
def _contour_row(lab, y, k, row):
    """row[x] = 1 where (y, x) is a class pixel with a 4-neighbour of another label or outside
    the image."""
    h, w = lab.shape
    b = lab[y]
    if y == 0 or y == h - 1 or w <= 2:
        for x in range(w):
            v = b[x]
            row[x] = (v >= 0) & (v < k)
        return
    a1 = lab[y - 1][1:]
    c1 = lab[y + 1][1:]
    b1 = b[1:]
    b2 = b[2:]
    inner = row[1:]
    for x in range(w - 2):
        v = b1[x]
        inner[x] = ((v >= 0) & (v < k)) & ((a1[x] != v) | (c1[x] != v) | (b[x] != v) | (b2[x] != v))
    v = b[0]
    row[0] = (v >= 0) & (v < k)
    v = b[w - 1]
    row[w - 1] = (v >= 0) & (v < k)


@_njit
def _contour_runs(lab, k):
    """Contour pixels of every class (4-neighbour test, zero padding) as runs of consecutive
    pixels of one class, per row, ascending: (row_ptr, starts, ends, labels). Two passes (count,
    then fill) over rows whose contour maps are computed 32 pixels at a time."""
    h, w = lab.shape
    ptr = np.zeros(h + 1, np.int64)
    nwords = (w + 7) // 8
    row = np.zeros(nwords * 8, np.uint8)
    words = row.view(np.uint64)
    for y in range(h):
        _contour_row(lab, y, k, row)
        b = lab[y]
        n = np.int64(row[0]) if w else np.int64(0)
        r1 = row[1:]
        b1 = b[1:]
        for x in range(w - 1):  # a run starts where the previous pixel is not the same run
            n += r1[x] & ((row[x] == 0) | (b[x] != b1[x]))
        ptr[y + 1] = ptr[y] + n
    starts = np.empty(ptr[h], np.int32)
    ends = np.empty(ptr[h], np.int32)
    labs = np.empty(ptr[h], np.int32)
    n = 0
    for y in range(h):
        if ptr[y + 1] == ptr[y]:
            continue
        _contour_row(lab, y, k, row)
        b = lab[y]
        first = n
        for i in range(nwords):
            if words[i] == 0:
                continue
            x0 = i * 8
            for x in range(x0, min(x0 + 8, w)):
                if row[x]:
                    v = b[x]
                    if n > first and ends[n - 1] == x - 1 and labs[n - 1] == v:
                        ends[n - 1] = x
                    else:
                        starts[n] = x
                        ends[n] = x
                        labs[n] = v
                        n += 1
    return ptr, starts, ends, labs


@_njit
def _by_class(ptr, starts, ends, labs, k, h):
    """Regroup contour runs by class: bucket (j, y) holds the runs of the j-th class present in
    row y (ascending), at cptr[j*h + y] : cptr[j*h + y + 1]; cmap[c] = j, or -1 for a class with
    no contour pixel."""
    n = starts.shape[0]
    cmap = np.full(k, -1, np.int64)
    nc = 0
    for i in range(n):
        c = labs[i]
        if cmap[c] < 0:
            cmap[c] = nc
            nc += 1
    cptr = np.zeros(nc * h + 1, np.int64)
    for y in range(h):
        for i in range(ptr[y], ptr[y + 1]):
            cptr[cmap[labs[i]] * h + y + 1] += 1
    for j in range(nc * h):
        cptr[j + 1] += cptr[j]
    fill = cptr[:-1].copy()
    cst = np.empty(n, np.int32)
    cen = np.empty(n, np.int32)
    for y in range(h):
        for i in range(ptr[y], ptr[y + 1]):
            b = cmap[labs[i]] * h + y
            cst[fill[b]] = starts[i]
            cen[fill[b]] = ends[i]
            fill[b] += 1
    return cmap, cptr, cst, cen


@_njit
def _search(cptr, starts, ends, base, y, x, half, reach, h):
    """Look for a contour run of the class whose buckets start at ``base`` within Euclidean
    distance < θ of (y, x), rows nearest first: a run in row y + dy at horizontal gap g matches
    when |dy| < len(half) and g <= half[|dy|]. Returns (run, row, 0.0) for a match, else
    (-1, -1, bound) with ``bound`` a lower bound of the distance to the nearest run (exact within
    ``reach`` rows, which is at least len(half))."""
    best = (reach + 1) * (reach + 1)
    t = half.shape[0]
    for dd in range(reach + 1):
        dd2 = dd * dd
        if dd2 >= best:
            break
        for sgn in (1, -1):
            if dd == 0 and sgn == -1:
                continue
            yy = y + sgn * dd
            if yy < 0 or yy >= h:
                continue
            first = cptr[base + yy]
            n = cptr[base + yy + 1] - first
            if n == 0:
                continue
            lo = first
            while n > 1:  # branch-free search for the first run ending at or after x
                m = n >> 1
                lo = lo + m if ends[lo + m - 1] < x else lo
                n -= m
            gap = reach + 1
            r = -1
            if ends[lo] >= x:  # the run at or right of x
                gap = starts[lo] - x if starts[lo] > x else 0
                r = lo
            if lo > first or ends[lo] < x:  # the run left of x
                left = lo if ends[lo] < x else lo - 1
                if x - ends[left] < gap:
                    gap = x - ends[left]
                    r = left
            if r < 0:
                continue
            if dd < t and gap <= half[dd]:
                return r, yy, 0.0
            g2 = dd2 + gap * gap
            if g2 < best:
                best = g2
    return -1, -1, math.sqrt(best)


@_njit
def _match_side(qmap, qcptr, qst, qen, tmap, tcptr, tst, ten, gt, k, half, theta, check_valid, out, col):
    """For every query contour pixel (class-major, rows ascending): out[c, col] += 1, and
    out[c, col + 1] += 1 when a target contour pixel of class c lies within θ. Contours are
    continuous, so neighbouring queries (columns x - 1 .. x + 1 of this row or earlier ones) are
    used first: the run that matched a neighbour is tried (an exact test), and a neighbour known
    to be at least L from every target rules this query out when L minus their distance is still
    >= θ (the triangle inequality)."""
    h, w = gt.shape
    t = half.shape[0]
    reach = t + 3  # search a little beyond θ, so that a miss leaves a useful lower bound
    hitrow = np.zeros(w, np.int64)
    hitrun = np.zeros(w, np.int64)
    stamp = np.full(w, -1, np.int64)
    missrow = np.zeros(w, np.int64)
    missbound = np.zeros(w, np.float64)
    mstamp = np.full(w, -1, np.int64)
    for c in range(k):
        jq = qmap[c]
        if jq < 0:
            continue
        jt = tmap[c]
        qbase = jq * h
        tbase = jt * h
        n = 0
        matched = 0
        for y in range(h):
            for r in range(qcptr[qbase + y], qcptr[qbase + y + 1]):
                for x in range(qst[r], qen[r] + 1):
                    if check_valid:
                        g = gt[y, x]
                        if g < 0 or g >= k:
                            continue
                    n += 1
                    if jt < 0:
                        continue
                    found = False
                    ruled_out = False
                    for xc in range(max(x - 1, 0), min(x + 2, w)):
                        if stamp[xc] == c:
                            dd = abs(hitrow[xc] - y)
                            if dd < t:
                                rr = hitrun[xc]
                                hw = half[dd]
                                if ten[rr] >= x - hw and tst[rr] <= x + hw:
                                    found = True
                                    hitrow[x] = hitrow[xc]
                                    hitrun[x] = rr
                                    break
                        if mstamp[xc] == c:
                            dy = missrow[xc] - y
                            bound = missbound[xc] - math.sqrt(dy * dy + (xc - x) * (xc - x))
                            if bound >= theta + 1e-9:
                                ruled_out = True
                                missrow[x] = y
                                missbound[x] = bound
                                mstamp[x] = c
                                break
                    if not found and not ruled_out:
                        rr, yy, bound = _search(tcptr, tst, ten, tbase, y, x, half, reach, h)
                        if rr >= 0:
                            found = True
                            hitrow[x] = yy
                            hitrun[x] = rr
                        else:
                            missrow[x] = y
                            missbound[x] = bound
                            mstamp[x] = c
                    if found:
                        stamp[x] = c
                        matched += 1
        out[c, col] += n
        out[c, col + 1] += matched


@_njit
def _bf_kernel(pred, gt, k, half, theta, out):
    """out[c] += (pred contour pixels at valid pixels, of them within θ of the GT contour, GT
    contour pixels, of them within θ of the predicted contour)."""
    h = gt.shape[0]
    gmap, gcptr, gst, gen = _by_class(*_contour_runs(gt, k), k, h)
    pmap, pcptr, pst, pen = _by_class(*_contour_runs(pred, k), k, h)
    _match_side(pmap, pcptr, pst, pen, gmap, gcptr, gst, gen, gt, k, half, theta, True, out, 0)
    _match_side(gmap, gcptr, gst, gen, pmap, pcptr, pst, pen, gt, k, half, theta, False, out, 2)


@_njit
def _boundary_row(gt, y, e):
    """e[x] = 1 where GT pixel (y, x) has a 4-neighbour of another value (a boundary pixel)."""
    h, w = gt.shape
    b = gt[y]
    for x in range(w):
        e[x] = 0
    if y > 0:
        a = gt[y - 1]
        for x in range(w):
            e[x] |= a[x] != b[x]
    if y < h - 1:
        c = gt[y + 1]
        for x in range(w):
            e[x] |= c[x] != b[x]
    if w > 1:
        b1 = b[1:]
        e1 = e[1:]
        for x in range(w - 1):
            e[x] |= b[x] != b1[x]
        for x in range(w - 1):
            e1[x] |= b[x] != b1[x]


# Small integer types: numba promotes int16 arithmetic to int64, which defeats SIMD; the explicit
# np.int16(...) casts and selects below keep the loops in 16-bit lanes (values stay < 2**15).
@_njit
def _hd2_row(gt, y, cap, e, fa, fb, out):
    """out[x] = min(cap, horizontal distance from (y, x) to the nearest boundary pixel of row y)²
    as int16 (cap <= 127), by doubling: the nearest boundary pixel within [0, 2L) is the nearer
    of those within [0, L) and [L, 2L). Returns whether any distance is < cap."""
    w = gt.shape[1]
    _boundary_row(gt, y, e)
    ccap = np.int16(cap)
    zero = np.int16(0)
    for direction in range(2):
        for x in range(w):
            fa[x] = zero if e[x] else ccap
        src = fa
        dst = fb
        step = 1
        while step < cap:
            n = max(w - step, 0)
            ll = np.int16(step)
            if direction == 0:  # distance to the nearest boundary pixel at or left of x
                for x in range(min(step, w)):
                    dst[x] = src[x]
                ds = dst[step:]
                ss = src[step:]
                for x in range(n):
                    t = np.int16(src[x] + ll)
                    t = t if t < ccap else ccap
                    u = ss[x]
                    ds[x] = t if t < u else u
            else:  # ... at or right of x
                for x in range(n, w):
                    dst[x] = src[x]
                sa = src[step:]
                for x in range(n):
                    t = np.int16(sa[x] + ll)
                    t = t if t < ccap else ccap
                    u = src[x]
                    dst[x] = t if t < u else u
            src, dst = dst, src
            step *= 2
        if direction == 0:
            for x in range(w):
                out[x] = src[x]
        else:
            near = False
            for x in range(w):
                a = out[x]
                b = src[x]
                v = a if a < b else b
                near |= v < ccap
                out[x] = np.int16(v * v)
    return near


@_njit
def _ring_d2_row(gt, y, cap, ring, ringnear, e, fa, fb, d2):
    """Row y of the squared distance to the nearest GT boundary pixel, capped at cap² (int16):
    min over |dy| < cap of hd²(y + dy) + dy², the horizontal distances hd² of rows y - cap + 1 ..
    y + cap - 1 kept in a ring buffer (row y + cap - 1 is computed here; call rows in order after
    priming rows 0 .. cap - 2). Returns whether any value is < cap²."""
    h = gt.shape[0]
    w = gt.shape[1]
    nring = ring.shape[0]
    yy = y + cap - 1
    if yy < h:
        ringnear[yy % nring] = _hd2_row(gt, yy, cap, e, fa, fb, ring[yy % nring])
    capsq = np.int16(cap * cap)
    for x in range(w):
        d2[x] = capsq
    near = False
    for dy in range(-(cap - 1), cap):
        y2 = y + dy
        if y2 < 0 or y2 >= h:
            continue
        slot = y2 % nring
        if not ringnear[slot]:
            continue
        near = True
        src = ring[slot]
        dy2 = np.int16(dy * dy)
        for x in range(w):
            t = np.int16(src[x] + dy2)
            u = d2[x]
            d2[x] = t if t < u else u
    return near


@_njit
def _label_change_vdist(gt, cap, vd):
    """vd[y, x] = min(cap, vertical distance to the nearest GT boundary pixel in column x)."""
    h, w = gt.shape
    up = np.full(w, cap, np.int32)
    e = np.empty(w, np.uint8)
    for y in range(h):
        _boundary_row(gt, y, e)
        vrow = vd[y]
        for x in range(w):
            u = min(up[x] + 1, cap)
            u = 0 if e[x] else u
            up[x] = u
            vrow[x] = u
    dn = np.full(w, cap, np.int32)
    for y in range(h - 1, -1, -1):
        vrow = vd[y]
        for x in range(w):
            vv = vrow[x]
            u = min(dn[x] + 1, cap)
            u = 0 if vv == 0 else u
            dn[x] = u
            vrow[x] = min(vv, u)


@_njit
def _envelope_d2_row(vrow, cap, v, z, d2):
    """Squared Euclidean distance along a row from its column distances ``vrow`` (capped at cap),
    by the lower envelope of parabolas (Felzenszwalb & Huttenlocher); results capped at cap².
    Returns whether any value is < cap². Used for widths over 127, where int16 would overflow."""
    w = vrow.shape[0]
    capsq = cap * cap
    kk = -1
    for q in range(w):
        fq = np.int64(vrow[q])
        if fq >= cap:
            continue
        fq = fq * fq
        if kk < 0:
            kk = 0
            v[0] = q
            z[0] = -np.inf
            z[1] = np.inf
            continue
        while True:
            p = v[kk]
            fp = np.int64(vrow[p])
            s = ((fq + q * q) - (fp * fp + p * p)) / (2.0 * (q - p))
            if s <= z[kk]:
                kk -= 1
            else:
                break
        kk += 1
        v[kk] = q
        z[kk] = s
        z[kk + 1] = np.inf
    if kk < 0:
        for q in range(w):
            d2[q] = capsq
        return False
    j = 0
    for q in range(w):
        while z[j + 1] < q:
            j += 1
        p = v[j]
        fp = np.int64(vrow[p])
        d2[q] = min((q - p) * (q - p) + fp * fp, capsq)
    return True


@_njit
def _trimap_dist_kernel(gt, cap, out):
    """out[y, x] = min(cap², squared Euclidean distance to the nearest GT boundary pixel)."""
    h, w = gt.shape
    if cap <= 127:
        nring = 2 * cap - 1
        ring = np.empty((nring, w), np.int16)
        ringnear = np.zeros(nring, np.bool_)
        e = np.empty(w, np.uint8)
        fa = np.empty(w, np.int16)
        fb = np.empty(w, np.int16)
        d2 = np.empty(w, np.int16)
        for yy in range(min(cap - 1, h)):
            ringnear[yy % nring] = _hd2_row(gt, yy, cap, e, fa, fb, ring[yy % nring])
        for y in range(h):
            _ring_d2_row(gt, y, cap, ring, ringnear, e, fa, fb, d2)
            orow = out[y]
            for x in range(w):
                orow[x] = d2[x]
    else:
        vd = np.empty((h, w), np.int32)
        _label_change_vdist(gt, cap, vd)
        v = np.empty(w + 1, np.int64)
        z = np.empty(w + 2, np.float64)
        d2 = np.empty(w, np.int64)
        for y in range(h):
            _envelope_d2_row(vd[y], cap, v, z, d2)
            orow = out[y]
            for x in range(w):
                orow[x] = d2[x]


@_njit
def _trimap_kernel(pred, gt, k, widths_sq, out):
    """out[i, g, p] += pixels with GT class g and prediction p (k: no class) whose squared distance
    d² to the nearest GT boundary pixel satisfies widths_sq[i-1] <= d² < widths_sq[i] (ascending
    squared widths; i = 0 is d² < widths_sq[0]). Each row is packed into one code per pixel, then
    tallied (a histogram when the codes are few, else run by run)."""
    h, w = gt.shape
    nw = widths_sq.shape[0]
    cap = 1
    while cap * cap < widths_sq[nw - 1]:
        cap += 1
    code = np.empty(w, np.int64)
    small = cap <= 127
    nring = 2 * cap - 1 if small else 1
    ring = np.empty((nring, w), np.int16)
    ringnear = np.zeros(nring, np.bool_)
    e = np.empty(w, np.uint8)
    fa = np.empty(w, np.int16)
    fb = np.empty(w, np.int16)
    d2s = np.empty(w, np.int16)
    vd = np.empty((h if not small else 0, w), np.int32)
    v = np.empty(w + 1, np.int64)
    z = np.empty(w + 2, np.float64)
    d2l = np.empty(w, np.int64)
    if small:
        for yy in range(min(cap - 1, h)):
            ringnear[yy % nring] = _hd2_row(gt, yy, cap, e, fa, fb, ring[yy % nring])
    else:
        _label_change_vdist(gt, cap, vd)
    kk = k + 1
    size = 1 + nw * kk * kk  # code 0: counted nowhere
    hsmall = size <= HIST_MAX
    hist = np.zeros((4 if hsmall else 0, size if hsmall else 0), np.int64)
    bn = np.empty(w, np.int64)
    for y in range(h):
        grow = gt[y]
        prow = pred[y]
        if small:
            if not _ring_d2_row(gt, y, cap, ring, ringnear, e, fa, fb, d2s):
                continue
            for x in range(w):
                d2l[x] = d2s[x]
        elif not _envelope_d2_row(vd[y], cap, v, z, d2l):
            continue
        for x in range(w):
            bn[x] = 0
        for i in range(nw):  # bin = the number of widths w with w² <= d²
            t = widths_sq[i]
            for x in range(w):
                bn[x] += d2l[x] >= t
        for x in range(w):
            g = np.int64(grow[x])
            p = np.int64(prow[x])
            b = bn[x]
            pi = p if (p >= 0) & (p < k) else k
            inside = (g >= 0) & (g < k) & (b < nw)
            code[x] = 1 + (b * kk + g) * kk + pi if inside else 0
        if hsmall:
            _hist_row(code, w, hist)
            continue
        x = 0
        while x < w:
            c = code[x]
            x0 = x
            x += 1
            while x < w and code[x] == c:
                x += 1
            if c == 0:
                continue
            c -= 1
            bg_ = c // kk
            out[bg_ // kk, bg_ % kk, c % kk] += x - x0
    if hsmall:
        for c in range(1, size):
            n = hist[0, c] + hist[1, c] + hist[2, c] + hist[3, c]
            if n:
                c1 = c - 1
                bg_ = c1 // kk
                out[bg_ // kk, bg_ % kk, c1 % kk] += n


# ====================================================================== array helpers
def _as_labels(a, name: str = "mask") -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise SegscopeError(f"{name} must be a 2-D label map, got shape {a.shape}")
    if a.dtype.kind == "b":
        a = a.view(np.uint8)
    elif a.dtype.kind not in "ui":
        raise SegscopeError(f"{name} must hold integers, got dtype {a.dtype}")
    elif a.dtype.itemsize == 8 and a.dtype.kind == "u":
        a = a.astype(np.int64)  # uint64 compares badly with signed class counts
    return np.ascontiguousarray(a)


def _gt_indices(gt, num_classes: int, ignore_index: int | None) -> np.ndarray:
    """GT as class indices, with ignored pixels moved to -1 when the ignore label is a class id."""
    gt = _as_labels(gt, "gt")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise SegscopeError(f"ignore_index {ignore_index} is a class index (num_classes={num_classes})")
    if gt.size:
        bad = _count_unknown(gt, int(num_classes), -1 if ignore_index is None else int(ignore_index))
        if bad:
            raise SegscopeError(
                f"GT has {bad} pixel(s) with ids outside 0..{num_classes - 1}"
                + ("" if ignore_index is None else f" and not the ignore label {ignore_index}")
            )
    return gt


def _pair(pred, gt, num_classes, ignore_index):
    gt = _gt_indices(gt, num_classes, ignore_index)
    pred = _as_labels(pred, "pred")
    if pred.shape != gt.shape:
        raise SegscopeError(f"prediction shape {pred.shape} differs from GT shape {gt.shape}")
    return pred, gt


def _diagonal(shape) -> float:
    h, w = shape
    return math.sqrt(h * h + w * w)


def boundary_width(shape: Sequence[int], ratio: float = 0.02, px: int | None = None) -> int:
    """The band width ``d`` in pixels for an image of ``shape`` (H, W).

    ``d = max(1, round(ratio * sqrt(H**2 + W**2)))`` with Python's ``round`` (half to even), as in
    the official Boundary IoU code; ``px`` (>= 1), when given, is used as it is.

    >>> boundary_width((1024, 2048))
    46
    >>> boundary_width((1024, 2048), ratio=0.005), boundary_width((10, 10), px=3)
    (11, 3)
    """
    if px is not None:
        if int(px) < 1:
            raise SegscopeError(f"boundary width must be >= 1 pixel, got {px}")
        return int(px)
    if not ratio > 0:
        raise SegscopeError(f"boundary ratio must be > 0, got {ratio}")
    h, w = (shape[0], shape[1]) if len(shape) > 1 else (1, shape[0])
    return max(1, int(round(ratio * _diagonal((h, w)))))


def bf_tolerance(shape: Sequence[int], ratio: float = 0.0075) -> float:
    """The boundary F-score tolerance ``θ = ratio * sqrt(H**2 + W**2)`` in pixels.

    >>> round(bf_tolerance((1024, 2048)), 3)
    17.173
    """
    if not ratio >= 0:
        raise SegscopeError(f"boundary F-score ratio must be >= 0, got {ratio}")
    h, w = (shape[0], shape[1]) if len(shape) > 1 else (1, shape[0])
    return float(ratio * _diagonal((h, w)))


def _half_widths(theta: float) -> np.ndarray:
    """half[dy] = the largest dx with sqrt(dx² + dy²) < θ, for every dy with sqrt(dy²) < θ."""
    half = []
    dy = 0
    while math.sqrt(dy * dy) < theta:
        dx = int(math.sqrt(max(0.0, theta * theta - dy * dy))) + 1
        while dx >= 0 and not math.sqrt(dx * dx + dy * dy) < theta:
            dx -= 1
        half.append(dx)
        dy += 1
    return np.asarray(half, dtype=np.int64)


# ====================================================================== public functions
def boundary_bands(labels, num_classes: int, width: int) -> np.ndarray:
    """The boundary band of every class at once: True where a pixel of class ``c`` lies in
    ``band(labels == c, width)``.

    ``band(M, d)`` = ``M`` minus ``M`` eroded ``d`` times by a 3×3 square after zero padding,
    i.e. the pixels of ``M`` within chessboard distance ``d`` of a pixel outside ``M`` or outside
    the image. Values outside ``0..num_classes-1`` (ignore, unknown) are in no band and count as
    "not c" for every class. Bands of different classes are disjoint, so one boolean map holds
    them all; the cost does not depend on ``width``.

    Parameters
    ----------
    labels : (H, W) integer array of class indices.
    num_classes : number of classes K.
    width : band width ``d`` in pixels (>= 1), e.g. from :func:`boundary_width`.

    Returns
    -------
    (H, W) bool array.

    References
    ----------
    Cheng et al., "Boundary IoU", CVPR 2021, doi:10.1109/CVPR46437.2021.01508

    Examples
    --------
    >>> lab = np.array([[0, 0, 0, 0, 0],
    ...                 [0, 0, 0, 0, 0],
    ...                 [0, 0, 1, 1, 1],
    ...                 [0, 0, 1, 1, 1],
    ...                 [0, 0, 1, 1, 1]])
    >>> boundary_bands(lab, 2, 1).astype(int)
    array([[1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 0, 1],
           [1, 1, 1, 1, 1]])
    """
    lab = _as_labels(labels, "labels")
    width = int(width)
    if width < 1:
        raise SegscopeError(f"boundary width must be >= 1 pixel, got {width}")
    out = np.empty(lab.shape, np.uint8)
    if lab.size:
        _band_kernel(lab, int(num_classes), width - 1, out, np.empty(lab.shape, np.uint8))
    return out.view(bool)


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


def boundary_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, width: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Boundary intersections ``I_c`` and unions ``U_c`` of one image (int64 arrays of length K).

    ``I_c = |band(G_c) ∩ band(P_c) ∩ valid|``, ``U_c = |(band(G_c) ∪ band(P_c)) ∩ valid|``; valid
    pixels are those whose GT is not ``ignore_index``. Sum them over images for dataset figures.

    >>> gt = np.array([[0, 0, 1, 1]] * 4)
    >>> pred = np.array([[0, 1, 1, 1]] * 4)
    >>> [a.tolist() for a in boundary_counts(pred, gt, 2, width=1)]
    [[4, 6], [8, 12]]
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    k = int(num_classes)
    inter = np.zeros(k, np.int64)
    gband = np.zeros(k, np.int64)
    pband = np.zeros(k, np.int64)
    _boundary_counts_raw(pred, gt, k, int(width), inter, gband, pband, np.zeros(1, np.int64))
    return inter, gband + pband - inter


def _boundary_counts_raw(pred, gt, k, width, inter, gband, pband, valid, scratch=None):
    """Add one pair's band counts to the arrays given; ``scratch``: three uint8 arrays of the
    masks' shape to reuse (fresh ones when None)."""
    if gt.size == 0:
        return
    bg, bp, change = scratch if scratch is not None else (np.empty(gt.shape, np.uint8) for _ in range(3))
    _band_kernel(gt, k, width - 1, bg, change)
    _band_kernel(pred, k, width - 1, bp, change)
    _band_count_kernel(pred, gt, k, bp, bg, inter, gband, pband, valid)


def boundary_iou(
    pred, gt, num_classes: int, ignore_index: int | None = None, ratio: float = 0.02, px: int | None = None
) -> np.ndarray:
    """Boundary IoU of every class for one image (NaN where the union of the bands is empty).

    Parameters
    ----------
    pred, gt : (H, W) integer arrays of class indices; GT pixels equal to ``ignore_index`` count
        nowhere (but are "not c" when the bands are formed); prediction values outside
        ``0..num_classes-1`` belong to no class.
    num_classes : number of classes K.
    ignore_index : the GT ignore label, or None.
    ratio : band width as a share of the image diagonal (0.02 as in the paper; 0.005 suits
        Cityscapes-sized images).
    px : band width in pixels; overrides ``ratio``.

    Returns
    -------
    (K,) float64 array.

    References
    ----------
    B. Cheng, R. Girshick, P. Dollár, A. C. Berg, A. Kirillov, "Boundary IoU: Improving
    Object-Centric Image Segmentation Evaluation", CVPR 2021. doi:10.1109/CVPR46437.2021.01508

    Examples
    --------
    >>> gt = np.array([[0, 0, 1, 1]] * 4)
    >>> pred = np.array([[0, 1, 1, 1]] * 4)
    >>> boundary_iou(pred, gt, 2, px=1).tolist()
    [0.5, 0.5]
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    inter, union = boundary_counts(pred, gt, num_classes, ignore_index, boundary_width(gt.shape, ratio, px))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def contours(labels, num_classes: int) -> np.ndarray:
    """The contour of every class at once: True where a pixel of class ``c`` lies on the contour
    of ``labels == c`` -- the mask minus its erosion by the 4-connected cross after zero padding
    (a pixel of the mask with a 4-neighbour outside the mask or outside the image).

    >>> contours(np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1]]), 2).astype(int)
    array([[1, 1, 1],
           [1, 0, 1],
           [1, 1, 1]])
    """
    lab = _as_labels(labels, "labels")
    out = np.zeros(lab.shape, bool)
    if lab.size:
        ptr, starts, ends, _ = _contour_runs(lab, int(num_classes))
        rows = np.repeat(np.arange(lab.shape[0]), np.diff(ptr))
        for y, a, b in zip(rows.tolist(), starts.tolist(), ends.tolist()):
            out[y, a:b + 1] = True
    return out


def bf_counts(
    pred, gt, num_classes: int, ignore_index: int | None = None, ratio: float = 0.0075,
    tolerance: float | None = None,
) -> np.ndarray:
    """Contour matching counts of one image, a (K, 4) int64 array with columns: predicted contour
    pixels (at valid pixels), of those within ``θ`` of the GT contour, GT contour pixels, of those
    within ``θ`` of the predicted contour. ``θ = tolerance`` or ``ratio × diagonal``; "within"
    means Euclidean distance ``< θ``.

    >>> gt = np.array([[0, 0, 1, 1]] * 3)
    >>> bf_counts(gt, gt, 2, tolerance=0.5).tolist()
    [[6, 6, 6, 6], [6, 6, 6, 6]]
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    theta = float(tolerance) if tolerance is not None else bf_tolerance(gt.shape, ratio)
    out = np.zeros((int(num_classes), 4), np.int64)
    if gt.size:
        _bf_kernel(pred, gt, int(num_classes), _half_widths(theta), theta, out)
    return out


def _bf_from_counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    npred, mpred, ngt, mgt = counts.T
    out = np.full(len(counts), np.nan)
    one_empty = (npred == 0) != (ngt == 0)
    out[one_empty] = 0.0
    both = (npred > 0) & (ngt > 0)
    p = mpred[both] / npred[both]
    r = mgt[both] / ngt[both]
    s = p + r
    with np.errstate(divide="ignore", invalid="ignore"):
        out[both] = np.where(s > 0, 2 * p * r / np.where(s > 0, s, 1), 0.0)
    return out


def bf_score(
    pred, gt, num_classes: int, ignore_index: int | None = None, ratio: float = 0.0075,
    tolerance: float | None = None,
) -> np.ndarray:
    """Boundary F-score of every class for one image (NaN where both contours are empty).

    Contours are class masks minus their erosion by the 4-connected cross after zero padding;
    ``θ = tolerance`` pixels, or ``ratio`` times the image diagonal (0.0075 by default). Precision
    is the share of predicted contour pixels (at pixels whose GT is not ignored) with Euclidean
    distance ``< θ`` to the GT contour, recall the share of GT contour pixels within ``< θ`` of the
    predicted contour, ``BF = 2PR / (P + R)`` (0 when both are 0). Both contours empty: NaN;
    exactly one empty: 0. This is the convention of MATLAB's ``bfscore``.

    Parameters
    ----------
    pred, gt : (H, W) integer arrays of class indices.
    num_classes : number of classes K.
    ignore_index : the GT ignore label, or None.
    ratio : tolerance as a share of the image diagonal.
    tolerance : tolerance in pixels; overrides ``ratio``.

    Returns
    -------
    (K,) float64 array.

    References
    ----------
    G. Csurka, D. Larlus, F. Perronnin, "What is a good evaluation measure for semantic
    segmentation?", BMVC 2013. doi:10.5244/C.27.32

    Examples
    --------
    >>> gt = np.zeros((6, 6), int); gt[:, 3:] = 1
    >>> pred = np.zeros((6, 6), int); pred[:, 4:] = 1
    >>> bf_score(pred, gt, 3, tolerance=1.0).round(4).tolist()
    [0.6667, 0.6154, nan]
    """
    return _bf_from_counts(bf_counts(pred, gt, num_classes, ignore_index, ratio, tolerance))


def trimap_distance(gt, max_width: int = 64) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest GT boundary pixel (a pixel with a
    4-neighbour holding another GT value; the ignore label is a value like any other), capped at
    ``max_width``. A pixel is in the trimap of width ``w`` when this distance is ``< w``.

    >>> trimap_distance(np.array([[0, 0, 0, 1, 1]]), max_width=4).tolist()
    [[2.0, 1.0, 0.0, 0.0, 1.0]]
    """
    g = _as_labels(gt, "gt")
    cap = int(max_width)
    if cap < 1:
        raise SegscopeError(f"max_width must be >= 1, got {max_width}")
    d2 = np.empty(g.shape, np.int64)
    if g.size:
        _trimap_dist_kernel(g, cap, d2)
    return np.sqrt(d2.astype(np.float64))


def _widths(widths) -> np.ndarray:
    ws = sorted({int(w) for w in widths})
    if not ws or ws[0] < 1:
        raise SegscopeError(f"trimap widths must be >= 1 pixel, got {list(widths)}")
    return np.asarray(ws, dtype=np.int64)


def trimap_counts(pred, gt, num_classes: int, widths: Sequence[int] = (1, 2, 4, 8, 16),
                  ignore_index: int | None = None) -> np.ndarray:
    """Confusion counts inside the trimap of each width, shape ``(len(widths), K + 1, K + 2)`` in
    the extended layout of :func:`segscope.confusion.confusion_counts` (column K: predicted as no
    class). Widths are sorted ascending and deduplicated.

    >>> gt = np.array([[0, 0, 0, 1, 1, 1]])
    >>> pred = np.array([[0, 0, 1, 1, 1, 1]])
    >>> t = trimap_counts(pred, gt, 2, widths=(1, 2))
    >>> t[0, :2, :2].tolist(), t[1, :2, :2].tolist()
    ([[0, 1], [0, 1]], [[1, 1], [0, 2]])
    """
    pred, gt = _pair(pred, gt, num_classes, ignore_index)
    ws = _widths(widths)
    k = int(num_classes)
    out = np.zeros((len(ws) + 1, k + 1, k + 2), np.int64)
    if gt.size:
        _trimap_kernel(pred, gt, k, ws * ws, out)
    return np.cumsum(out[:-1], axis=0)


def trimap_scores(pred, gt, num_classes: int, widths: Sequence[int] = (1, 2, 4, 8, 16),
                  ignore_index: int | None = None) -> dict[int, dict[str, float]]:
    """mIoU and pixel accuracy inside the trimap of each width, for one image:
    ``{width: {"miou": ..., "pixel_accuracy": ..., "pixels": ...}}`` (NaN when the trimap is empty).

    >>> gt = np.array([[0, 0, 0, 1, 1, 1]])
    >>> pred = np.array([[0, 0, 1, 1, 1, 1]])
    >>> s = trimap_scores(pred, gt, 2, widths=(1, 2))
    >>> s[1]["pixel_accuracy"], round(s[2]["miou"], 4)
    (0.5, 0.5833)
    """
    counts = trimap_counts(pred, gt, num_classes, widths, ignore_index)
    return {int(w): _trimap_summary(c, ()) for w, c in zip(_widths(widths), counts)}


def _trimap_summary(ext: np.ndarray, exclude) -> dict:
    s = summary_metrics(ext, exclude)
    return {"miou": s["miou"], "pixel_accuracy": s["pixel_accuracy"], "pixels": int(ext[:-1].sum())}


# ====================================================================== the analyzer
class BoundaryAnalyzer:
    """Boundary IoU, boundary F-score and trimap metrics as an analysis of ``segscope evaluate``.

    State (additive integers): per-class band intersections and unions, band and valid pixel
    totals, the band widths and tolerances used (``{value: images}``), per-class sums of the
    per-image boundary F-scores (fixed point, units of 2**-40, so that any merge order gives the
    same number) with the number of images where each is defined, and the trimap confusion
    counts per width.

    Examples
    --------
    >>> from segscope import Evaluation, EvalConfig
    >>> ev = Evaluation(2, EvalConfig(analyses=("boundary",), boundary_px=1, trimap=(1,)))
    >>> _ = ev.update([[0, 1, 1, 1]] * 4, [[0, 0, 1, 1]] * 4)
    >>> m = ev.compute()
    >>> m["per_class"]["1"]["boundary_iou"], m["mboundary_iou"]
    (0.5, 0.5)
    """

    name = "boundary"

    def __init__(self, spec, config):
        from .classes import validate_exclude

        self.spec = spec
        self.config = config
        self.k = spec.num_classes
        self.exclude = validate_exclude(spec, config.exclude)
        self.widths = _widths(config.trimap) if config.trimap else np.zeros(0, np.int64)
        self._half_cache: dict[float, np.ndarray] = {}
        self._local = threading.local()  # per-thread scratch masks, reused image after image
        boundary_width((1, 1), config.boundary_ratio, config.boundary_px)  # validate early
        bf_tolerance((1, 1), config.bf_ratio)

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _half(self, theta: float) -> np.ndarray:
        half = self._half_cache.get(theta)
        if half is None:
            half = self._half_cache[theta] = _half_widths(theta)
        return half

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx) -> tuple[dict, dict]:
        k = self.k
        pred = _as_labels(pred, "pred")
        gt = _as_labels(gt, "gt")
        d = boundary_width(gt.shape, self.config.boundary_ratio, self.config.boundary_px)
        theta = bf_tolerance(gt.shape, self.config.bf_ratio)
        inter = np.zeros(k, np.int64)
        gband = np.zeros(k, np.int64)
        pband = np.zeros(k, np.int64)
        valid = np.zeros(1, np.int64)
        bf = np.zeros((k, 4), np.int64)
        nw = len(self.widths)
        tri = np.zeros((nw + 1, k + 1, k + 2), np.int64)
        if gt.size:
            scratch = getattr(self._local, "masks", None)
            if scratch is None or scratch[0].shape != gt.shape:
                scratch = self._local.masks = tuple(np.empty(gt.shape, np.uint8) for _ in range(3))
            _boundary_counts_raw(pred, gt, k, d, inter, gband, pband, valid, scratch)
            _bf_kernel(pred, gt, k, self._half(theta), theta, bf)
            if nw:
                _trimap_kernel(pred, gt, k, self.widths * self.widths, tri)
        union = gband + pband - inter
        bf_image = _bf_from_counts(bf)
        defined = np.isfinite(bf_image)
        # image level: classes present in this image's GT, as for the image mIoU
        keep = gband > 0  # a class present in the GT always has a non-empty band
        keep[list(self.exclude)] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            biou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        bf_keep = np.ones(k, bool)
        bf_keep[list(self.exclude)] = False
        row = {
            "boundary_px": d,
            "boundary_miou": nanmean(biou, keep),
            "mbf_score": nanmean(bf_image, bf_keep),
        }
        state = {
            "inter": inter,
            "union": union,
            "band_pixels": int(gband.sum()),
            "valid_pixels": int(valid[0]),
            "px_used": {str(d): 1},
            "theta_used": {repr(round(theta, 4)): 1},
            "bf_sum": np.where(defined, np.rint(np.where(defined, bf_image, 0) * BF_SCALE), 0).astype(np.int64),
            "bf_count": defined.astype(np.int64),
            "trimap": np.cumsum(tri[:-1], axis=0) if nw else tri[:0],
        }
        return state, row

    def finalize(self, state: dict, metrics: dict, rows: list[dict]) -> None:
        k = self.k
        names = self.spec.names
        inter = np.asarray(state["inter"], np.int64)
        union = np.asarray(state["union"], np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            biou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        # boundary F-score: mean over the images where it is defined (fixed-point sums: exact
        # integer addition, so any merge order gives the same number)
        count = np.asarray(state["bf_count"], np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            bf = np.where(count > 0, np.asarray(state["bf_sum"], np.float64) / BF_SCALE / np.maximum(count, 1), np.nan)
        per_class = metrics.setdefault("per_class", {n: {} for n in names})
        keep = np.ones(k, bool)
        keep[list(self.exclude)] = False
        for i, name in enumerate(names):
            entry = per_class.setdefault(name, {})
            b = _num(biou[i])
            iou = entry.get("iou")
            entry["boundary_iou"] = b
            entry["min_iou_boundary_iou"] = None if b is None or iou is None else min(iou, b)
            entry["bf_score"] = _num(bf[i])
            entry["boundary_intersection"] = int(inter[i])
            entry["boundary_union"] = int(union[i])
        share = state["band_pixels"] / state["valid_pixels"] if state["valid_pixels"] else float("nan")
        metrics["mboundary_iou"] = _num(nanmean(biou, keep))
        metrics["mbf_score"] = _num(nanmean(bf, keep))
        metrics["boundary_band_share"] = _num(share)
        trimap = {}
        counts = np.asarray(state["trimap"], np.int64)
        for w, ext in zip(self.widths.tolist(), counts):
            s = _trimap_summary(ext, self.exclude)
            trimap[str(w)] = {"miou": _num(s["miou"]), "pixel_accuracy": _num(s["pixel_accuracy"]),
                              "pixels": s["pixels"]}
        metrics["trimap"] = trimap
        config = metrics.setdefault("config", {})
        config["boundary_px_used"] = sorted(int(v) for v in state["px_used"])
        config["bf_tolerance_px_used"] = sorted(float(v) for v in state["theta_used"])
        config["trimap"] = self.widths.tolist()
        if math.isfinite(share) and share > BAND_WARN_SHARE:
            warnings.warn(
                f"the boundary band covers {100 * share:.0f}% of the labelled pixels, so Boundary IoU is "
                f"close to plain IoU; use a smaller --boundary-ratio (e.g. 0.005 for Cityscapes-sized "
                f"images) or --boundary-px",
                BoundaryWidthWarning,
                stacklevel=2,
            )


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None

