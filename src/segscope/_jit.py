"""The one numba decorator of segscope's kernel files, and the building blocks they share.

Only kernel files (``_*_kernels.py``) import this module, and they are imported on first use
(see :mod:`segscope._lazy`), so ``import segscope`` does not import numba. Every kernel is
single-threaded and cached on disk; parallelism comes from processes.
"""

from __future__ import annotations

import numba

njit = numba.njit(cache=True, nogil=True, boundscheck=False)


# ---------------------------------------------------------------------- union-find
@njit
def find(parent, i):
    """The root of ``i`` in the forest ``parent``, compressing the path on the way."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit
def union(parent, a, b):
    """Join the sets of ``a`` and ``b``; the smaller root becomes the root (raster order)."""
    ra = find(parent, a)
    rb = find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb
