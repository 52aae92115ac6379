"""Compiled loops behind :mod:`segscope.metrics.boundary` (imported on first use)."""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

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
    """Dilate the row ``a`` of bit flags in place by the segment [-r, r] (b: scratch), by doubling
    (each bit on its own): ceil(log2(r + 1)) vectorized passes per direction."""
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
def change_row(gt, pred, y, row):
    """row[x] = 2·[GT's 3×3 window at (y, x) is not constant] + [pred's is not constant], the
    image frame counting as a change (3 on the first and last row and column)."""
    h, w = gt.shape
    if y == 0 or y == h - 1 or w <= 2:
        for x in range(w):
            row[x] = 3
        return
    b = gt[y]
    a = gt[y - 1]
    c = gt[y + 1]
    bm = b[1:]
    b2 = b[2:]
    a1 = a[1:]
    a2 = a[2:]
    c1 = c[1:]
    c2 = c[2:]
    q = pred[y]
    o = pred[y - 1]
    s = pred[y + 1]
    qm = q[1:]
    q2 = q[2:]
    o1 = o[1:]
    o2 = o[2:]
    s1 = s[1:]
    s2 = s[2:]
    inner = row[1:]
    for x in range(w - 2):
        v = bm[x]
        u = qm[x]
        inner[x] = (
            ((a[x] != v) | (a1[x] != v) | (a2[x] != v) | (b[x] != v) | (b2[x] != v)
             | (c[x] != v) | (c1[x] != v) | (c2[x] != v)) * np.uint8(2)
            | ((o[x] != u) | (o1[x] != u) | (o2[x] != u) | (q[x] != u) | (q2[x] != u)
               | (s[x] != u) | (s1[x] != u) | (s2[x] != u))
        )
    row[0] = 3
    row[w - 1] = 3


@njit
def band_advance(gt, pred, i, r, change, pre, tmp):
    """Row i of the change maps (:func:`change_row`) dilated horizontally by [-r, r] into
    ``change[i]``, for the vertical dilation of :func:`band_row` (van Herk / Gil-Werman, blocks of
    2r + 1 rows): ``pre`` becomes the OR of the block's rows up to i; at the block's last row the
    block's rows become the ORs of themselves and the rows after them in the block. Call for
    i = 0, 1, ... in order."""
    h, w = gt.shape
    row = change[i]
    change_row(gt, pred, i, row)
    if r > 0:
        dilate_row(row, tmp, w, r)
    bsize = 2 * r + 1
    start = i - i % bsize
    if i == start:
        for x in range(w):
            pre[x] = row[x]
    else:
        for x in range(w):
            pre[x] |= row[x]
    if i - start == bsize - 1 or i == h - 1:
        for j in range(i - 1, start - 1, -1):
            dst = change[j]
            src = change[j + 1]
            for x in range(w):
                dst[x] |= src[x]


@njit
def band_row(change, pre, y, r, out):
    """out = the OR of the dilated change rows y - r .. y + r (within the image), once
    :func:`band_advance` has reached row min(y + r, h - 1): bit 1 the GT band, bit 0 the pred's."""
    h, w = change.shape
    bsize = 2 * r + 1
    lo = y - r
    hi = min(y + r, h - 1)
    if lo < 0:
        for x in range(w):
            out[x] = pre[x]
    elif hi // bsize > lo // bsize:
        src = change[lo]
        for x in range(w):
            out[x] = src[x] | pre[x]
    else:
        src = change[lo]
        for x in range(w):
            out[x] = src[x]


@njit
def band_kernel(lab, k, r, out, change):
    """out[y, x] = 1 where lab[y, x] is a class (0..k-1) lying in its own class's band of width
    r + 1, else 0: the map of non-constant 3×3 windows (image frame included), dilated by the
    (2r+1)² square (:func:`band_advance`, :func:`band_row`). ``change`` is scratch space of lab's
    shape (uint8)."""
    h, w = lab.shape
    tmp = np.empty(w, np.uint8)
    pre = np.empty(w, np.uint8)
    band = np.empty(w, np.uint8)
    for i in range(min(r, h)):
        band_advance(lab, lab, i, r, change, pre, tmp)
    for y in range(h):
        if y + r < h:
            band_advance(lab, lab, y + r, r, change, pre, tmp)
        band_row(change, pre, y, r, band)
        lr = lab[y]
        orow = out[y]
        for x in range(w):
            v = lr[x]
            orow[x] = (band[x] & 1) & (v >= 0) & (v < k)


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
    """hist[j, code[x]] += 1 (int32 counts), j = x % 4 where the codes change often, so that
    runs of equal codes do not wait on each other's stores; where the row's codes run 8 pixels
    long on average, whole groups of 8 equal codes are added at once."""
    nchange = 0
    for x in range(1, w):
        nchange += code[x] != code[x - 1]
    x = 0
    if nchange * 8 < w:
        for q in range(w >> 3):
            x = q << 3
            c = code[x]
            if ((code[x + 1] == c) & (code[x + 2] == c) & (code[x + 3] == c) & (code[x + 4] == c)
                    & (code[x + 5] == c) & (code[x + 6] == c) & (code[x + 7] == c)):
                hist[0, c] += 8
            else:
                for j in range(8):
                    hist[j & 3, code[x + j]] += 1
        x = (w >> 3) << 3
    else:
        for q in range(w >> 2):
            x = q << 2
            hist[0, code[x]] += 1
            hist[1, code[x + 1]] += 1
            hist[2, code[x + 2]] += 1
            hist[3, code[x + 3]] += 1
        x = (w >> 2) << 2
    for x in range(x, w):
        hist[0, code[x]] += 1


@njit
def hist_flush(hist, total):
    """total += the sum of hist's rows; hist = 0."""
    for j in range(hist.shape[0]):
        row = hist[j]
        for c in range(row.shape[0]):
            total[c] += row[c]
            row[c] = 0


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
def contour_buckets(lab, k, gt, check):
    """Contour pixels of every class (4-neighbour test, zero padding: :func:`contour_row`) as runs
    of consecutive pixels of one class, grouped by class and row:
    (cmap, beg, end, starts, ends, valid, cbits, shift). cmap[c] = j, the class's bucket index, or
    -1 for a class with no contour pixel; bucket (j, y), the runs of class c in row y (ascending),
    is starts/ends[beg[j*h + y] : end[j*h + y]], class after class. cbits[j*h + y] has bit i set
    when a run of the bucket reaches into the pixels i << shift .. ((i + 1) << shift) - 1 of the
    row (64 cells per row). valid[i] = 0 when ``check`` and a pixel of run i holds no class
    (0..k-1) in ``gt``, else 1. The run flags of a row are read 8 pixels at a time, one set bit
    per run start or end; the runs are then counted per bucket and placed by one scatter."""
    h, w = lab.shape
    nwords = (w + 7) // 8
    row = np.zeros(nwords * 8, np.uint8)
    flag = np.zeros(nwords * 8, np.uint8)  # 1: a run starts here, 2: a run ends here
    words = flag.view(np.uint64)
    lows = np.uint64(0x0101010101010101)
    shift = 0
    while (np.int64(64) << shift) < w:
        shift += 1
    one = np.uint64(1)
    cmap = np.full(k, -1, np.int64)
    nc = 0
    ccap = min(k, 4)
    cnt = np.zeros(ccap * h, np.int64)  # runs per bucket, then where the bucket begins
    cbits = np.zeros(ccap * h, np.uint64)
    cap = max(h * w // 16, 2 * w + 16)
    starts = np.empty(cap, np.int32)  # row after row, in order
    ends = np.empty(cap, np.int32)
    bks = np.empty(cap, np.int64)  # the run's bucket
    oks = np.empty(cap, np.uint8)
    bad = np.zeros(w, np.uint8)
    n = 0
    for y in range(h):
        if w == 0:
            break
        if n + w + 8 > cap:
            cap *= 2
            s2 = np.empty(cap, np.int32)
            e2 = np.empty(cap, np.int32)
            j2 = np.empty(cap, np.int64)
            v2 = np.empty(cap, np.uint8)
            for i in range(n):
                s2[i] = starts[i]
                e2[i] = ends[i]
                j2[i] = bks[i]
                v2[i] = oks[i]
            starts, ends, bks, oks = s2, e2, j2, v2
        contour_row(lab, y, k, row)
        b = lab[y]
        r1 = row[1:]
        b1 = b[1:]
        f1 = flag[1:]
        flag[0] = row[0]
        for x in range(w - 1):  # starts: the previous pixel is not the same run
            f1[x] = r1[x] & ((row[x] == 0) | (b[x] != b1[x]))
        for x in range(w - 1):  # ends: the next pixel is not the same run
            flag[x] |= (row[x] & ((r1[x] == 0) | (b[x] != b1[x]))) << 1
        flag[w - 1] |= row[w - 1] << 1
        n0 = n
        me = n
        for i in range(nwords):
            wd = words[i]
            if wd == 0:
                continue
            x0 = i * 8
            sb = wd & lows
            eb = (wd >> one) & lows
            while sb:
                starts[n] = x0 + np.int64(trailing_zeros(sb) >> 3)
                sb &= sb - one
                n += 1
            while eb:
                ends[me] = x0 + np.int64(trailing_zeros(eb) >> 3)
                eb &= eb - one
                me += 1
        for i in range(n0, n):
            c = b[starts[i]]
            j = cmap[c]
            if j < 0:
                j = nc
                cmap[c] = j
                nc += 1
            bks[i] = j * h + y
        if nc > ccap:
            ccap = min(max(2 * ccap, nc), k)
            cnt2 = np.zeros(ccap * h, np.int64)
            cbits2 = np.zeros(ccap * h, np.uint64)
            for q in range(cbits.shape[0]):
                cnt2[q] = cnt[q]
                cbits2[q] = cbits[q]
            cnt, cbits = cnt2, cbits2
        for i in range(n0, n):
            bk = bks[i]
            cnt[bk] += 1
            lo = starts[i] >> shift
            hi = ends[i] >> shift
            bits = ((one << np.uint64(hi - lo + 1)) - one) if hi - lo < 63 else ~np.uint64(0)
            cbits[bk] |= bits << np.uint64(lo)
        nbad = 0
        if check:
            grow = gt[y]
            for x in range(w):
                v = grow[x]
                bad[x] = (v < 0) | (v >= k)
                nbad += bad[x]
        for i in range(n0, n):
            ok = 1
            if nbad:
                for x in range(starts[i], ends[i] + 1):
                    ok &= 1 - bad[x]
            oks[i] = ok
    nb = nc * h
    beg = np.empty(nb, np.int64)
    end = np.empty(nb, np.int64)
    o = 0
    for bk in range(nb):
        beg[bk] = o
        o += cnt[bk]
        end[bk] = o
        cnt[bk] = beg[bk]
    cst = np.empty(n, np.int32)
    cen = np.empty(n, np.int32)
    cok = np.empty(n, np.uint8)
    for i in range(n):
        bk = bks[i]
        o = cnt[bk]
        cnt[bk] = o + 1
        cst[o] = starts[i]
        cen[o] = ends[i]
        cok[o] = oks[i]
    return cmap, beg, end, cst, cen, cok, cbits[:nb], shift


@njit
def search(beg, end, starts, ends, cbits, shift, base, y, x, half, reach, h, w):
    """Look for a contour run of the class whose buckets start at ``base`` within Euclidean
    distance < θ of (y, x), rows nearest first: a run in row y + dy at horizontal gap g matches
    when |dy| < len(half) and g <= half[|dy|]. Returns (run, row, 0.0) for a match, else
    (-1, -1, bound) with ``bound`` a lower bound of the distance to the nearest run (exact within
    ``reach`` rows, which is at least len(half)). Rows whose cell bits show no run within
    ``reach`` columns of x are skipped unsearched."""
    best = (reach + 1) * (reach + 1)
    t = half.shape[0]
    one = np.uint64(1)
    lo_c = max(x - reach, 0) >> shift
    hi_c = min(x + reach, w - 1) >> shift
    near = (((one << np.uint64(hi_c - lo_c + 1)) - one) if hi_c - lo_c < 63 else ~np.uint64(0)) << np.uint64(lo_c)
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
            if (cbits[base + yy] & near) == 0:
                continue
            first = beg[base + yy]
            n = end[base + yy] - first
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
def match_side(q, tg, gt, k, half, theta, out, col):
    """For every query contour pixel (class-major, rows ascending): out[c, col] += 1, and
    out[c, col + 1] += 1 when a target contour pixel of class c lies within θ. ``q`` and ``tg``
    are :func:`contour_buckets` tuples (query runs not wholly at valid GT pixels are checked
    pixel by pixel). Contours are continuous, so neighbouring queries (columns
    x - 1 .. x + 1 of this row or earlier ones) are used first: the run that matched a neighbour
    is tried (an exact test), and a neighbour known to be at least L from every target rules
    this query out when L minus their distance is still >= θ (the triangle inequality); then the
    target runs of the query's own row, then :func:`search`. A target run that matches a pixel
    matches every later pixel of its row up to the run's reach, and a pixel at least L from
    every target rules out the pixels of its row up to L - θ to its right: later query runs of
    the row within those stretches are answered without a look."""
    qmap, qbeg, qend, qst, qen, qok = q[0], q[1], q[2], q[3], q[4], q[5]
    tmap, tbeg, tend, tst, ten, tbits, shift = tg[0], tg[1], tg[2], tg[3], tg[4], tg[6], tg[7]
    h, w = gt.shape
    t = half.shape[0]
    reach = t + 3  # search a little beyond θ, so that a miss leaves a useful lower bound
    floor = theta + 1e-9
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
            grow = gt[y]
            hcov = -1  # this row's pixels from the last match up to hcov: within θ of run hr
            hr = -1
            hry = -1
            mcov = -1  # ... from the last miss at mx (bound mb) up to mcov: ruled out
            mx = -1
            mb = 0.0
            for r in range(qbeg[qbase + y], qend[qbase + y]):
                x1 = np.int64(qen[r])
                x = np.int64(qst[r])
                check_valid = qok[r] == 0
                while x <= x1:
                    if check_valid:
                        g = grow[x]
                        if g < 0 or g >= k:
                            x += 1
                            continue
                    n += 1
                    if jt < 0:
                        x += 1
                        continue
                    if x > hcov:
                        if x <= mcov:
                            missrow[x] = y
                            missbound[x] = mb - (x - mx)
                            mstamp[x] = c
                            x += 1
                            continue
                        found = False
                        ruled_out = False
                        rr = -1
                        hy = -1
                        bound = 0.0
                        for xc in range(max(x - 1, 0), min(x + 2, w)):
                            if stamp[xc] == c:
                                dd = abs(hitrow[xc] - y)
                                if dd < t:
                                    rc = hitrun[xc]
                                    hw = half[dd]
                                    if ten[rc] >= x - hw and tst[rc] <= x + hw:
                                        found = True
                                        rr = rc
                                        hy = hitrow[xc]
                                        break
                            if mstamp[xc] == c:
                                dy = missrow[xc] - y
                                bound = missbound[xc] - math.sqrt(dy * dy + (xc - x) * (xc - x))
                                if bound >= floor:
                                    ruled_out = True
                                    break
                        if not found and not ruled_out and t > 0:  # row y first: most matches are there
                            first = tbeg[tbase + y]
                            m = tend[tbase + y] - first
                            lo = first
                            while m > 1:  # the first run ending at or after x, as in search
                                hm = m >> 1
                                lo = lo + hm if ten[lo + hm - 1] < x else lo
                                m -= hm
                            if m > 0:
                                if ten[lo] >= x and tst[lo] <= x + half[0]:
                                    found = True
                                    rr = lo
                                elif lo > first or ten[lo] < x:
                                    left = lo if ten[lo] < x else lo - 1
                                    if x - ten[left] <= half[0]:
                                        found = True
                                        rr = left
                            hy = y
                        if not found and not ruled_out:
                            rr, hy, bound = search(tbeg, tend, tst, ten, tbits, shift, tbase, y, x, half, reach, h, w)
                            found = rr >= 0
                        if not found:
                            missrow[x] = y
                            missbound[x] = bound
                            mstamp[x] = c
                            mx = x
                            mb = bound
                            mcov = x + np.int64(bound - floor) if bound >= floor else x
                            x += 1
                            continue
                        hr = rr
                        hry = hy
                        hcov = ten[rr] + half[abs(hy - y)]
                    # run hr matches every pixel of row y up to hcov
                    last = min(x1, hcov)
                    for xx in range(x, last + 1):
                        if check_valid:
                            g = grow[xx]
                            if g < 0 or g >= k:
                                continue
                        hitrow[xx] = hry
                        hitrun[xx] = hr
                        stamp[xx] = c
                        matched += 1
                        n += xx > x
                    x = last + 1
        out[c, col] += n
        out[c, col + 1] += matched


@njit
def bf_kernel(pred, gt, k, half, theta, out):
    """out[c] += (pred contour pixels at valid pixels, of them within θ of the GT contour, GT
    contour pixels, of them within θ of the predicted contour)."""
    gc = contour_buckets(gt, k, gt, np.bool_(False))
    pc = contour_buckets(pred, k, gt, np.bool_(True))
    # a typed column, not a literal: both calls share one compiled match_side
    match_side(pc, gc, gt, k, half, theta, out, np.int64(0))
    match_side(gc, pc, gt, k, half, theta, out, np.int64(2))


@njit
def boundary_row(gt, y, e):
    """e[x] = 1 where GT pixel (y, x) has a 4-neighbour of another value (a boundary pixel)."""
    h, w = gt.shape
    b = gt[y]
    a = gt[y - 1] if y > 0 else b
    c = gt[y + 1] if y < h - 1 else b
    if w == 1:
        e[0] = (a[0] != b[0]) | (c[0] != b[0])
        return
    e[0] = (a[0] != b[0]) | (c[0] != b[0]) | (b[1] != b[0])
    e[w - 1] = (a[w - 1] != b[w - 1]) | (c[w - 1] != b[w - 1]) | (b[w - 2] != b[w - 1])
    a1 = a[1:]
    b1 = b[1:]
    b2 = b[2:]
    c1 = c[1:]
    e1 = e[1:]
    for x in range(w - 2):
        v = b1[x]
        e1[x] = (a1[x] != v) | (c1[x] != v) | (b[x] != v) | (b2[x] != v)


# Small integer types: numba promotes int16 arithmetic to int64, which defeats SIMD; the explicit
# np.int16(...) casts and selects below keep the loops in 16-bit lanes (values stay < 2**15).
@njit
def hd2_row(gt, y, cap, e, f, out):
    """out[x] = min(cap, horizontal distance from (y, x) to the nearest boundary pixel of row y)²
    as int16 (cap <= 127), by doubling: the nearest boundary pixel within [0, 2L) is the nearer
    of those within [0, L) and [L, 2L); both directions in the same passes (f: (4, w) int16
    scratch). Returns whether any distance is < cap."""
    w = gt.shape[1]
    boundary_row(gt, y, e)
    ccap = np.int16(cap)
    zero = np.int16(0)
    sl, dl, sr, dr = f[0], f[1], f[2], f[3]
    for x in range(w):
        v = zero if e[x] else ccap
        sl[x] = v
        sr[x] = v
    step = 1
    while step < cap:
        n = max(w - step, 0)
        ll = np.int16(step)
        for x in range(min(step, w)):
            dl[x] = sl[x]
        for x in range(n, w):
            dr[x] = sr[x]
        dls = dl[step:]
        sls = sl[step:]
        srs = sr[step:]
        for x in range(n):
            # at or left of x
            t = np.int16(sl[x] + ll)
            t = t if t < ccap else ccap
            u = sls[x]
            dls[x] = t if t < u else u
            # at or right of x
            t = np.int16(srs[x] + ll)
            t = t if t < ccap else ccap
            u = sr[x]
            dr[x] = t if t < u else u
        sl, dl = dl, sl
        sr, dr = dr, sr
        step *= 2
    near = False
    for x in range(w):
        a = sl[x]
        b = sr[x]
        v = a if a < b else b
        near |= v < ccap
        out[x] = np.int16(v * v)
    return near


@njit
def ring_d2_row(gt, y, cap, ring, ringnear, e, f, d2):
    """Row y of the squared distance to the nearest GT boundary pixel, capped at cap² (int16):
    min over |dy| < cap of hd²(y + dy) + dy², the horizontal distances hd² of rows y - cap + 1 ..
    y + cap - 1 kept in a ring buffer (row y + cap - 1 is computed here; call rows in order after
    priming rows 0 .. cap - 2). Returns whether any value is < cap²."""
    h = gt.shape[0]
    w = gt.shape[1]
    nring = ring.shape[0]
    yy = y + cap - 1
    if yy < h:
        ringnear[yy % nring] = hd2_row(gt, yy, cap, e, f, ring[yy % nring])
    capsq = np.int16(cap * cap)
    near = ringnear[y % nring]
    src = ring[y % nring]
    if near:
        for x in range(w):
            d2[x] = src[x]
    else:
        for x in range(w):
            d2[x] = capsq
    for dy in range(1, cap):  # rows y - dy and y + dy share dy²: their minimum is added once
        ya = y - dy
        yb = y + dy
        na = ya >= 0 and ringnear[ya % nring]
        nb = yb < h and ringnear[yb % nring]
        if not (na or nb):
            continue
        near = True
        dy2 = np.int16(dy * dy)
        if na and nb:
            sa = ring[ya % nring]
            sb = ring[yb % nring]
            for x in range(w):
                a = sa[x]
                b = sb[x]
                t = np.int16((a if a < b else b) + dy2)
                u = d2[x]
                d2[x] = t if t < u else u
        else:
            src = ring[(ya if na else yb) % nring]
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
        f = np.empty((4, w), np.int16)
        d2 = np.empty(w, np.int16)
        for yy in range(min(cap - 1, h)):
            ringnear[yy % nring] = hd2_row(gt, yy, cap, e, f, ring[yy % nring])
        for y in range(h):
            ring_d2_row(gt, y, cap, ring, ringnear, e, f, d2)
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
def tally(c, n, k, nw, inter, gband, pband, valid, tri):
    """Add n pixels of the code c of :func:`boundary_kernel` to the band and trimap counts."""
    kk = k + 1
    gp = c >> 2
    p = gp % kk
    bg_ = gp // kk
    g = bg_ % kk
    if g >= k:
        return
    b = bg_ // kk
    valid[0] += n
    if c & 2:
        gband[g] += n
    if c & 1:
        pband[p] += n
        if (c & 2) and p == g:
            inter[g] += n
    if b < nw:
        tri[b, g, p] += n


@njit
def boundary_kernel(pred, gt, k, r, widths_sq, change, inter, gband, pband, valid, tri):
    """Band and trimap counts of one pair, in one pass over its rows.

    With r >= 0, the bands (width r + 1) of GT and prediction are formed row by row
    (:func:`band_advance`, :func:`band_row`; ``change``: uint8 scratch of the masks' shape), else
    there are none. Then per class: inter[c] += |band(G)∩band(P)∩valid|, gband[c] +=
    |band(G)∩valid|, pband[c] += |band(P)∩valid|, valid[0] += valid pixels; and tri[i, g, p] +=
    pixels with GT class g and prediction p (k: no class) whose squared distance d² to the nearest
    GT boundary pixel satisfies widths_sq[i-1] <= d² < widths_sq[i] (ascending squared widths,
    maybe none; i = 0 is d² < widths_sq[0]). Each row is packed into one code per pixel,
    code = (((i·(k+1) + g)·(k+1) + p)·4 + 2·inG + inP) with i = len(widths_sq) outside every
    trimap and k standing for "no class", then tallied (a histogram when the codes are few,
    else run by run)."""
    h, w = gt.shape
    nw = widths_sq.shape[0]
    cap = 1
    while nw and cap * cap < widths_sq[nw - 1]:
        cap += 1
    small = cap <= 127
    nring = 2 * cap - 1 if small and nw else 1
    ring = np.empty((nring, w), np.int16)
    ringnear = np.zeros(nring, np.bool_)
    e = np.empty(w, np.uint8)
    f = np.empty((4, w), np.int16)
    d2s = np.empty(w, np.int16)
    vd = np.empty((h if nw and not small else 0, w), np.int32)
    v = np.empty(w + 1, np.int64)
    z = np.empty(w + 2, np.float64)
    d2l = np.empty(w, np.int64)
    if nw:
        if small:
            for yy in range(min(cap - 1, h)):
                ringnear[yy % nring] = hd2_row(gt, yy, cap, e, f, ring[yy % nring])
        else:
            label_change_vdist(gt, cap, vd)
    tmp = np.empty(w, np.uint8)
    pre = np.empty(w, np.uint8)
    band = np.zeros(w, np.uint8)
    if r >= 0:
        for i in range(min(r, h)):
            band_advance(gt, pred, i, r, change, pre, tmp)
    kk = k + 1
    size = (nw + 1) * kk * kk * 4
    hsmall = size <= HIST_MAX
    hist = np.zeros((4 if hsmall else 0, size if hsmall else 0), np.int32)
    total = np.zeros(size if hsmall else 0, np.int64)
    flush_rows = max(1, (1 << 30) // w)  # int32 counts flushed before they could overflow
    rows = 0
    kk32 = np.int32(kk)
    k32 = np.int32(k)
    code = np.empty(w, np.int32)
    bins = np.empty(w, np.uint8)
    for y in range(h):
        grow = gt[y]
        prow = pred[y]
        if r >= 0:
            if y + r < h:
                band_advance(gt, pred, y + r, r, change, pre, tmp)
            band_row(change, pre, y, r, band)
        # the trimap bin: the number of widths w with w² <= d²
        if nw and small:  # compared in 16-bit lanes
            ring_d2_row(gt, y, cap, ring, ringnear, e, f, d2s)
            for x in range(w):
                bins[x] = 0
            for i in range(nw):
                t = np.int16(widths_sq[i])
                for x in range(w):
                    bins[x] += d2s[x] >= t
        else:
            near = False
            if nw:
                near = envelope_d2_row(vd[y], cap, v, z, d2l)
            if near:
                for x in range(w):
                    bins[x] = 0
                for i in range(nw):
                    t = widths_sq[i]
                    for x in range(w):
                        bins[x] += d2l[x] >= t
            else:
                for x in range(w):
                    bins[x] = nw
        if hsmall:  # codes < 2**18: packed in 32-bit lanes
            for x in range(w):
                g = grow[x]
                p = prow[x]
                gin = (g >= 0) & (g < k)
                pin = (p >= 0) & (p < k)
                gi = np.int32(g) if gin else k32
                pi = np.int32(p) if pin else k32
                c = np.int32(np.int32(bins[x]) * kk32)
                c = np.int32(np.int32(c + gi) * kk32)
                c = np.int32(np.int32(c + pi) << 2)
                code[x] = c | np.int32(band[x] & (np.uint8(gin) * np.uint8(2) + np.uint8(pin)))
            hist_row(code, w, hist)
            rows += 1
            if rows == flush_rows:
                hist_flush(hist, total)
                rows = 0
            continue
        prev = np.int64(-1)
        x0 = 0
        for x in range(w):
            g = grow[x]
            p = prow[x]
            gin = (g >= 0) & (g < k)
            pin = (p >= 0) & (p < k)
            gi = np.int64(g) if gin else np.int64(k)
            pi = np.int64(p) if pin else np.int64(k)
            c = ((np.int64(bins[x]) * kk + gi) * kk + pi) * 4 + np.int64(band[x] & (gin * 2 + pin))
            if c != prev:
                if x > x0:
                    tally(prev, x - x0, k, nw, inter, gband, pband, valid, tri)
                prev = c
                x0 = x
        if w > x0:
            tally(prev, w - x0, k, nw, inter, gband, pband, valid, tri)
    if hsmall:
        hist_flush(hist, total)
        for c in range(size):
            n = total[c]
            if n:
                tally(c, n, k, nw, inter, gband, pband, valid, tri)
