"""Runners: serial, process pool and Dask give identical results; bounded memory; bad files."""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from segscope.engine import runners
from segscope.classes import load_spec
from segscope.exceptions import SegscopeError
from segscope.engine.config import EvalConfig
from segscope.io.files import pair_masks
from segscope.engine.runners import iter_results, run_evaluation
from segscope.synth import write_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("runners")
    paths = write_dataset(out, num_images=6, height=64, width=96, seed=3)
    spec = load_spec(str(paths["classes"]))
    return paths, spec, pair_masks(paths["pred"], paths["gt"])


def _same(a, b) -> None:
    """Bit-for-bit equal evaluations: metrics, per-image rows, and every state array/list."""
    ma, mb = a.compute(), b.compute()
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)
    assert a.per_image_rows() == b.per_image_rows()
    assert a.states.keys() == b.states.keys()

    def eq(x, y, where):
        if isinstance(x, dict):
            assert x.keys() == y.keys(), where
            for k in x:
                eq(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, (list, tuple)):
            assert type(x) is type(y) and len(x) == len(y), where
            for i, (u, v) in enumerate(zip(x, y)):
                eq(u, v, f"{where}[{i}]")
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), where
        else:
            assert x == y or (x != x and y != y), where

    eq(a.states, b.states, "states")


def test_serial_and_process_pool_identical(dataset, tmp_path):
    _paths, spec, pairs = dataset
    config = EvalConfig()  # every analysis available
    serial = run_evaluation(pairs, spec, config, jobs=1)
    pooled = run_evaluation(pairs, spec, config, jobs=2)
    assert serial.compute()["num_images"] == 6
    assert [r["image"] for r in pooled.rows] == [p.image_id for p in pairs]  # input order
    _same(serial, pooled)
    # and the files written from either are the same
    serial.save(tmp_path / "a")
    pooled.save(tmp_path / "b")
    for name in ("metrics.json", "per_image.csv", "confusion_matrix.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_pool_without_fork_identical(dataset, monkeypatch):
    # The start method used where fork is not available (workers load everything themselves).
    _paths, spec, pairs = dataset
    config = EvalConfig(analyses=())
    monkeypatch.setenv("SEGSCOPE_START_METHOD", "forkserver")
    pooled = run_evaluation(pairs[:4], spec, config, jobs=2)
    monkeypatch.delenv("SEGSCOPE_START_METHOD")
    _same(run_evaluation(pairs[:4], spec, config, jobs=1), pooled)


class _InstantPool:
    """A stand-in executor: runs each task at submit time and records how many submitted
    tasks have not been collected (``result()``) yet."""

    def __init__(self):
        self.pending = 0
        self.most_pending = 0

    def submit(self, fn, pair):
        pool = self
        pool.pending += 1
        pool.most_pending = max(pool.most_pending, pool.pending)

        class _Fut(Future):
            def result(self, timeout=None):
                pool.pending -= 1
                return super().result(timeout)

        fut = _Fut()
        fut.set_result(pair.image_id)
        return fut


def test_window_bounds_pairs_in_flight(dataset):
    _paths, _spec, pairs = dataset
    many = [pairs[i % len(pairs)] for i in range(50)]
    pool = _InstantPool()
    out = list(runners._windowed(pool, many, window=4))
    assert out == [p.image_id for p in many]  # all of them, in input order
    assert pool.most_pending == 4
    assert pool.pending == 0


class _CountingPairs(list):
    """A list that counts how many items an iterator has taken from it."""

    taken = 0

    def __iter__(self):
        for item in super().__iter__():
            type(self).taken += 1
            yield item


def test_real_pool_reads_ahead_only_a_window(dataset):
    _paths, spec, pairs = dataset
    _CountingPairs.taken = 0
    lazy = _CountingPairs(list(pairs) * 3)  # 18 pairs
    gen = iter_results(lazy, spec, EvalConfig(analyses=()), jobs=2)
    first = next(gen)
    assert first.image_id == pairs[0].image_id
    # window = 2 per worker: 4 submitted, one more after the first result came back
    assert _CountingPairs.taken <= 2 * runners.WINDOW_PER_JOB + 1
    gen.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_bad_file_in_the_middle_names_the_file(dataset, tmp_path, jobs):
    paths, spec, _pairs = dataset
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    for f in sorted(Path(paths["gt"]).iterdir()):
        (gt_dir / f.name).write_bytes(f.read_bytes())
        (pred_dir / f.name).write_bytes((Path(paths["pred"]) / f.name).read_bytes())
    bad = sorted(pred_dir.iterdir())[3]
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    pairs = pair_masks(pred_dir, gt_dir)
    with pytest.raises(SegscopeError) as info:
        run_evaluation(pairs, spec, EvalConfig(analyses=()), jobs=jobs)
    assert info.value.path == str(bad)
    assert bad.name in str(info.value)


def test_dask_local_cluster_identical(dataset):
    distributed = pytest.importorskip("dask.distributed")
    from segscope.engine.dask import iter_results_dask

    _paths, spec, pairs = dataset
    config = EvalConfig()
    serial = run_evaluation(pairs, spec, config, jobs=1)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        from segscope.engine.evaluation import Evaluation

        ev = Evaluation(spec, config)
        for result in iter_results_dask(pairs, spec, config, cluster.scheduler_address):
            ev.add(result)
    _same(serial, ev)
    assert [r["image"] for r in ev.rows] == [p.image_id for p in pairs]
