"""The one numba decorator of segscope's kernel files, and the building blocks they share.

Only kernel files (``_*_kernels.py``) import this module, and they are imported on first use
(see :mod:`segscope._lazy`), so ``import segscope`` does not import numba. Every kernel is
single-threaded and cached on disk; parallelism comes from processes.
"""

from __future__ import annotations

import numba

njit = numba.njit(cache=True, nogil=True, boundscheck=False)
