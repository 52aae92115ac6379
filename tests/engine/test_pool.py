"""The one process pool: input order, the start method, worker set-up (the bounded window is
tested through the runners, tests/engine/test_runners.py)."""

from __future__ import annotations

import os

import pytest

from segscope.engine import pool


def _square_and_env(x, offset):
    return x * x + offset, os.environ.get("NUMBA_NUM_THREADS"), os.environ.get("MPLBACKEND")


def _set_backend():
    os.environ["MPLBACKEND"] = "Agg"


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_pool_map_keeps_input_order_in_workers(method, monkeypatch):
    monkeypatch.setenv("SEGSCOPE_START_METHOD", method)
    tasks = [(i,) for i in range(9)]
    seen = []
    out = list(pool.pool_map(_square_and_env, tasks, (1,), jobs=2, advance=seen.append, initializer=_set_backend))
    assert [o[0] for o in out] == [i * i + 1 for i in range(9)]
    assert {o[1] for o in out} == {"1"}  # single-threaded kernels in every worker
    assert {o[2] for o in out} == {"Agg"}  # the caller's initializer ran there too
    assert seen == [1] * 9


def test_small_batches_run_in_this_process():
    out = list(pool.pool_map(os.getpid, [()] * 3, jobs=0))
    assert out == [os.getpid()] * 3  # fewer than AUTO_POOL_MIN tasks: no workers
    assert pool.AUTO_POOL_MIN > 3


def test_start_method_env_overrides_the_preference(monkeypatch):
    monkeypatch.delenv("SEGSCOPE_START_METHOD", raising=False)
    assert pool.start_method() == "fork"
    assert pool.start_method("forkserver") == "forkserver"
    monkeypatch.setenv("SEGSCOPE_START_METHOD", "spawn")
    assert pool.start_method("forkserver") == "spawn"
