"""Fuzz every reader and parser longer than the test suite does.

Runs the targets of ``tests/test_fuzz_inputs.py`` (mutated PNG bytes, mutated ``.npy`` headers,
``segscope check``'s mask profile, YAML/JSON class specs, colour strings, command-line option
values) with N examples each, and prints the cases run, failures found and time taken.

    PYTHONPATH=src python benchmarks/fuzz_inputs.py 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_fuzz_inputs as fuzz  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from segscope.io import masks  # noqa: E402


def run_target(name: str, n: int) -> tuple[int, list[str]]:
    cases = 0
    failures: list[str] = []

    with tempfile.TemporaryDirectory() as d:
        @settings(max_examples=n, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def run(data):
            nonlocal cases
            cases += 1
            try:
                fuzz.TARGETS[name](data, Path(d))
            except Exception:  # noqa: BLE001 - collected and reported
                failures.append(traceback.format_exc(limit=3).strip().splitlines()[-1])
                raise

        try:
            run()
        except Exception:  # noqa: BLE001 - hypothesis re-raises the shrunk failure
            pass
    return cases, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=int, nargs="?", default=2000, help="examples per target")
    parser.add_argument("--target", action="append", choices=sorted(fuzz.TARGETS), help="only these targets")
    args = parser.parse_args()
    masks.MAX_PIXELS = None
    os.environ.pop("SEGSCOPE_MAX_PIXELS", None)
    total, bad, start = 0, 0, time.perf_counter()
    print(f"{'target':<8} {'cases':>7} {'failures':>8} {'seconds':>8}")
    for name in args.target or sorted(fuzz.TARGETS):
        t0 = time.perf_counter()
        cases, failures = run_target(name, args.examples)
        total += cases
        bad += len(set(failures))
        print(f"{name:<8} {cases:>7} {len(set(failures)):>8} {time.perf_counter() - t0:>8.1f}")
        for f in sorted(set(failures)):
            print(f"    {f}")
    print(f"{'all':<8} {total:>7} {bad:>8} {time.perf_counter() - start:>8.1f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
