"""Peak memory of one huge pair: bytes per pixel beyond the two decoded masks.

    python benchmarks/bench_huge.py                  # 16384×16384, default analyses and each alone
    python benchmarks/bench_huge.py --size 8192 --sets default

Each measurement runs in a child process: it loads the kernels on a small pair, builds the huge
pair by tiling a 1024×2048 synthetic street scene (:mod:`segscope.synth`, 19 classes, ignore 255,
uint8 masks: a decoded 8-bit PNG) with a different shift per tile, reads its peak resident
memory (``ru_maxrss``), runs ``Evaluation.update`` on the pair, and reads the peak again. The
difference divided by the pixels is what the analyses cost beyond the two decoded masks.
Printed per analysis set: the peak beyond the masks, bytes per pixel and the wall time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SETS = {
    "core": (),
    "boundary": ("boundary",),
    "errors": ("errors",),
    "default": ("boundary", "errors"),
}


def huge_pair(size: int):
    """A ``size``×``size`` uint8 pair tiled from one street scene and its prediction."""
    import numpy as np

    from segscope import synth

    scene = synth.make_scene(0, 1024, 2048)
    pred, _ = synth.make_prediction(scene, 0)
    tp, tg = pred.astype(np.uint8), scene.mask.astype(np.uint8)
    out_p = np.empty((size, size), np.uint8)
    out_g = np.empty((size, size), np.uint8)
    th, tw = tg.shape
    for i, y in enumerate(range(0, size, th)):
        for j, x in enumerate(range(0, size, tw)):
            h, w = min(th, size - y), min(tw, size - x)
            shift = 97 * (i * 7 + j)
            out_p[y:y + h, x:x + w] = np.roll(tp, shift, axis=1)[:h, :w]
            out_g[y:y + h, x:x + w] = np.roll(tg, shift, axis=1)[:h, :w]
    return out_p, out_g


def child(size: int, analyses: tuple[str, ...]) -> dict:
    import numpy as np

    from segscope import EvalConfig, Evaluation

    config = EvalConfig(analyses=analyses)
    warm = Evaluation(19, config, ignore_index=255)
    wp, wg = huge_pair(256)
    warm.update(wp, wg)
    pred, gt = huge_pair(size)
    del wp, wg
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ev = Evaluation(19, config, ignore_index=255)
    t = time.perf_counter()
    ev.update(pred, gt)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"base": base, "peak": peak, "wall": wall, "pixels": int(np.prod(gt.shape))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--sets", default="core,boundary,errors,default", help=f"of {', '.join(SETS)}")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.size, SETS[args.child])))
        return 0
    print(f"pair {args.size}×{args.size} (uint8 masks, {args.size * args.size / 2**20:.0f} MiB each)")
    for name in args.sets.split(","):
        out = subprocess.run([sys.executable, __file__, "--size", str(args.size), "--child", name],
                             capture_output=True, text=True)
        if out.returncode:
            print(f"  {name:9s} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        extra = max(0, r["peak"] - r["base"])
        print(f"  {name:9s} peak beyond the masks {extra / 2**20:8.0f} MiB = {extra / r['pixels']:5.2f} bytes/pixel"
              f"   wall {r['wall']:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
