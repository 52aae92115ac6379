"""Compiled loops behind :mod:`segscope.metrics.breakdown` (imported on first use)."""

from __future__ import annotations

import numpy as np

from .._jit import find, njit


# ---------------------------------------------------------------------- numba kernels
@njit
def codes(pred, gt, k, ignore, p_out, g_out):
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


@njit
def components(rowptr, r):
    """8-connected components of equal value of the runs ``r`` (rows: first column, last column,
    value; row y's runs are rowptr[y]:rowptr[y+1]), by run-based union-find. Returns their count,
    the value of every component and the component id of every run (raster order of first
    pixel)."""
    h = rowptr.size - 1
    n = rowptr[h]
    parent = np.arange(n)
    # indices are non-negative: unsigned, they need no wraparound code
    for y in range(1, h):
        j = rowptr[y - 1]
        jend = rowptr[y]
        for i in range(rowptr[y], rowptr[y + 1]):
            ui = np.uint64(i)
            s = r[0, ui]
            e = r[1, ui]
            v = r[2, ui]
            while j < jend and r[1, np.uint64(j)] < s - 1:
                j += 1
            kk = j
            ri = i  # the root of i's set; a root is the smallest run of its set
            while kk < jend and r[0, np.uint64(kk)] <= e + 1:
                if r[2, np.uint64(kk)] == v:
                    rk = find(parent, kk)
                    if ri == i:
                        parent[ui] = rk
                        ri = rk
                    elif rk < ri:
                        parent[np.uint64(ri)] = rk
                        ri = rk
                    elif rk > ri:
                        parent[np.uint64(rk)] = ri
                kk += 1
    lab = np.empty(n, np.int32)
    val = np.empty(n, np.int64)
    ncomp = 0
    for i in range(n):
        ui = np.uint64(i)
        root = parent[np.uint64(parent[ui])]  # parent[i] <= i already points at its root
        parent[ui] = root
        if root == i:
            lab[ui] = ncomp
            val[np.uint64(ncomp)] = r[2, ui]
            ncomp += 1
        else:
            lab[ui] = lab[np.uint64(root)]
    return ncomp, val[:ncomp].copy(), lab


@njit
def paint(rowptr, rs, re, lab, labels):
    """Draw component runs (from :func:`label`) into ``labels``; -1 elsewhere."""
    h, w = labels.shape
    for y in range(h):
        row = labels[y]
        for x in range(w):
            row[x] = -1
        for i in range(rowptr[y], rowptr[y + 1]):
            li = lab[i]
            for x in range(rs[i], re[i] + 1):
                row[x] = li


@njit
def beside(prow, grow, q, i0, i1):
    """What lies beside each query run ``q[:, i]`` (row, first column, last column, class c, ...)
    of ``i0 <= i < i1``, all in the row ``prow`` / ``grow``, into ``q[5, i]``: bit 0 a TP of c
    just before the run, bit 1 a TN* of c there, bits 2 and 3 the same just after it (none
    outside the row)."""
    w = prow.size
    for i in range(i0, i1):
        s = np.int64(q[1, i])
        e = np.int64(q[2, i])
        c = np.int64(q[3, i])
        f = 0
        if s > 0:
            if prow[s - 1] == c:
                if grow[s - 1] == c:
                    f = 1
            elif grow[s - 1] != c:
                f = 2
        if e + 1 < w:
            if prow[e + 1] == c:
                if grow[e + 1] == c:
                    f |= 4
            elif grow[e + 1] != c:
                f |= 8
        q[5, i] = f


@njit
def scan(p, g, k):
    """One pass over the rows of the class codes: the runs of equal (prediction, GT) pairs, and
    from their ends those of the prediction and of the GT alone.

    Returns, per map, its components (:func:`components`) as ``(n, classes, rowptr, first
    columns, last columns, component ids)`` of its runs of non-negative values (row-major;
    :func:`paint` draws them) and which components hold a TP pixel; the pair runs, as ``(rowptr,
    runs)`` with rows first column, prediction run and GT run (-1: a negative code), which
    :func:`assign` walks; and the four run lists the boundary step works on, each as (row, start,
    end, class) arrays in row-major order: TP runs (pred == GT == c), *cover* runs of c (pred ==
    c or GT == c, merged per row; their complement in a row is TN*_c), FP query runs (pred == c
    != GT: FP*, ignore included) and FN query runs (GT == c != pred), these two with a fifth row,
    the prediction run (FP) or GT run (FN) that holds the query run, and a sixth, what lies
    beside it in its row (:func:`beside`)."""
    h, w = p.shape
    # every list holds at most one run per pair run (cover: two), and one column more: the used
    # part is then never the whole array, and always of one numba type
    cap = h
    for y in range(h):
        prow = p[y]
        grow = g[y]
        for x in range(1, w):
            cap += (prow[x] != prow[x - 1]) | (grow[x] != grow[x - 1])
    cap += 1
    pr = np.empty((3, cap), np.int32)
    gr = np.empty((3, cap), np.int32)
    xr = np.empty((3, cap), np.int32)
    tp = np.empty((6, cap), np.int32)
    cv = np.empty((4, 2 * cap), np.int32)
    fp = np.empty((6, cap), np.int32)
    fn = np.empty((6, cap), np.int32)
    pptr = np.empty(h + 1, np.int64)
    gptr = np.empty(h + 1, np.int64)
    xptr = np.empty(h + 1, np.int64)
    npr = np.int64(0)  # not literal zeros: the calls below compile for int64 only
    ngr = np.int64(0)
    nxr = np.int64(0)
    ntp = np.int64(0)
    ncv = np.int64(0)
    nfp = np.int64(0)
    nfn = np.int64(0)
    open_s = np.full(k, -2, np.int64)
    open_e = np.full(k, -2, np.int64)
    touched = np.empty(k, np.int64)
    cuts = np.zeros(w + 1, np.int64)
    nw = (w + 7) >> 3
    chg = np.zeros(nw << 3, np.uint8)  # columns w.. and 0 never change
    words = chg.view(np.uint64)
    for y in range(h):
        pptr[y] = npr
        gptr[y] = ngr
        xptr[y] = nxr
        prow = p[y]
        grow = g[y]
        ps = 0
        gs = 0
        nt = 0
        fc = np.int64(-1)  # not literals: beside compiles for int64 only
        fs = np.int64(0)
        fe = np.int64(-2)
        fi = 0
        nc_ = np.int64(-1)
        ns = np.int64(0)
        ne = np.int64(-2)
        ni = 0
        f0 = nfp  # the row's query runs start here
        n0 = nfn
        # where the pair runs of the row start: the changes flagged in one vector pass, then
        # stored from the 8-column words that hold one, without a branch per pixel
        for x in range(1, w):
            chg[x] = (prow[x] != prow[x - 1]) | (grow[x] != grow[x - 1])
        nr = 1 if w > 0 else 0
        for wi in range(nw):
            if words[wi]:
                for x in range(wi << 3, (wi << 3) + 8):
                    cuts[np.uint64(nr)] = x
                    nr += np.int64(chg[np.uint64(x)])
        cuts[nr] = w
        for t in range(nr):
            s = cuts[t]
            x = cuts[t + 1]
            e = x - 1
            pv = prow[np.uint64(s)]
            gv = grow[np.uint64(s)]
            pi = npr if pv >= 0 else -1  # the run of pv open here is the next one stored
            gi = ngr if gv >= 0 else -1
            xr[0, np.uint64(nxr)] = s
            xr[1, np.uint64(nxr)] = pi
            xr[2, np.uint64(nxr)] = gi
            nxr += 1
            if x == w or prow[np.uint64(x)] != pv:
                if pv >= 0:
                    pr[0, np.uint64(npr)] = ps
                    pr[1, np.uint64(npr)] = e
                    pr[2, np.uint64(npr)] = pv
                    npr += 1
                ps = x
            if x == w or grow[np.uint64(x)] != gv:
                if gv >= 0:
                    gr[0, np.uint64(ngr)] = gs
                    gr[1, np.uint64(ngr)] = e
                    gr[2, np.uint64(ngr)] = gv
                    ngr += 1
                gs = x
            if pv == gv:
                if pv >= 0:
                    tp[0, np.uint64(ntp)] = y
                    tp[1, np.uint64(ntp)] = s
                    tp[2, np.uint64(ntp)] = e
                    tp[3, np.uint64(ntp)] = pv
                    tp[4, np.uint64(ntp)] = pi
                    tp[5, np.uint64(ntp)] = gi
                    ntp += 1
            else:
                if pv >= 0:
                    if fc == pv and fe == s - 1:
                        fe = e
                    else:
                        if fc >= 0:
                            fp[0, np.uint64(nfp)] = y
                            fp[1, np.uint64(nfp)] = fs
                            fp[2, np.uint64(nfp)] = fe
                            fp[3, np.uint64(nfp)] = fc
                            fp[4, np.uint64(nfp)] = fi
                            nfp += 1
                        fc = pv
                        fs = s
                        fe = e
                        fi = pi
                if gv >= 0:
                    if nc_ == gv and ne == s - 1:
                        ne = e
                    else:
                        if nc_ >= 0:
                            fn[0, np.uint64(nfn)] = y
                            fn[1, np.uint64(nfn)] = ns
                            fn[2, np.uint64(nfn)] = ne
                            fn[3, np.uint64(nfn)] = nc_
                            fn[4, np.uint64(nfn)] = ni
                            nfn += 1
                        nc_ = gv
                        ns = s
                        ne = e
                        ni = gi
            for c in (pv, gv):
                if c < 0:
                    continue
                if open_e[np.uint64(c)] == -2:
                    touched[np.uint64(nt)] = c
                    nt += 1
                    open_s[np.uint64(c)] = s
                    open_e[np.uint64(c)] = e
                elif open_e[np.uint64(c)] >= s - 1:
                    if e > open_e[np.uint64(c)]:
                        open_e[np.uint64(c)] = e
                else:
                    cv[0, np.uint64(ncv)] = y
                    cv[1, np.uint64(ncv)] = open_s[np.uint64(c)]
                    cv[2, np.uint64(ncv)] = open_e[np.uint64(c)]
                    cv[3, np.uint64(ncv)] = c
                    ncv += 1
                    open_s[np.uint64(c)] = s
                    open_e[np.uint64(c)] = e
        if fc >= 0:
            fp[0, np.uint64(nfp)] = y
            fp[1, np.uint64(nfp)] = fs
            fp[2, np.uint64(nfp)] = fe
            fp[3, np.uint64(nfp)] = fc
            fp[4, np.uint64(nfp)] = fi
            nfp += 1
        if nc_ >= 0:
            fn[0, np.uint64(nfn)] = y
            fn[1, np.uint64(nfn)] = ns
            fn[2, np.uint64(nfn)] = ne
            fn[3, np.uint64(nfn)] = nc_
            fn[4, np.uint64(nfn)] = ni
            nfn += 1
        beside(prow, grow, fp, f0, nfp)
        beside(prow, grow, fn, n0, nfn)
        for t in range(nt):
            c = touched[t]
            cv[0, np.uint64(ncv)] = y
            cv[1, np.uint64(ncv)] = open_s[np.uint64(c)]
            cv[2, np.uint64(ncv)] = open_e[np.uint64(c)]
            cv[3, np.uint64(ncv)] = c
            ncv += 1
            open_e[np.uint64(c)] = -2
    pptr[h] = npr
    gptr[h] = ngr
    xptr[h] = nxr
    n_p, cls_p, plab = components(pptr, pr)
    n_g, cls_g, glab = components(gptr, gr)
    php = np.zeros(n_p, np.bool_)
    ghp = np.zeros(n_g, np.bool_)
    for i in range(ntp):
        php[plab[tp[4, i]]] = True
        ghp[glab[tp[5, i]]] = True
    pruns = (n_p, cls_p, pptr, pr[0, :npr].copy(), pr[1, :npr].copy(), plab)
    gruns = (n_g, cls_g, gptr, gr[0, :ngr].copy(), gr[1, :ngr].copy(), glab)
    return (pruns, php, gruns, ghp, xptr, xr[:, :nxr], tp[:4, :ntp], cv[:, :ncv], fp[:, :nfp],
            fn[:, :nfn])


def runs(p, g, k):
    """The four run lists of :func:`scan`: TP, cover, FP query and FN query runs (row, start, end,
    class)."""
    tp, cv, fp, fn = scan(p, g, k)[6:]
    return tp, cv, fp[:4], fn[:4]


@njit
def csr(runs, k, h):
    """Index run lists by (class, row): runs of class c in row r are s[off[c*h+r]:off[c*h+r+1]]
    (sorted by x: the sort is stable and the input is row-major)."""
    n = runs.shape[1]
    off = np.zeros(k * h + 1, np.int64)
    keys = np.empty(n, np.int64)
    for i in range(n):
        key = runs[3, i] * h + runs[0, i]
        keys[i] = key
        off[key + 1] += 1
    for j in range(k * h):
        off[j + 1] += off[j]
    pos = off[:-1].copy()
    s = np.empty(n, np.int32)
    e = np.empty(n, np.int32)
    for i in range(n):
        key = keys[i]
        j = pos[key]
        s[j] = runs[1, i]
        e[j] = runs[2, i]
        pos[key] = j + 1
    return off, s, e


@njit
def first_end_ge(e, i0, i1, x):
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


@njit
def cell_mask(a, b):
    """The bits a..b (0 <= a <= b <= 63) of a word."""
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    return (ones >> np.uint64(63 - b)) & (ones << np.uint64(a))


@njit
def occupancy(off, s_, e_, w, sh, whole):
    """One word per (class, row) list of runs: bit j set when cell j (columns j << sh to
    ((j + 1) << sh) - 1) holds a pixel of a run or, with ``whole``, lies on one run whole."""
    words = np.zeros(off.size - 1, np.uint64)
    last = (w - 1) >> sh
    for base in range(off.size - 1):
        word = np.uint64(0)
        for i in range(off[base], off[base + 1]):
            if whole:
                f = (s_[i] + (1 << sh) - 1) >> sh
                l = last if e_[i] == w - 1 else ((e_[i] + 1) >> sh) - 1
                if f <= l:
                    word |= cell_mask(f, l)
            else:
                word |= cell_mask(s_[i] >> sh, e_[i] >> sh)
        if word:
            words[base] = word
    return words


@njit
def subtract(us, ue, nu, cs, ce, nc, ts, te):
    """Remove the intervals [cs, ce] (nc of them, starts and ends increasing) from the nu sorted
    disjoint intervals [us, ue], in place (ts, te: scratch); returns how many are left."""
    o = 0
    u = 0
    ps = us[0]
    pe = ue[0]
    for k in range(nc):
        a = cs[k]
        b = ce[k]
        while u < nu:
            if pe < a:
                ts[o] = ps
                te[o] = pe
                o += 1
                u += 1
                if u < nu:
                    ps = us[u]
                    pe = ue[u]
                continue
            if ps > b:
                break
            if ps < a:
                ts[o] = ps
                te[o] = a - 1
                o += 1
            if pe > b:
                ps = b + 1
                break
            u += 1
            if u < nu:
                ps = us[u]
                pe = ue[u]
        if u >= nu:
            break
    if u < nu:
        ts[o] = ps
        te[o] = pe
        o += 1
        for v in range(u + 1, nu):
            ts[o] = us[v]
            te[o] = ue[v]
            o += 1
    for v in range(o):
        us[v] = ts[v]
        ue[v] = te[v]
    return o


@njit
def near_runs(q, qok, a_off, a_s, a_e, b_off, b_s, b_e, use_b, h, w, dys, wds, join):
    """For every query run (row, x0, x1, class) with ``qok``: its pixels within d of a run of the
    A lists of its class (property A) and, with ``use_b``, within d of a pixel of its class NOT
    covered by the B lists (property B). Returns the sub-runs where all asked properties hold, in
    the order of the query runs; ``qok`` becomes 2 for the query runs they hold whole, and a query
    run with ``qok`` 2 is taken whole, unasked.

    Query runs of one row and class at most ``join`` pixels apart are answered together, as one
    span. The span's pixels not yet answered are kept as sorted intervals; the rows of the disk
    are visited nearest first, every run (gap) met in a row takes its reach out of them, and the
    walk ends when none is left. A is asked first, B only of the pixels that hold A; a row is
    passed over when one occupancy word per (class, row) (:func:`occupancy`) shows nothing
    within reach, and the walk for A is not begun when the same words OR-ed over blocks of 8
    rows show no run of A in the disk's bounding box around the span. With ``use_b`` and a sixth
    row of ``q`` (:func:`scan`'s query runs, A the TP and B the cover runs), a TP or TN* beside
    a run answers its pixels up to d away unasked."""
    nq = q.shape[1]
    nd = dys.size
    cap = 0
    for j in range(nq):
        if qok[j]:
            cap += (q[2, j] - q[1, j] + 2) // 2
    out = np.empty((4, cap + 1), np.int32)  # one to spare: out[:, :nout] is never contiguous
    nout = 0
    ua_s = np.empty(w + 1, np.int64)
    ua_e = np.empty(w + 1, np.int64)
    ub_s = np.empty(w + 1, np.int64)
    ub_e = np.empty(w + 1, np.int64)
    cs = np.empty(w + 1, np.int64)
    ce = np.empty(w + 1, np.int64)
    ts = np.empty(w + 1, np.int64)
    te = np.empty(w + 1, np.int64)
    sh = 0
    while (w - 1) >> sh >= 64:
        sh += 1
    # flags and counts not literal: occupancy and subtract compile once
    a_word = occupancy(a_off, a_s, a_e, w, sh, np.bool_(False))
    b_word = occupancy(b_off, b_s, b_e, w, sh, np.bool_(True)) if use_b else a_word
    beside_known = use_b and q.shape[0] > 5  # A and B are then TP and cover runs
    d0 = 0  # the half-width of the disk's row dy = 0, and the widest and farthest rows
    wmax = 0
    dmax = 0
    for i in range(nd):
        if dys[i] == 0:
            d0 = wds[i]
        wmax = max(wmax, wds[i])
        dmax = max(dmax, abs(dys[i]))
    # the occupancy words of A OR-ed over blocks of 8 rows
    nblk = (h + 7) >> 3
    a_blk = np.zeros(a_word.size // h * nblk if h > 0 else 0, np.uint64)
    for base in range(a_word.size):
        a_blk[base // h * nblk + ((base % h) >> 3)] |= a_word[base]
    j = 0
    while j < nq:
        # a TP on one side and a TN* on the other, both in reach of every pixel: held whole
        if qok[j] == 1 and beside_known and q[5, j] & 5 and q[5, j] & 10 and q[2, j] - q[1, j] < d0:
            qok[j] = 2
        if qok[j] != 1:
            if qok[j] == 2:  # taken whole, on its own: spans only save walks
                out[0, nout] = q[0, j]
                out[1, nout] = q[1, j]
                out[2, nout] = q[2, j]
                out[3, nout] = q[3, j]
                nout += 1
            j += 1
            continue
        y = q[0, j]
        c = q[3, j]
        x1 = q[2, j]
        jend = j + 1
        while (jend < nq and q[0, jend] == y and q[3, jend] == c and qok[jend]
               and q[1, jend] - x1 <= join):
            x1 = q[2, jend]
            jend += 1
        na = np.int64(0)
        nb = np.int64(0)
        for jj in range(j, jend):
            if qok[jj] != 2:
                sa = np.int64(q[1, jj])
                ea = np.int64(q[2, jj])
                sb = sa
                eb = ea
                if beside_known:  # a TP / TN* beside the run settles its pixels up to d away
                    f = q[5, jj]
                    if f & 1:
                        sa += d0
                    elif f & 2:
                        sb += d0
                    if f & 4:
                        ea -= d0
                    elif f & 8:
                        eb -= d0
                if sa <= ea:
                    ua_s[na] = sa
                    ua_e[na] = ea
                    na += 1
                if use_b and sb <= eb:
                    ub_s[nb] = sb
                    ub_e[nb] = eb
                    nb += 1
        if na:  # no run of A in the reach of the disk's bounding box: no walk for A
            lo = ua_s[0] - wmax
            hi = ua_e[na - 1] + wmax
            m = cell_mask((lo if lo > 0 else 0) >> sh, (hi if hi < w else w - 1) >> sh)
            near = np.uint64(0)
            for blk in range((y - dmax if y > dmax else 0) >> 3, ((y + dmax if y + dmax < h else h - 1) >> 3) + 1):
                near |= a_blk[c * nblk + blk]
            if not near & m:
                na_walk = False
            else:
                na_walk = True
        else:
            na_walk = False
        # A first, to the end of the disk or until every pixel is near a run of A; B is then asked
        # only of the pixels that hold A
        for i in range(nd if na_walk else 0):
            r = y + dys[i]
            if r < 0 or r >= h:
                continue
            wd = wds[i]
            base = c * h + r
            lo = ua_s[0] - wd
            hi = ua_e[na - 1] + wd
            if a_word[base] & cell_mask((lo if lo > 0 else 0) >> sh, (hi if hi < w else w - 1) >> sh):
                i1 = a_off[base + 1]
                idx = first_end_ge(a_e, a_off[base], i1, lo)
                nc = np.int64(0)
                while idx < i1 and a_s[idx] <= hi:
                    cs[nc] = a_s[idx] - wd
                    ce[nc] = a_e[idx] + wd
                    nc += 1
                    idx += 1
                if nc:
                    na = subtract(ua_s, ua_e, na, cs, ce, nc, ts, te)
                    if not na:
                        break
        if na and nb:
            nb = subtract(ub_s, ub_e, nb, ua_s, ua_e, na, ts, te)
        for i in range(nd if nb else 0):
            r = y + dys[i]
            if r < 0 or r >= h:
                continue
            wd = wds[i]
            base = c * h + r
            lo = ub_s[0] - wd
            if lo < 0:
                lo = 0
            hi = ub_e[nb - 1] + wd
            if hi > w - 1:
                hi = w - 1
            if ~b_word[base] & cell_mask(lo >> sh, hi >> sh):
                i1 = b_off[base + 1]
                idx = first_end_ge(b_e, b_off[base], i1, lo)
                pos = lo
                nc = np.int64(0)
                while pos <= hi:
                    if idx < i1 and b_s[idx] <= pos:
                        pos = b_e[idx] + 1
                        idx += 1
                    else:
                        gap_end = hi
                        if idx < i1 and b_s[idx] - 1 < hi:
                            gap_end = b_s[idx] - 1
                        cs[nc] = pos - wd
                        ce[nc] = gap_end + wd
                        nc += 1
                        pos = gap_end + 1
                if nc:
                    nb = subtract(ub_s, ub_e, nb, cs, ce, nc, ts, te)
                    if not nb:
                        break
        if not na and not nb:
            for jj in range(j, jend):
                out[0, nout] = y
                out[1, nout] = q[1, jj]
                out[2, nout] = q[2, jj]
                out[3, nout] = c
                qok[jj] = 2
                nout += 1
        else:  # the runs less what fails A or B; each piece lies in one run
            nr = np.int64(0)
            for jj in range(j, jend):
                cs[nr] = q[1, jj]
                ce[nr] = q[2, jj]
                nr += 1
            if na:
                nr = subtract(cs, ce, nr, ua_s, ua_e, na, ts, te)
            if nb and nr:
                nr = subtract(cs, ce, nr, ub_s, ub_e, nb, ts, te)
            v = 0
            for jj in range(j, jend):
                while v < nr and ce[v] <= q[2, jj]:
                    out[0, nout] = y
                    out[1, nout] = cs[v]
                    out[2, nout] = ce[v]
                    out[3, nout] = c
                    nout += 1
                    if cs[v] == q[1, jj] and ce[v] == q[2, jj]:
                        qok[jj] = 2
                    v += 1
        j = jend
    return out[:, :nout]


@njit
def filter_runs(cr, h, w, p, g, tpm, filled, mark, keep_bit, sliver_width, sliver):
    """Component filter (§5.3-4) on candidate runs of one side: 8-connected components of equal
    class; keep those touching a TP and a TN* of their class (read off the maps ``p`` and ``g``
    and off ``tpm``, the class where p == g, else -1, in the rows flagged in ``filled``; rows are
    written and flagged as needed); mark their pixels with ``keep_bit`` (clear there on entry).
    Tallies sliver pixels (kept components at most ``sliver_width`` thick, thickness = valid
    pixels / pixels touching the TP) per class.

    One pass joins each run to those of the row above (union-find, the smallest run the root),
    marks it, counts its valid pixels and those beside a TP (it touches the TP when any is) and,
    while its root touches no TN*, looks for one around it: each run's rows are read once, just
    after its neighbours' (still in cache). A second pass sums the counts into the roots and
    unmarks the runs of dropped components (few)."""
    nc = cr.shape[1]
    parent = np.arange(nc)
    touch = np.zeros(nc, np.uint8)
    area = np.zeros(nc, np.int64)
    contact = np.zeros(nc, np.int64)
    row_y = np.int64(-1)
    row0 = 0
    p0 = 0  # the runs of the row above: p0:p1
    p1 = 0
    j = 0
    row = mark[0]
    q0 = p[0]
    q1 = p[0]
    q2 = p[0]
    g0 = g[0]
    g1 = g[0]
    g2 = g[0]
    t0 = tpm[0]
    t1 = tpm[0]
    t2 = tpm[0]
    for i in range(nc):
        y = np.int64(cr[0, i])
        s = np.int64(cr[1, i])
        e = np.int64(cr[2, i])
        c = np.int64(cr[3, i])
        if y != row_y:
            if y == row_y + 1:
                p0 = row0
                p1 = i
            else:
                p0 = i
                p1 = i
            j = p0
            row0 = i
            row_y = y
            # the rows around y (a repeated row, at the image's edge, changes nothing)
            r0 = y - 1 if y > 0 else y
            r2 = y + 1 if y < h - 1 else y
            for r in range(r0, r2 + 1):
                if not filled[r]:
                    filled[r] = 1
                    prow = p[r]
                    grow = g[r]
                    trow = tpm[r]
                    for x in range(w):
                        trow[x] = prow[x] if prow[x] == grow[x] else -1
            row = mark[y]
            q0 = p[r0]
            q1 = p[y]
            q2 = p[r2]
            g0 = g[r0]
            g1 = g[y]
            g2 = g[r2]
            t0 = tpm[r0]
            t1 = tpm[y]
            t2 = tpm[r2]
        while j < p1 and cr[2, j] < s - 1:
            j += 1
        kk = j
        ri = i  # the root of i's set
        while kk < p1 and cr[1, kk] <= e + 1:
            if cr[3, kk] == c:
                rk = find(parent, kk)
                if ri == i:
                    parent[i] = rk
                    ri = rk
                elif rk < ri:
                    parent[ri] = rk
                    touch[rk] |= touch[ri]
                    ri = rk
                elif rk > ri:
                    parent[rk] = ri
                    touch[ri] |= touch[rk]
            kk += 1
        # a pixel is beside a TP when its column, or the one before or after, holds one (the
        # run's own pixels are none)
        before = False
        if s > 0:
            x = s - 1
            before = (t0[x] == c) | (t1[x] == c) | (t2[x] == c)
        here = (t0[s] == c) | (t2[s] == c)
        ncontact = 0
        nvalid = 0
        for x in range(s, e + 1):
            row[x] |= keep_bit  # marked now: nearly every component is kept
            nvalid += g1[x] >= 0
            after = False
            if x < w - 1:
                xa = x + 1
                after = (t0[xa] == c) | (t1[xa] == c) | (t2[xa] == c)
            ncontact += before | here | after
            before = here
            here = after
        contact[i] = ncontact
        area[i] = nvalid
        if ncontact:
            touch[ri] |= 1
        if touch[ri] & 2:
            continue
        lo = s - 1 if s > 0 else s
        hi = e + 1 if e < w - 1 else e
        for x in range(lo, hi + 1):
            if ((q0[x] != c) & (g0[x] != c)) | ((q1[x] != c) & (g1[x] != c)) | ((q2[x] != c) & (g2[x] != c)):
                touch[ri] |= 2
                break
    drop = ~np.uint8(keep_bit)
    for i in range(nc):
        root = parent[parent[i]]  # parent[i] <= i already points at its root
        parent[i] = root
        if root != i:
            area[root] += area[i]
            contact[root] += contact[i]
        if touch[root] != 3:
            row = mark[cr[0, i]]
            for x in range(cr[1, i], cr[2, i] + 1):
                row[x] &= drop
    for i in range(nc):
        if parent[i] == i and touch[i] == 3 and area[i] > 0 and area[i] <= sliver_width * contact[i]:
            sliver[cr[3, i]] += area[i]


@njit
def grow_box(box, i, y, x0, x1):
    """Grow the bbox ``box[i]`` (y0, x0, y1, x1; rows visited in raster order) by the run
    ``[x0, x1)`` of row ``y``."""
    box[i, 0] = min(box[i, 0], y)
    box[i, 2] = y + 1
    box[i, 1] = min(box[i, 1], x0)
    box[i, 3] = max(box[i, 3], x1)


@njit
def assign(xptr, xr, plab, pcls, glab, gcls, php, ghp, mark, k, counts, maps, fp_type, fn_type, conf_fn, conf_fp,
           fixed_gt, fixed_pred, gfacts, gbox, pfacts, pbox, links):
    """Final typing (§6-7), walking the pair runs of :func:`scan` (split where ``mark`` changes):
    counts per class, the two type maps (with ``maps``), confusion per error type and the
    per-scenario tallies of pixels that a fix would repair; in the same pass the component facts
    of the segment analysis: per GT / predicted component its valid pixels and TP pixels
    (``gfacts`` / ``pfacts``, n × 2), the bbox [y0, x0, y1, x1) of its valid pixels, and the (GT
    component, predicted component) pairs that share a TP pixel, each once, by GT component
    (``links``: room for the pairs as met along the rows, grown as needed; returns the pairs and
    their number)."""
    h, w = mark.shape
    for i in range(gbox.shape[0]):
        gbox[i, 0] = h
        gbox[i, 1] = w
        gbox[i, 2] = 0
        gbox[i, 3] = 0
    for i in range(pbox.shape[0]):
        pbox[i, 0] = h
        pbox[i, 1] = w
        pbox[i, 2] = 0
        pbox[i, 3] = 0
    if maps:  # only error runs are drawn
        for y in range(h):
            fprow = fp_type[y]
            fnrow = fn_type[y]
            for x in range(w):
                fprow[x] = 0
                fnrow[x] = 0
    nl = 0
    last_s = -1
    last_q = -1
    fnrow = np.empty(0, np.uint8)
    fprow = fnrow
    for y in range(h):
        mrow = mark[y]
        if maps:
            fnrow = fn_type[y]
            fprow = fp_type[y]
        j1 = xptr[y + 1]
        # the facts of a component are gathered over the pair runs that follow in a row (sx0:sx1,
        # sn valid and stp TP pixels; the same for the predicted component cq) and stored once
        cs = np.int64(-1)
        sx0 = np.int64(0)
        sx1 = np.int64(0)
        sn = np.int64(0)
        stp = np.int64(0)
        cq = np.int64(-1)
        qx0 = np.int64(0)
        qx1 = np.int64(0)
        qn = np.int64(0)
        qtp = np.int64(0)
        # a pair run lies in one component of each map; marks split only error runs
        for j in range(xptr[y], j1 + 1):
            if j == j1:  # the row's last facts
                if cs >= 0:
                    gfacts[cs, 0] += sn
                    gfacts[cs, 1] += stp
                    grow_box(gbox, cs, y, sx0, sx1)
                if cq >= 0:
                    pfacts[cq, 0] += qn
                    pfacts[cq, 1] += qtp
                    grow_box(pbox, cq, y, qx0, qx1)
                break
            x0 = np.int64(xr[0, j])
            x1 = np.int64(xr[0, j + 1]) if j + 1 < j1 else np.int64(w)
            n = x1 - x0
            gi = xr[2, j]
            if gi < 0:
                continue
            s = np.int64(glab[gi])
            gv = gcls[s]
            if s != cs:
                if cs >= 0:
                    gfacts[cs, 0] += sn
                    gfacts[cs, 1] += stp
                    grow_box(gbox, cs, y, sx0, sx1)
                cs = s
                sx0 = x0
                sn = 0
                stp = 0
            sx1 = x1
            sn += n
            q = np.int64(-1)
            pv = np.int64(-1)
            if xr[1, j] >= 0:
                q = np.int64(plab[xr[1, j]])
                pv = pcls[q]
                if q != cq:
                    if cq >= 0:
                        pfacts[cq, 0] += qn
                        pfacts[cq, 1] += qtp
                        grow_box(pbox, cq, y, qx0, qx1)
                    cq = q
                    qx0 = x0
                    qn = 0
                    qtp = 0
                qx1 = x1
                qn += n
            if pv == gv:
                counts[gv, 0] += n
                stp += n
                qtp += n
                if s != last_s or q != last_q:
                    last_s = s
                    last_q = q
                    if nl == links.shape[1]:
                        bigger = np.empty((2, 2 * nl), links.dtype)
                        for i in range(nl):  # not a slice assignment: no broadcast checks to compile
                            bigger[0, i] = links[0, i]
                            bigger[1, i] = links[1, i]
                        links = bigger
                    links[0, nl] = s
                    links[1, nl] = q
                    nl += 1
                continue
            gh = np.int64(ghp[s])
            ph = np.int64(php[q]) if pv >= 0 else np.int64(0)
            pj = pv if pv >= 0 else k
            x = x0
            while x < x1:
                cb = mrow[x]
                tn = 1 if cb & 8 else 3 - gh  # boundary, else extent (the component has a TP) or segment
                tp_ = 0
                if pv >= 0:
                    tp_ = 1 if cb & 4 else 3 - ph
                xa = x
                if maps:  # drawn while the run of equal marks is found
                    while True:
                        fnrow[x] = tn
                        fprow[x] = tp_
                        x += 1
                        if x == x1 or mrow[x] != cb:
                            break
                else:
                    x += 1
                    while x < x1 and mrow[x] == cb:
                        x += 1
                m = x - xa
                counts[gv, 2 * tn] += m
                conf_fn[tn - 1, gv, pj] += m
                if pv >= 0:
                    counts[pv, 2 * tp_ - 1] += m
                    conf_fp[tp_ - 1, gv, pv] += m
                # scenarios: 0 boundary, 1 extent, 2 missed segments (fn), 3 invented segments (fp); added
                # unconditionally, without a branch per scenario
                f0 = m * ((tn == 1) | (tp_ == 1))
                f1 = m * ((tn == 2) | (tp_ == 2))
                f2 = m * (tn == 3)
                f3 = m * (tp_ == 3)
                fixed_gt[0, gv] += f0
                fixed_pred[0, pj] += f0
                fixed_gt[1, gv] += f1
                fixed_pred[1, pj] += f1
                fixed_gt[2, gv] += f2
                fixed_pred[2, pj] += f2
                fixed_gt[3, gv] += f3
                fixed_pred[3, pj] += f3
    # each pair once: the links bucketed by GT component, a predicted one kept once per bucket
    ng = gbox.shape[0]
    off = np.zeros(ng + 1, np.int64)
    for i in range(nl):
        off[links[0, i] + 1] += 1
    for i in range(ng):
        off[i + 1] += off[i]
    by_s = np.empty(nl, np.int64)
    for i in range(nl):
        s = links[0, i]
        by_s[off[s]] = links[1, i]
        off[s] += 1
    seen = np.full(pbox.shape[0], -1, np.int64)
    pairs = np.empty((2, nl), np.int64)
    m = 0
    j = 0
    for s in range(ng):
        while j < off[s]:  # off[s] is now the end of bucket s
            q = by_s[j]
            j += 1
            if seen[q] != s:
                seen[q] = s
                pairs[0, m] = s
                pairs[1, m] = q
                m += 1
    return pairs, m
