"""Error breakdown speed: the fast kernel against decoding the frame's two PNGs and against a
straightforward per-class implementation, measured side by side, with identical counts.

    python benchmarks/bench_errors.py              # two 1024×2048 frames, 19 classes, d = 23
    python benchmarks/bench_errors.py --no-reference --repeat 9

Frames ("blobby": 1000 ellipses of 19 classes, as in the method's timing):
- ``typical``: the prediction grows 8 classes by 1-3 px, misses 60 small objects, invents 60 blobs;
  an ignore region at the bottom (about 10 % of the pixels are errors);
- ``harsh``: the prediction is shifted by (2, -1) px and 150 random blobs are pasted on it; the
  bottom rows are salted with 50 % ignore pixels (about 15 % errors, very fragmented rows).

Printed: best-of-N wall times, ``breakdown / decode`` (target <= 10), ``reference / fast``
(target >= 100) and whether all 7 counts of every class agree.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from segscope.io.masks import read_mask
from segscope.metrics.breakdown import (
    analyze_image,
    band_width,
    error_counts,
    to_codes,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics"))
from references import reference_error_counts  # noqa: E402  (the plain per-class recipe of the tests)


def blobby(rng, h, w, k=19, n=1000):
    gt = np.zeros((h, w), np.uint8)
    yy, xx = np.ogrid[:h, :w]
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(5, 60, 2) * (h / 1024)
        gt[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.integers(0, k)
    return gt


def typical(h, w, seed=0):
    rng = np.random.default_rng(seed)
    gt = blobby(rng, h, w)
    pred = gt.copy()
    for c in rng.choice(19, 8, replace=False):
        pred[ndi.binary_dilation(gt == c, iterations=int(rng.integers(1, 4)))] = c
    lab, _ = ndi.label(gt > 0)
    sizes = np.bincount(lab.ravel())
    small = np.nonzero((sizes > 0) & (sizes < 800))[0]
    for lbl in rng.choice(small, min(60, len(small)), replace=False):
        pred[lab == lbl] = 0
    yy, xx = np.ogrid[:h, :w]
    for _ in range(60):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(3, 25, 2)
        pred[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.integers(0, 19)
    gt[((yy - h * 1.02) / (h * 0.1)) ** 2 + ((xx - w / 2) / (w * 0.45)) ** 2 <= 1] = 255
    return pred, gt


def harsh(h, w, seed=0):
    rng = np.random.default_rng(seed)
    gt = blobby(rng, h, w)
    pred = np.roll(gt, (2, -1), (0, 1)).copy()
    yy, xx = np.ogrid[:h, :w]
    for _ in range(150):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(3, 40, 2)
        pred[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.integers(0, 19)
    cut = int(h * 0.88)
    gt[cut:, :] = np.where(rng.random((h - cut, w)) < 0.5, 255, gt[cut:, :])
    return pred, gt


def best(f, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-reference", action="store_true", help="skip the (slow) plain implementation")
    ap.add_argument("--frames", default="typical,harsh")
    args = ap.parse_args(argv)
    h, w = args.height, args.width
    d = band_width((h, w))
    print(f"frame {h}×{w}, 19 classes, band d = {d} px (0.01 of the diagonal), best of {args.repeat}")
    error_counts(np.zeros((40, 40), np.uint8), np.ones((40, 40), np.uint8), 19, 255)  # compile / load cache
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.frames.split(","):
            pred, gt = {"typical": typical, "harsh": harsh}[name](h, w)
            pp, gp = Path(tmp) / f"{name}_pred.png", Path(tmp) / f"{name}_gt.png"
            Image.fromarray(pred).save(pp)
            Image.fromarray(gt).save(gp)
            t_dec, _ = best(lambda: (read_mask(gp), read_mask(pp)), args.repeat)
            t_fast, fast = best(lambda: error_counts(pred, gt, 19, 255), args.repeat)
            p, g = to_codes(pred, gt, 19, 255, False)
            t_full, _ = best(lambda: analyze_image(p, g, 19, d), args.repeat)
            err = ((pred != gt) & (gt != 255)).mean()
            print(f"\n[{name}] {100 * err:.1f}% error pixels")
            print(f"  decode two PNGs          {1000 * t_dec:9.1f} ms")
            print(f"  error breakdown (fast)   {1000 * t_fast:9.1f} ms   = {t_fast / t_dec:6.1f} × decode  (target <= 10)")
            print(f"  kernel incl. maps/confusion {1000 * t_full:6.1f} ms")
            if not args.no_reference:
                t_ref, ref = best(lambda: reference_error_counts(pred, gt, 19, 255), 1)
                same = bool((ref == fast).all())
                ok &= same
                print(f"  straightforward per-class {1000 * t_ref:8.1f} ms   = {t_ref / t_fast:6.1f} × fast    (target >= 100)")
                print(f"  counts identical: {same}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
