"""Cost against the number of classes: the same masks evaluated under specs of K = 19, 1,000 and
10,000 classes (default analyses), side by side in one process.

    python benchmarks/bench_classes.py                  # four 512×512 street pairs (uint16)
    python benchmarks/bench_classes.py --size 1024 --rounds 5

The masks are synthetic street scenes (``segscope.synth``, 19 classes present), stored as uint16
and scattered over the class range (class c becomes c · K // 19), so a bigger spec changes
nothing but K. Printed per K: best-of-N time per image of ``Evaluation.update`` (every
analysis), the pickled size of one image's states (what a worker sends back), ``compute()``
and the size of ``metrics.json`` — and each K's per-image time as a ratio to K = 19 (target:
K = 1,000 within 2×).
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from segscope import EvalConfig, Evaluation
from segscope.classes import ClassSpec
from segscope.engine.analyzers.base import ImageContext
from segscope.engine.evaluation import analyze_arrays
from segscope.synth import make_prediction, make_scene

IGNORE = 65535


def _pairs(n: int, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for i in range(n):
        scene = make_scene(100 + i, size, size)
        pred, _ = make_prediction(scene, 200 + i)
        out.append((np.asarray(pred, np.int64), np.asarray(scene.mask, np.int64)))
    return out


def _spread(a: np.ndarray, k: int) -> np.ndarray:
    out = np.where(a < 19, a * (k // 19), IGNORE)
    return out.astype(np.uint16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--classes", default="19,1000,10000")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    ks = [int(k) for k in args.classes.split(",")]
    raw = _pairs(args.pairs, args.size)
    data = {k: [(_spread(p, k), _spread(g, k)) for p, g in raw] for k in ks}
    evs = {k: Evaluation(ClassSpec.anonymous(k, IGNORE), EvalConfig()) for k in ks}
    for k in ks:  # warm-up: compile every kernel specialisation first
        analyze_arrays(*data[k][0], ImageContext("w", evs[k].spec, evs[k].config), evs[k].analyzers)
    best = {k: float("inf") for k in ks}
    for _ in range(args.rounds):  # round by round, so a change in machine speed hits every K alike
        for k in ks:
            ev = evs[k]
            t = time.perf_counter()
            for i, (p, g) in enumerate(data[k]):
                ctx = ImageContext(f"im{i}", ev.spec, ev.config)
                analyze_arrays(ev.spec.to_index(p), ev.spec.to_index(g), ctx, ev.analyzers)
            best[k] = min(best[k], (time.perf_counter() - t) / len(data[k]))
    print(f"{args.pairs} pairs of {args.size}×{args.size}, 19 classes present, best of {args.rounds}")
    print(f"{'K':>7} {'ms/image':>9} {'vs K=19':>8} {'state KB':>9} {'compute s':>10} {'metrics.json MB':>16}")
    base = best[ks[0]]
    for k in ks:
        ev = Evaluation(ClassSpec.anonymous(k, IGNORE), EvalConfig())
        p, g = data[k][0]
        res = analyze_arrays(ev.spec.to_index(p), ev.spec.to_index(g), ImageContext("a", ev.spec, ev.config),
                             ev.analyzers)
        state_kb = len(pickle.dumps(res.states)) / 1024
        for i, (p, g) in enumerate(data[k]):
            ev.update(p, g, image_id=f"im{i}")
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            ev.save(tmp)
            size = (Path(tmp) / "metrics.json").stat().st_size / 2**20
        dt = time.perf_counter() - t
        print(f"{k:>7} {1000 * best[k]:>9.1f} {best[k] / base:>7.2f}× {state_kb:>9.1f} {dt:>10.2f} {size:>16.2f}")


if __name__ == "__main__":
    main()
