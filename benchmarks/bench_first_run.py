"""The first ``segscope evaluate`` on an empty kernel cache against a warm one, as whole commands.

    python benchmarks/bench_first_run.py                  # 4 pairs of 128×256, default analyses
    python benchmarks/bench_first_run.py --pairs 8 --rounds 2 --jobs 1,2

Each round writes a few small synthetic street pairs (:mod:`segscope.synth`), then for every
``--jobs`` value runs ``segscope evaluate`` (default analyses) with ``NUMBA_CACHE_DIR`` set to a
new empty folder (cold: the kernels are compiled, in parallel processes when jobs > 1) and then
again with the same folder (warm: loaded from the cache). It reports wall times, the cold-minus-
warm cost of compiling, and whether the cold run printed the compile notice (and its estimate).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def evaluate(data: Path, out: Path, cache: Path, jobs: int) -> tuple[float, str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "segscope", "evaluate", str(data / "pred"), str(data / "gt"),
           "--classes", str(data / "classes.yaml"), "--jobs", str(jobs), "-q", "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return wall, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--jobs", default="2", help="comma-separated --jobs values")
    args = ap.parse_args()
    from segscope.synth import write_dataset

    tmp = Path(tempfile.mkdtemp())
    data = tmp / "data"
    write_dataset(data, num_images=args.pairs, height=128, width=256)
    print(f"{args.pairs} pairs of 128×256, default analyses, {os.cpu_count()} CPUs")
    for r in range(args.rounds):
        for jobs in (int(j) for j in args.jobs.split(",")):
            cache = Path(tempfile.mkdtemp(dir=tmp))
            cold, err = evaluate(data, tmp / "cold", cache, jobs)
            warm, err2 = evaluate(data, tmp / "warm", cache, jobs)
            note = next((line for line in err.splitlines() if "compiling kernels" in line), "no notice")
            print(f"round {r + 1}, --jobs {jobs}: cold {cold:.1f} s, warm {warm:.1f} s, "
                  f"first run costs {cold - warm:+.1f} s; cold said: {note!r}"
                  + ("; warm said it too" if "compiling kernels" in err2 else ""))


if __name__ == "__main__":
    main()
