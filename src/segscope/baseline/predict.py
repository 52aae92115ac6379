"""Inference with a trained baseline: whole-image or sliding-window, batched; writes index PNG
masks (raw class ids, with the spec's colours as palette) and optionally per-image class
probabilities (``<image_id>.npy``, float32 K×H×W) for ``segscope evaluate --probs``.

The same :func:`infer_logits` runs the validation inside training, so training-time metrics and
``segscope evaluate`` on the written masks agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..classes import PRESETS, ClassSpec, load_spec
from ..exceptions import SegscopeError
from ..io.masks import read_image, write_mask
from ..io.results import atomic_write
from .data import index_to_raw_lut, list_images
from .model import UNet, build_model

__all__ = [
    "pick_device", "set_threads", "load_run", "load_checkpoint", "infer_logits", "predict_arrays",
    "predict_folder", "spec_from_record",
]

CHECKPOINT_FORMAT = "segscope-baseline"


def pick_device(device: str | None = None) -> torch.device:
    """``cuda`` when a GPU is present (or asked for), else ``cpu``."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise SegscopeError(f"--device {device}: no CUDA GPU is available")
    return torch.device(device)


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, else $SEGSCOPE_THREADS, else the cores this
    process may use (capped at 8: small convolutions stop scaling beyond that)."""
    if threads is None or threads < 1:
        env = os.environ.get("SEGSCOPE_THREADS")
        if env and env.isdigit() and int(env) > 0:
            threads = int(env)
        else:
            try:
                threads = len(os.sched_getaffinity(0))
            except AttributeError:  # pragma: no cover - not Linux
                threads = os.cpu_count() or 1
            threads = max(1, min(threads, 8))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


# ---------------------------------------------------------------------- checkpoints
def spec_from_record(record: dict) -> ClassSpec:
    """Rebuild the class spec stored with a run (presets by name, so their id maps survive)."""
    args = record.get("spec_args") or {}
    source = args.get("source")
    if source is not None and str(source).lower() in PRESETS:
        ignore = args.get("ignore_index", "keep")
        return load_spec(source, ignore_index=ignore, pred_ids=args.get("pred_ids", "train"),
                         gt_ids=args.get("gt_ids", "label"))
    return ClassSpec.from_dict(record["spec"], name=record["spec"].get("name", "custom"))


def load_checkpoint(path: str | Path, device: str | torch.device | None = None) -> tuple[UNet, ClassSpec, dict]:
    """Load a checkpoint file: (model in eval mode on ``device``, class spec, the checkpoint dict)."""
    path = Path(path)
    if not path.is_file():
        raise SegscopeError("no such checkpoint", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SegscopeError(f"cannot read checkpoint: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise SegscopeError("not a segscope baseline checkpoint", path)
    spec = spec_from_record(ckpt)
    model = build_model(spec.num_classes, ckpt["model_config"])
    model.load_state_dict(ckpt["state_dict"])
    dev = pick_device(device)
    model.to(dev).to(memory_format=torch.channels_last).eval()
    return model, spec, ckpt


def load_run(run_dir: str | Path, device: str | torch.device | None = None, which: str = "best") -> tuple[UNet, ClassSpec, dict]:
    """Load ``run_dir/best.pt`` (or ``last.pt``; a checkpoint file may be given directly)."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return load_checkpoint(run_dir, device)
    if not run_dir.is_dir():
        raise SegscopeError("no such run folder", run_dir)
    path = run_dir / f"{which}.pt"
    if not path.exists() and which == "best":
        path = run_dir / "last.pt"
    if not path.exists():
        raise SegscopeError("the run folder holds no checkpoint (best.pt / last.pt); train first", run_dir)
    return load_checkpoint(path, device)


# ---------------------------------------------------------------------- inference
def _to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """N×H×W×3 (uint8 or float) -> float32 N×3×H×W in channels-last memory."""
    t = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
    return t.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def _windows(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = max(1, (tile * 2) // 3)
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


@torch.inference_mode()
def infer_logits(
    model: torch.nn.Module, images: Iterable[np.ndarray], batch_size: int = 4,
    tile: tuple[int, int] | None = None, device: torch.device | None = None,
) -> Iterator[np.ndarray]:
    """Yield K×H×W float32 logits for each H×W×3 image, in order.

    Whole-image mode batches consecutive images of the same size; with ``tile=(th, tw)`` each
    image is covered by overlapping windows (stride 2/3 of the tile), run in batches, and the
    logits of overlapping windows are averaged.
    """
    device = device or next(model.parameters()).device
    model.eval()
    if tile is None:
        pending: list[np.ndarray] = []
        for img in images:
            if pending and (img.shape != pending[0].shape or len(pending) >= batch_size):
                yield from _run_batch(model, pending, device)
                pending = []
            pending.append(img)
        if pending:
            yield from _run_batch(model, pending, device)
        return
    th, tw = tile
    for img in images:
        h, w = img.shape[:2]
        eh, ew = min(th, h), min(tw, w)
        boxes = [(y, x) for y in _windows(h, eh) for x in _windows(w, ew)]
        acc = None
        count = np.zeros((h, w), np.float32)
        for i in range(0, len(boxes), batch_size):
            chunk = boxes[i : i + batch_size]
            batch = np.stack([img[y : y + eh, x : x + ew] for y, x in chunk])
            out = model(_to_input(batch, device)).float().cpu().numpy()
            if acc is None:
                acc = np.zeros((out.shape[1], h, w), np.float32)
            for (y, x), o in zip(chunk, out):
                acc[:, y : y + eh, x : x + ew] += o
                count[y : y + eh, x : x + ew] += 1
        yield acc / count


def _run_batch(model, images: Sequence[np.ndarray], device) -> Iterator[np.ndarray]:
    out = model(_to_input(np.stack(images), device)).float().cpu().numpy()
    yield from out


def predict_arrays(
    model: torch.nn.Module, images: Iterable[np.ndarray], batch_size: int = 4, tile: tuple[int, int] | None = None,
    probs: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield (class-index mask H×W, probabilities K×H×W float32 or None) per image.

    >>> import torch; from segscope.baseline.model import UNet
    >>> _ = torch.manual_seed(0); net = UNet(3, base=4, depth=2).eval()
    >>> mask, p = next(predict_arrays(net, [np.zeros((8, 12, 3), np.uint8)], probs=True))
    >>> mask.shape, p.shape, bool(np.allclose(p.sum(0), 1, atol=1e-5))
    ((8, 12), (3, 8, 12), True)
    """
    for logits in infer_logits(model, images, batch_size=batch_size, tile=tile):
        k = logits.shape[0]
        mask = logits.argmax(axis=0).astype(np.uint8 if k < 256 else np.uint16)
        p = None
        if probs:
            p = F.softmax(torch.from_numpy(logits), dim=0).numpy()
        yield mask, p


def predict_folder(
    run_dir: str | Path, images_dir: str | Path, out_dir: str | Path, probs_dir: str | Path | None = None,
    tile: tuple[int, int] | None = None, batch_size: int = 4, image_suffix: str = "", device: str | None = None,
    ids: Sequence[str] | None = None, advance: Callable[[], None] | None = None, threads: int | None = None,
) -> dict:
    """Predict every image under ``images_dir`` (or the ``ids`` among them) with the run's best
    checkpoint; write ``out_dir/<id>.png`` (and ``probs_dir/<id>.npy``). Returns a summary."""
    set_threads(threads)
    model, spec, ckpt = load_run(run_dir, device)
    found = list_images(images_dir, image_suffix)
    if ids is not None:
        missing = sorted(set(ids) - set(found))
        if missing:
            raise SegscopeError(f"{len(missing)} image(s) not found: {', '.join(missing[:5])}", images_dir)
        found = {k: found[k] for k in sorted(ids)}
    keys = sorted(found)
    out_dir = Path(out_dir)
    lut = index_to_raw_lut(spec)
    palette = [(0, 0, 0)] * 256
    for raw, colour in zip(lut.tolist(), spec.colors):
        if raw < 256:
            palette[raw] = colour
    images = (read_image(found[k]) for k in keys)
    for key, (mask, p) in zip(keys, predict_arrays(model, images, batch_size, tile, probs=probs_dir is not None)):
        write_mask(out_dir / f"{key}.png", lut[mask], palette=palette if lut.max() < 256 else None)
        if p is not None:
            with atomic_write(Path(probs_dir) / f"{key}.npy", "wb") as fh:
                np.save(fh, p.astype(np.float32))
        if advance is not None:
            advance()
    return {"images": len(keys), "out": str(out_dir), "probs": str(probs_dir) if probs_dir else None,
            "checkpoint_epoch": ckpt.get("epoch"), "classes": list(spec.names)}
