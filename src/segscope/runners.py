"""Runners map the per-image work over pairs and fold the results into an Evaluation.

They know nothing about metrics: serial, a local process pool, or a Dask cluster give the same
states (merging is addition), in any order.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence

from .classes import ClassSpec
from .evaluate import EvalConfig, Evaluation, ImageResult, evaluate_pair, make_analyzers
from .io import Pair

__all__ = ["run_evaluation", "iter_results", "default_jobs"]

_worker_analyzers: list | None = None
_worker_args: tuple | None = None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(spec: ClassSpec, config: EvalConfig) -> None:
    global _worker_analyzers, _worker_args
    # Kernels run single-threaded inside each worker; parallelism comes from the processes.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    _worker_args = (spec, config)
    _worker_analyzers = make_analyzers(spec, config)


def _work(pair: Pair) -> ImageResult:
    spec, config = _worker_args  # type: ignore[misc]
    return evaluate_pair(pair, spec, config, _worker_analyzers)


def iter_results(
    pairs: Sequence[Pair], spec: ClassSpec, config: EvalConfig, jobs: int | None = None
) -> Iterator[ImageResult]:
    """Yield one :class:`ImageResult` per pair, in input order; at most a few pairs in flight
    per worker, so memory stays bounded."""
    jobs = default_jobs() if not jobs or jobs < 1 else jobs
    jobs = min(jobs, len(pairs)) or 1
    if jobs == 1:
        analyzers = make_analyzers(spec, config)
        for pair in pairs:
            yield evaluate_pair(pair, spec, config, analyzers)
        return
    import multiprocessing as mp

    ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(spec, config)) as pool:
        window = 2 * jobs
        futures = []
        it = iter(pairs)
        for pair in it:
            futures.append(pool.submit(_work, pair))
            if len(futures) >= window:
                break
        while futures:
            head = futures.pop(0)
            result = head.result()
            nxt = next(it, None)
            if nxt is not None:
                futures.append(pool.submit(_work, nxt))
            yield result


def run_evaluation(
    pairs: Sequence[Pair],
    spec: ClassSpec,
    config: EvalConfig | None = None,
    jobs: int | None = None,
    progress: Callable[[ImageResult], None] | None = None,
    scheduler: str | None = None,
) -> Evaluation:
    """Evaluate every pair and return the filled :class:`Evaluation`.

    ``scheduler``: None for local processes (``jobs`` of them), or the address of a Dask
    scheduler (``tcp://host:8786``), or ``"dask"`` for a local Dask cluster.
    """
    config = config or EvalConfig()
    ev = Evaluation(spec, config)
    if scheduler:
        from .distributed import iter_results_dask

        results = iter_results_dask(pairs, spec, config, scheduler, jobs)
    else:
        results = iter_results(pairs, spec, config, jobs)
    for result in results:
        ev.add(result)
        if progress is not None:
            progress(result)
    return ev
