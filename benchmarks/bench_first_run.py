"""The first ``segscope evaluate`` on an empty kernel cache against a warm one, as whole commands.

    python benchmarks/bench_first_run.py                  # 4 pairs of 128×256, default analyses
    python benchmarks/bench_first_run.py --pairs 8 --rounds 2 --jobs 1,2
    python benchmarks/bench_first_run.py --kernels            # what compiling costs, per kernel

Each round writes a few small synthetic street pairs (:mod:`segscope.synth`), then for every
``--jobs`` value runs ``segscope evaluate`` (default analyses) with ``NUMBA_CACHE_DIR`` set to a
new empty folder (cold: the kernels are compiled, in parallel processes when jobs > 1) and then
again with the same folder (warm: loaded from the cache). It reports wall times, the cold-minus-
warm cost of compiling, and whether the cold run printed the compile notice (and its estimate).

``--kernels`` measures what is less sensitive to the load of a shared machine: one fresh process
evaluates the pairs on an empty cache, compiling everything itself (``--jobs 1``, no compile
processes), and reports the CPU seconds numba spends compiling each kernel file and kernel (a
kernel's own time, without the kernels it calls) and the specialisations compiled (the
signatures of every segscope kernel).
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


_PROFILE = r"""
import collections, sys, time
from numba.core import event, registry
from segscope.run import evaluate_folders

stack, own = [], collections.Counter()

class Timer(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        stack.append([f.__module__ + "." + f.__name__, time.process_time(), 0.0])

    def on_end(self, ev):
        name, t0, inner = stack.pop()
        dt = time.process_time() - t0
        own[name] += dt - inner
        if stack:
            stack[-1][2] += dt

data = sys.argv[1]
with event.install_listener("numba:compile", Timer()):
    evaluate_folders(data + "/pred", data + "/gt", classes=data + "/classes.yaml", jobs=1)
sigs = {f"{m.__name__}.{f.py_func.__name__}": len(f.signatures)
        for m in list(sys.modules.values()) if getattr(m, "__name__", "").startswith("segscope.")
        for f in vars(m).values() if isinstance(f, registry.CPUDispatcher) and f.py_func.__module__ == m.__name__}
files = collections.Counter()
for name, t in own.items():
    files[name.rsplit(".", 1)[0] if name.startswith("segscope.") else "numba's own overloads"] += t
print(f"compiling: {sum(own.values()):.1f} s of CPU, {sum(sigs.values())} specialisations "
      f"of {sum(1 for n in sigs.values() if n)} kernels")
for name, t in files.most_common():
    print(f"  {name:45s} {t:5.1f} s")
for name, t in own.most_common(12):
    if name.startswith("segscope."):
        print(f"    {name.split('.', 2)[-1]:43s} {t:5.2f} s, {sigs.get(name, 0)} signature(s)")
"""


def profile(data: Path, cache: Path) -> None:
    """Compile every kernel of the run in one fresh process and report what it cost."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), SEGSCOPE_START_METHOD="spawn")
    subprocess.run([sys.executable, "-c", _PROFILE, str(data)], env=env, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--jobs", default="2", help="comma-separated --jobs values")
    ap.add_argument("--kernels", action="store_true", help="compile times per kernel instead")
    args = ap.parse_args()
    from segscope.synth import write_dataset

    tmp = Path(tempfile.mkdtemp())
    data = tmp / "data"
    write_dataset(data, num_images=args.pairs, height=128, width=256)
    print(f"{args.pairs} pairs of 128×256, default analyses, {os.cpu_count()} CPUs")
    if args.kernels:
        profile(data, Path(tempfile.mkdtemp(dir=tmp)))
        return
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
