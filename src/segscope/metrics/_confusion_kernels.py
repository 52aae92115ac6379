"""Compiled loops behind :mod:`segscope.metrics.confusion` (imported on first use, so that
``import segscope`` does not pay for importing numba).

Two kernels, both single-threaded and cached on disk (``cache=True``):

``count_u8``
    uint8 masks (the common case: PNG masks, class-index lookups). Eight pixels of each mask are
    read as one 64-bit word and compared with the previous pixel's value broadcast to all eight
    bytes; equal words only lengthen the current run (one compare per eight pixels on the long runs
    of real label maps). A word that differs is counted pixel by pixel into a branch-free 256×256
    histogram of (gt byte, prediction byte), with two sub-histograms (offset so their cells do not
    alias in the store buffer) to break the load-add-store chains of noisy input; the eight cells
    of a word are formed in two registers with a few masks and shifts, not by eight byte loads. The 256×256 table
    is folded into the extended ``(K + 1, K + 2)`` layout at the end.

``count_words``
    Any other integer dtype (uint16, int32, int64, …; both masks of one dtype). The same run skip on
    64-bit words (4, 2 or 1 element per word); differing words are walked element by element with a
    run-length count, and a run is mapped to its cell only when it ends.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit

# Sub-histogram stride: 65536 cells plus a few cache lines, so that the two tables' cells never
# sit a multiple of 4 KiB apart (which would make loads wait on unrelated stores).
HIST_STRIDE = 65536 + 80
_B8 = np.uint64(0x0101010101010101)
_LO = np.uint64(0x00FF00FF00FF00FF)
_HI = np.uint64(0xFF00FF00FF00FF00)
_M16 = np.uint64(0xFFFF)


@njit
def count_u8(gw, pw, g8, p8, start, stop, hist):
    """Histogram of ``g << 8 | p`` over words ``start..stop`` of the uint64 views ``gw``/``pw``
    (``g8``/``p8``: the same memory as bytes) into ``hist`` (2 × ``HIST_STRIDE`` uint32 cells)."""
    if start >= stop:
        return
    # Slicing first and counting from 0 lets the compiler prove indices non-negative (a loop
    # over range(start, stop) runs ~30 % slower).
    gw = gw[start:stop]
    pw = pw[start:stop]
    g8 = g8[start * 8 : stop * 8]
    p8 = p8[start * 8 : stop * 8]
    nw = gw.size
    pg = np.uint64(g8[0])
    pp = np.uint64(p8[0])
    bg = pg * _B8
    bp = pp * _B8
    run = 0
    for i in range(nw):
        wg = gw[i]
        wp = pw[i]
        if wg == bg and wp == bp:
            run += 8
            continue
        hist[(pg << np.uint64(8)) | pp] += run
        run = 0
        # The eight cells g << 8 | p as 16-bit lanes of two registers: even pixels in ``x``, odd
        # pixels in ``y`` (each counted into its own sub-histogram).
        x = ((wg & _LO) << np.uint64(8)) | (wp & _LO)
        y = (wg & _HI) | ((wp >> np.uint64(8)) & _LO)
        hist[x & _M16] += 1
        hist[HIST_STRIDE + (y & _M16)] += 1
        hist[(x >> np.uint64(16)) & _M16] += 1
        hist[HIST_STRIDE + ((y >> np.uint64(16)) & _M16)] += 1
        hist[(x >> np.uint64(32)) & _M16] += 1
        hist[HIST_STRIDE + ((y >> np.uint64(32)) & _M16)] += 1
        hist[x >> np.uint64(48)] += 1
        hist[HIST_STRIDE + (y >> np.uint64(48))] += 1
        pg = wg >> np.uint64(56)
        pp = wp >> np.uint64(56)
        bg = pg * _B8
        bp = pp * _B8
    hist[(pg << np.uint64(8)) | pp] += run


@njit
def count_u8_tail(g8, p8, start, hist):
    """Pixels ``start..`` (fewer than eight) one by one into ``hist``."""
    for i in range(start, g8.size):
        hist[(np.intp(g8[i]) << 8) | np.intp(p8[i])] += 1


@njit
def fold_u8(hist, k, ignore, has_ignore, out):
    """Add the 256×256 byte-pair histogram (two sub-tables) into the extended counts ``out``."""
    for g in range(256):
        if has_ignore and g == ignore:
            continue
        row0 = g * 256
        row1 = HIST_STRIDE + g * 256
        total = 0
        for p in range(256):
            total += np.int64(hist[row0 + p]) + np.int64(hist[row1 + p])
        if total == 0:
            continue
        gi = g if g < k else k
        for p in range(256):
            c = np.int64(hist[row0 + p]) + np.int64(hist[row1 + p])
            if c == 0:
                continue
            if p < k:
                pj = p
            elif has_ignore and p == ignore:
                pj = k
            else:
                pj = k + 1
            out[gi, pj] += c


@njit
def _flush(g, p, run, k, ignore, has_ignore, out):
    if has_ignore and g == ignore:
        return
    gi = g if g >= 0 and g < k else k
    if p >= 0 and p < k:
        pj = p
    elif has_ignore and p == ignore:
        pj = k
    else:
        pj = k + 1
    out[gi, pj] += run


@njit
def count_words(gw, pw, g, p, per_word, k, ignore, has_ignore, out):
    """Extended counts of masks ``g``/``p`` (one dtype, ``per_word`` elements per 64-bit word;
    ``gw``/``pw`` are their uint64 views of the first ``per_word * gw.size`` elements)."""
    n = g.size
    if n == 0:
        return
    nw = gw.size
    bits = 64 // per_word
    top = np.uint64(64 - bits)
    mult = np.uint64(0)
    for _ in range(per_word):
        mult = (mult << np.uint64(bits)) | np.uint64(1)
    prev_g = g[0]
    prev_p = p[0]
    run = 0
    if nw:
        low = np.uint64(0xFFFFFFFFFFFFFFFF) >> top
        bg = (gw[0] & low) * mult
        bp = (pw[0] & low) * mult
        for i in range(nw):
            wg = gw[i]
            wp = pw[i]
            if wg == bg and wp == bp:
                run += per_word
                continue
            base = i * per_word
            for s in range(per_word):
                gv = g[base + s]
                pv = p[base + s]
                if gv == prev_g and pv == prev_p:
                    run += 1
                else:
                    _flush(prev_g, prev_p, run, k, ignore, has_ignore, out)
                    prev_g = gv
                    prev_p = pv
                    run = 1
            bg = (wg >> top) * mult
            bp = (wp >> top) * mult
    for j in range(nw * per_word, n):
        gv = g[j]
        pv = p[j]
        if gv == prev_g and pv == prev_p:
            run += 1
        else:
            _flush(prev_g, prev_p, run, k, ignore, has_ignore, out)
            prev_g = gv
            prev_p = pv
            run = 1
    _flush(prev_g, prev_p, run, k, ignore, has_ignore, out)


@njit
def count_wide(g, p, k, ignore, gbuf, pbuf, gbw, pbw, hist):
    """Masks of a wider dtype, 1 <= K <= 254: each chunk is recoded to bytes (class ids stay, the
    ignore label becomes 255 unless it is a class id, anything else 254) and counted by
    :func:`count_u8` into ``hist``. Pass ``ignore = 0`` when there is no ignore label; fold with
    ignore 255 (or the ignore label itself when it is a class id)."""
    n = g.size
    chunk = gbuf.size
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        gs = g[start : start + m]
        ps = p[start : start + m]
        for j in range(m):
            gv = gs[j]
            pv = ps[j]
            # branch-free, so that the loop vectorises; with no ignore label ``ignore`` is a
            # class id (0), which the class test overrides
            cg = np.uint8(255) if gv == ignore else np.uint8(254)
            cp = np.uint8(255) if pv == ignore else np.uint8(254)
            gbuf[j] = np.uint8(gv) if (gv >= 0) & (gv < k) else cg
            pbuf[j] = np.uint8(pv) if (pv >= 0) & (pv < k) else cp
        words = m // 8
        count_u8(gbw, pbw, gbuf, pbuf, 0, words, hist)
        for j in range(words * 8, m):
            hist[(np.intp(gbuf[j]) << 8) | np.intp(pbuf[j])] += 1
