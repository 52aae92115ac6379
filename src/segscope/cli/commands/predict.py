"""``segscope predict RUN IMAGES``: masks (and probabilities) from a trained baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._common import add_command, err_console, existing_dir, progress

EXAMPLE = """
Example:

    segscope predict run/ images/ --out preds/ --probs probs/

    segscope evaluate preds/ gts/ --classes classes.yaml --probs probs/ --out results/
"""


def predict(
    run: Path = typer.Argument(..., help="Run folder of `segscope train` (or a checkpoint file)."),
    images: Path = typer.Argument(..., help="Folder of images to segment."),
    out: Path = typer.Option(Path("preds"), "--out", "-o", help="Where the index PNG masks go."),
    probs: Optional[Path] = typer.Option(
        None, "--probs", help="Also write class probabilities, K×H×W float32 <image_id>.npy, into this folder."
    ),
    tile: Optional[str] = typer.Option(None, "--tile", help="Sliding-window inference with HxW tiles (default: whole image)."),
    batch_size: int = typer.Option(4, "--batch-size", "-b", help="Images (or tiles) per forward pass.", min=1),
    image_suffix: str = typer.Option("", "--image-suffix", help="Suffix to strip from image stems."),
    device: str = typer.Option("auto", "--device", help="auto (a GPU when present), cpu or cuda."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads.", min=1),
) -> None:
    """Segment a folder of images with a trained baseline: OUT/<image_id>.png index masks holding
    the class ids (coloured with the spec's palette)."""
    from ...baseline import require_torch

    require_torch("segscope predict")
    from ...baseline.data import list_images
    from ...baseline.predict import predict_folder
    from .train import parse_size

    existing_dir(images, "image")
    tile_hw = parse_size(tile, "--tile") if tile else None
    n = len(list_images(images, image_suffix))
    with progress(n, "predicting") as advance:
        info = predict_folder(
            run, images, out, probs_dir=probs, tile=tile_hw, batch_size=batch_size, image_suffix=image_suffix,
            device=device, advance=advance, threads=threads,
        )
    extra = f" and probabilities into {probs}/" if probs else ""
    err_console.print(f"wrote {info['images']} masks into {out}/{extra}")


def register(app: typer.Typer) -> None:
    add_command(app, predict, EXAMPLE)
