"""Dask against the process pool on one machine, on the same data, in one run.

    python benchmarks/bench_dask.py                       # 1,000 images 128×256, every analysis
    python benchmarks/bench_dask.py --images 4000 --core  # core metrics only
    python benchmarks/bench_dask.py --simulate 200000     # the scaling simulation of docs/scaling.md

1. **Throughput** (images/s, best of ``--rounds``), each writing a results folder:

   - ``--jobs 2``: the local process pool (the reference);
   - ``LocalCluster``: a 2-worker ``distributed.LocalCluster`` started beforehand (its start-up,
     timed apart, is not in the figure);
   - ``scheduler + 2 workers``: ``dask scheduler`` and two ``dask worker --nthreads 1`` started as
     separate processes on 127.0.0.1.

   Both sides start warm: one untimed serial run fills numba's on-disk cache (each pool run still
   loads the kernels in its parent before forking, as every ``--jobs`` run does), and one untimed
   run on each cluster has its long-lived workers import segscope and load the kernels (timed
   apart, as the start-up is). Each Dask run's ``metrics.json`` and ``per_image.csv`` are checked identical to the pool's; the
   ratios are Dask time / pool time (target: at most 1.15).

2. **Simulation** (``--simulate N``): a generated table of N pairs of 8×8 masks (every pair reads
   the same two files, so nothing is listed), core metrics, on a 2-worker LocalCluster whose
   workers are warmed first: throughput, the client's CPU per image, the most tasks the scheduler
   held, the scheduler's RSS, the client's RSS before and at its peak, and the time to write the
   results folder.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))
os.environ["PYTHONPATH"] = f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _separate_cluster(tmp: Path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, DASK_LOGGING__DISTRIBUTED="critical", NUMBA_NUM_THREADS="1")
    procs = [subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(2)
    for _ in range(2):
        procs.append(subprocess.Popen(["dask", "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--no-dashboard", "--local-directory", str(tmp)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from dask.distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(2, timeout=120)
    return address, procs


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def throughput(args) -> None:
    from dask.distributed import LocalCluster

    from segscope.run import evaluate_folders
    from segscope.synth import write_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    data = write_dataset(tmp / "data", num_images=args.images, height=args.height, width=args.width, seed=3)
    extra = {"analyses": ()} if args.core else {}

    def run(name: str, **kw):
        out = tmp / name
        return _timed(lambda: evaluate_folders(data["pred"], data["gt"], data["classes"], out=out, **extra, **kw)), out

    run("warm", jobs=1)  # compile or load the kernels once
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50)
    local_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    address, procs = _separate_cluster(tmp)
    separate_start = time.perf_counter() - t0
    peers = {"--jobs 2": {"jobs": 2}, "LocalCluster": {"scheduler": cluster.scheduler_address},
             "scheduler + 2 workers": {"scheduler": address}}
    times: dict[str, list[float]] = {name: [] for name in peers}
    outs: dict[str, Path] = {}
    try:
        warm = {name: run(name.replace(" ", "_"), **kw)[0] for name, kw in peers.items() if "scheduler" in kw}
        for _ in range(args.rounds):  # interleaved rounds
            for name, kw in peers.items():
                t, outs[name] = run(name.replace(" ", "_"), **kw)
                times[name].append(t)
    finally:
        cluster.close()
        for p in procs:
            p.terminate()
    ref = outs["--jobs 2"]
    for name, out in outs.items():
        for f in ("metrics.json", "per_image.csv"):
            same = (out / f).read_bytes() == (ref / f).read_bytes()
            assert same, f"{name}: {f} differs from the pool's"
    best = {name: min(ts) for name, ts in times.items()}
    median = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"{args.images} images {args.height}×{args.width}, {'core only' if args.core else 'every analysis'}, "
          f"best of {args.rounds} interleaved rounds; outputs identical")
    print(f"start-up: LocalCluster {local_start:.1f} s, scheduler + 2 workers {separate_start:.1f} s; first run on "
          f"fresh workers (imports, kernels): " + ", ".join(f"{n} {t:.2f} s" for n, t in warm.items()) + " (not counted)")
    print(f"{'runner':<24}{'best s':>9}{'images/s':>10}{'× pool':>8}{'median s':>10}{'× pool':>8}")
    for name in peers:
        print(f"{name:<24}{best[name]:>9.2f}{args.images / best[name]:>10.0f}{best[name] / best['--jobs 2']:>8.2f}"
              f"{median[name]:>10.2f}{median[name] / median['--jobs 2']:>8.2f}")


def simulate(args) -> None:
    import numpy as np
    import psutil
    from dask.distributed import Client, LocalCluster
    from PIL import Image

    from segscope.classes import ClassSpec
    from segscope.engine.config import EvalConfig
    from segscope.engine.runners import run_evaluation
    from segscope.io.files import PairTable

    n = args.simulate
    tmp = Path(tempfile.mkdtemp(prefix="bench-dask-sim-"))
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) % 3).save(tmp / "p.png")
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) % 2).save(tmp / "g.png")
    t = time.perf_counter()
    pairs = PairTable(tmp, tmp, [f"img_{i:07d}" for i in range(n)], ["p.png"] * n, ["g.png"] * n)
    t_table = time.perf_counter() - t
    spec, config = ClassSpec.anonymous(3), EvalConfig(analyses=())
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50)
    run_evaluation(pairs[:64], spec, config, scheduler=cluster.scheduler_address)  # workers import and warm up
    me = psutil.Process()
    rss0 = me.memory_info().rss
    peak_tasks, peak_rss, done = 0, rss0, 0

    def progress(_result) -> None:
        nonlocal peak_tasks, peak_rss, done
        done += 1
        if done % 256 == 0:
            peak_tasks = max(peak_tasks, len(cluster.scheduler.tasks))
            peak_rss = max(peak_rss, me.memory_info().rss)

    c0, t = os.times(), time.perf_counter()
    ev = run_evaluation(pairs, spec, config, scheduler=cluster.scheduler_address, progress=progress,
                        sink_dir=tmp / "out")
    t_eval, c1 = time.perf_counter() - t, os.times()
    t = time.perf_counter()
    ev.save(tmp / "out", ev.compute())
    t_save = time.perf_counter() - t
    peak_rss = max(peak_rss, me.memory_info().rss)
    with Client(cluster.scheduler_address) as c:
        sched_rss = c.run_on_scheduler(lambda: psutil.Process().memory_info().rss)
    cluster.close()
    client_cpu = (c1.user - c0.user) + (c1.system - c0.system)
    print(f"{n} generated pairs of 8×8 masks (two files, no listing), core metrics, 2-worker LocalCluster")
    print(f"pair table: {t_table:.1f} s, {len(pickle.dumps(pairs)) / n:.0f} bytes per pair")
    print(f"evaluation {t_eval:.1f} s = {n / t_eval:.0f} images/s; writing the results folder {t_save:.1f} s; "
          f"whole {t_eval + t_save:.1f} s")
    print(f"client process CPU during the evaluation (with the scheduler's thread): {client_cpu:.1f} s = "
          f"{client_cpu / n * 1e6:.0f} µs per image")
    print(f"most tasks on the scheduler: {peak_tasks}; scheduler RSS at the end {sched_rss / 2**20:.0f} MiB "
          "(a LocalCluster's scheduler lives in the client's process)")
    print(f"client RSS {rss0 / 2**20:.0f} MiB before the run, peak {peak_rss / 2**20:.0f} MiB; "
          f"{len(ev)} images evaluated")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--core", action="store_true", help="core metrics only")
    ap.add_argument("--simulate", type=int, default=0, help="run the scaling simulation on N tiny pairs instead")
    args = ap.parse_args()
    if args.simulate:
        simulate(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
