"""Pure array kernels of ``segscope check``: one pass over a label mask that gathers, per label
value, how many pixels it has, how many of them are *interior* (all 8 neighbours share the value)
and how many lie strictly *between* their neighbours' values; and the connected regions of equal
value (8-connectivity) with their size and how many of their pixels are one pixel thick.
"""

from __future__ import annotations

import numpy as np

from .._jit import find, njit, union
from .._numbers import compact_labels

__all__ = ["scan_mask", "MaskScan"]


@njit
def _scan(lab, nvals):
    h, w = lab.shape
    n = h * w
    count = np.zeros(nvals, np.int64)
    interior = np.zeros(nvals, np.int64)
    between = np.zeros(nvals, np.int64)
    parent = np.empty(n, np.int32)
    thin = np.zeros(n, np.uint8)
    for i in range(n):
        parent[i] = i
    for y in range(h):
        for x in range(w):
            v = lab[y, x]
            i = y * w + x
            count[v] += 1
            same = True
            lo = v
            hi = v
            for dy in range(-1, 2):
                yy = y + dy
                if yy < 0 or yy >= h:
                    continue
                for dx in range(-1, 2):
                    if dy == 0 and dx == 0:
                        continue
                    xx = x + dx
                    if xx < 0 or xx >= w:
                        continue
                    u = lab[yy, xx]
                    if u != v:
                        same = False
                        if u < lo:
                            lo = u
                        if u > hi:
                            hi = u
            if same:
                interior[v] += 1
            elif lo < v and v < hi:
                between[v] += 1
            # one pixel thick: both opposite neighbours (outside the image counts as different)
            left = x > 0 and lab[y, x - 1] == v
            right = x < w - 1 and lab[y, x + 1] == v
            up = y > 0 and lab[y - 1, x] == v
            down = y < h - 1 and lab[y + 1, x] == v
            if (not left and not right) or (not up and not down):
                thin[i] = 1
            # union with the already visited neighbours (8-connectivity)
            if left:
                union(parent, i, i - 1)
            if y > 0:
                if up:
                    union(parent, i, i - w)
                if x > 0 and lab[y - 1, x - 1] == v:
                    union(parent, i, i - w - 1)
                if x < w - 1 and lab[y - 1, x + 1] == v:
                    union(parent, i, i - w + 1)
    size = np.zeros(n, np.int32)
    thin_count = np.zeros(n, np.int32)
    for i in range(n):
        r = find(parent, i)
        size[r] += 1
        thin_count[r] += thin[i]
    ncomp = 0
    for i in range(n):
        if size[i] > 0:
            ncomp += 1
    comp_value = np.empty(ncomp, np.int64)
    comp_size = np.empty(ncomp, np.int64)
    comp_thin = np.empty(ncomp, np.int64)
    k = 0
    for i in range(n):
        if size[i] > 0:
            comp_value[k] = lab[i // w, i % w]
            comp_size[k] = size[i]
            comp_thin[k] = thin_count[i]
            k += 1
    return count, interior, between, comp_value, comp_size, comp_thin


class MaskScan:
    """What :func:`scan_mask` found in one mask.

    Attributes
    ----------
    values : the distinct label values, sorted.
    count, interior, between : per value: pixels, pixels whose 8 neighbours all share the value,
        pixels whose value lies strictly between the smallest and largest neighbouring value.
    comp_value, comp_size, comp_thin : per connected region (8-connectivity): its value, its size
        in pixels and how many of its pixels are one pixel thick (both left and right neighbours, or
        both upper and lower neighbours, hold another value or lie outside the image).
    """

    __slots__ = ("values", "count", "interior", "between", "comp_value", "comp_size", "comp_thin")

    def __init__(self, values, count, interior, between, comp_value, comp_size, comp_thin):
        self.values = values
        self.count = count
        self.interior = interior
        self.between = between
        self.comp_value = comp_value
        self.comp_size = comp_size
        self.comp_thin = comp_thin


def scan_mask(mask: np.ndarray) -> MaskScan:
    """Scan a 2-D label mask (any integer dtype) in one pass.

    Examples
    --------
    A 1-pixel-wide vertical line of 1 through a 4×5 field of 0, and a lone 2:

    >>> m = np.zeros((4, 5), np.uint8); m[:, 2] = 1; m[0, 0] = 2
    >>> s = scan_mask(m)
    >>> s.values.tolist(), s.count.tolist(), s.interior.tolist()
    ([0, 1, 2], [15, 4, 1], [6, 0, 0])
    >>> sorted(zip(s.comp_value.tolist(), s.comp_size.tolist(), s.comp_thin.tolist()))
    [(0, 7, 1), (0, 8, 0), (1, 4, 4), (2, 1, 1)]
    """
    values, lab = compact_labels(mask)
    if lab.size == 0:
        z = np.zeros(0, np.int64)
        return MaskScan(values, z, z, z, z, z, z)
    count, interior, between, cv, cs, ct = _scan(np.ascontiguousarray(lab), int(values.size))
    return MaskScan(values, count, interior, between, values[cv], cs, ct)
