"""A Lightning callback that evaluates validation and test batches and writes a results folder.

:class:`SegscopeCallback` feeds each batch's predictions and targets (taken from what the
module's ``validation_step`` / ``test_step`` returns) to a :class:`SegscopeMetric`, and at the
end of the epoch writes a results folder like ``segscope evaluate --out`` (staged, swapped in
whole), plus the HTML report when given a report builder. It subclasses Lightning's
``Callback`` when ``lightning`` or ``pytorch_lightning`` is installed; its logic needs neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .metric import SegscopeMetric

__all__ = ["SegscopeCallback", "lightning_callback_base"]


def lightning_callback_base() -> type:
    """Lightning's ``Callback`` class (``lightning`` first, then ``pytorch_lightning``), or
    ``object`` when neither is installed."""
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError:
            return object
    return Callback


class SegscopeCallback(lightning_callback_base()):
    """Evaluate every validation (and test) epoch with segscope and write its results folder.

    Parameters
    ----------
    metric : the :class:`SegscopeMetric` to fill (its classes, analyses and options).
    out : the results folder; with ``every_epoch``, ``out/epoch_<n>`` per epoch.
    report : a report builder, e.g. :func:`segscope.report.build_report` (called on the staged
        folder, as ``segscope evaluate --report`` does); None writes no report.
    preds_key, target_key, ids_key : where the step's output dict holds the predictions
        (indices or scores), the targets and (optionally) the image ids.
    stages : the stages to evaluate, among ``"validation"`` and ``"test"``.
    every_epoch : keep one folder per validation epoch instead of replacing ``out``.

    Attributes
    ----------
    metrics : the ``metrics.json`` dict of the last evaluated epoch (on rank 0).
    """

    def __init__(self, metric: SegscopeMetric, out: str | Path, report: Callable[..., Any] | None = None, *,
                 preds_key: str = "preds", target_key: str = "target", ids_key: str = "ids",
                 stages: tuple[str, ...] = ("validation", "test"), every_epoch: bool = False):
        super().__init__()
        self.metric = metric
        self.out = Path(out)
        self.report = report
        self.keys = preds_key, target_key, ids_key
        self.stages = tuple(stages)
        self.every_epoch = every_epoch
        self.metrics: dict | None = None
        self.written: Path | None = None

    # -- what each stage does
    def _start(self, stage: str) -> None:
        if stage in self.stages:
            self.metric.reset()

    def _batch(self, stage: str, outputs) -> None:
        if stage not in self.stages or outputs is None:
            return
        preds_key, target_key, ids_key = self.keys
        if not isinstance(outputs, dict) or preds_key not in outputs or target_key not in outputs:
            raise KeyError(f"the {stage} step must return a dict with {preds_key!r} and {target_key!r} for segscope")
        self.metric.update(outputs[preds_key].detach(), outputs[target_key].detach(), outputs.get(ids_key))

    def _end(self, stage: str, epoch: int, sanity: bool = False) -> None:
        if stage not in self.stages or sanity or not len(self.metric):
            return
        out = self.out / f"epoch_{epoch}" if self.every_epoch and stage == "validation" else self.out
        if stage == "test" and "validation" in self.stages and not self.every_epoch:
            out = self.out / "test"
        metrics = self.metric.save(out, self.report)  # every rank syncs; rank 0 writes
        if metrics is not None:
            self.metrics, self.written = metrics, out

    # -- Lightning's hooks
    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._start("validation")

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch("validation", outputs)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._end("validation", int(trainer.current_epoch), bool(getattr(trainer, "sanity_checking", False)))

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._start("test")

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch("test", outputs)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._end("test", int(trainer.current_epoch))
