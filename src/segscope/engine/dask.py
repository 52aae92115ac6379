"""Evaluation on a Dask cluster (optional extra ``segscope[dask]``).

A run speaks in one line, as the local pool does: distributed's loggers are silenced for its
duration (here and in the workers of a local cluster, which also ignore Ctrl-C: the client
handles it and closes the cluster), a per-image error reaches the caller as its
:class:`SegscopeError`, and a worker that dies as one too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import Iterator, Sequence

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import Pair, printable
from .config import EvalConfig
from .evaluation import ImageResult, evaluate_pair

__all__ = ["iter_results_dask"]


def iter_results_dask(
    pairs: Sequence[Pair], spec: ClassSpec, config: EvalConfig, scheduler: str, jobs: int | None = None
) -> Iterator[ImageResult]:
    """Map :func:`~segscope.engine.evaluation.evaluate_pair` over a Dask cluster.

    ``scheduler`` is a scheduler address, or ``"dask"`` to start a local cluster of ``jobs``
    single-threaded worker processes. Results are yielded in input order (as the local runners
    do), each released on the cluster once handed over; the per-image states add up to the same
    numbers as a serial run.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SegscopeError("the Dask scheduler needs the extra: pip install 'segscope[dask]'") from None
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
        futures = []
        try:
            spec_f = client.scatter(spec, broadcast=True)
            config_f = client.scatter(config, broadcast=True)
            futures = client.map(evaluate_pair, list(pairs), spec=spec_f, config=config_f, pure=False)
            for pair, future in zip(pairs, futures):
                yield _result(future, pair)
        finally:
            for future in futures:
                future.cancel()
            with contextlib.suppress(Exception):
                client.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


def _result(future, pair: Pair) -> ImageResult:
    """The future's result, released on the cluster; a worker that died becomes one line."""
    from distributed import KilledWorker

    try:
        result = future.result()
    except KilledWorker:
        raise SegscopeError(f"a Dask worker died while evaluating {printable(pair.image_id)}; the run was stopped") from None
    future.release()
    return result


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
    they inherit) and ignore Ctrl-C (an ignored SIGINT is inherited; Python keeps it ignored)."""
    saved = os.environ.get("DASK_LOGGING__DISTRIBUTED")
    os.environ["DASK_LOGGING__DISTRIBUTED"] = "critical"
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        if saved is None:
            os.environ.pop("DASK_LOGGING__DISTRIBUTED", None)
        else:
            os.environ["DASK_LOGGING__DISTRIBUTED"] = saved
