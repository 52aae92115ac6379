"""Compiled loops behind :mod:`segscope.metrics.boundary` (imported on first use)."""

from __future__ import annotations

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
def contour_map(lab, k, out):
    """out[y, x] = 1 where (y, x) is a contour pixel of its class (:func:`contour_row`)."""
    for y in range(lab.shape[0]):
        contour_row(lab, y, k, out[y])


@njit
def bf_kernel(pred, gt, k, half, out):
    """out[c] += (pred contour pixels at valid pixels, of them within θ of the GT contour, GT
    contour pixels, of them within θ of the predicted contour); ``half`` (of θ, see
    ``disk_half_widths``) holds all of θ that counts.

    Within θ of a contour pixel (y', x') means |x - x'| <= half[|y - y'|], so a column x' holds
    a match for (y, x) when its nearest contour pixel of the class above (or below) lies within
    reach[|x - x'|] rows, the vertical reach at that horizontal offset. Rows are swept down,
    keeping per class and column the last contour row seen in each map, and every query pixel
    is tested against the 2 * half[0] + 1 columns around it at once; the sweep back up tests
    the pixels not yet matched against the nearest contour rows below, reading only rows that
    lie within reach of one. Contour pixels (:func:`contour_row`) are found 64 at a time and
    listed row by row (column, class) for the second sweep; a predicted contour pixel at an
    ignored GT pixel is no query but still a target."""
    h, w = gt.shape
    t = half.shape[0]
    p = half[0] if t > 0 else 0
    nwin = (2 * p + 16) // 16 * 16  # the window, padded to whole vectors
    reach = np.empty(nwin, np.int64)  # reach[p + dx]: the largest |dy| with half[|dy|] >= |dx|
    for dx in range(p + 1):
        v = 0
        while v + 1 < t and half[v + 1] >= dx:
            v += 1
        reach[p + dx] = v if t > 0 else -1
        reach[p - dx] = reach[p + dx]
    far = np.int32(1 << 30)
    lo = np.empty(nwin, np.int32)  # a hit at offset q: row >= lo[q] (first sweep), <= hi[q]
    hi = np.empty(nwin, np.int32)
    stride = w + nwin
    cmap = np.full(k, -1, np.int64)
    cls = np.empty(k, np.int64)
    nc = 0
    ccap = min(k, 4)
    lastg = np.full(ccap * stride, -far, np.int32)  # class j, column x at j * stride + x + p
    lastp = np.full(ccap * stride, -far, np.int32)
    nblocks = (w + 63) // 64
    grow = np.zeros(nblocks * 64, np.uint8)
    prow = np.zeros(nblocks * 64, np.uint8)
    pack = np.uint64(0x0102040810204080)
    s56 = np.uint64(56)
    gwords = grow.view(np.uint64)
    pwords = prow.view(np.uint64)
    one = np.uint64(1)
    cap = 2 * w + 16
    # the contour pixels of both maps, row after row: column, class slot (GT; pred with a flag
    # for a valid GT pixel), and the query pixels the first sweep left unmatched
    gx = np.empty(cap, np.int32)
    gj = np.empty(cap, np.int32)
    px = np.empty(cap, np.int32)
    pj = np.empty(cap, np.int32)
    pv = np.empty(cap, np.uint8)
    gmx = np.empty(cap, np.int32)
    gmj = np.empty(cap, np.int32)
    pmx = np.empty(cap, np.int32)
    pmj = np.empty(cap, np.int32)
    goff = np.zeros(h + 1, np.int64)
    poff = np.zeros(h + 1, np.int64)
    gmoff = np.zeros(h + 1, np.int64)
    pmoff = np.zeros(h + 1, np.int64)
    cnt = np.zeros((k, 4), np.int64)  # per class slot
    ng = 0
    npx = 0
    ngm = 0
    npm = 0
    for y in range(h):
        if max(ng, npx) + w > cap:
            cap = 2 * cap + w
            gx = grow_i32(gx, np.int64(ng), cap)
            gj = grow_i32(gj, np.int64(ng), cap)
            px = grow_i32(px, np.int64(npx), cap)
            pj = grow_i32(pj, np.int64(npx), cap)
            pv2 = np.empty(cap, np.uint8)
            for i in range(npx):
                pv2[i] = pv[i]
            pv = pv2
            gmx = grow_i32(gmx, np.int64(ngm), cap)
            gmj = grow_i32(gmj, np.int64(ngm), cap)
            pmx = grow_i32(pmx, np.int64(npm), cap)
            pmj = grow_i32(pmj, np.int64(npm), cap)
        contour_row(gt, y, k, grow)
        contour_row(pred, y, k, prow)
        glab = gt[y]
        plab = pred[y]
        g0 = ng
        p0 = npx
        for i in range(nblocks):
            wd = np.uint64(0)
            for b in range(8):  # one bit per pixel: 0/1 bytes packed by a multiply
                wd |= ((gwords[8 * i + b] * pack) >> s56) << np.uint64(8 * b)
            while wd:
                x = i * 64 + np.int64(trailing_zeros(wd))
                wd &= wd - one
                c = glab[x]
                j = cmap[c]
                if j < 0:
                    j = nc
                    cmap[c] = j
                    cls[j] = c
                    nc += 1
                gx[ng] = x
                gj[ng] = j
                ng += 1
            wd = np.uint64(0)
            for b in range(8):
                wd |= ((pwords[8 * i + b] * pack) >> s56) << np.uint64(8 * b)
            while wd:
                x = i * 64 + np.int64(trailing_zeros(wd))
                wd &= wd - one
                c = plab[x]
                j = cmap[c]
                if j < 0:
                    j = nc
                    cmap[c] = j
                    cls[j] = c
                    nc += 1
                g = glab[x]
                px[npx] = x
                pj[npx] = j
                pv[npx] = (g >= 0) & (g < k)
                npx += 1
        if nc > ccap:
            ncap = min(max(2 * ccap, nc), k)
            lastg = grow_last(lastg, ccap * stride, ncap * stride, -far)
            lastp = grow_last(lastp, ccap * stride, ncap * stride, -far)
            ccap = ncap
        for q in range(nwin):
            lo[q] = y - reach[q] if q <= 2 * p else far
        for i in range(g0, ng):
            lastg[gj[i] * stride + gx[i] + p] = y
        for i in range(p0, npx):
            lastp[pj[i] * stride + px[i] + p] = y
        for i in range(p0, npx):  # pred -> GT, pixels at valid GT pixels only
            if pv[i] == 0:
                continue
            j = pj[i]
            a = lastg[j * stride + px[i]:]
            hit = False
            for q in range(nwin):
                hit |= a[q] >= lo[q]
            cnt[j, 0] += 1
            if not hit:  # a branch, not a select: the next query need not wait on this one
                pmx[npm] = px[i]
                pmj[npm] = j
                npm += 1
        for i in range(g0, ng):  # GT -> pred
            j = gj[i]
            a = lastp[j * stride + gx[i]:]
            hit = False
            for q in range(nwin):
                hit |= a[q] >= lo[q]
            cnt[j, 2] += 1
            if not hit:
                gmx[ngm] = gx[i]
                gmj[ngm] = j
                ngm += 1
        goff[y + 1] = ng
        poff[y + 1] = npx
        gmoff[y + 1] = ngm
        pmoff[y + 1] = npm
    for i in range(lastg.shape[0]):
        lastg[i] = far
        lastp[i] = far
    for y in range(h - 1, -1, -1):
        for q in range(nwin):
            hi[q] = y + reach[q] if q <= 2 * p else -far
        top = max(y - t + 1, 0)  # contour rows at y serve unmatched queries of rows top..y
        if pmoff[y + 1] > pmoff[top]:
            for i in range(goff[y], goff[y + 1]):
                lastg[gj[i] * stride + gx[i] + p] = y
        if gmoff[y + 1] > gmoff[top]:
            for i in range(poff[y], poff[y + 1]):
                lastp[pj[i] * stride + px[i] + p] = y
        for i in range(pmoff[y], pmoff[y + 1]):
            j = pmj[i]
            a = lastg[j * stride + pmx[i]:]
            hit = False
            for q in range(nwin):
                hit |= a[q] <= hi[q]
            cnt[j, 1] -= 1 - hit  # matched: the queries less those matched in neither sweep
        for i in range(gmoff[y], gmoff[y + 1]):
            j = gmj[i]
            a = lastp[j * stride + gmx[i]:]
            hit = False
            for q in range(nwin):
                hit |= a[q] <= hi[q]
            cnt[j, 3] -= 1 - hit
    for j in range(nc):
        cnt[j, 1] += cnt[j, 0]
        cnt[j, 3] += cnt[j, 2]
        for m in range(4):
            out[cls[j], m] += cnt[j, m]


@njit
def grow_i32(a, n, cap):
    """A copy of a[:n] in a new int32 array of ``cap`` elements."""
    b = np.empty(cap, np.int32)
    for i in range(n):
        b[i] = a[i]
    return b


@njit
def grow_last(a, n, cap, fill):
    """A copy of a[:n] in a new int32 array of ``cap`` elements, the rest ``fill``."""
    b = np.empty(cap, np.int32)
    for i in range(n):
        b[i] = a[i]
    for i in range(n, cap):
        b[i] = fill
    return b


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
