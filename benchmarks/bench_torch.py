"""segscope.torch's metric against torchmetrics on the same CPU tensors, side by side in one run.

    python benchmarks/bench_torch.py                  # (8, 512, 1024), 19 classes, ignore 255
    python benchmarks/bench_torch.py --rounds 9 --sets street,noisy --forward

Peers of ``update()`` (region metrics only), timed in interleaved rounds (best of N each, plus
the median of the per-round ratios against segscope):

- ``segscope``: :class:`segscope.torch.SegscopeMetric` with ``analyses=()``;
- ``segscope-torch-ops``: the same with ``device_counts=True`` (the torch ops used on CUDA:
  one ``bincount`` per batch);
- ``jaccard``: ``torchmetrics.classification.MulticlassJaccardIndex(19, ignore_index=255)``
  with its default input checks (and ``jaccard-novalidate``: ``validate_args=False``);
- ``meaniou``: ``torchmetrics.segmentation.MeanIoU(19, input_format="index")``; it has no ignore
  label, so its target has the ignored pixels set to class 0 (prepared outside the timing).

Predictions are int64 (what ``argmax`` gives); targets int64 for every peer. Sets:

- ``street``: synthetic street scenes (:mod:`segscope.synth`) and their predictions — long runs;
- ``noisy``: independent random labels per pixel, 5 % ignored (worst case for run skipping).

``--forward`` also times, on the ``street`` batch, ``update()`` with the default analyses
(boundary and failure analysis) and the forward pass of the baseline U-Net (default size) on an
``(8, 3, 512, 1024)`` batch, in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

K = 19
IGNORE = 255


def street(n: int, h: int, w: int):
    from segscope import synth

    preds, gts = [], []
    for i in range(n):
        scene = synth.make_scene(i, h, w)
        pred, _ = synth.make_prediction(scene, i)
        preds.append(pred)
        gts.append(scene.mask)
    return np.stack(preds).astype(np.int64), np.stack(gts).astype(np.int64)


def noisy(n: int, h: int, w: int):
    rng = np.random.default_rng(0)
    gt = rng.integers(0, K, (n, h, w))
    gt[rng.random((n, h, w)) < 0.05] = IGNORE
    return rng.integers(0, K, (n, h, w)), gt


def _time(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sets", default="street,noisy")
    ap.add_argument("--forward", action="store_true", help="default analyses next to the U-Net forward pass")
    args = ap.parse_args(argv)

    import torch
    from torchmetrics.classification import MulticlassJaccardIndex
    from torchmetrics.segmentation import MeanIoU

    from segscope.classes import ClassSpec
    from segscope.torch import SegscopeMetric

    spec = ClassSpec.anonymous(K, IGNORE)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores; "
          f"batch ({args.batch}, {args.height}, {args.width}), {K} classes, ignore {IGNORE}; best of {args.rounds}")
    for name in args.sets.split(","):
        p, g = {"street": street, "noisy": noisy}[name](args.batch, args.height, args.width)
        preds, target = torch.from_numpy(p), torch.from_numpy(g)
        target0 = target.clone()
        target0[target0 == IGNORE] = 0
        peers = {
            "segscope": (lambda: SegscopeMetric(spec, analyses=()), (preds, target)),
            "segscope-torch-ops": (lambda: SegscopeMetric(spec, analyses=(), device_counts=True), (preds, target)),
            "jaccard": (lambda: MulticlassJaccardIndex(K, ignore_index=IGNORE), (preds, target)),
            "jaccard-novalidate": (lambda: MulticlassJaccardIndex(K, ignore_index=IGNORE, validate_args=False),
                                   (preds, target)),
            "meaniou": (lambda: MeanIoU(K, input_format="index"), (preds, target0)),
        }
        for make, inputs in peers.values():  # warm-up: compilation, first allocations
            make().update(*inputs)
        times: dict[str, list[float]] = {k: [] for k in peers}
        for _ in range(args.rounds):
            for key, (make, inputs) in peers.items():
                metric = make()
                times[key].append(_time(metric.update, *inputs))
        base = times["segscope"]
        print(f"\n[{name}] update() per batch")
        for key, ts in times.items():
            ratio = statistics.median(t / b for t, b in zip(ts, base))
            print(f"  {key:20s} {1e3 * min(ts):9.2f} ms   {ratio:6.1f}× segscope")

    if args.forward:
        from segscope.baseline.model import build_model

        p, g = street(args.batch, args.height, args.width)
        preds, target = torch.from_numpy(p), torch.from_numpy(g)
        model = build_model(K).eval().to(memory_format=torch.channels_last)
        x = torch.rand(args.batch, 3, args.height, args.width).contiguous(memory_format=torch.channels_last) * 255
        SegscopeMetric(spec).update(preds, target)
        rounds = max(1, min(args.rounds, 3))
        t_fwd, t_core, t_bound, t_all = [], [], [], []
        for _ in range(rounds):
            with torch.inference_mode():
                t_fwd.append(_time(model, x))
            t_core.append(_time(SegscopeMetric(spec, analyses=()).update, preds, target))
            t_bound.append(_time(SegscopeMetric(spec, analyses=("boundary",)).update, preds, target))
            t_all.append(_time(SegscopeMetric(spec).update, preds, target))
        print(f"\n[street] per batch of {args.batch} (best of {rounds})")
        fwd = min(t_fwd)
        for key, ts in (("U-Net forward", t_fwd), ("update, core", t_core), ("update, + boundary", t_bound),
                        ("update, default analyses", t_all)):
            print(f"  {key:26s} {1e3 * min(ts):9.1f} ms   {min(ts) / fwd:6.2f}× forward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
