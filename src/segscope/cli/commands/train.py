"""``segscope train IMAGES MASKS``: train the baseline U-Net (needs the ``[train]`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ...exceptions import SegscopeError
from .._common import (
    ClassesOpt,
    GtIdsOpt,
    IgnoreOpt,
    NumClassesOpt,
    PredIdsOpt,
    add_command,
    err_console,
    parse_ignore,
)

EXAMPLE = """
Example:

    segscope train images/ masks/ --classes classes.yaml --out run/ --epochs 20 --loss weighted-ce
"""


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``"128x256"`` -> (128, 256); ``"96"`` -> (96, 96)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise SegscopeError(f"{option} takes HxW or N (pixels), got {text!r}") from None
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise SegscopeError(f"{option} takes HxW or N (pixels), got {text!r}")
    return dims  # type: ignore[return-value]


class TrainDisplay:
    """A progress bar with loss and speed on a terminal; one line per epoch otherwise."""

    def __init__(self, total_epochs: int, show_bar: bool | None = None):
        import sys

        self.show = sys.stderr.isatty() if show_bar is None else show_bar
        self.total_epochs = total_epochs
        self.bar = None
        self.task = None

    def __enter__(self):
        if self.show:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[speed]:.1f} img/s"),
                TimeElapsedColumn(), console=err_console,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def step(self, info: dict) -> None:
        if self.bar is None:
            return
        desc = f"epoch {info['epoch']}/{info['epochs']}"
        if self.task is None or self.bar.tasks[self.task].description != desc:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task(desc, total=info["steps"], loss=info["loss"], speed=info["images_per_s"])
        self.bar.update(self.task, completed=info["step"], loss=info["loss"], speed=info["images_per_s"])

    def epoch(self, entry: dict) -> None:
        line = f"epoch {entry['epoch']}/{self.total_epochs}: loss {entry['train_loss']:.4f}"
        if entry.get("val_miou") is not None:
            line += f", val mIoU {entry['val_miou']:.4f}"
        line += f" ({entry['seconds']:.1f} s, {entry['images_per_s']:.1f} img/s)"
        if entry.get("best"):
            line += " *best*"
        (self.bar.console if self.bar is not None else err_console).print(line)


def train(
    images: Path = typer.Argument(..., help="Folder of images."),
    masks: Path = typer.Argument(..., help="Folder of GT masks, paired with the images by file name."),
    classes: Optional[str] = ClassesOpt,
    num_classes: Optional[int] = NumClassesOpt,
    ignore_index: Optional[str] = IgnoreOpt,
    pred_ids: str = PredIdsOpt,
    gt_ids: str = GtIdsOpt,
    out: Path = typer.Option(Path("run"), "--out", "-o", help="Run folder (checkpoints, config, curves)."),
    epochs: int = typer.Option(20, "--epochs", "-e", help="Epochs.", min=1),
    size: str = typer.Option("128x128", "--size", help="Training crop size HxW (or N)."),
    batch_size: int = typer.Option(8, "--batch-size", "-b", help="Crops per step.", min=1),
    steps_per_epoch: Optional[int] = typer.Option(
        None, "--steps-per-epoch", help="Steps per epoch (default: one crop per training image).", min=1
    ),
    lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate (AdamW, warm-up then cosine)."),
    loss: str = typer.Option("ce", "--loss", help="ce, weighted-ce, dice, focal or ce+dice."),
    class_aware_sampling: bool = typer.Option(
        False, "--class-aware-sampling", help="Oversample crops that contain rare classes."
    ),
    val_split: float = typer.Option(0.2, "--val-split", help="Share of the images held out for validation."),
    seed: int = typer.Option(0, "--seed", help="Random seed (split, initialisation, crops)."),
    base: int = typer.Option(16, "--base", help="U-Net channels at full resolution.", min=1),
    depth: int = typer.Option(4, "--depth", help="U-Net downsampling steps.", min=1),
    image_suffix: str = typer.Option("", "--image-suffix", help="Suffix to strip from image stems, e.g. _leftImg8bit."),
    mask_suffix: str = typer.Option("", "--mask-suffix", help="Suffix to strip from mask stems, e.g. _gtFine_labelIds."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out (up to --epochs)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start afresh even if --out holds a run."),
    device: str = typer.Option("auto", "--device", help="auto (a GPU when present), cpu or cuda."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: available cores).", min=1),
) -> None:
    """Train the baseline U-Net on an image folder and a mask folder.

    Validates every epoch with the same metric core as `segscope evaluate`, keeps the best
    checkpoint by validation mIoU (OUT/best.pt) and writes OUT/config.json, OUT/history.json,
    OUT/metrics.csv and OUT/curve.png.
    """
    from ...baseline import require_torch

    require_torch("segscope train")
    from ...baseline.train import TrainConfig
    from ...baseline.train import train as run_training
    from ...classes import load_spec

    if resume and classes is None and num_classes is None:
        import json

        from ...baseline.predict import spec_from_record

        cfg_path = out / "config.json"
        if not cfg_path.exists():
            raise SegscopeError("--resume: no config.json in the run folder", out)
        record = json.loads(cfg_path.read_text(encoding="utf-8"))
        spec, spec_args = spec_from_record(record), record.get("spec_args", {})
    else:
        ignore = parse_ignore(ignore_index)
        spec = load_spec(classes, num_classes=num_classes, ignore_index=ignore, pred_ids=pred_ids, gt_ids=gt_ids)
        spec_args = {"source": classes, "num_classes": num_classes, "pred_ids": pred_ids, "gt_ids": gt_ids}
        if ignore != "keep":
            spec_args["ignore_index"] = ignore
    cfg = TrainConfig(
        images=str(images), masks=str(masks), out=str(out), epochs=epochs, size=parse_size(size),
        batch_size=batch_size, steps_per_epoch=steps_per_epoch, lr=lr, loss=loss,
        class_aware_sampling=class_aware_sampling, val_split=val_split, seed=seed, base=base, depth=depth,
        image_suffix=image_suffix, mask_suffix=mask_suffix, device=device, threads=threads,
    )
    cfg.validate()
    with TrainDisplay(epochs) as display:
        result = run_training(
            cfg, spec, spec_args, resume=resume, overwrite=overwrite, on_step=display.step, on_epoch=display.epoch,
            log=lambda s: err_console.print(s),
        )
    best = result["best_val_miou"]
    err_console.print(
        f"best epoch {result['best_epoch']}" + (f" (val mIoU {best:.4f})" if best is not None else "")
        + f"; checkpoint {out}/best.pt, curve {out}/curve.png"
    )


def register(app: typer.Typer) -> None:
    add_command(app, train, EXAMPLE)
