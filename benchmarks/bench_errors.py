"""Error breakdown speed: the fast kernel against decoding the frame's two PNGs and against a
straightforward per-class implementation, measured side by side, with identical counts.

    python benchmarks/bench_errors.py              # two 1024×2048 frames, 19 classes, d = 23
    python benchmarks/bench_errors.py --no-reference --repeat 9

Frames ("blobby": 1000 ellipses of 19 classes, as in the method's timing):
- ``typical``: the prediction grows 8 classes by 1-3 px, misses 60 small objects, invents 60 blobs;
  an ignore region at the bottom (about 10 % of the pixels are errors);
- ``harsh``: the prediction is shifted by (2, -1) px and 150 random blobs are pasted on it; the
  bottom rows are salted with 50 % ignore pixels (about 15 % errors, very fragmented rows).

- ``street``: a synthetic street scene and its prediction (:mod:`segscope.synth`).

Printed: best-of-N wall times, ``breakdown / decode`` (target <= 10), ``reference / fast``
(target >= 100) and whether all 7 counts of every class agree; then, per frame, the default
analyses of ``segscope evaluate`` one by one (``Analyzer.image`` of core, boundary and errors
on the decoded pair, as a worker runs them) against the Pillow decode of the two PNGs, rounds
interleaved.
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


def street(h, w, seed=0):
    from segscope import synth

    scene = synth.make_scene(seed, h, w)
    pred, _ = synth.make_prediction(scene, seed)
    return pred.astype(np.uint8), scene.mask.astype(np.uint8)


def analyses_vs_decode(pred, gt, pp, gp, rounds):
    """Per analysis: best-of-``rounds`` time of ``Analyzer.image`` and the Pillow decode of the
    pair, interleaved round by round."""
    from segscope import EvalConfig
    from segscope.classes import ClassSpec
    from segscope.engine.analyzers.base import ImageContext, make_analyzers

    spec = ClassSpec.anonymous(19, 255)
    config = EvalConfig()
    analyzers = make_analyzers(spec, config)
    p, g = spec.to_index(pred, "pred"), spec.to_index(gt, "gt")
    p.flags.writeable = g.flags.writeable = False
    times = {"decode": [], **{a.name: [] for a in analyzers}}
    for _ in range(rounds):
        t = time.perf_counter()
        for path in (pp, gp):
            with Image.open(path) as im:
                np.asarray(im)
        times["decode"].append(time.perf_counter() - t)
        states = {}
        for a in analyzers:
            ctx = ImageContext("x", spec, config, states={n: states[n] for n in a.needs})
            t = time.perf_counter()
            states[a.name] = a.image(p, g, ctx)[0]
            times[a.name].append(time.perf_counter() - t)
    return {key: min(v) for key, v in times.items()}


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
    ap.add_argument("--frames", default="typical,harsh,street")
    args = ap.parse_args(argv)
    h, w = args.height, args.width
    d = band_width((h, w))
    print(f"frame {h}×{w}, 19 classes, band d = {d} px (0.01 of the diagonal), best of {args.repeat}")
    error_counts(np.zeros((40, 40), np.uint8), np.ones((40, 40), np.uint8), 19, 255)  # compile / load cache
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.frames.split(","):
            pred, gt = {"typical": typical, "harsh": harsh, "street": street}[name](h, w)
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
            t = analyses_vs_decode(pred, gt, pp, gp, max(args.repeat, 7))
            dec = t.pop("decode")
            parts = "   ".join(f"{key} {1000 * v:.1f} ms ({v / dec:.2f}×)" for key, v in t.items())
            total = sum(t.values())
            print(f"  default analyses vs Pillow decode {1000 * dec:.1f} ms: {parts}   "
                  f"total {1000 * total:.1f} ms = {total / dec:.2f}× decode")
            if not args.no_reference and name != "street":
                t_ref, ref = best(lambda: reference_error_counts(pred, gt, 19, 255), 1)
                same = bool((ref == fast).all())
                ok &= same
                print(f"  straightforward per-class {1000 * t_ref:8.1f} ms   = {t_ref / t_fast:6.1f} × fast    (target >= 100)")
                print(f"  counts identical: {same}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
