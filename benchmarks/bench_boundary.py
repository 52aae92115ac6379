"""Boundary metrics against the per-class recipe, side by side in one run.

    python benchmarks/bench_boundary.py                  # 1024×2048, 19 classes, ignore 255
    python benchmarks/bench_boundary.py --rounds 15 --height 512 --width 1024

1. **Boundary IoU counts** (``I_c``, ``U_c`` of every class for one image pair, band width
   ``d = 46`` = 0.02 × diagonal), timed in interleaved rounds, best of N each:

   - ``one-pass``: :func:`segscope.metrics.boundary.boundary_counts` (all classes' bands in one pass);
   - ``per-class minimum_filter``: for each class, ``M - minimum_filter(pad(M), 2d+1)`` with
     SciPy's separable min filter, then the counts -- the fastest faithful per-class recipe here;
   - ``per-class binary_erosion``: the official recipe literally (pad one ring of zeros, erode
     ``d`` times with a 3×3 square, subtract) with ``scipy.ndimage.binary_erosion``;
   - ``per-class cv2.erode``: the official code itself, when OpenCV is installed;
   - ``per-class NumPy``: ``reference_band`` of ``tests/metrics/references.py`` (plain NumPy erosion), timed once.

   Every peer's counts are checked identical to the one-pass counts.

2. **What boundary metrics add to an evaluation**: the boundary analysis of one pair (Boundary
   IoU + boundary F-score + trimap) against decoding the pair of PNG files it comes from, and
   against the core confusion analysis.

Mask sets: ``blobby`` (smooth random regions over all 19 classes, ~5 % ignore, the prediction
shifted and partly relabelled) and ``street`` (a synthetic street scene, 9 classes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from segscope.classes import ClassSpec
from segscope.engine.analyzers.base import ImageContext
from segscope.engine.analyzers.boundary import BoundaryAnalyzer
from segscope.engine.analyzers.core import CoreAnalyzer
from segscope.engine.config import EvalConfig
from segscope.io.masks import read_mask
from segscope.metrics.boundary import (
    bf_counts,
    boundary_counts,
    boundary_width,
    trimap_counts,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics"))
from references import reference_band  # noqa: E402  (the plain per-class recipe of the tests)

K = 19
IGNORE = 255


def blobby(h: int, w: int, k: int = K, seed: int = 0):
    rng = np.random.default_rng(seed)
    sh = (max(h // 16, 2), max(w // 16, 2))

    def field():
        f = ndimage.gaussian_filter(rng.standard_normal(sh), 2.0)
        return ndimage.zoom(f, (h / sh[0], w / sh[1]), order=1)[:h, :w].astype(np.float32)

    best = np.full((h, w), -np.inf, np.float32)
    gt = np.zeros((h, w), np.uint8)
    best_p = np.full((h, w), -np.inf, np.float32)
    pred = np.zeros((h, w), np.uint8)
    for c in range(k):
        f = field()
        g = f + 0.25 * field()
        upd = f > best
        gt[upd] = c
        best[upd] = f[upd]
        upd = g > best_p
        pred[upd] = c
        best_p[upd] = g[upd]
    ign = field()
    gt[ign > np.quantile(ign, 0.95)] = IGNORE
    gt[-h // 10:, w // 3: 2 * w // 3] = IGNORE  # an "ego vehicle"
    return pred, gt


def street(h: int, w: int, seed: int = 0):
    from segscope import synth

    scene = synth.make_scene(seed, h, w)
    pred, _ = synth.make_prediction(scene, seed)
    return pred.astype(np.uint8), scene.mask.astype(np.uint8)


# ---------------------------------------------------------------------- per-class peers
def _counts_from_bands(pred, gt, k, band_fn):
    valid = gt != IGNORE
    inter = np.zeros(k, np.int64)
    union = np.zeros(k, np.int64)
    for c in range(k):
        bg = band_fn(gt == c)
        bp = band_fn(pred == c)
        inter[c] = np.count_nonzero(bg & bp & valid)
        union[c] = np.count_nonzero((bg | bp) & valid)
    return inter, union


def per_class_minfilter(pred, gt, k, d):
    def band(m):
        padded = np.pad(m.view(np.uint8), 1)
        eroded = ndimage.minimum_filter(padded, size=2 * d + 1, mode="constant", cval=1)[1:-1, 1:-1]
        return m & (eroded == 0)

    return _counts_from_bands(pred, gt, k, band)


def per_class_binary_erosion(pred, gt, k, d):
    square = np.ones((3, 3), bool)

    def band(m):
        eroded = ndimage.binary_erosion(np.pad(m, 1), square, iterations=d, border_value=1)[1:-1, 1:-1]
        return m & ~eroded

    return _counts_from_bands(pred, gt, k, band)


def per_class_cv2(pred, gt, k, d):
    import cv2

    kernel = np.ones((3, 3), np.uint8)

    def band(m):
        padded = cv2.copyMakeBorder(m.view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        eroded = cv2.erode(padded, kernel, iterations=d)[1:-1, 1:-1]
        return m & (eroded == 0)

    return _counts_from_bands(pred, gt, k, band)


def per_class_numpy(pred, gt, k, d):
    return _counts_from_bands(pred, gt, k, lambda m: reference_band(m, d))


def one_pass(pred, gt, k, d):
    return boundary_counts(pred, gt, k, IGNORE, d)


# ---------------------------------------------------------------------- timing
def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def interleaved(peers: dict, args: tuple, rounds: int) -> dict[str, list[float]]:
    times = {name: [] for name in peers}
    for _ in range(rounds):
        for name, fn in peers.items():
            times[name].append(timed(fn, *args)[0])
    return times


def report(title: str, times: dict[str, list[float]], base: str) -> None:
    print(f"\n{title}")
    print(f"  {'':34s} {'best ms':>9s} {'median ms':>10s} {'x ' + base:>14s}")
    b = min(times[base])
    for name, ts in times.items():
        ratio = min(ts) / b
        print(f"  {name:34s} {1e3 * min(ts):9.2f} {1e3 * statistics.median(ts):10.2f} {ratio:14.1f}")


def bench_counts(name, pred, gt, k, rounds):
    d = boundary_width(gt.shape, 0.02)
    peers = {"one-pass (segscope)": one_pass, "per-class minimum_filter": per_class_minfilter}
    try:
        import cv2  # noqa: F401

        peers["per-class cv2.erode"] = per_class_cv2
    except ImportError:
        print("  (OpenCV not installed: the cv2.erode peer is skipped)")
    one_pass(pred, gt, k, d)  # compile
    ref = one_pass(pred, gt, k, d)
    for peer, fn in peers.items():
        got = fn(pred, gt, k, d)
        assert all((a == b).all() for a, b in zip(got, ref)), f"{peer} counts differ"
    times = interleaved(peers, (pred, gt, k, d), rounds)
    slow = {"per-class binary_erosion": per_class_binary_erosion, "per-class NumPy (reference_band)": per_class_numpy}
    for peer, fn in slow.items():  # seconds per call: once each
        t, got = timed(fn, pred, gt, k, d)
        assert all((a == b).all() for a, b in zip(got, ref)), f"{peer} counts differ"
        times[peer] = [t]
    report(f"[{name}] Boundary IoU counts, {gt.shape[0]}x{gt.shape[1]}, {k} classes, d = {d} "
           f"(identical counts checked)", times, "one-pass (segscope)")
    return times


def bench_eval_cost(name, pred, gt, k, rounds):
    spec = ClassSpec.anonymous(k, IGNORE)
    config = EvalConfig()
    boundary = BoundaryAnalyzer(spec, config)
    core = CoreAnalyzer(spec, config)
    ctx = ImageContext("x", spec, config)
    d = boundary_width(gt.shape, config.boundary_ratio)
    with tempfile.TemporaryDirectory() as tmp:
        gp, pp = Path(tmp) / "gt.png", Path(tmp) / "pred.png"
        Image.fromarray(gt).save(gp)
        Image.fromarray(pred).save(pp)

        def decode():
            return read_mask(pp), read_mask(gp)

        peers = {
            "decode the PNG pair": decode,
            "core analysis (confusion)": lambda: core.image(pred, gt, ctx),
            "boundary analysis (all)": lambda: boundary.image(pred, gt, ctx),
            "  Boundary IoU counts": lambda: boundary_counts(pred, gt, k, IGNORE, d),
            "  boundary F-score": lambda: bf_counts(pred, gt, k, IGNORE, config.bf_ratio),
            "  trimap (1,2,4,8,16)": lambda: trimap_counts(pred, gt, k, config.trimap, IGNORE),
        }
        for fn in peers.values():
            fn()
        times = {n: [] for n in peers}
        for _ in range(rounds):
            for n, fn in peers.items():
                t = time.perf_counter()
                fn()
                times[n].append(time.perf_counter() - t)
    report(f"[{name}] what the boundary analysis adds per image pair ({gt.shape[0]}x{gt.shape[1]})",
           times, "decode the PNG pair")
    ratios = [b / a for a, b in zip(times["decode the PNG pair"], times["boundary analysis (all)"])]
    print(f"  boundary analysis / decoding, median of per-round ratios: {statistics.median(ratios):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--sets", default="blobby,street")
    args = ap.parse_args()
    h, w = args.height, args.width
    for name in args.sets.split(","):
        pred, gt = blobby(h, w) if name == "blobby" else street(h, w)
        k = K if name == "blobby" else 9
        times = bench_counts(name, pred, gt, k, args.rounds)
        best = {n: min(t) for n, t in times.items()}
        fastest_peer = min(v for n, v in best.items() if n != "one-pass (segscope)")
        print(f"  one-pass is {fastest_peer / best['one-pass (segscope)']:.1f}x faster than the fastest "
              f"per-class peer")
        bench_eval_cost(name, pred, gt, k, args.rounds)


if __name__ == "__main__":
    main()
