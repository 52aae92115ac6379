"""The one process pool: a bounded window of tasks in flight, results in input order.

Every parallel loop of segscope (evaluation, checks, conversion, report panels) runs through here:

- at most ``window_per_job × jobs`` tasks are submitted and not yet handed back, so memory stays
  bounded however long the list;
- results come back in input order; an error (or an abandoned generator) cancels the queued work;
- workers run their kernels single-threaded (parallelism comes from the processes) and get fresh
  stdio objects (a forked child must not depend on locks another thread of the parent, such as a
  progress bar's refresh thread, may have held at the moment of the fork).

``SEGSCOPE_START_METHOD`` (``fork``, ``forkserver`` or ``spawn``) overrides the start method of
every pool.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Sequence

__all__ = ["AUTO_POOL_MIN", "default_jobs", "start_method", "init_worker", "process_pool", "windowed", "pool_map"]

_task: tuple | None = None  # (func, args) of pool_map, in each worker

#: with ``jobs=0`` :func:`pool_map` runs smaller batches in this process
AUTO_POOL_MIN = 32


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def start_method(preferred: str | None = None) -> str:
    """The start method of a pool: ``SEGSCOPE_START_METHOD`` when set, else ``preferred``, else
    ``fork`` on Linux and ``spawn`` elsewhere (``preferred`` applies on Linux only)."""
    forced = os.environ.get("SEGSCOPE_START_METHOD")
    if forced:
        return forced
    if not sys.platform.startswith("linux"):
        return "spawn"
    return preferred or "fork"


def init_worker() -> None:
    """Set up a worker process: single-threaded kernels, fresh stdio objects."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    try:
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
    except OSError:  # pragma: no cover - no such descriptors
        pass


def process_pool(
    jobs: int, method: str | None = None, initializer: Callable | None = None, initargs: tuple = ()
) -> ProcessPoolExecutor:
    """A pool of ``jobs`` processes started with ``method`` (see :func:`start_method`); each
    worker runs ``initializer(*initargs)``, or :func:`init_worker` when none is given."""
    import multiprocessing as mp

    ctx = mp.get_context(method or start_method())
    return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=initializer or init_worker, initargs=initargs)


def windowed(pool, fn: Callable, items: Iterable, window: int) -> Iterator:
    """Submit ``fn(item)`` to ``pool`` so that at most ``window`` are pending; yield the results in
    input order. Items are taken from ``items`` only as the window frees up."""
    pending: deque = deque()
    it = iter(items)
    try:
        for item in it:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fn, nxt))
            yield result
    finally:
        for fut in pending:  # an error (or an abandoned generator): drop the queued work
            fut.cancel()


def _init_task(func: Callable, args: tuple, initializer: Callable | None) -> None:
    global _task
    init_worker()
    if initializer is not None:
        initializer()
    _task = (func, args)


def _call_task(task: tuple):
    func, args = _task  # type: ignore[misc]
    return func(*task, *args)


def pool_map(
    func: Callable, tasks: Sequence[tuple], args: tuple = (), jobs: int | None = None,
    advance: Callable[[int], None] | None = None, *, min_tasks: int = AUTO_POOL_MIN, method: str | None = None,
    window_per_job: int = 2, initializer: Callable | None = None,
) -> Iterator:
    """Yield ``func(*task, *args)`` for every task, in order, over ``jobs`` processes.

    Parameters
    ----------
    func, tasks, args : what to run; ``func`` and ``args`` reach each worker once, tasks one by one.
    jobs : processes (1: in this process; 0 or None: all cores, except that fewer than
        ``min_tasks`` tasks run in this process, where starting workers would cost more than it
        saves).
    advance : called with 1 after each result.
    method : the preferred start method (see :func:`start_method`).
    window_per_job : tasks in flight per worker.
    initializer : run (without arguments) in each worker after :func:`init_worker`.

    Examples
    --------
    >>> list(pool_map(divmod, [(7, 2), (9, 4)], jobs=1))
    [(3, 1), (2, 1)]
    """
    if not jobs or jobs < 1:
        jobs = default_jobs() if len(tasks) >= min_tasks else 1
    jobs = min(jobs, len(tasks)) or 1
    if jobs == 1:
        for task in tasks:
            out = func(*task, *args)
            if advance:
                advance(1)
            yield out
        return
    with process_pool(jobs, start_method(method), _init_task, (func, args, initializer)) as pool:
        for out in windowed(pool, _call_task, tasks, window_per_job * jobs):
            if advance:
                advance(1)
            yield out
