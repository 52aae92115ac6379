"""segscope where models are trained: a metric for tensors, batches, any device and DDP.

:class:`SegscopeMetric` takes batches of predictions (class indices ``(N, H, W)`` or scores
``(N, C, H, W)``) and targets (raw label ids) on any device, counts the confusion matrix there,
runs the other analyses of ``segscope evaluate`` on host copies when they are enabled, and
returns from :meth:`~SegscopeMetric.compute` the ``metrics.json`` dict of the same masks;
under ``torch.distributed`` every rank gets the numbers of the union of the data.

With torchmetrics installed, :class:`SegscopeRegionMetric` is a ``torchmetrics.Metric`` (the
region metrics, states summed by torchmetrics' own sync); with Lightning installed,
:class:`SegscopeCallback` writes a results folder (and the report) after validation or test.

Importing this package imports torch: a missing torch is an ``ImportError`` (a
:class:`~segscope.SegscopeError` too) that names the extra to install.
"""

from __future__ import annotations

from ..exceptions import SegscopeError


class TorchMissingError(SegscopeError, ImportError):
    """segscope.torch was imported without PyTorch installed."""


try:
    import torch  # noqa: F401
except ImportError:
    raise TorchMissingError(
        "segscope.torch needs PyTorch: pip install 'segscope[train]' (torch==2.13.0)"
    ) from None

from .callback import SegscopeCallback
from .metric import MetricsDict, SegscopeMetric

__all__ = ["SegscopeMetric", "MetricsDict", "SegscopeCallback", "SegscopeRegionMetric", "TorchMissingError"]


def __getattr__(name: str):
    if name == "SegscopeRegionMetric":  # needs torchmetrics, imported on first use
        from .region_metric import SegscopeRegionMetric

        return SegscopeRegionMetric
    raise AttributeError(f"module 'segscope.torch' has no attribute {name!r}")
