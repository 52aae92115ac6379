"""Extended confusion counts of a batch of tensors, counted on the tensors' own device.

The layout is :func:`segscope.metrics.confusion.confusion_counts`': per image a
``(K + 1, K + 2)`` matrix, rows the GT class (row ``K``: a GT id the spec does not know),
columns the predicted class (column ``K``: the ignore label, "no class"; column ``K + 1``: an id
outside the classes); GT-ignore pixels counted nowhere. One ``bincount`` over the combined index
``(image · (K + 1) + row) · (K + 2) + column`` counts the whole batch: integer counts, exact in
any order, so the numbers equal the CPU kernels' bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from ..classes import ClassSpec

__all__ = ["gt_rows", "pred_columns", "batch_counts", "pred_to_index"]

#: raw GT ids looked up through the spec's table (what a 16-bit PNG mask holds)
_TABLE_SIZE = 65536


def _row_table(spec: ClassSpec, device: torch.device, cache: dict) -> torch.Tensor:
    """Raw GT id -> count row: the class index, -1 for ignored, ``K`` for an unknown id
    (one table per device, kept in ``cache``)."""
    table = cache.get(device)
    if table is None:
        k = spec.num_classes
        index = np.asarray(spec.to_index(np.arange(_TABLE_SIZE, dtype=np.uint16), "gt"), np.int64)
        rows = np.where(index < k, index, k)
        rows[index == spec.index_ignore] = -1
        table = cache[device] = torch.from_numpy(rows).to(device)
    return table


def gt_rows(gt: torch.Tensor, spec: ClassSpec, cache: dict) -> torch.Tensor:
    """Each GT pixel's count row (int64): class index, ``K`` unknown, -1 ignored."""
    k = spec.num_classes
    g = gt.long()
    if spec.is_identity:
        rows = torch.where((g >= 0) & (g < k), g, k)
    else:
        table = _row_table(spec, g.device, cache)
        inside = (g >= 0) & (g < _TABLE_SIZE)
        rows = torch.where(inside, table[g.clamp(0, _TABLE_SIZE - 1)], k)
    if spec.ignore_index is not None:
        rows = torch.where(g == spec.ignore_index, -1, rows)
    return rows


def pred_columns(pred: torch.Tensor, spec: ClassSpec) -> torch.Tensor:
    """Each predicted class index's count column (int64): ``0..K-1`` a class, ``K`` the ignore
    label (no class), ``K + 1`` anything else."""
    k = spec.num_classes
    p = pred.long()
    known = (p >= 0) & (p < k)
    other = torch.full_like(p, k + 1)
    if spec.ignore_index is not None:
        other = torch.where(p == spec.ignore_index, k, other)
    return torch.where(known, p, other)


def batch_counts(pred: torch.Tensor, gt: torch.Tensor, spec: ClassSpec, cache: dict | None = None) -> torch.Tensor:
    """``(N, K + 1, K + 2)`` int64 counts of class indices ``pred`` and raw GT ids ``gt``, both
    ``(N, H, W)`` on one device; the result stays on that device. ``cache`` keeps the lookup
    table of a spec with an id map between calls."""
    k = spec.num_classes
    n = pred.shape[0]
    cells = (k + 1) * (k + 2)
    rows = gt_rows(gt, spec, {} if cache is None else cache).reshape(n, -1)
    cols = pred_columns(pred, spec).reshape(n, -1)
    image = torch.arange(n, device=rows.device).unsqueeze(1) * cells
    index = image + rows * (k + 2) + cols
    # ignored pixels go to one extra bin (no boolean indexing: on CUDA that waits for the host)
    index = torch.where(rows >= 0, index, n * cells)
    return torch.bincount(index.reshape(-1), minlength=n * cells + 1)[: n * cells].reshape(n, k + 1, k + 2)


def pred_to_index(pred: np.ndarray, spec: ClassSpec) -> np.ndarray:
    """Predicted class indices (``0..K-1``; the ignore label: no class) in the engine's
    class-index space, as ``spec.to_index`` leaves a prediction mask holding raw ids."""
    if spec.is_identity:
        return spec.to_index(pred, "pred")
    k = spec.num_classes
    p = pred.astype(np.int64, copy=False)
    out = np.full(p.shape, spec.index_invalid, np.uint8 if k < 254 else np.uint16)
    if spec.ignore_index is not None:
        out[p == spec.ignore_index] = spec.index_ignore
    known = (p >= 0) & (p < k)
    out[known] = p[known]
    return out
