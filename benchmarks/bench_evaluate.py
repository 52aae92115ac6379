"""``segscope evaluate`` against merely decoding the same PNG files, side by side in one run.

    python benchmarks/bench_evaluate.py                 # 24 pairs of 1024×2048, 2 processes
    python benchmarks/bench_evaluate.py --pairs 32 --rounds 5 --full
    python benchmarks/bench_evaluate.py --write-only DIR   # just write the data set
    python benchmarks/bench_evaluate.py --decode-only DIR/pred DIR/gt --jobs 2   # the decoding peer alone

Each round runs, as whole commands (Python start-up included, as a user sees it):

- ``decode``: this script with ``--decode-only``: a pool of ``--jobs`` processes that reads and
  decodes every PNG of both folders with Pillow into NumPy arrays, and nothing else;
- ``evaluate``: ``segscope evaluate pred gt --num-classes 19 --ignore-index 255 --jobs N --skip boundary
  --skip errors -q``;
- with ``--full``: ``segscope evaluate`` with its default analyses as well (for information).

The commands alternate, round after round; the ratios are the best of each and the median of the
per-round ratios. The masks are synthetic street scenes (:mod:`segscope.synth`), 19-class train
ids with ignore 255, written as 8-bit PNGs like Cityscapes' own files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def write_pairs(out: Path, pairs: int, h: int, w: int, scenes: int = 4) -> tuple[Path, Path]:
    """Write ``pairs`` prediction/GT PNG pairs (a few distinct scenes, each shifted per pair)."""
    from segscope import synth
    from segscope.io.masks import write_mask

    pred_dir, gt_dir = out / "pred", out / "gt"
    pred_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    base = []
    for s in range(min(scenes, pairs)):
        scene = synth.make_scene(s, h, w)
        pred, _ = synth.make_prediction(scene, s)
        base.append((pred.astype(np.uint8), scene.mask.astype(np.uint8)))
    for i in range(pairs):
        pred, gt = base[i % len(base)]
        shift = 37 * (i // len(base))
        write_mask(pred_dir / f"frame_{i:04d}.png", np.roll(pred, shift, axis=1))
        write_mask(gt_dir / f"frame_{i:04d}.png", np.roll(gt, shift, axis=1))
    return pred_dir, gt_dir


_held: list = []


def _decode(path: str) -> int:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im)
    # Hold the last two arrays, as a worker holding a pair would: freeing each one at once makes
    # the allocator hand its pages back and fault them in again for the next file (system time
    # that is not decoding).
    _held.append(arr)
    del _held[:-2]
    return int(arr.shape[0])


def decode_only(folders: list[Path], jobs: int) -> int:
    """Decode every PNG under ``folders`` (recursively) with ``jobs`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    files = sorted(str(p) for folder in folders for p in Path(folder).rglob("*.png"))
    if jobs <= 1:
        return sum(map(_decode, files))
    with ProcessPoolExecutor(jobs) as pool:
        return sum(pool.map(_decode, files, chunksize=1))


def segscope_cmd() -> list[str]:
    exe = shutil.which("segscope", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return [exe] if exe else [sys.executable, "-c", "import sys; from segscope.cli import main; sys.exit(main())"]


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command's processes and their workers)."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--full", action="store_true", help="also time the default analyses (boundary, errors)")
    ap.add_argument("--marginal", action="store_true",
                    help="also time a quarter of the pairs and report the cost per extra pair (start-up excluded)")
    ap.add_argument("--data", type=Path, help="use (or fill) this folder instead of a temporary one")
    ap.add_argument("--write-only", type=Path, metavar="DIR")
    ap.add_argument("--decode-only", type=Path, nargs="+", metavar="DIR")
    args = ap.parse_args(argv)

    if args.decode_only:
        decode_only(args.decode_only, args.jobs)
        return 0
    if args.write_only:
        write_pairs(args.write_only, args.pairs, args.height, args.width)
        return 0

    tmp = None
    data = args.data
    if data is None:
        tmp = tempfile.TemporaryDirectory(prefix="segscope-bench-")
        data = Path(tmp.name)
    try:
        if not (data / "gt").is_dir() or len(list((data / "gt").glob("*.png"))) != args.pairs:
            t0 = time.perf_counter()
            write_pairs(data, args.pairs, args.height, args.width)
            print(f"wrote {args.pairs} pairs of {args.height}×{args.width} PNGs in {time.perf_counter() - t0:.1f} s")
        sets = {"all": data}
        if args.marginal:
            small = data / "quarter"
            m = max(2, args.pairs // 4)
            for sub in ("pred", "gt"):
                (small / sub).mkdir(parents=True, exist_ok=True)
                for f in sorted((data / sub).glob("*.png"))[:m]:
                    if not (small / sub / f.name).exists():
                        os.link(f, small / sub / f.name)
            sets["quarter"] = small
        counts = {"all": args.pairs, "quarter": max(2, args.pairs // 4)}

        def commands(folder: Path) -> dict[str, list[str]]:
            base = [*segscope_cmd(), "evaluate", str(folder / "pred"), str(folder / "gt"), "--num-classes", "19",
                    "--ignore-index", "255", "--jobs", str(args.jobs), "--out", str(data / "results"), "-q"]
            cmds = {
                "decode": [sys.executable, str(HERE), "--decode-only", str(folder / "pred"), str(folder / "gt"),
                           "--jobs", str(args.jobs)],
                "evaluate --skip boundary --skip errors": [*base, "--skip", "boundary", "--skip", "errors"],
            }
            if args.full:
                cmds["evaluate (default analyses)"] = base
            return cmds

        runs = {(s_name, c_name): cmd for s_name, folder in sets.items() for c_name, cmd in commands(folder).items()}
        times = {key: [] for key in runs}
        cpus = {key: [] for key in runs}
        for cmd in runs.values():  # warm-up: file cache, compiled-kernel cache
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(args.rounds):
            for key, cmd in runs.items():
                wall, cpu = timed(cmd)
                times[key].append(wall)
                cpus[key].append(cpu)
        core = "evaluate --skip boundary --skip errors"
        print(f"{args.height}×{args.width} PNG masks, {args.jobs} processes, best of {args.rounds} interleaved "
              f"rounds (whole commands)")
        print(f"{'pairs':>5} {'command':40} {'wall s':>7} {'× decode':>9} {'median ×':>9} {'cpu s':>7} {'cpu ×':>6}")
        for s_name in sets:
            dec, dec_cpu = times[(s_name, "decode")], cpus[(s_name, "decode")]
            for (sn, c_name), ts in times.items():
                if sn != s_name:
                    continue
                best = min(ts)
                per_round = statistics.median(t / d for t, d in zip(ts, dec))
                cpu = min(cpus[(sn, c_name)])
                print(f"{counts[sn]:5} {c_name:40} {best:7.2f} {best / min(dec):9.2f} {per_round:9.2f} "
                      f"{cpu:7.2f} {cpu / min(dec_cpu):6.2f}")
        ratio = min(times[("all", core)]) / min(times[("all", "decode")])
        print(f"evaluate (core) / decode-only, {args.pairs} pairs, whole commands: {ratio:.2f} (target ≤ 1.3)")
        if args.marginal:
            extra = counts["all"] - counts["quarter"]
            for c_name in commands(data):
                d_wall = statistics.median(times[("all", c_name)]) - statistics.median(times[("quarter", c_name)])
                d_cpu = statistics.median(cpus[("all", c_name)]) - statistics.median(cpus[("quarter", c_name)])
                if c_name == "decode":
                    dec_wall, dec_cpu_m = d_wall, d_cpu
                print(f"per extra pair: {c_name:40} wall {1e3 * d_wall / extra:6.1f} ms "
                      f"(× decode {d_wall / dec_wall:.2f}), cpu {1e3 * d_cpu / extra:6.1f} ms "
                      f"(× decode {d_cpu / dec_cpu_m:.2f})")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
