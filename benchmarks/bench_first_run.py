"""The first ``segscope evaluate`` on an empty kernel cache against a warm one, as whole commands.

    python benchmarks/bench_first_run.py                  # 4 pairs of 128×256, default analyses
    python benchmarks/bench_first_run.py --pairs 8 --rounds 2 --jobs 1,2
    python benchmarks/bench_first_run.py --kernels            # what compiling costs, per kernel
    python benchmarks/bench_first_run.py --install            # a fresh venv: pip install -e, then runs

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

``--install`` measures what a newcomer meets: a copy of this checkout (its tracked and untracked
files, so an empty kernel cache) is installed with ``pip install -v -e`` into a new virtual
environment (``--pip-args`` adds arguments, e.g. ``--no-build-isolation`` where the venv has the
build requirements); it reports the install's wall time and the compile that the build backend
did (its own line: wall, CPU), then, with ``NUMBA_CACHE_DIR`` unset, the first ``segscope
evaluate`` after the install and a warm one, and, as a peer in the same run, a cold one on an empty
``NUMBA_CACHE_DIR``. Needs PyPI (or pip's cache); the venv is removed afterwards.
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


def evaluate(data: Path, out: Path, cache: Path | None, jobs: int, python: str | None = None) -> tuple[float, str]:
    """One ``segscope evaluate``: by this interpreter, or by ``python`` (another environment's, with
    ``PYTHONPATH`` dropped); on numba's cache ``cache``, or with ``NUMBA_CACHE_DIR`` unset."""
    drop = ("NUMBA_CACHE_DIR",) + (("PYTHONPATH",) if python else ())
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    cmd = [python or sys.executable, "-m", "segscope", "evaluate", str(data / "pred"), str(data / "gt"),
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


def install(data: Path, tmp: Path, jobs: int, pip_args: list[str]) -> None:
    """pip install -e a copy of this checkout into a fresh venv; the first run after it, a warm one
    and a cold one on an empty cache."""
    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, check=True,
                           capture_output=True, text=True).stdout.split("\0")
    copy = tmp / "checkout"
    for name in filter(None, files):
        if (root / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, copy / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    t = time.perf_counter()
    proc = subprocess.run([python, "-m", "pip", "install", "-v", "-e", str(copy), *pip_args], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    said = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if "segscope: " in line and "kernels" in line]
    print(f"pip install -e {' '.join(pip_args)}: {wall:.1f} s; the build backend said: {said[-1] if said else 'nothing'}")
    first, err = evaluate(data, tmp / "first", None, jobs, python)
    warm, err2 = evaluate(data, tmp / "warm", None, jobs, python)
    cold, err3 = evaluate(data, tmp / "cold", Path(tempfile.mkdtemp(dir=tmp)), jobs, python)
    print(f"--jobs {jobs}: first run after the install {first:.1f} s{_said(err)}, warm {warm:.1f} s{_said(err2)}, "
          f"first run costs {first - warm:+.1f} s; cold on an empty NUMBA_CACHE_DIR {cold:.1f} s{_said(err3)}, "
          f"{cold - warm:+.1f} s")
    shutil.rmtree(venv)
    shutil.rmtree(copy)


def _said(err: str) -> str:
    notice = next((line for line in err.splitlines() if "compiling kernels" in line), None)
    return f" (said {notice!r})" if notice else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--jobs", default="2", help="comma-separated --jobs values")
    ap.add_argument("--kernels", action="store_true", help="compile times per kernel instead")
    ap.add_argument("--install", action="store_true", help="pip install -e into a fresh venv, then first and warm runs")
    ap.add_argument("--pip-args", default="", help="more arguments of pip install, e.g. '--no-build-isolation'")
    args = ap.parse_args()
    from segscope.synth import write_dataset

    tmp = Path(tempfile.mkdtemp())
    data = tmp / "data"
    write_dataset(data, num_images=args.pairs, height=128, width=256)
    print(f"{args.pairs} pairs of 128×256, default analyses, {os.cpu_count()} CPUs")
    if args.kernels:
        profile(data, Path(tempfile.mkdtemp(dir=tmp)))
        return
    if args.install:
        for jobs in (int(j) for j in args.jobs.split(",")):
            install(data, Path(tempfile.mkdtemp(dir=tmp)), jobs, args.pip_args.split())
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
