"""``segscope demo``: from data to report on built-in street scenes, no files of your own needed.

Generates a synthetic street-scene set, trains the baseline U-Net on part of it (when PyTorch is
installed), predicts the held-out scenes, evaluates them and writes the report.

Layout of ``--out``::

    data/images, data/gt        held-out scenes (evaluated)
    data/pred, data/probs       the baseline's masks and class probabilities
    data/classes.yaml           the class spec
    data/train/images, gt       training scenes (only when training)
    run/                        the training run (checkpoints, config.json, curve.png)
    results/                    metrics.json, per_image.csv, ... and report/ when available
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional

import typer

from ...classes import load_spec
from ...engine.config import EvalConfig
from ...engine.runners import run_evaluation
from ...io.files import pair_masks
from .._common import JobsOpt, add_command, err_console, progress
from ..summary import print_summary

#: training settings of the demo: (training scenes, epochs, steps per epoch)
DEMO_TRAINING = {
    "default": {"train_images": 160, "epochs": 14, "steps_per_epoch": 50},
    "quick": {"train_images": 64, "epochs": 5, "steps_per_epoch": 30},
}
DEMO_SIZE = (128, 256)  # scene height, width
DEMO_CROP = (128, 128)
DEMO_LOSS = "weighted-ce"  # see docs/baseline.md: the imbalance experiment
DEMO_CLASS_AWARE = False


def demo(
    out: Path = typer.Option(Path("segscope-demo"), "--out", "-o", help="Where the data and results go."),
    num_images: int = typer.Option(24, "--num-images", help="How many held-out scenes to evaluate.", min=1),
    seed: int = typer.Option(0, "--seed", help="Random seed of the scenes and the training."),
    jobs: int = JobsOpt,
    quick: bool = typer.Option(False, "--quick", help="A shorter training (about a minute)."),
    no_train: bool = typer.Option(
        False, "--no-train", help="Skip training: evaluate synthetic predictions with injected errors (seconds)."
    ),
    train_images: Optional[int] = typer.Option(None, "--train-images", help="Training scenes (default 160, quick 64).", min=2),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (default 14, quick 5).", min=1),
    report: bool = typer.Option(True, "--report/--no-report", help="Write the HTML report (when available)."),
    steps: Optional[int] = typer.Option(None, "--steps-per-epoch", help="Training steps per epoch.", min=1, hidden=True),
) -> None:
    """Generate synthetic street scenes, train the baseline, predict the held-out scenes, evaluate
    them and write the report.

    Without PyTorch (the `train` extra) or with --no-train, the held-out scenes get synthetic
    predictions with injected, recorded errors instead.

    Example:

        segscope demo --out segscope-demo
    """
    from ...baseline import torch_available

    t_start = time.perf_counter()
    data = out / "data"
    if (data / "injected_errors.json").exists():  # a previous demo: start clean
        shutil.rmtree(data)
    train_model = not no_train
    if train_model and not torch_available():
        err_console.print(
            "[yellow]PyTorch is not installed: evaluating synthetic predictions instead of a trained baseline "
            "(pip install 'segscope\\[train]' to train it).[/]"
        )
        train_model = False
    height, width = DEMO_SIZE
    err_console.print(f"generating {num_images} held-out street scenes in {data}/ ...")
    from ... import synth

    paths = synth.write_dataset(data, num_images=num_images, height=height, width=width, seed=seed,
                                predictions=not train_model)
    spec = load_spec(paths["classes"])
    probs_dir = None
    timings = {}
    if train_model:
        settings = dict(DEMO_TRAINING["quick" if quick else "default"])
        if train_images is not None:
            settings["train_images"] = train_images
        if epochs is not None:
            settings["epochs"] = epochs
        if steps is not None:
            settings["steps_per_epoch"] = steps
        probs_dir = data / "probs"
        timings["train"] = _train_and_predict(out, data, paths, spec, settings, seed, probs_dir)
    pairs = pair_masks(paths["pred"], paths["gt"])
    config = EvalConfig(images_dir=str(paths["images"]), probs_dir=str(probs_dir) if probs_dir else None)
    t0 = time.perf_counter()
    with progress(len(pairs), "evaluating") as advance:
        ev = run_evaluation(pairs, spec, config, jobs=jobs, progress=lambda _r: advance())
    results = out / "results"
    metrics = ev.compute()
    metrics["config"].update({
        "predictions": "baseline" if train_model else "synthetic",
        "pred_dir": str(paths["pred"]), "gt_dir": str(paths["gt"]), "pred_suffix": "", "gt_suffix": "",
    })
    ev.save(results, metrics)
    timings["evaluate"] = time.perf_counter() - t0
    print_summary(metrics)
    what = "the trained baseline's" if train_model else "synthetic"
    err_console.print(f"results ({what} predictions): {results}/metrics.json (per image: {results}/per_image.csv)")
    if report:
        index = _report(results)
        if index is not None:
            err_console.print(f"report: {index}")
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    err_console.print(f"done in {time.perf_counter() - t_start:.0f} s ({parts})")


def _train_and_predict(out: Path, data: Path, paths: dict, spec, settings: dict, seed: int, probs_dir: Path) -> float:
    from ...baseline.predict import predict_folder
    from ...baseline.train import TrainConfig, train
    from .train import TrainDisplay

    t0 = time.perf_counter()
    height, width = DEMO_SIZE
    n_train = settings["train_images"]
    err_console.print(f"generating {n_train} training scenes in {data}/train/ ...")
    from ... import synth

    tpaths = synth.write_dataset(data / "train", num_images=n_train, height=height, width=width, seed=seed,
                                 predictions=False, prefix="train", start=50_000)
    shutil.rmtree(tpaths["pred"], ignore_errors=True)
    run_dir = out / "run"
    cfg = TrainConfig(
        images=str(tpaths["images"]), masks=str(tpaths["gt"]), out=str(run_dir), epochs=settings["epochs"],
        steps_per_epoch=settings["steps_per_epoch"], size=DEMO_CROP, batch_size=8, loss=DEMO_LOSS,
        class_aware_sampling=DEMO_CLASS_AWARE, val_split=0.1, seed=seed,
    )
    err_console.print(
        f"training the baseline U-Net ({cfg.epochs} epochs × {cfg.steps_per_epoch} steps, loss {cfg.loss}"
        + (", class-aware sampling" if cfg.class_aware_sampling else "") + f") into {run_dir}/ ..."
    )
    with TrainDisplay(cfg.epochs) as display:
        result = train(cfg, spec, {"source": str(paths["classes"])}, overwrite=True,
                       on_step=display.step, on_epoch=display.epoch)
    best = result["best_val_miou"]
    err_console.print(f"best epoch {result['best_epoch']}" + (f" (val mIoU {best:.4f})" if best is not None else "")
                      + f"; predicting the held-out scenes into {paths['pred']}/ ...")
    predict_folder(run_dir, paths["images"], paths["pred"], probs_dir=probs_dir)
    return time.perf_counter() - t0


def _report(results: Path):
    try:
        from ...report import build_report
    except ImportError:
        err_console.print("(the HTML report is not available in this installation)")
        return None
    return build_report(results)


def register(app: typer.Typer) -> None:
    add_command(app, demo)
