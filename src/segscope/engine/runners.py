"""Runners map the per-image work over pairs and fold the results into an Evaluation.

They know nothing about metrics: serial, a local process pool, or a Dask cluster give the same
states (merging is addition), in any order.

The process pool is built to keep ``segscope evaluate`` bound by PNG decoding:

- the parent loads every analyzer's compiled kernels once (from numba's on-disk cache) by running
  the analyzers on a small synthetic pair, then starts the workers with ``fork`` (on Linux), so
  the workers inherit the loaded kernels instead of each importing numba and loading them again;
  on a first run (nothing in the cache) the analyzers' kernels are compiled in parallel processes
  first, one per core (also for ``jobs=1``), and the command line is told ("compiling kernels,
  once: about N s"); :func:`compile_kernels` does that compile ahead of time, for the common
  kinds of run (an editable install runs it);
- a task is one :class:`~segscope.io.Pair` (two paths); a worker reads and decodes its own masks,
  so masks never cross process boundaries, only the small per-image states do;
- at most ``2 × jobs`` pairs are in flight, so memory stays bounded however long the list
  (the window, start method and worker set-up are those of :mod:`segscope.engine.pool`);
- with ``sink_dir``, per-image rows and records stream to files there
  (:class:`~segscope.engine.sinks.DiskSink`), so the parent's memory stays flat too.

``SEGSCOPE_START_METHOD`` (``fork``, ``forkserver`` or ``spawn``) overrides the start method.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .._lazy import kernel_modules
from .._progress import notice
from ..classes import ClassSpec, load_spec
from ..io.files import Pair, printable
from .analyzers.base import ImageContext, make_analyzers
from .config import EvalConfig
from .evaluation import Evaluation, ImageResult, analyze_arrays, evaluate_pair
from .pool import default_jobs, init_worker, process_pool, start_method, windowed
from .sinks import DiskSink

__all__ = ["run_evaluation", "iter_results", "default_jobs", "warm_up", "compiling_notice", "compile_kernels"]

_worker_analyzers: list | None = None
_worker_args: tuple | None = None

# Pairs in flight per worker process (submitted, not yet handed back to the caller).
WINDOW_PER_JOB = 2


def warm_up(spec: ClassSpec, config: EvalConfig, analyzers: list | None = None) -> bool:
    """Load the compiled kernels of every enabled analyzer into this process.

    Runs the analyzers once on a small synthetic pair (class indices of the type the masks will
    have: uint8 below 254 classes, else uint16, or wider where the ignore index needs it; large
    enough to take the kernels' main paths). Kernels come from numba's on-disk cache. On a first
    run (no kernel file of the run in the cache) on more than one core, the analyzers are first
    warmed up in parallel processes (``fork``, one per core whatever the run's ``jobs``), each
    analyzer with those it needs, which compiles their kernels into the cache. Whenever kernels
    are compiled, a notice says so first
    (:func:`segscope._progress.notice`); returns whether it did. Failures are ignored here: the
    real images report real problems.
    """
    from .. import _jit

    analyzers = analyzers if analyzers is not None else make_analyzers(spec, config)
    told: list[int] = []

    def tell(processes: int = 1) -> None:
        if not told:
            told.append(processes)
            notice(compiling_notice(processes))

    groups = _compile_groups(analyzers)
    cores = default_jobs()
    if cores > 1 and len(groups) > 1 and not any(_jit.cached(m) for m in kernel_modules()):
        processes = min(cores, len(groups))
        tell(processes)
        try:
            with process_pool(processes, "fork", _init_worker, (spec, config)) as pool:
                for future in [pool.submit(_warm_group, names) for names in groups]:
                    future.result()
        except Exception:  # noqa: BLE001 - a warm-up only: this process compiles what is left
            pass
    with _jit.on_first_compile(tell):
        _warm_up_here(spec, config, analyzers)
    return bool(told)


def compiling_notice(processes: int = 1) -> str:
    """The notice of a run whose kernels are compiled first: the kernel files named so far
    that the cache lacks, and about how long compiling them takes on ``processes`` cores."""
    from .. import _jit

    cold = [m for m in kernel_modules() if not _jit.cached(m)]
    return f"compiling kernels, once: about {max(_jit.compile_estimate(cold, processes), 1)} s"


def _compile_groups(analyzers: list) -> list[tuple[str, ...]]:
    """The analyzers in groups that compile independently: each with those it needs (transitively),
    leaving out a group within another."""
    by_name = {a.name: a for a in analyzers}

    def closure(name: str, seen: set) -> set:
        if name not in seen and name in by_name:
            seen.add(name)
            for need in by_name[name].needs:
                closure(need, seen)
        return seen

    sets = [closure(a.name, set()) for a in analyzers]
    keep = [s for i, s in enumerate(sets) if not any(s < t or (s == t and j < i) for j, t in enumerate(sets))]
    return [tuple(a.name for a in analyzers if a.name in s) for s in keep]


#: the kinds of run whose kernels :func:`compile_kernels` compiles, as (classes, type of the class
#: indices that reach the analyzers, :meth:`ClassSpec.to_index`): few classes on 8-bit masks
#: (uint8 for a spec of fewer than 254 classes, and an identity spec, ``-n``, on 8-bit PNGs) and
#: on 16-bit PNGs with an identity spec; more classes than per-image states keep densely (masks
#: recoded to the classes present), on uint8 and on uint16 (254 classes or more)
COMPILE_CASES = ((19, np.uint8), (19, np.uint16), (150, np.uint8), (300, np.uint16))


def compile_kernels(processes: int | None = None, cases: Sequence[tuple[int, type]] = COMPILE_CASES) -> list[str]:
    """Compile into numba's cache the kernels of a default run (every optional analysis) for each
    of ``cases`` (classes, class-index type), so that a later first run only loads them; what
    ``pip install -e .`` does once (``build_support/segscope_build.py``).

    The analyzers are warmed up as :func:`warm_up` does on a first run: each with those it needs
    in its own process, up to ``processes`` at once (None: one per core). The cases go one after
    the other: two processes saving one kernel's cache entries for two types at once could lose
    one. Returns the kernel files the analyzers used that the cache holds afterwards.
    """
    from .. import _jit

    groups = _compile_groups(make_analyzers(_compile_spec(COMPILE_CASES[0][0]), EvalConfig()))
    processes = max(1, min(processes or default_jobs(), len(groups)))
    used: set[str] = set()
    with process_pool(processes, start_method(), init_worker, ()) as pool:
        for num_classes, dtype in cases:
            for future in [pool.submit(_warm_case, num_classes, dtype, names) for names in groups]:
                used.update(future.result())
    return [m for m in sorted(used) if _jit.cached(m)]


def _compile_spec(num_classes: int) -> ClassSpec:
    return load_spec(num_classes=num_classes, ignore_index=255 if num_classes <= 255 else 65535)


def _warm_case(num_classes: int, dtype, names: tuple[str, ...]) -> list[str]:
    from .. import _jit

    spec, config = _compile_spec(num_classes), EvalConfig()
    _warm_up_here(spec, config, [a for a in make_analyzers(spec, config) if a.name in names], dtype, True)
    return _jit.used()


def _warm_group(names: tuple[str, ...]) -> None:
    spec, config = _worker_args  # type: ignore[misc]
    _warm_up_here(spec, config, [a for a in _worker_analyzers or () if a.name in names])


def _warm_up_here(spec: ClassSpec, config: EvalConfig, analyzers: list, dtype=None, every_path: bool = False) -> None:
    """Run ``analyzers`` once on a small synthetic pair of blocks, of class indices of ``dtype``
    (None: the type the spec maps masks to); with ``every_path``, also on a speckled pair and on
    one under the confusion kernels' table size, which take the kernels' other paths."""
    k = max(spec.num_classes, 1)
    ign = spec.index_ignore
    if dtype is None:
        dtype = np.dtype(np.uint8 if k < 254 else np.uint16)  # as ClassSpec.to_index maps masks
        if ign > np.iinfo(dtype).max:  # an identity spec keeps the masks' own type (uint16 for 65535)
            dtype = np.min_scalar_type(ign)
    # (height, width, block height, block width, classes, share of speckled pixels)
    shapes = [(192, 256, 48, 64, k, 0.0)]
    if every_path:
        shapes += [(192, 256, 48, 64, k, 0.1), (64, 96, 16, 24, 5, 0.1)]
    for h, w, bh, bw, n, speckle in shapes:
        yy, xx = np.mgrid[0:h, 0:w]
        gt = ((yy // bh) * 5 + xx // bw) % min(n, k)
        pred = ((yy // bh) * 5 + (xx + 9) // bw) % min(n, k)
        if speckle:
            rng = np.random.default_rng(0)
            pred = np.where(rng.random(pred.shape) < speckle, rng.integers(0, min(k, 5), pred.shape), pred)
        ctx = ImageContext("_warm_up", spec, config)
        try:
            gt, pred = gt.astype(dtype), pred.astype(dtype)
            if ign >= 0:
                gt[: max(h // 24, 1)] = ign
            analyze_arrays(pred, gt, ctx, analyzers)
        except Exception:  # noqa: BLE001 - a warm-up only
            pass


def _keep_freed_memory() -> None:
    """Let glibc keep freed mask buffers for the next image instead of returning the pages to the
    system and faulting them in again (several ms of system time per Cityscapes-size pair).
    Memory stays bounded: a worker holds one pair at a time."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: buffers up to 64 MiB come from the heap
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD: hand back only past 256 MiB free
    except (OSError, AttributeError):  # not glibc
        pass


def _init_worker(spec: ClassSpec, config: EvalConfig) -> None:
    global _worker_analyzers, _worker_args
    _keep_freed_memory()
    init_worker()
    _worker_args = (spec, config)
    _worker_analyzers = make_analyzers(spec, config)


def _work(pair: Pair) -> ImageResult:
    spec, config = _worker_args  # type: ignore[misc]
    return evaluate_pair(pair, spec, config, _worker_analyzers)


def iter_results(
    pairs: Sequence[Pair], spec: ClassSpec, config: EvalConfig, jobs: int | None = None
) -> Iterator[ImageResult]:
    """Yield one :class:`ImageResult` per pair, in input order.

    ``jobs``: worker processes (None or 0: all CPUs; 1: in this process). At most
    ``WINDOW_PER_JOB × jobs`` pairs are in flight, so memory stays bounded.
    """
    jobs = default_jobs() if not jobs or jobs < 1 else jobs
    jobs = min(jobs, len(pairs)) or 1
    if jobs == 1:
        from .. import _jit

        analyzers = make_analyzers(spec, config)
        told = False
        if start_method() == "fork" and not any(_jit.cached(m) for m in kernel_modules()):
            told = warm_up(spec, config, analyzers)  # a first run compiles on every core
        with _jit.on_first_compile(lambda: told or notice(compiling_notice())):
            for pair in pairs:
                yield evaluate_pair(pair, spec, config, analyzers)
        return
    method = start_method()
    if method == "fork":
        warm_up(spec, config)  # the workers inherit the loaded kernels
    with process_pool(jobs, method, _init_worker, (spec, config)) as pool:
        yield from _windowed(pool, pairs, WINDOW_PER_JOB * jobs)


def _windowed(pool, pairs: Sequence[Pair], window: int) -> Iterator[ImageResult]:
    """Submit pairs so that at most ``window`` are pending; yield results in input order."""
    return windowed(pool, _work, pairs, window, describe=_evaluating)


def _evaluating(pair: Pair) -> str:
    return f"evaluating {printable(pair.image_id)}"


def run_evaluation(
    pairs: Sequence[Pair],
    spec: ClassSpec,
    config: EvalConfig | None = None,
    jobs: int | None = None,
    progress: Callable[[ImageResult], None] | None = None,
    scheduler: str | None = None,
    sink_dir: str | Path | None = None,
    resume_dir: str | Path | None = None,
) -> Evaluation:
    """Evaluate every pair and return the filled :class:`Evaluation`.

    ``scheduler``: None for local processes (``jobs`` of them), or the address of a Dask
    scheduler (``tcp://host:8786``), or ``"dask"`` for a local Dask cluster.
    ``sink_dir``: a folder where per-image rows and records stream as they arrive
    (:class:`~segscope.engine.sinks.DiskSink`); ``ev.save(sink_dir, metrics)`` then completes
    that folder. Without it they stay in memory. A run that fails removes the record files (and
    the folder, when it made it and nothing else is there).
    ``resume_dir``: a folder where finished shards are kept (:class:`~segscope.engine.shards.ShardStore`);
    the shards it already holds for the same pairs, spec and config are read, not computed.
    """
    config = config or EvalConfig()
    made = sink_dir is not None and not Path(sink_dir).exists()
    sink = DiskSink(sink_dir) if sink_dir is not None else None
    ev = Evaluation(spec, config, sink=sink)
    results = None
    try:
        store = None
        if resume_dir is not None:
            from .shards import ShardStore

            store = ShardStore(resume_dir, pairs, spec, config)
        if scheduler:
            from .dask import iter_results_dask

            results = iter_results_dask(pairs, spec, config, scheduler, jobs, store=store)
        elif store is not None:
            results = _resumable(pairs, spec, config, jobs, store)
        else:
            results = iter_results(pairs, spec, config, jobs)
        for result in results:
            ev.add(result)
            if progress is not None:
                progress(result)
    except BaseException:
        if results is not None:  # stop the workers now, not whenever the generator is collected
            results.close()
        if sink is not None:
            sink.remove()
            if made and not any(sink.folder.iterdir()):
                sink.folder.rmdir()
        raise
    return ev


#: seconds of a local run between two shards kept for ``--resume``
SHARD_S = 1.0


def _resumable(pairs, spec: ClassSpec, config: EvalConfig, jobs, store) -> Iterator[ImageResult]:
    """:func:`iter_results` over the pairs the store lacks, each second's results kept as a shard
    (and handed over once kept); the store's shards are read in their place."""
    import time

    from .shards import missing_ranges, shard_images, shard_of

    kept = store.done()
    for start, stop in sorted(kept + missing_ranges(len(pairs), kept)):
        if (start, stop) in kept:
            yield from shard_images(store.get(start, stop))
            continue
        held, t0 = [], time.perf_counter()
        for result in iter_results(pairs[start:stop], spec, config, jobs):
            held.append(result)
            if time.perf_counter() - t0 >= SHARD_S or start + len(held) == stop:
                shard = shard_of(start, held, t0)
                store.put(shard)  # before the Evaluation folds (and may alias) its states
                yield from shard_images(shard)
                start += len(held)
                held, t0 = [], time.perf_counter()
