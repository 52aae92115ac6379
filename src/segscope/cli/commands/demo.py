"""``segscope demo``: the main job on built-in data, no files of your own needed."""

from __future__ import annotations

from pathlib import Path

import typer

from ... import synth
from ...classes import load_spec
from ...evaluate import EvalConfig
from ...io import pair_masks
from ...runners import run_evaluation
from .._common import JobsOpt, err_console, progress
from ..summary import print_summary


def demo(
    out: Path = typer.Option(Path("segscope-demo"), "--out", "-o", help="Where the data and results go."),
    num_images: int = typer.Option(24, "--num-images", help="How many synthetic scenes.", min=1),
    seed: int = typer.Option(0, "--seed", help="Random seed of the scenes."),
    jobs: int = JobsOpt,
) -> None:
    """Generate a small synthetic street-scene set with imperfect predictions and evaluate it.

    Example:

        segscope demo --out segscope-demo
    """
    data = out / "data"
    err_console.print(f"generating {num_images} synthetic street scenes in {data}/ ...")
    paths = synth.write_dataset(data, num_images=num_images, seed=seed)
    spec = load_spec(paths["classes"])
    pairs = pair_masks(paths["pred"], paths["gt"])
    config = EvalConfig(images_dir=str(paths["images"]))
    with progress(len(pairs), "evaluating") as advance:
        ev = run_evaluation(pairs, spec, config, jobs=jobs, progress=lambda _r: advance())
    results = out / "results"
    metrics = ev.save(results)
    print_summary(metrics)
    err_console.print(f"results: {results}/metrics.json (per image: {results}/per_image.csv)")


def register(app: typer.Typer) -> None:
    app.command()(demo)
