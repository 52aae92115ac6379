"""Confusion kernel against the single-thread NumPy baseline, side by side in one run.

    python benchmarks/bench_confusion.py            # 1024×2048, 19 classes, ignore 255
    python benchmarks/bench_confusion.py --rounds 31 --height 512 --width 1024

Peers, timed in interleaved rounds (best of N each, plus the median of the per-round ratios):

- ``bincount``: ``np.bincount(K * gt[valid] + pred[valid], minlength=K * K)`` with
  ``valid = gt != 255`` — the usual NumPy confusion matrix;
- ``kernel``: :func:`segscope.metrics.confusion.confusion_counts` (extended counts, every check included);
- ``read``: summing both masks as 64-bit words (how fast the two arrays can merely be read).

Mask sets (uint8, plus the kernel on the same masks as int32/int64):

- ``street``: a synthetic street scene (:mod:`segscope.synth`) and its prediction — long runs;
- ``blobby``: random smooth regions over all 19 classes with an ignore share, the prediction
  shifted and partly relabelled — shorter runs (about 28 pixels between changes);
- ``noisy``: independent random labels per pixel (worst case: no runs at all).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

K = 19
IGNORE = 255


def street(h: int, w: int, seed: int = 0):
    from segscope import synth

    scene = synth.make_scene(seed, h, w)
    pred, _ = synth.make_prediction(scene, seed)
    return pred.astype(np.uint8), scene.mask.astype(np.uint8)


def blobby(h: int, w: int, seed: int = 0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    sh = (max(h // 8, 2), max(w // 8, 2))

    def field(sigma):
        f = ndimage.gaussian_filter(rng.standard_normal(sh), sigma)
        return ndimage.zoom(f, (h / sh[0], w / sh[1]), order=1)[:h, :w]

    fields = np.stack([field(4 + 2 * i) for i in range(6)])
    classes = rng.choice(K, size=24)
    label = fields.argmax(0) * 4 + (field(6) > 0) * 2 + (field(10) > 0)
    gt = classes[label].astype(np.uint8)
    ign = field(5)
    gt[ign > np.quantile(ign, 0.95)] = IGNORE
    gt[: h // 50] = IGNORE
    pred = np.roll(classes[label], 3, axis=1).astype(np.uint8)
    swap = field(6) > 0.15
    pred[swap] = (pred[swap] + 1) % K
    return pred, gt


def noisy(h: int, w: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, K, (h, w), dtype=np.uint8)
    gt[rng.random((h, w)) < 0.05] = IGNORE
    pred = rng.integers(0, K, (h, w), dtype=np.uint8)
    return pred, gt


def bincount(pred, gt):
    valid = gt != IGNORE
    return np.bincount(K * gt[valid].astype(np.int64) + pred[valid], minlength=K * K)


def read_both(pred, gt):
    return int(gt.reshape(-1).view(np.uint64).sum()) + int(pred.reshape(-1).view(np.uint64).sum())


def run_lengths(pred, gt) -> float:
    g, p = gt.reshape(-1), pred.reshape(-1)
    changes = np.count_nonzero((g[1:] != g[:-1]) | (p[1:] != p[:-1]))
    return g.size / (changes + 1)


def measure(peers: dict, rounds: int) -> dict:
    """Interleaved rounds: every peer once per round; returns all times per peer."""
    times = {name: [] for name in peers}
    for f in peers.values():
        f()  # warm-up (and the first call's compile or cache load)
    for _ in range(rounds):
        for name, f in peers.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--sets", default="street,blobby,noisy")
    args = ap.parse_args(argv)

    from segscope.metrics.confusion import confusion_counts

    h, w = args.height, args.width
    n = h * w
    print(f"confusion kernel, {h}×{w} masks, {K} classes, ignore {IGNORE}, best of {args.rounds} interleaved rounds")
    print(f"{'masks':8} {'run px':>7} {'peer':14} {'ms':>8} {'Gpix/s':>7} {'× bincount':>11} {'median ×':>9}")
    worst = None
    for set_name in args.sets.split(","):
        pred, gt = {"street": street, "blobby": blobby, "noisy": noisy}[set_name](h, w)
        ref = bincount(pred, gt).reshape(K, K)
        got = confusion_counts(pred, gt, K, IGNORE)
        if not np.array_equal(got[:K, :K], ref):
            print(f"MISMATCH on {set_name}", file=sys.stderr)
            return 1
        p32, g32 = pred.astype(np.int32), gt.astype(np.int32)
        p64, g64 = pred.astype(np.int64), gt.astype(np.int64)
        peers = {
            "bincount": lambda: bincount(pred, gt),
            "kernel uint8": lambda: confusion_counts(pred, gt, K, IGNORE),
            "kernel int32": lambda: confusion_counts(p32, g32, K, IGNORE),
            "kernel int64": lambda: confusion_counts(p64, g64, K, IGNORE),
            "read both": lambda: read_both(pred, gt),
        }
        times = measure(peers, args.rounds)
        base = min(times["bincount"])
        for name, ts in times.items():
            best = min(ts)
            per_round = statistics.median(b / t for b, t in zip(times["bincount"], ts))
            print(
                f"{set_name:8} {run_lengths(pred, gt):7.1f} {name:14} {best * 1e3:8.2f} {n / best / 1e9:7.2f} "
                f"{base / best:11.1f} {per_round:9.1f}"
            )
        ratio = base / min(times["kernel uint8"])
        worst = ratio if worst is None else min(worst, ratio)
    print(f"kernel (uint8) vs NumPy bincount: at least {worst:.1f}× on these sets (target ≥ 8× on realistic masks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
