"""SegscopeRegionMetric: segscope's region metrics as a ``torchmetrics.Metric``.

Its one state is the extended confusion counts ``(K + 1, K + 2)``, declared with
``dist_reduce_fx="sum"``, so torchmetrics' own sync (Lightning's ``self.log_dict``, DDP) adds
them across ranks; :meth:`~SegscopeRegionMetric.compute` turns them into the figures
``segscope evaluate`` writes under the same keys (``miou``, ``pixel_accuracy``,
``mean_accuracy``, ``mdice``, ``fwiou``, ``iou_<class>``), as 0-d float64 tensors. For the
boundary and failure analyses use :class:`~segscope.torch.SegscopeMetric`.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric

from ..classes import validate_exclude
from ..exceptions import SegscopeError
from ..metrics.confusion import check_ids, confusion_counts
from ..metrics.region import per_class_metrics, summary_metrics
from ._counts import batch_counts, pred_to_index
from .metric import _spec_of, as_tensor

__all__ = ["SegscopeRegionMetric"]


class SegscopeRegionMetric(Metric):
    """mIoU and the other region metrics of segscope, with torchmetrics' states and sync.

    Parameters
    ----------
    classes, ignore_index : as :class:`~segscope.torch.SegscopeMetric`.
    exclude : classes left out of the means (names or ids), as ``segscope evaluate --exclude``.
    allow_unknown_pred : count predicted ids outside the classes as misses instead of failing.

    Examples
    --------
    >>> import torch
    >>> m = SegscopeRegionMetric(2)
    >>> m.update(torch.tensor([[0, 0, 1], [0, 1, 1]]), torch.tensor([[0, 0, 1], [0, 1, 0]]))
    >>> round(float(m.compute()["miou"]), 4)
    0.7083
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, classes, ignore_index: int | None = None, exclude=(), allow_unknown_pred: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.spec = _spec_of(classes, ignore_index)
        self.exclude = validate_exclude(self.spec, tuple(exclude))
        self.allow_unknown_pred = allow_unknown_pred
        k = self.spec.num_classes
        self.add_state("counts", default=torch.zeros(k + 1, k + 2, dtype=torch.int64), dist_reduce_fx="sum")
        self._tables: dict = {}

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds = as_tensor(preds)
        target = as_tensor(target)
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=-3)
        if preds.shape != target.shape:
            raise SegscopeError(f"prediction shape {tuple(preds.shape)} differs from target shape {tuple(target.shape)}")
        k = self.spec.num_classes
        if preds.device.type == "cpu":
            p = pred_to_index(preds.numpy().reshape(-1), self.spec)
            g = self.spec.to_index(target.numpy().reshape(-1), "gt")
            ext = torch.from_numpy(confusion_counts(p, g, k, self.spec.index_ignore))
        else:
            ext = batch_counts(preds.reshape(1, -1), target.reshape(1, -1), self.spec, self._tables)[0]
        check_ids(ext.cpu().numpy(), self.allow_unknown_pred)
        self.counts += ext.to(self.counts.device)

    def compute(self) -> dict[str, torch.Tensor]:
        counts = self.counts.cpu().numpy().astype(np.int64)
        summary = summary_metrics(counts, self.exclude)
        iou = per_class_metrics(counts)["iou"]
        out = {key: torch.tensor(float(summary[key]), dtype=torch.float64)
               for key in ("miou", "pixel_accuracy", "mean_accuracy", "mdice", "fwiou")}
        for name, value in zip(self.spec.names, iou):
            out[f"iou_{name}"] = torch.tensor(float(value), dtype=torch.float64)
        return out
