"""The one numba decorator of segscope's kernel files, the building blocks they share, and what
segscope knows about their compilation.

Kernel files (``_*_kernels.py``) import this module and are imported on first use (see
:mod:`segscope._lazy`); the engine imports it only when it is about to run kernels, so
``import segscope`` does not import numba. Every kernel is single-threaded and cached on disk
(numba's cache: ``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the kernel file); parallelism
comes from processes.

Compiling every kernel of a default run takes tens of seconds, once per machine, mask type and
version of a kernel file; :func:`cached` says cheaply whether a kernel file's cache holds compiled
kernels for its current source, :func:`compile_estimate` how long compiling those that do not
will take, and :func:`on_first_compile` calls back when numba starts compiling one.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
from typing import Callable, Iterable, Iterator

import numba
from numba.core import event as _event
from numba.core import registry as _registry

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


# ---------------------------------------------------------------------- compilation
#: CPU seconds one core of the reference machine (2 cores) takes to compile a kernel file's
#: kernels for one mask type, as a default run uses them, with its share of numba's own
#: overloads (``python benchmarks/bench_first_run.py --kernels``); the estimate of the compile
#: notice.
COMPILE_SECONDS = {
    "segscope.metrics._confusion_kernels": 1.0,
    "segscope.metrics._boundary_kernels": 11.5,
    "segscope.metrics._breakdown_kernels": 10.2,
    "segscope.metrics._segments_kernels": 0.7,
}
#: The estimate for a kernel file not in :data:`COMPILE_SECONDS`.
DEFAULT_COMPILE_SECONDS = 2.0


def _dispatchers(module) -> list:
    return [f for f in vars(module).values()
            if isinstance(f, _registry.CPUDispatcher) and f.py_func.__module__ == module.__name__]


def used() -> list[str]:
    """The kernel files whose kernels this process has run (compiled, or loaded from the cache)."""
    return sorted(name for name, module in list(sys.modules.items())
                  if name.startswith("segscope") and module is not None
                  and any(f.signatures for f in _dispatchers(module)))


def cached(name: str) -> bool:
    """Whether numba's cache holds compiled kernels of the kernel file ``name`` for its current
    source and this numba version (an index of one of its kernels, valid for this source).

    A file edited since, a fresh machine or an empty ``NUMBA_CACHE_DIR`` give False; a cache
    that lacks only some kernels, or some mask types, still gives True. Anything the cache's
    layout makes unreadable gives False.
    """
    try:
        module = importlib.import_module(name)
        for f in _dispatchers(module):
            cache = getattr(f, "_cache", None)
            if cache is not None and cache._cache_file._load_index():
                return True
    except Exception:  # noqa: BLE001 - numba's cache internals: unknown means "not cached"
        return False
    return False


def compile_estimate(names: Iterable[str], processes: int = 1) -> int:
    """About how many seconds compiling the kernel files ``names`` takes on ``processes`` cores
    (never less than the largest file alone).

    >>> compile_estimate(["segscope.metrics._boundary_kernels", "segscope.metrics._confusion_kernels"], 2)
    12
    """
    costs = [COMPILE_SECONDS.get(n, DEFAULT_COMPILE_SECONDS) for n in names]
    if not costs:
        return 0
    return int(math.ceil(max(sum(costs) / max(int(processes), 1), max(costs))))


class _FirstCompile(_event.Listener):
    def __init__(self, callback: Callable[[], None]):
        self.callback = callback
        self.fired = False

    def on_start(self, event) -> None:
        dispatcher = (event.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not self.fired and module.startswith("segscope."):
            self.fired = True
            self.callback()

    def on_end(self, event) -> None:
        pass


@contextlib.contextmanager
def on_first_compile(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback()`` once, when numba starts compiling a segscope kernel in this process
    within the block (not when it loads one from its cache)."""
    with _event.install_listener("numba:compile", _FirstCompile(callback)):
        yield
