"""Under torch.distributed (two gloo processes on CPU) every rank's compute() equals one process
seeing all the images; the torchmetrics metric syncs its counts the same way."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from segscope import synth  # noqa: E402
from segscope.io.results import clean_json  # noqa: E402
from segscope.torch import SegscopeMetric  # noqa: E402

SPEC = synth.street_spec()


def _scenes(n: int = 4):
    scenes = [synth.make_scene(10 + i, 32, 64) for i in range(n)]
    gts = np.stack([s.mask for s in scenes])
    preds = np.stack([synth.make_prediction(s, 10 + i)[0] for i, s in enumerate(scenes)])
    return preds, gts, [f"scene_{i}" for i in range(n)]


def _plain(metrics) -> str:
    return json.dumps(clean_json(metrics), sort_keys=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        preds, gts, ids = _scenes()
        mine = slice(rank, None, world)
        metric = SegscopeMetric(SPEC)
        metric.update(torch.from_numpy(preds[mine]), torch.from_numpy(gts[mine]), ids=ids[mine])
        rank0 = SegscopeMetric(SPEC, analyses=(), sync="rank0")
        rank0.update(torch.from_numpy(preds[mine]), torch.from_numpy(gts[mine]), ids=ids[mine])
        r0 = rank0.compute()
        result = {"all": _plain(metric.compute()), "rank0": None if r0 is None else _plain(r0)}
        try:
            from segscope.torch import SegscopeRegionMetric

            region = SegscopeRegionMetric(SPEC)
            region.update(torch.from_numpy(preds[mine]), torch.from_numpy(gts[mine]))
            result["region"] = {k: float(v) for k, v in region.compute().items()}
        except ImportError:
            pass
        with open(f"{out}/rank{rank}.json", "w") as fh:
            json.dump(result, fh)
    finally:
        dist.destroy_process_group()


def test_two_ranks_equal_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    preds, gts, ids = _scenes()
    one = SegscopeMetric(SPEC)
    one.update(torch.from_numpy(preds), torch.from_numpy(gts), ids=ids)
    core = SegscopeMetric(SPEC, analyses=())
    core.update(torch.from_numpy(preds), torch.from_numpy(gts), ids=ids)
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for rank, result in enumerate(results):
        assert result["all"] == _plain(one.compute()), f"rank {rank}"
    assert results[0]["rank0"] == _plain(core.compute())
    assert results[1]["rank0"] is None
    if "region" in results[0]:
        m = core.compute()
        for result in results:
            assert result["region"]["miou"] == m["miou"]
            assert result["region"]["iou_person"] == m["per_class"]["person"]["iou"]
