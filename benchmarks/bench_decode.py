"""PNG decoders on label masks: imagecodecs (libpng) and pyspng against Pillow, and the core
evaluation of a pair against decoding it with each, side by side in one run.

    python benchmarks/bench_decode.py                    # 1024×2048 street masks, 11 rounds
    python benchmarks/bench_decode.py --rounds 21 --height 512 --width 1024

The masks are a synthetic street scene (:mod:`segscope.synth`, 19 classes, ignore 255) written
as an 8-bit PNG and as a 16-bit PNG (the same ids). Each round decodes the file with every
decoder in turn (interleaved), checks that the array equals Pillow's (dtype, shape, values; a
decoder that fails or differs is reported, not timed), and times the core evaluation of the
pair: ``read_pair`` (segscope's reader, the fast decoder with Pillow as fallback) plus the core
analysis. Figures are the best of the rounds, in one process on one core.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np


def decoders() -> dict:
    from PIL import Image

    def pillow(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im)

    found = {"pillow": pillow}
    try:
        import imagecodecs

        found["imagecodecs"] = imagecodecs.png_decode
    except ImportError:
        pass
    try:
        import pyspng

        found["pyspng"] = pyspng.load
    except ImportError:
        pass
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    args = ap.parse_args()

    from PIL import Image

    from segscope import synth
    from segscope.classes import ClassSpec
    from segscope.engine.analyzers.base import ImageContext, make_analyzers
    from segscope.engine.config import EvalConfig
    from segscope.engine.evaluation import analyze_arrays
    from segscope.io.masks import read_pair

    scene = synth.make_scene(0, args.height, args.width)
    pred, _ = synth.make_prediction(scene, 0)
    tmp = Path(tempfile.mkdtemp())
    files = {}
    for bits, dtype in (("8-bit", np.uint8), ("16-bit", np.uint16)):
        for role, arr in (("gt", scene.mask), ("pred", pred)):
            path = tmp / f"{role}_{bits}.png"
            Image.fromarray(arr.astype(dtype)).save(path, format="PNG")
            files[bits, role] = path
    spec = ClassSpec.anonymous(19, ignore_index=255)
    config = EvalConfig(analyses=())
    analyzers = make_analyzers(spec, config)
    found = decoders()
    print(f"{args.height}×{args.width} street masks, best of {args.rounds} rounds, one core")
    for bits in ("8-bit", "16-bit"):
        gt_path, pred_path = files[bits, "gt"], files[bits, "pred"]
        blobs = [gt_path.read_bytes(), pred_path.read_bytes()]
        ref = [found["pillow"](b) for b in blobs]
        best = {name: float("inf") for name in found}
        broken: dict[str, str] = {}
        best_eval = float("inf")
        ctx = ImageContext("bench", spec, config)
        analyze_arrays(*read_pair(pred_path, spec, gt_path), ctx, analyzers)  # load the kernels
        for _ in range(args.rounds):
            for name, decode in found.items():
                if name in broken:
                    continue
                t = time.perf_counter()
                try:
                    out = [decode(b) for b in blobs]
                except Exception as exc:  # noqa: BLE001 - a decoder that fails is reported
                    broken[name] = f"fails: {type(exc).__name__}: {exc}"
                    continue
                dt = time.perf_counter() - t
                if not all(o.dtype == r.dtype and o.shape == r.shape and np.array_equal(o, r) for o, r in zip(out, ref)):
                    broken[name] = f"differs from Pillow ({out[0].dtype}, shape {out[0].shape})"
                    continue
                best[name] = min(best[name], dt)
            t = time.perf_counter()
            p, g = read_pair(pred_path, spec, gt_path)
            analyze_arrays(p, g, ctx, analyzers)
            best_eval = min(best_eval, time.perf_counter() - t)
        print(f"\n{bits} pair ({sum(map(len, blobs)) / 1e3:.0f} kB of PNG):")
        for name in found:
            if name in broken:
                print(f"  {name:12s} {broken[name]}")
            else:
                print(f"  {name:12s} {best[name] * 1e3:7.1f} ms   {best['pillow'] / best[name]:.2f}× Pillow's speed")
        print(f"  core evaluation of the pair (read_pair + core): {best_eval * 1e3:.1f} ms")
        for name in ("pillow", "imagecodecs"):
            if name in found and name not in broken:
                print(f"    = {best_eval / best[name]:.2f}× the {name} decode of the pair")


if __name__ == "__main__":
    main()
