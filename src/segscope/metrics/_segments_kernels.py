"""Compiled loops behind :mod:`segscope.metrics.segments` (imported on first use)."""

from __future__ import annotations

import numpy as np

from .._jit import njit


@njit
def bbox_init(box, h, w):
    for i in range(box.shape[0]):
        box[i, 0] = h
        box[i, 1] = w
        box[i, 2] = 0
        box[i, 3] = 0


@njit
def bbox_add(box, i, y, x0, x1):
    if y < box[i, 0]:
        box[i, 0] = y
    if x0 < box[i, 1]:
        box[i, 1] = x0
    if y + 1 > box[i, 2]:
        box[i, 2] = y + 1
    if x1 + 1 > box[i, 3]:
        box[i, 3] = x1 + 1


@njit
def segment_pass(seg, n, cls, lp, n_p, pcls, p, g):
    """One pass over the label images, run by run: per GT segment and per predicted component,
    valid pixels, TP pixels (on its class in the other map) and bbox [y0, x0, y1, x1) of the valid
    pixels; and the (segment, predicted component) pairs that share a TP pixel (deduplicated
    along rows)."""
    h, w = seg.shape
    size = np.zeros(n, np.int64)
    tp = np.zeros(n, np.int64)
    box = np.empty((n, 4), np.int64)
    psize = np.zeros(n_p, np.int64)
    ptp = np.zeros(n_p, np.int64)
    pbox = np.empty((n_p, 4), np.int64)
    bbox_init(box, h, w)
    bbox_init(pbox, h, w)
    cap = 1024
    links = np.empty((2, cap), np.int64)
    nl = 0
    last_s = -1
    last_q = -1
    for y in range(h):
        x = 0
        while x < w:  # GT segments
            s = seg[y, x]
            x0 = x
            while x < w and seg[y, x] == s:
                x += 1
            if s < 0:
                continue
            c = cls[s]
            cnt = 0
            t = 0
            first = -1
            last = -1
            for xx in range(x0, x):
                if g[y, xx] < 0:
                    continue
                cnt += 1
                if first < 0:
                    first = xx
                last = xx
                if p[y, xx] == c:
                    t += 1
                    q = lp[y, xx]
                    if s != last_s or q != last_q:
                        last_s = s
                        last_q = q
                        if nl == cap:
                            cap *= 2
                            bigger = np.empty((2, cap), np.int64)
                            bigger[:, :nl] = links[:, :nl]
                            links = bigger
                        links[0, nl] = s
                        links[1, nl] = q
                        nl += 1
            if cnt:
                size[s] += cnt
                tp[s] += t
                bbox_add(box, s, y, first, last)
        x = 0
        while x < w:  # predicted components
            q = lp[y, x]
            x0 = x
            while x < w and lp[y, x] == q:
                x += 1
            if q < 0:
                continue
            c = pcls[q]
            cnt = 0
            t = 0
            first = -1
            last = -1
            for xx in range(x0, x):
                gv = g[y, xx]
                if gv < 0:
                    continue
                cnt += 1
                if first < 0:
                    first = xx
                last = xx
                if gv == c:
                    t += 1
            if cnt:
                psize[q] += cnt
                ptp[q] += t
                bbox_add(pbox, q, y, first, last)
    return size, tp, box, psize, ptp, pbox, links[:, :nl]


@njit
def label_hist(labels, sel, boxes, values, nv, g):
    """Histogram of ``values`` (-1 -> the last bin) over the valid pixels of each selected label,
    visiting only its bbox."""
    m = sel.size
    out = np.zeros((m, nv), np.int64)
    for r in range(m):
        li = sel[r]
        for y in range(boxes[li, 0], boxes[li, 2]):
            for x in range(boxes[li, 1], boxes[li, 3]):
                if labels[y, x] != li or g[y, x] < 0:
                    continue
                v = values[y, x]
                out[r, v if v >= 0 else nv - 1] += 1
    return out


@njit
def pair_hists(xptr, xr, w, glab, gcls, plab, pcls, gsel, gbox, psel, pbox, nv):
    """:func:`label_hist` of GT components ``gsel`` over the prediction and of predicted
    components ``psel`` over the GT (valid pixels only), in one walk over the runs of equal
    (prediction, GT) pairs of ``segscope.metrics.breakdown`` (row pointers ``xptr``; rows of
    ``xr``: first column, prediction run, GT run, -1 for a negative code) in the rows the
    selected components' bboxes span."""
    gout = np.zeros((gsel.size, nv), np.int64)
    pout = np.zeros((psel.size, nv), np.int64)
    gwhere = np.full(gbox.shape[0], -1, np.int64)
    pwhere = np.full(pbox.shape[0], -1, np.int64)
    y0 = xptr.size - 1
    y1 = 0
    for r in range(gsel.size):
        li = gsel[r]
        gwhere[li] = r
        y0 = min(y0, gbox[li, 0])
        y1 = max(y1, gbox[li, 2])
    for r in range(psel.size):
        li = psel[r]
        pwhere[li] = r
        y0 = min(y0, pbox[li, 0])
        y1 = max(y1, pbox[li, 2])
    for y in range(y0, y1):
        j1 = xptr[y + 1]
        for j in range(xptr[y], j1):
            gi = xr[2, j]
            if gi < 0:
                continue
            n = (xr[0, j + 1] if j + 1 < j1 else w) - xr[0, j]
            s = glab[gi]
            pi = xr[1, j]
            if gwhere[s] >= 0:
                gout[gwhere[s], pcls[plab[pi]] if pi >= 0 else nv - 1] += n
            if pi >= 0 and pwhere[plab[pi]] >= 0:
                pout[pwhere[plab[pi]], gcls[s]] += n
    return gout, pout
