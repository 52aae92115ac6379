"""Evaluation on a Dask cluster (optional extra ``segscope[dask]``): shards of pairs through a
bounded window.

- A task is a *shard*: consecutive pairs sized to about a second of work from the times of the
  shards already back (:class:`~segscope.engine.shards.ShardSizer`). It returns the summed states
  of its pairs and their per-image rows and records, so the cluster moves one result per shard.
- At most ``2 × workers`` shards are submitted and not yet back, and ``4 × workers`` not yet
  handed over (``as_completed`` with a window), so the scheduler holds O(window) tasks and the
  client O(window) results, however many pairs a run has; shards come back in any order and are
  handed over in input order, and a shard back early does not stall a worker while an earlier
  one finishes. Results are fetched from the workers in the background as they finish, not when
  the client reaches them.
- Everything a task needs travels inside it by value (its pairs, with local folders made absolute
  on the client; the class spec; the config; the storage options and pixel limit): nothing is
  scattered, so losing any worker at any moment costs only the recomputation of its shards.
- With a :class:`~segscope.engine.shards.ShardStore`, every shard that comes back is kept in the
  staging folder and the shards already kept are read instead of computed (``--resume``).

A run speaks in one line, as the local pool does: distributed's loggers are silenced for its
duration (here and in the workers of a local cluster, which also ignore Ctrl-C: the client
handles it and closes the cluster), a per-image error reaches the caller as its
:class:`SegscopeError`, and a shard whose workers keep dying as one too. The dashboard's address,
where the scheduler serves one, is printed on stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from typing import Iterator, Sequence

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import PairTable, printable, set_storage_options, storage_options
from ..io.masks import max_pixels, set_max_pixels
from .analyzers.base import make_analyzers
from .config import EvalConfig
from .evaluation import ImageResult
from .shards import ShardResult, ShardSizer, ShardStore, evaluate_shard, missing_ranges, shard_images

__all__ = ["iter_results_dask", "WINDOW_PER_WORKER", "HELD_PER_WORKER"]

#: shards submitted and not yet back, per worker thread
WINDOW_PER_WORKER = 2
#: shards submitted and not yet handed over (back early, waiting for an earlier one), per worker thread
HELD_PER_WORKER = 4

_cached: tuple | None = None  # (spec, config, analyzers) of the last task in this worker


def _shard_task(pairs: PairTable, start: int, spec: ClassSpec, config: EvalConfig, options: dict,
                limit: int) -> ShardResult:
    """One shard on a worker. The analyzers of the last (spec, config) are kept; a worker's first
    shard of them loads their kernels first (:func:`~segscope.engine.runners.warm_up`), outside
    the shard's measured seconds, so shard sizes follow the per-image time, not the start-up, and
    has freed mask buffers kept for the next image as the local pool's workers do."""
    global _cached
    if storage_options() != options:
        set_storage_options(options)
    if max_pixels() != limit:
        set_max_pixels(limit)
    if _cached is None or _cached[0] != spec or _cached[1] != config:
        from .runners import _keep_freed_memory, warm_up

        _keep_freed_memory()  # over the nanny's MALLOC_TRIM_THRESHOLD_, which trims after every mask
        analyzers = make_analyzers(spec, config)
        warm_up(spec, config, analyzers)
        _cached = (spec, config, analyzers)
    return evaluate_shard(pairs, start, spec, config, _cached[2])


def _portable(config: EvalConfig) -> EvalConfig:
    """The config with its local folders made absolute (workers may run elsewhere)."""
    from ..io.files import is_url

    changes = {}
    for name in ("instances_dir", "gt2_dir", "probs_dir", "images_dir"):
        value = getattr(config, name)
        if value is not None and not is_url(value):
            changes[name] = os.path.abspath(value)
    return dataclasses.replace(config, **changes) if changes else config


def iter_results_dask(
    pairs: Sequence, spec: ClassSpec, config: EvalConfig, scheduler: str, jobs: int | None = None,
    store: ShardStore | None = None,
) -> Iterator[ImageResult]:
    """Evaluate ``pairs`` on a Dask cluster in shards; yield one :class:`ImageResult` per pair in
    input order (the first of each shard carries the shard's summed states).

    ``scheduler`` is a scheduler address, or ``"dask"`` to start a local cluster of ``jobs``
    single-threaded worker processes. ``store``: keep each finished shard there and take the
    shards it holds instead of computing them.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SegscopeError("the Dask scheduler needs the extra: pip install 'segscope[dask]'") from None
    table = pairs.resolved() if isinstance(pairs, PairTable) else pairs
    with _quiet():
        cluster = None
        if scheduler == "dask":
            with _workers_quiet():
                cluster = LocalCluster(n_workers=jobs or 2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler)
            except OSError as exc:
                raise SegscopeError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
            _show_dashboard(client)
        try:
            yield from _shards(client, table, spec, _portable(config), store)
        finally:
            with contextlib.suppress(Exception):
                client.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


def _shards(client, table, spec: ClassSpec, config: EvalConfig, store: ShardStore | None) -> Iterator[ImageResult]:
    """Submit shards through the window, hand them over in input order."""
    from distributed import as_completed

    total = len(table)
    kept = dict(store.done()) if store is not None else {}  # start -> stop
    todo = missing_ranges(total, list(kept.items()))
    workers = max(1, sum(client.nthreads().values()))
    in_flight, held = WINDOW_PER_WORKER * workers, HELD_PER_WORKER * workers
    sizer = ShardSizer(workers)
    options, limit = storage_options(), max_pixels()
    ready: dict[int, ShardResult] = {}
    running: dict = {}  # future -> (start, stop)
    queue = as_completed(with_results=True, raise_errors=False)  # results fetched in the background
    deliver = 0

    def submit_more() -> None:
        while todo and len(running) < in_flight and len(running) + len(ready) < held:
            start, stop = todo[0]
            size = sizer.next(sum(b - a for a, b in todo))
            end = min(stop, start + size)
            todo[0] = (end, stop)
            if end == stop:
                todo.pop(0)
            future = client.submit(_shard_task, table[start:end], start, spec, config, options, limit, pure=False)
            running[future] = (start, end)
            queue.add(future)

    try:
        submit_more()
        while deliver < total:
            if deliver in kept:
                shard = store.get(deliver, kept.pop(deliver))  # type: ignore[union-attr]
            elif deliver in ready:
                shard = ready.pop(deliver)
            else:
                future, result = next(queue)
                start, stop = running.pop(future)
                ready[start] = _result(future, result, table, start, stop)
                sizer.observe(stop - start, ready[start].seconds)
                if store is not None:
                    store.put(ready[start])
                submit_more()
                continue
            deliver = shard.stop
            yield from shard_images(shard)
            submit_more()
    finally:
        for future in running:
            future.cancel()


def _result(future, result, table, start: int, stop: int) -> ShardResult:
    """The shard's result, released on the cluster; a shard whose workers died becomes one line."""
    from distributed import KilledWorker

    if future.status != "finished":  # an error or a cancellation: raise it
        try:
            future.result()
        except KilledWorker:
            first, last = printable(table[start].image_id), printable(table[stop - 1].image_id)
            raise SegscopeError(f"Dask workers died while evaluating {first} .. {last}; the run was stopped") from None
    future.release()
    return result


def _show_dashboard(client) -> None:
    """Print the dashboard's address where the scheduler serves one (it needs bokeh there)."""
    with contextlib.suppress(Exception):
        if "dashboard" in (client.scheduler_info().get("services") or {}) and client.run_on_scheduler(_has_bokeh):
            print(f"segscope: Dask dashboard at {client.dashboard_link}", file=sys.stderr)


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """distributed's loggers in this process at CRITICAL for the duration."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "distributed" or name.startswith("distributed.")]
    loggers.append(logging.getLogger("distributed"))
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _workers_quiet() -> Iterator[None]:
    """The worker processes started meanwhile log at CRITICAL only (set through the environment
    they inherit), run their kernels single-threaded, and ignore Ctrl-C (an ignored SIGINT is
    inherited; Python keeps it ignored)."""
    saved = {k: os.environ.get(k) for k in ("DASK_LOGGING__DISTRIBUTED", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
    os.environ["DASK_LOGGING__DISTRIBUTED"] = "critical"
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
