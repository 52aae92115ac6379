"""Compiled loops behind :mod:`segscope.metrics.boundary` (imported on first use)."""

from __future__ import annotations

import math

import numpy as np

HIST_MAX = 1 << 18  # codes per pixel up to this many: counted in small histograms
from .._jit import njit


# ====================================================================== kernels (numba)
# Hot loops index with slices (``src[s:]``) rather than ``src[x + s]``: numba cannot prove
# ``x + s >= 0`` and its negative-index wraparound then stops LLVM from vectorizing the loop.
@njit
def or_fwd(dst, src, s, w):
    """dst[x] = src[x] | src[x + s] (src beyond the row counts as 0)."""
    n = max(w - s, 0)
    ahead = src[s:]
    for x in range(n):
        dst[x] = src[x] | ahead[x]
    for x in range(n, w):
        dst[x] = src[x]


@njit
def or_bwd(dst, src, s, w):
    """dst[x] = src[x] | src[x - s] (src before the row counts as 0)."""
    n = max(w - s, 0)
    for x in range(min(s, w)):
        dst[x] = src[x]
    dst_s = dst[s:]
    src_s = src[s:]
    for x in range(n):
        dst_s[x] = src_s[x] | src[x]


@njit
def dilate_row(a, b, w, r):
    """Dilate the 0/1 row ``a`` in place by the segment [-r, r] (b: scratch), by doubling:
    ceil(log2(r + 1)) vectorized passes per direction."""
    flip = False
    for direction in range(2):
        cov = 1
        while cov < r + 1:
            s = min(cov, r + 1 - cov)
            if direction == 0:
                if flip:
                    or_fwd(a, b, s, w)
                else:
                    or_fwd(b, a, s, w)
            else:
                if flip:
                    or_bwd(a, b, s, w)
                else:
                    or_bwd(b, a, s, w)
            flip = not flip
            cov += s
    if flip:
        for x in range(w):
            a[x] = b[x]


@njit
def band_kernel(lab, k, r, out, change):
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
            dilate_row(row, tmp, w, r)
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


@njit
def count_unknown(gt, k, ignore):
    """Pixels holding neither a class index (0..k-1) nor the ignore value."""
    flat = gt.reshape(-1)
    n = 0
    for i in range(flat.shape[0]):
        v = flat[i]
        n += ((v < 0) | (v >= k)) & (v != ignore)
    return n


@njit
def hist_row(code, w, hist):
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


@njit
def band_count_kernel(pred, gt, k, bp, bg, inter, gband, pband, valid):
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
            hist_row(code, w, hist)
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


@njit
def contour_row(lab, y, k, row):
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


@njit
def contour_runs(lab, k):
    """Contour pixels of every class (4-neighbour test, zero padding) as runs of consecutive
    pixels of one class, per row, ascending: (row_ptr, starts, ends, labels). Two passes (count,
    then fill) over rows whose contour maps are computed 32 pixels at a time."""
    h, w = lab.shape
    ptr = np.zeros(h + 1, np.int64)
    nwords = (w + 7) // 8
    row = np.zeros(nwords * 8, np.uint8)
    words = row.view(np.uint64)
    for y in range(h):
        contour_row(lab, y, k, row)
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
        contour_row(lab, y, k, row)
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


@njit
def by_class(ptr, starts, ends, labs, k, h):
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


@njit
def search(cptr, starts, ends, base, y, x, half, reach, h):
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


@njit
def match_side(qmap, qcptr, qst, qen, tmap, tcptr, tst, ten, gt, k, half, theta, check_valid, out, col):
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
                        rr, yy, bound = search(tcptr, tst, ten, tbase, y, x, half, reach, h)
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


@njit
def bf_kernel(pred, gt, k, half, theta, out):
    """out[c] += (pred contour pixels at valid pixels, of them within θ of the GT contour, GT
    contour pixels, of them within θ of the predicted contour)."""
    h = gt.shape[0]
    gmap, gcptr, gst, gen = by_class(*contour_runs(gt, k), k, h)
    pmap, pcptr, pst, pen = by_class(*contour_runs(pred, k), k, h)
    # typed flags, not literals: both calls share one compiled match_side
    match_side(pmap, pcptr, pst, pen, gmap, gcptr, gst, gen, gt, k, half, theta, np.bool_(True), out, np.int64(0))
    match_side(gmap, gcptr, gst, gen, pmap, pcptr, pst, pen, gt, k, half, theta, np.bool_(False), out, np.int64(2))


@njit
def boundary_row(gt, y, e):
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
@njit
def hd2_row(gt, y, cap, e, fa, fb, out):
    """out[x] = min(cap, horizontal distance from (y, x) to the nearest boundary pixel of row y)²
    as int16 (cap <= 127), by doubling: the nearest boundary pixel within [0, 2L) is the nearer
    of those within [0, L) and [L, 2L). Returns whether any distance is < cap."""
    w = gt.shape[1]
    boundary_row(gt, y, e)
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


@njit
def ring_d2_row(gt, y, cap, ring, ringnear, e, fa, fb, d2):
    """Row y of the squared distance to the nearest GT boundary pixel, capped at cap² (int16):
    min over |dy| < cap of hd²(y + dy) + dy², the horizontal distances hd² of rows y - cap + 1 ..
    y + cap - 1 kept in a ring buffer (row y + cap - 1 is computed here; call rows in order after
    priming rows 0 .. cap - 2). Returns whether any value is < cap²."""
    h = gt.shape[0]
    w = gt.shape[1]
    nring = ring.shape[0]
    yy = y + cap - 1
    if yy < h:
        ringnear[yy % nring] = hd2_row(gt, yy, cap, e, fa, fb, ring[yy % nring])
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


@njit
def label_change_vdist(gt, cap, vd):
    """vd[y, x] = min(cap, vertical distance to the nearest GT boundary pixel in column x)."""
    h, w = gt.shape
    up = np.full(w, cap, np.int32)
    e = np.empty(w, np.uint8)
    for y in range(h):
        boundary_row(gt, y, e)
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


@njit
def envelope_d2_row(vrow, cap, v, z, d2):
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


@njit
def trimap_dist_kernel(gt, cap, out):
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
            ringnear[yy % nring] = hd2_row(gt, yy, cap, e, fa, fb, ring[yy % nring])
        for y in range(h):
            ring_d2_row(gt, y, cap, ring, ringnear, e, fa, fb, d2)
            orow = out[y]
            for x in range(w):
                orow[x] = d2[x]
    else:
        vd = np.empty((h, w), np.int32)
        label_change_vdist(gt, cap, vd)
        v = np.empty(w + 1, np.int64)
        z = np.empty(w + 2, np.float64)
        d2 = np.empty(w, np.int64)
        for y in range(h):
            envelope_d2_row(vd[y], cap, v, z, d2)
            orow = out[y]
            for x in range(w):
                orow[x] = d2[x]


@njit
def trimap_kernel(pred, gt, k, widths_sq, out):
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
            ringnear[yy % nring] = hd2_row(gt, yy, cap, e, fa, fb, ring[yy % nring])
    else:
        label_change_vdist(gt, cap, vd)
    kk = k + 1
    size = 1 + nw * kk * kk  # code 0: counted nowhere
    hsmall = size <= HIST_MAX
    hist = np.zeros((4 if hsmall else 0, size if hsmall else 0), np.int64)
    bn = np.empty(w, np.int64)
    for y in range(h):
        grow = gt[y]
        prow = pred[y]
        if small:
            if not ring_d2_row(gt, y, cap, ring, ringnear, e, fa, fb, d2s):
                continue
            for x in range(w):
                d2l[x] = d2s[x]
        elif not envelope_d2_row(vd[y], cap, v, z, d2l):
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
            hist_row(code, w, hist)
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
