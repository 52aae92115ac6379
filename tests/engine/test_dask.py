"""Dask runs on a LocalCluster of two worker processes: the same results folder as ``--jobs 1``,
byte for byte, when a worker is killed before, during or after the tasks; a bounded window of
tasks on the scheduler; flat client memory in the number of images; ``--resume`` after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import segscope
from segscope.run import evaluate_folders

distributed = pytest.importorskip("dask.distributed")

SRC = Path(segscope.__file__).resolve().parents[1]


def _env() -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from segscope.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data"), num_images=48, height=64, width=96, seed=11)


@pytest.fixture(scope="module")
def serial(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "run"
    evaluate_folders(data["pred"], data["gt"], data["classes"], out=out, jobs=1)
    return _files(out)


@pytest.fixture(scope="module")
def cluster():
    os.environ["PYTHONPATH"] = _env()["PYTHONPATH"]  # the worker processes import this checkout
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as c:
        yield c


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _worker_pids(address: str) -> list[int]:
    with distributed.Client(address) as client:
        client.wait_for_workers(2, timeout=60)
        return sorted(client.run(os.getpid).values())


def _kill_one(address: str) -> None:
    os.kill(_worker_pids(address)[0], signal.SIGKILL)


@pytest.mark.parametrize("when", ["never", "before", "during", "after"])
def test_a_local_cluster_gives_the_serial_results(data, serial, cluster, tmp_path, when):
    address = cluster.scheduler_address
    if when == "before":
        _kill_one(address)
    pids = _worker_pids(address) if when in ("during", "after") else []
    total = 48

    def progress(done, _total):
        if (when == "during" and done == 8) or (when == "after" and done == total - 1):
            os.kill(pids[0], signal.SIGKILL)

    out = tmp_path / "run"
    evaluate_folders(data["pred"], data["gt"], data["classes"], out=out, scheduler=address, progress=progress)
    assert _files(out) == serial


def test_the_scheduler_holds_a_bounded_window_of_tasks(data, cluster, tmp_path):
    from segscope.engine import dask as engine_dask

    seen = []

    def progress(done, _total):
        seen.append(len(cluster.scheduler.tasks))

    evaluate_folders(data["pred"], data["gt"], data["classes"], analyses=(), scheduler=cluster.scheduler_address,
                     progress=progress)
    assert max(seen) <= engine_dask.WINDOW_PER_WORKER * 2
    assert len(seen) == 49


def test_relative_folders_are_resolved_on_the_client(data, serial, cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(data["pred"]).parent)
    out = tmp_path / "run"
    evaluate_folders("pred", "gt", data["classes"], out=out, scheduler=cluster.scheduler_address)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["pred_dir"] == "pred"
    assert json.loads(serial["metrics.json"])["per_class"] == metrics["per_class"]


# ---------------------------------------------------------------------- memory
_PEAK = """
import resource, sys
from segscope.run import evaluate_folders
if __name__ == "__main__":
    evaluate_folders(sys.argv[1], sys.argv[2], 3, out=sys.argv[3], analyses=(), scheduler="dask", jobs=2)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _tiny_set(root: Path, n: int) -> tuple[Path, Path]:
    """``n`` pairs of 8×8 masks, hard links to two files (written in a moment)."""
    import numpy as np
    from PIL import Image

    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) % 3).save(src / "p.png")
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) % 2).save(src / "g.png")
    pred, gt = root / f"pred{n}", root / f"gt{n}"
    for folder, f in ((pred, src / "p.png"), (gt, src / "g.png")):
        folder.mkdir()
        for i in range(n):
            os.link(f, folder / f"img_{i:06d}.png")
    return pred, gt


def _peak_rss(tmp_path: Path, n: int) -> int:
    pred, gt = _tiny_set(tmp_path, n)
    script = tmp_path / "peak.py"
    script.write_text(_PEAK)
    proc = subprocess.run([sys.executable, str(script), str(pred), str(gt), str(tmp_path / f"out{n}")],
                          env=_env(), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / f"out{n}" / "per_image.csv").read_text().count("\n")
    assert rows == n + 1
    return int(proc.stdout.split()[-1])


@pytest.mark.slow
def test_client_memory_is_flat_in_the_number_of_images(tmp_path):
    small = _peak_rss(tmp_path, 2_000)
    large = _peak_rss(tmp_path, 20_000)
    assert large <= 1.15 * small, (small, large)


# ---------------------------------------------------------------------- --resume
# the command line, with short shards, waiting to be killed once its first shard is kept: the kill
# lands after that shard however fast the machine runs the images
_STOP_AFTER_FIRST_SHARD = """
import sys, time
from segscope.engine import runners, shards
from segscope.cli import main

runners.SHARD_S = 0.05
keep = shards.ShardStore.put


def put(self, shard):
    keep(self, shard)
    time.sleep(600)


shards.ShardStore.put = put
sys.argv[0] = "segscope"
main()
"""


def test_resume_after_a_kill_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    from segscope.engine import runners
    from segscope.io.results import RESUME_DIR
    from segscope.synth import write_dataset

    data = write_dataset(tmp_path / "data", num_images=200, height=128, width=256, seed=12)
    whole = tmp_path / "whole"
    evaluate_folders(data["pred"], data["gt"], data["classes"], out=whole, jobs=1)
    out = tmp_path / "run"
    script = tmp_path / "stop_after_first_shard.py"
    script.write_text(_STOP_AFTER_FIRST_SHARD)
    cmd = [sys.executable, str(script), "evaluate", str(data["pred"]), str(data["gt"]), "--classes",
           str(data["classes"]), "--out", str(out), "--quiet", "--jobs", "1", "--resume"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    shards: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None and not shards:
        shards = list(tmp_path.glob(f".run.staging-*/{RESUME_DIR}/shard-*.pkl"))
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=60)
    assert shards and not out.exists(), "the run ended before it could be killed"

    computed = []
    real = runners.iter_results

    def counting(pairs, *args, **kwargs):
        computed.append(len(pairs))
        return real(pairs, *args, **kwargs)

    monkeypatch.setattr(runners, "iter_results", counting)
    evaluate_folders(data["pred"], data["gt"], data["classes"], out=out, jobs=1, resume=True)
    assert sum(computed) < 200
    assert _files(out) == _files(whole)
    assert not list(tmp_path.glob(".run.*"))
    shutil.rmtree(tmp_path / "data")
