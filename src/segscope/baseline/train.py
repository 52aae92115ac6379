"""Training the baseline: seeded, resumable, validated every epoch through the evaluation core.

A run folder holds

- ``config.json``: every setting, the class spec, the train/validation split, the loss weights;
- ``last.pt`` (model, optimiser, history; what ``--resume`` continues) and ``best.pt`` (the
  epoch with the best validation mIoU; what ``segscope predict`` uses);
- ``history.json`` and ``metrics.csv``: one entry per epoch (loss, learning rate, speed,
  validation mIoU, pixel accuracy and per-class IoU);
- ``val/``: the full ``segscope evaluate`` outputs (``metrics.json``, ``per_image.csv``, ...) of
  the best epoch on the validation images;
- ``curve.png``: loss and validation mIoU per epoch.

Reproducibility: the model is initialised from ``seed``, and epoch ``e`` draws its crops from
``numpy.random.default_rng([seed, e])``, so a resumed run gives the same weights as an
uninterrupted one (on the same device and thread count).
"""

from __future__ import annotations

import io as _io
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .._version import __version__
from ..classes import ClassSpec
from ..engine.evaluation import Evaluation
from ..exceptions import SegscopeError
from ..io.masks import read_mask
from ..io.results import atomic_write, write_json
from ..io.tables import write_csv
from . import LOSSES
from .data import CropSampler, Dataset, pair_images, split_ids
from .losses import make_loss, median_frequency_weights
from .model import MODEL_DEFAULTS, build_model
from .predict import CHECKPOINT_FORMAT, infer_logits, pick_device, set_threads

__all__ = ["TrainConfig", "train", "lr_at"]


@dataclass
class TrainConfig:
    """Every setting of a training run (recorded in ``run/config.json``)."""

    images: str
    masks: str
    out: str
    epochs: int = 20
    size: tuple[int, int] = (128, 128)
    batch_size: int = 8
    steps_per_epoch: int | None = None  # None: one crop per training image per epoch
    lr: float = 3e-3
    weight_decay: float = 1e-4
    loss: str = "ce"
    class_aware_sampling: bool = False
    class_aware_p: float = 0.5
    scale_range: tuple[float, float] = (0.75, 1.5)
    jitter: float = 1.0
    val_split: float = 0.2
    val_batch_size: int = 4
    seed: int = 0
    base: int = MODEL_DEFAULTS["base"]
    depth: int = MODEL_DEFAULTS["depth"]
    image_suffix: str = ""
    mask_suffix: str = ""
    device: str = "auto"
    threads: int | None = None

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise SegscopeError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise SegscopeError("--epochs and --batch-size must be >= 1")
        if min(self.size) < 1:
            raise SegscopeError(f"--size must be positive, got {self.size}")
        if not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise SegscopeError(f"scale range must satisfy 0 < low <= high, got {self.scale_range}")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        for key in ("size", "scale_range"):
            if key in kw and kw[key] is not None:
                kw[key] = tuple(kw[key])
        return cls(**kw)


def lr_at(step: int, total: int, base: float, warmup_share: float = 0.05) -> float:
    """Linear warm-up over the first ``warmup_share`` of the steps, then cosine decay to 0.

    >>> lr_at(0, 100, 1.0) < lr_at(4, 100, 1.0) == 1.0 > lr_at(50, 100, 1.0) > lr_at(99, 100, 1.0)
    True
    """
    warm = max(1, int(round(warmup_share * total)))
    if step < warm:
        return base * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


@dataclass
class _State:
    history: list = field(default_factory=list)
    best_miou: float = -1.0
    best_epoch: int = 0
    start_epoch: int = 1


def _save(obj: dict, path: Path) -> None:
    with atomic_write(path, "wb") as fh:
        torch.save(obj, fh)


def _validate(model, data: Dataset, spec: ClassSpec, batch_size: int) -> Evaluation:
    """Predict the validation images and evaluate them through :class:`segscope.torch.SegscopeMetric`
    (GT read from the files as raw ids), which gives what ``segscope evaluate`` gives on the written
    masks by construction."""
    from ..torch import SegscopeMetric

    metric = SegscopeMetric(spec, analyses=())
    logits = infer_logits(model, data.images, batch_size=batch_size)
    for image_id, lg in zip(data.ids, logits):
        gt = read_mask(data.paths[image_id].mask, spec)
        metric.update(lg, gt, ids=[image_id])
    return metric.evaluation


def train(
    cfg: TrainConfig, spec: ClassSpec, spec_args: dict | None = None, *, resume: bool = False,
    overwrite: bool = False, on_step: Callable[[dict], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None, log: Callable[[str], None] = lambda s: None,
) -> dict:
    """Train the baseline; return a summary (``best_epoch``, ``best_val_miou``, ``history``, ...)
    and the trained network of the last epoch under ``model``.

    Parameters
    ----------
    cfg : the settings.
    spec : the class spec of the masks.
    spec_args : how the spec was given (``source``, ``ignore_index``, ...), so predict can rebuild
        preset specs with their id maps.
    resume : continue ``cfg.out/last.pt`` up to ``cfg.epochs`` epochs (the stored settings are
        used, except ``epochs``, ``device`` and ``threads``).
    overwrite : start afresh even if ``cfg.out`` already holds a run.
    on_step : called after every step with ``epoch, step, steps, loss, images_per_s``.
    on_epoch : called after every epoch with the history entry.
    """
    out = Path(cfg.out)
    last_path = out / "last.pt"
    state = _State()
    ckpt = None
    if resume:
        if not last_path.exists():
            raise SegscopeError("--resume: the run folder has no last.pt", out)
        ckpt = torch.load(last_path, map_location="cpu", weights_only=True)
        stored = TrainConfig.from_dict(ckpt["train_config"])
        stored.epochs, stored.device, stored.threads = cfg.epochs, cfg.device, cfg.threads
        stored.out = cfg.out
        cfg = stored
        state = _State(list(ckpt["history"]), ckpt["best_miou"], ckpt["best_epoch"], ckpt["epoch"] + 1)
    elif last_path.exists() and not overwrite:
        raise SegscopeError("already holds a training run: pass --resume to continue it or --overwrite", out)
    cfg.validate()
    threads = set_threads(cfg.threads)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True

    samples = pair_images(cfg.images, cfg.masks, cfg.image_suffix, cfg.mask_suffix)
    train_ids, val_ids = split_ids([s.image_id for s in samples], cfg.val_split, cfg.seed)
    if ckpt is not None and (ckpt["train_ids"] != train_ids or ckpt["val_ids"] != val_ids):
        raise SegscopeError("--resume: the images differ from those the run was trained on", cfg.images)
    by_id = {s.image_id: s for s in samples}
    log(f"loading {len(train_ids)} training and {len(val_ids)} validation images")
    train_data = Dataset.load([by_id[i] for i in train_ids], spec)
    val_data = Dataset.load([by_id[i] for i in val_ids], spec)
    class_pixels = train_data.class_pixels()
    weights = median_frequency_weights(class_pixels) if cfg.loss == "weighted-ce" else None

    torch.manual_seed(cfg.seed)
    model_config = {**MODEL_DEFAULTS, "base": cfg.base, "depth": cfg.depth}
    model = build_model(spec.num_classes, model_config).to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if ckpt is not None:
        model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
    loss_fn = make_loss(cfg.loss, spec.num_classes, class_pixels, device=device)
    sampler = CropSampler(
        train_data, cfg.size, cfg.scale_range, cfg.class_aware_sampling, cfg.class_aware_p, cfg.jitter, seed=cfg.seed
    )
    steps = cfg.steps_per_epoch or max(1, math.ceil(len(train_data) / cfg.batch_size))
    total_steps = steps * cfg.epochs
    n_params = sum(p.numel() for p in model.parameters())

    out.mkdir(parents=True, exist_ok=True)
    record = {
        "segscope_version": __version__,
        "torch_version": torch.__version__,
        "train_config": _plain(asdict(cfg)),
        "model_config": model_config,
        "parameters": n_params,
        "device": str(device),
        "threads": threads,
        "steps_per_epoch": steps,
        "spec": spec.to_dict(),
        "spec_args": spec_args or {},
        "train_ids": train_ids,
        "val_ids": val_ids,
        "class_pixels": {n: int(c) for n, c in zip(spec.names, class_pixels)},
        "loss_weights": None if weights is None else {n: float(w) for n, w in zip(spec.names, weights)},
    }
    write_json(out / "config.json", record)

    def checkpoint(epoch: int, with_optimizer: bool) -> dict:
        obj = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "model_config": model_config,
            "spec": spec.to_dict(),
            "spec_args": spec_args or {},
            "train_config": _plain(asdict(cfg)),
            "best_miou": state.best_miou,
            "best_epoch": state.best_epoch,
        }
        if with_optimizer:
            obj.update(optimizer=optimizer.state_dict(), history=state.history, train_ids=train_ids, val_ids=val_ids)
        return obj

    for epoch in range(state.start_epoch, cfg.epochs + 1):
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)
        model.train()
        t0 = time.perf_counter()
        losses = []
        for step in range(steps):
            lr = lr_at((epoch - 1) * steps + step, total_steps, cfg.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            xb, yb = sampler.batch(rng, cfg.batch_size)
            x = torch.from_numpy(xb).to(device).permute(0, 3, 1, 2)  # NHWC memory = channels-last
            y = torch.from_numpy(yb).to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if on_step is not None:
                elapsed = time.perf_counter() - t0
                on_step({"epoch": epoch, "epochs": cfg.epochs, "step": step + 1, "steps": steps,
                         "loss": float(np.mean(losses)), "images_per_s": (step + 1) * cfg.batch_size / max(elapsed, 1e-9)})
        train_s = time.perf_counter() - t0
        entry = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)),
            "lr": lr,
            "train_seconds": round(train_s, 3),
            "images_per_s": round(steps * cfg.batch_size / max(train_s, 1e-9), 2),
        }
        metrics = None
        if len(val_data):
            ev = _validate(model, val_data, spec, cfg.val_batch_size)
            metrics = ev.compute()
            entry.update({
                "val_miou": metrics["miou"],
                "val_pixel_accuracy": metrics["pixel_accuracy"],
                "val_mean_accuracy": metrics["mean_accuracy"],
                "val_iou": {n: m["iou"] for n, m in metrics["per_class"].items()},
            })
            score = metrics["miou"] if metrics["miou"] is not None else -1.0
        else:
            score = float(epoch)  # no validation: the last epoch is the best
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        state.history.append(entry)
        if score > state.best_miou:
            state.best_miou, state.best_epoch = score, epoch
            _save(checkpoint(epoch, False), out / "best.pt")
            if metrics is not None:
                metrics["config"]["checkpoint_epoch"] = epoch
                ev.save(out / "val", metrics)
        entry["best"] = state.best_epoch == epoch
        _save(checkpoint(epoch, True), last_path)
        _write_history(out, state.history, spec)
        if on_epoch is not None:
            on_epoch(entry)
    _write_history(out, state.history, spec)
    plot_curve(state.history, out / "curve.png")
    best = next((h for h in state.history if h["epoch"] == state.best_epoch), None)
    return {
        "run": str(out),
        "best_epoch": state.best_epoch,
        "best_val_miou": best.get("val_miou") if best else None,
        "epochs": cfg.epochs,
        "history": state.history,
        "device": str(device),
        "parameters": n_params,
        "model": model.eval(),
    }


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _write_history(out: Path, history: list[dict], spec: ClassSpec) -> None:
    write_json(out / "history.json", history)
    cols = ["epoch", "train_loss", "lr", "seconds", "images_per_s", "val_miou", "val_pixel_accuracy",
            "val_mean_accuracy"] + [f"val_iou_{n}" for n in spec.names] + ["best"]
    rows = []
    for h in history:
        flat = {**h, **{f"val_iou_{n}": v for n, v in (h.get("val_iou") or {}).items()}}
        rows.append([flat.get(c) for c in cols])
    write_csv(out / "metrics.csv", cols, rows, number=str)


def plot_curve(history: list[dict], path: Path) -> None:
    """Training loss and validation mIoU (and the weakest class's IoU) per epoch."""
    from matplotlib.figure import Figure

    if not history:
        return
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, [h["train_loss"] for h in history], marker="o", ms=3)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax1.grid(alpha=0.3)
    if any(h.get("val_miou") is not None for h in history):
        ax2.plot(epochs, [np.nan if h.get("val_miou") is None else h["val_miou"] for h in history],
                 marker="o", ms=3, label="val mIoU")
        worst = [min((v for v in (h.get("val_iou") or {}).values() if v is not None), default=np.nan) for h in history]
        ax2.plot(epochs, worst, marker=".", ms=3, ls="--", label="weakest class IoU")
        best = max(history, key=lambda h: -1 if h.get("val_miou") is None else h["val_miou"])
        ax2.axvline(best["epoch"], color="grey", lw=0.8, ls=":")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="lower right", fontsize=8)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("IoU")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
