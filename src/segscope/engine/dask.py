"""Evaluation on a Dask cluster (optional extra ``segscope[dask]``)."""

from __future__ import annotations

from typing import Iterator, Sequence

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import Pair
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
    cluster = None
    if scheduler == "dask":
        cluster = LocalCluster(n_workers=jobs or 2, threads_per_worker=1, processes=True, dashboard_address=None)
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
        for future in futures:
            result = future.result()
            future.release()
            yield result
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
