"""Peak memory of ``segscope evaluate`` as the number of images grows.

Writes a few distinct 64×128 mask pairs (``segscope.synth``) and hard-links them under N names,
then runs ``python -m segscope evaluate --jobs 2`` (default analyses) on each N as a
subprocess, sampling ``VmHWM`` (peak resident memory) of the command's process and of each of
its worker processes from ``/proc`` while it runs. Prints, per N: the parent's and the largest
worker's peak RSS, the wall time, the size of the results folder, and (measured here with
``tracemalloc``) the Python memory of the list of pairs the command builds before it evaluates.

    python benchmarks/bench_memory.py --sizes 2000,10000,30000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = 16


def make_pairs(root: Path, n: int, templates: Path) -> tuple[Path, Path]:
    """``n`` pairs named img_000000.png… hard-linked to the template pairs."""
    pred, gt = root / "pred", root / "gt"
    pred.mkdir(parents=True)
    gt.mkdir()
    srcs = sorted((templates / "pred").glob("*.png"))
    for i in range(n):
        src = srcs[i % len(srcs)]
        name = f"img_{i:06d}.png"
        os.link(src, pred / name)
        os.link(templates / "gt" / src.name, gt / name)
    return pred, gt


def _hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def pair_list_mib(pred: Path, gt: Path) -> float:
    """Python memory held by ``pair_masks(pred, gt)``, the list the command evaluates."""
    import tracemalloc

    from segscope.io.files import pair_masks

    tracemalloc.start()
    pairs = pair_masks(pred, gt)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del pairs
    return size / 2**20


def run_once(pred: Path, gt: Path, classes: Path, out: Path, jobs: int) -> dict:
    cmd = [sys.executable, "-m", "segscope", "evaluate", str(pred), str(gt), "--classes", str(classes),
           "--out", str(out), "--jobs", str(jobs), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent, workers = 0, {}
    while proc.poll() is None:
        parent = max(parent, _hwm_kib(proc.pid) or 0)
        for c in _children(proc.pid):
            workers[c] = max(workers.get(c, 0), _hwm_kib(c) or 0)
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"segscope evaluate failed ({proc.returncode}):\n{err}")
    sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    return {"parent_kib": parent, "worker_kib": max(workers.values(), default=0), "workers": len(workers),
            "wall_s": wall, "sizes": sizes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000,30000", help="comma-separated numbers of images")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    from segscope.synth import write_dataset

    work = Path(tempfile.mkdtemp(prefix="segscope-bench-memory-"))
    try:
        paths = write_dataset(work / "templates", num_images=TEMPLATES, height=64, width=128, seed=11)
        print(f"{'images':>8} {'parent peak':>12} {'worker peak':>12} {'wall':>8} {'per_image.csv':>14} "
              f"{'npz (2)':>10} {'folder':>10} {'pair list':>10}")
        base = None
        for n in (int(s) for s in args.sizes.split(",") if s.strip()):
            root = work / f"n{n}"
            pred, gt = make_pairs(root, n, work / "templates")
            r = run_once(pred, gt, paths["classes"], root / "out", args.jobs)
            pairs_mib = pair_list_mib(pred, gt)
            base = base or r["parent_kib"]
            s = r["sizes"]
            npz = s.get("per_image_counts.npz", 0) + s.get("per_image_errors.npz", 0)
            print(f"{n:>8} {r['parent_kib'] / 1024:>9.1f} MiB {r['worker_kib'] / 1024:>9.1f} MiB "
                  f"{r['wall_s']:>7.1f}s {s.get('per_image.csv', 0) / 2**20:>10.1f} MiB {npz / 2**20:>6.1f} MiB "
                  f"{sum(s.values()) / 2**20:>6.1f} MiB {pairs_mib:>6.1f} MiB   parent {100 * (r['parent_kib'] / base - 1):+.1f}%",
                  flush=True)
            shutil.rmtree(root)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
