"""Segmentation losses with the ignore label honoured: ``ce``, ``weighted-ce`` (median-frequency
balancing, Eigen & Fergus 2015), ``dice`` (soft Dice, Milletari et al. 2016), ``focal`` (Lin et
al. 2017) and ``ce+dice``.

Every loss takes logits N×K×H×W and targets N×H×W (int64, :data:`IGNORE` = -1 for ignored
pixels); ignored pixels contribute nothing, and a batch with no valid pixel gives a zero loss
that still back-propagates.

Examples
--------
>>> import torch
>>> logits = torch.zeros(1, 2, 1, 2)
>>> target = torch.tensor([[[0, -1]]])
>>> round(float(make_loss("ce", 2)(logits, target)), 4)   # log 2: the ignored pixel is left out
0.6931
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..stats import class_weights
from . import LOSSES
from .data import IGNORE

__all__ = ["make_loss", "median_frequency_weights", "soft_dice_loss", "focal_loss"]


def median_frequency_weights(class_pixels: Sequence[int], max_weight: float | None = 50.0) -> np.ndarray:
    """Median-frequency weights (``segscope.stats.class_weights``) from per-class pixel counts,
    capped at ``max_weight`` so a handful of pixels cannot dominate; absent classes get 0.

    >>> median_frequency_weights([300, 100, 0]).round(3).tolist()
    [0.667, 2.0, 0.0]
    """
    w = class_weights(class_pixels, "median-frequency")
    if max_weight is not None:
        w = np.minimum(w, max_weight)
    return w


def _zero(logits: torch.Tensor) -> torch.Tensor:
    return logits.sum() * 0.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, weight=None) -> torch.Tensor:
    """Mean focal loss ``(1 - p_t)^gamma * CE`` over the valid pixels."""
    valid = target != IGNORE
    if not bool(valid.any()):
        return _zero(logits)
    ce = F.cross_entropy(logits, target, weight=weight, ignore_index=IGNORE, reduction="none")
    with torch.no_grad():
        logp = F.log_softmax(logits, dim=1)
        pt = logp.gather(1, target.clamp(min=0).unsqueeze(1)).squeeze(1).exp()
    return ((1 - pt) ** gamma * ce)[valid].mean()


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - mean over classes of the soft Dice over the batch's valid pixels (smoothed, so a
    class absent from the batch is rewarded for staying unpredicted)."""
    k = logits.shape[1]
    valid = (target != IGNORE).unsqueeze(1).to(logits.dtype)
    if not bool(valid.any()):
        return _zero(logits)
    probs = F.softmax(logits, dim=1) * valid
    onehot = F.one_hot(target.clamp(min=0), k).permute(0, 3, 1, 2).to(logits.dtype) * valid
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + smooth) / (denom + smooth)
    return 1 - dice.mean()


def make_loss(
    name: str, num_classes: int, class_pixels: Sequence[int] | None = None, gamma: float = 2.0,
    device: str | torch.device = "cpu",
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss called ``name`` (one of :data:`segscope.baseline.LOSSES`).

    ``weighted-ce`` needs ``class_pixels``, the training set's labelled pixels per class.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    if name == "ce":
        return lambda logits, target: _ce(logits, target, None)
    if name == "weighted-ce":
        if class_pixels is None:
            raise ValueError("weighted-ce needs the per-class pixel counts of the training set")
        w = torch.tensor(median_frequency_weights(class_pixels), dtype=torch.float32, device=device)
        return lambda logits, target: _ce(logits, target, w)
    if name == "focal":
        return lambda logits, target: focal_loss(logits, target, gamma)
    if name == "dice":
        return soft_dice_loss
    return lambda logits, target: _ce(logits, target, None) + soft_dice_loss(logits, target)


def _ce(logits: torch.Tensor, target: torch.Tensor, weight) -> torch.Tensor:
    valid = target != IGNORE
    if not bool(valid.any()):
        return _zero(logits)
    if weight is not None and float(weight[target[valid]].sum()) == 0.0:
        return _zero(logits)
    return F.cross_entropy(logits, target, weight=weight, ignore_index=IGNORE)
