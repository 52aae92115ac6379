"""Class imbalance on the synthetic street scenes: plain cross-entropy against imbalance-aware
losses and class-aware crop sampling, with the same data, seed and training budget.

Every variant trains the baseline U-Net on the same training scenes, predicts the same held-out
scenes and evaluates them with the evaluation core; the table shows mIoU and the IoU of the
small classes (sign is the smallest by pixel share, then pole and person).

    python experiments/imbalance.py --out /tmp/imbalance            # all variants
    python experiments/imbalance.py --variants ce,ce+dice+cas        # a subset

Results land in OUT/results.json (and one run folder per variant).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from segscope import synth
from segscope.baseline.predict import predict_folder
from segscope.baseline.train import TrainConfig, train
from segscope.engine.config import EvalConfig
from segscope.io.files import pair_masks
from segscope.io.results import write_json
from segscope.engine.runners import run_evaluation

VARIANTS = {
    "ce": {"loss": "ce", "class_aware_sampling": False},
    "weighted-ce": {"loss": "weighted-ce", "class_aware_sampling": False},
    "focal": {"loss": "focal", "class_aware_sampling": False},
    "ce+dice": {"loss": "ce+dice", "class_aware_sampling": False},
    "ce+cas": {"loss": "ce", "class_aware_sampling": True},
    "ce+dice+cas": {"loss": "ce+dice", "class_aware_sampling": True},
    "weighted-ce+cas": {"loss": "weighted-ce", "class_aware_sampling": True},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("imbalance-experiment"))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    ap.add_argument("--train-images", type=int, default=160)
    ap.add_argument("--test-images", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps-per-epoch", type=int, default=40)
    ap.add_argument("--height", type=int, default=128, help="scene height (width = 2 × height)")
    ap.add_argument("--crop", type=int, default=128, help="training crop size (square)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    out: Path = args.out
    spec = synth.street_spec()
    data = out / "data"
    if not (data / "classes.yaml").exists():
        h, w = args.height, 2 * args.height
        synth.write_dataset(data, args.test_images, h, w, seed=args.seed, predictions=False)
        synth.write_dataset(data / "train", args.train_images, h, w, seed=args.seed, predictions=False,
                            prefix="train", start=50_000)
    results = {}
    if (out / "results.json").exists():
        results = json.loads((out / "results.json").read_text())
    for name in args.variants.split(","):
        settings = VARIANTS[name]
        run_dir = out / "runs" / name
        cfg = TrainConfig(
            images=str(data / "train" / "images"), masks=str(data / "train" / "gt"), out=str(run_dir),
            epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, size=(args.crop, args.crop), batch_size=8,
            val_split=0.1, seed=args.seed, threads=args.threads, **settings,
        )
        t0 = time.perf_counter()
        train(cfg, spec, {"source": str(data / "classes.yaml")}, overwrite=True)
        seconds = time.perf_counter() - t0
        pred_dir = out / "preds" / name
        predict_folder(run_dir, data / "images", pred_dir, threads=args.threads)
        ev = run_evaluation(pair_masks(pred_dir, data / "gt"), spec, EvalConfig(analyses=()), jobs=1)
        m = ev.compute()
        results[name] = {
            "miou": m["miou"],
            "iou": {n: v["iou"] for n, v in m["per_class"].items()},
            "gt_share": {n: v["gt_share"] for n, v in m["per_class"].items()},
            "train_seconds": round(seconds, 1),
            **settings,
        }
        write_json(out / "results.json", results)
        print(f"{name:12s} mIoU {m['miou']:.3f}  " + "  ".join(
            f"{n} {m['per_class'][n]['iou']:.3f}" for n in ("sign", "pole", "person", "car")
        ) + f"  ({seconds:.0f} s)", flush=True)
    print()
    print(table(results))


def table(results: dict) -> str:
    """A markdown table of the results."""
    rows = ["| variant | mIoU | sign | pole | person | car |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        iou = r["iou"]
        rows.append(f"| {name} | {r['miou']:.3f} | {iou['sign']:.3f} | {iou['pole']:.3f} | "
                    f"{iou['person']:.3f} | {iou['car']:.3f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
