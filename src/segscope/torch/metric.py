"""SegscopeMetric: the evaluation of ``segscope evaluate`` fed with batches of tensors.

The metric holds one :class:`~segscope.engine.Evaluation`; each image of a batch becomes that
image's states, row and records, exactly as ``segscope evaluate`` makes them from the same
masks written as files, so :meth:`SegscopeMetric.compute` returns the same ``metrics.json``
dict bit for bit (integer states; floats only at the end).

- CPU tensors are read in place (no copy) by the engine's kernels.
- Tensors on another device (CUDA) have their confusion counts made there
  (:func:`segscope.torch._counts.batch_counts`, one ``bincount`` per batch); only the small
  ``(N, K + 1, K + 2)`` counts come to the host. The boundary and failure analyses, when
  enabled, run on host copies of the batch.
- Under ``torch.distributed`` :meth:`~SegscopeMetric.compute` gathers every rank's states and
  per-image records and adds them, so each rank gets the numbers of the union of the data.
"""

from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..classes import ClassSpec, load_spec
from ..engine.analyzers.base import ImageContext
from ..engine.config import EvalConfig
from ..engine.evaluation import Evaluation, ImageResult, analyze_arrays, run_analyzers
from ..exceptions import SegscopeError
from ..io.results import staged_results
from ..io.run_folder import metrics_html
from ._counts import batch_counts, pred_to_index

__all__ = ["SegscopeMetric", "MetricsDict", "as_tensor", "PROBS_IN_MEMORY", "STATE_FORMAT"]

#: what ``metrics.json`` records as ``config.probs_dir`` when the probabilities came as tensors
PROBS_IN_MEMORY = "(tensors)"
#: the version of :meth:`SegscopeMetric.state_dict`'s content
STATE_FORMAT = 1
_STATE_KEY = "segscope_state"


class MetricsDict(dict):
    """The ``metrics.json`` dict; in a notebook it shows the summary cards and the per-class table."""

    def __init__(self, metrics: dict, colors: dict | None = None):
        super().__init__(metrics)
        self.colors = colors or {}

    def _repr_html_(self) -> str:
        return metrics_html(self, self.colors)


def _spec_of(classes, ignore_index) -> ClassSpec:
    if isinstance(classes, ClassSpec):
        return classes if ignore_index is None else classes.with_ignore(ignore_index)
    if isinstance(classes, bool) or not isinstance(classes, (int, str, Path)):
        raise TypeError(f"classes must be a ClassSpec, a preset name, a spec file or an int, not {type(classes).__name__}")
    if isinstance(classes, int):
        return ClassSpec.anonymous(classes, ignore_index)
    return load_spec(classes, ignore_index="keep" if ignore_index is None else ignore_index)


def as_tensor(x) -> torch.Tensor:
    """A tensor of ``x``; NumPy arrays are shared, read-only ones too (segscope never writes
    into its inputs, so torch's warning about them does not apply)."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(x)
    return torch.as_tensor(x)


def _dist():
    """``torch.distributed`` when a process group is running with more than one rank, else None."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


class SegscopeMetric:
    """The metrics of ``segscope evaluate``, accumulated batch by batch from tensors.

    Parameters
    ----------
    classes : a :class:`~segscope.ClassSpec`, a preset name (``"cityscapes"``), a spec file, or
        an int for anonymous classes ``0..N-1``.
    ignore_index : the ignore label (with an int ``classes``), or one that replaces the spec's.
    analyses : the optional analyses to run (``"boundary"``, ``"errors"``); default: all, as
        ``segscope evaluate``; ``()`` for the region metrics alone (the cheapest).
    probs : the scores given to :meth:`update` are probabilities (softmax): they also feed the
        suspect-label check of the failure analysis, as ``segscope evaluate --probs`` does.
    sync : under ``torch.distributed``: ``"all"`` gives every rank the metrics of all ranks;
        ``"rank0"`` gathers to rank 0 only (the others' :meth:`compute` returns None).
    device_counts : count the confusion matrix with torch ops on the tensors' device (default:
        on devices other than the CPU; CPU tensors go to the engine's compiled kernels, which
        are faster there). Both give the same integers.
    **options : other :class:`~segscope.EvalConfig` fields (``exclude``, ``boundary_px``,
        ``allow_unknown_pred``, ``worst_k``, ...).

    Examples
    --------
    >>> import torch
    >>> metric = SegscopeMetric(3, ignore_index=255, analyses=())
    >>> pred = torch.tensor([[[0, 0, 1], [0, 1, 1], [2, 2, 2]]])
    >>> target = torch.tensor([[[0, 0, 1], [0, 1, 1], [2, 255, 1]]])
    >>> metric.update(pred, target)
    >>> m = metric.compute()
    >>> round(m["miou"], 4), m["valid_pixels"]
    (0.75, 8)
    """

    def __init__(self, classes, ignore_index: int | None = None, analyses: Sequence[str] | None = None, *,
                 probs: bool = False, sync: str = "all", device_counts: bool | None = None, **options: Any):
        self.spec = _spec_of(classes, ignore_index)
        if sync not in ("all", "rank0"):
            raise SegscopeError(f"sync must be 'all' or 'rank0', got {sync!r}")
        if "probs_dir" in options:
            raise TypeError("probabilities come with the scores: pass probs=True")
        if analyses is not None:
            options["analyses"] = tuple(analyses)
        if probs:
            options["probs_dir"] = PROBS_IN_MEMORY
        self.config = EvalConfig(**options)
        if probs and "errors" not in self.config.analyses:
            raise SegscopeError("probs=True feeds the suspect-label check of the 'errors' analysis, which is skipped")
        self.probs = probs
        self.sync = sync
        self.device_counts = device_counts
        self._tables: dict = {}
        self.reset()

    # ------------------------------------------------------------------ accumulation
    def reset(self) -> None:
        """Forget every image."""
        self.evaluation = Evaluation(self.spec, self.config)

    def __len__(self) -> int:
        return len(self.evaluation)

    def update(self, preds, target, ids: Sequence[str] | None = None) -> None:
        """Add a batch.

        Parameters
        ----------
        preds : class indices ``(N, H, W)`` or ``(H, W)`` of any integer dtype, or scores
            ``(N, C, H, W)`` / ``(C, H, W)`` with ``C`` the number of classes (logits or
            probabilities; the argmax over ``C`` is the prediction).
        target : raw label ids in the spec's id space, ``(N, H, W)`` or ``(H, W)``, the ignore
            label included; on the device of ``preds``.
        ids : an image id per image (default ``image_00000``, ... in arrival order; under
            ``torch.distributed`` prefixed with the rank). Ids name the images in
            ``per_image.csv`` and order the per-image means, so give the same ids to compare
            runs.
        """
        preds = as_tensor(preds)
        target = as_tensor(target)
        if target.ndim == 2:
            target = target.unsqueeze(0)
            preds = preds.unsqueeze(0)
        if target.ndim != 3:
            raise SegscopeError(f"target must be (N, H, W) or (H, W) label ids, got shape {tuple(target.shape)}")
        if target.dtype.is_floating_point or target.dtype.is_complex:
            raise SegscopeError(f"target must hold integer label ids, got {target.dtype}")
        scores = None
        if preds.ndim == 4:
            k = self.spec.num_classes
            if preds.shape[1] != k:
                raise SegscopeError(f"scores have {preds.shape[1]} channels for {k} classes (shape {tuple(preds.shape)})")
            scores = preds
            preds = preds.argmax(dim=1)
        elif self.probs:
            raise SegscopeError("probs=True needs scores (N, C, H, W), got class indices")
        if preds.dtype.is_floating_point or preds.dtype.is_complex:
            raise SegscopeError(f"class indices must be integers, got {preds.dtype} (scores are (N, C, H, W))")
        if preds.shape != target.shape:
            raise SegscopeError(f"prediction shape {tuple(preds.shape)} differs from target shape {tuple(target.shape)}")
        if preds.device != target.device:
            raise SegscopeError(f"prediction on {preds.device}, target on {target.device}")
        n = preds.shape[0]
        ids = self._ids(n, ids)
        probs = self._probs(scores) if self.probs else None
        on_device = preds.device.type != "cpu" if self.device_counts is None else self.device_counts
        if not on_device:
            pred_np, gt_np = preds.numpy(), target.numpy()
            for i in range(n):
                self._host_image(ids[i], pred_np[i], gt_np[i], None if probs is None else probs[i])
        else:
            self._device_batch(ids, preds, target, probs)

    def _ids(self, n: int, ids) -> list[str]:
        if ids is not None:
            ids = [str(i) for i in ids]
            if len(ids) != n:
                raise SegscopeError(f"{len(ids)} ids for a batch of {n} images")
            return ids
        start = len(self.evaluation)
        dist = _dist()
        prefix = f"rank{dist.get_rank()}_" if dist is not None else ""
        return [f"{prefix}image_{start + i:05d}" for i in range(n)]

    @staticmethod
    def _probs(scores: torch.Tensor) -> np.ndarray:
        lo, hi = float(scores.min()), float(scores.max())
        if lo < -1e-3 or hi > 1 + 1e-3 or not (np.isfinite(lo) and np.isfinite(hi)):
            raise SegscopeError(f"probabilities must lie in [0, 1] (softmax, not logits); found {lo:g}..{hi:g}")
        return scores.detach().cpu().numpy()

    def _context(self, image_id: str, raw: tuple, probs) -> ImageContext:
        extras: dict[str, Any] = {"raw_masks": raw}
        if probs is not None:
            extras["probs"] = probs
        return ImageContext(image_id, self.spec, self.config, extras=extras)

    def _host_image(self, image_id: str, pred: np.ndarray, gt: np.ndarray, probs) -> None:
        """One image through the engine, as ``segscope evaluate`` analyses a pair of files."""
        p = pred_to_index(pred, self.spec)
        g = self.spec.to_index(gt, "gt")
        ctx = self._context(image_id, (pred, gt), probs)
        self.evaluation.add(analyze_arrays(p, g, ctx, self.evaluation.analyzers))

    def _device_batch(self, ids: list[str], preds: torch.Tensor, target: torch.Tensor, probs) -> None:
        """Counts on the device; the other analyses (when enabled) on host copies."""
        k = self.spec.num_classes
        counts = batch_counts(preds, target, self.spec, self._tables).cpu().numpy()
        core, *others = self.evaluation.analyzers
        host = None
        if others:
            host = preds.cpu().numpy(), target.cpu().numpy()
        shape = tuple(target.shape[1:])
        for i, image_id in enumerate(ids):
            ext = counts[i]
            unknown = ext[k].sum() or (ext[:k, k + 1].sum() and not self.config.allow_unknown_pred)
            if unknown:  # the engine's check names the unknown ids
                self._host_image(image_id, preds[i].cpu().numpy(), target[i].cpu().numpy(),
                                 None if probs is None else probs[i])
                continue
            ctx = self._context(image_id, (None, None) if host is None else (host[0][i], host[1][i]),
                                None if probs is None else probs[i])
            state, row, record = core.image_from_counts(ext, shape, ctx)
            result = ImageResult(image_id, {core.name: state}, row, {core.name: record})
            if others:
                p = pred_to_index(host[0][i], self.spec)
                g = self.spec.to_index(host[1][i], "gt")
                result = run_analyzers(p, g, ctx, others, result)
            self.evaluation.add(result)

    def merge(self, other: "SegscopeMetric") -> "SegscopeMetric":
        """Add another metric's images (same classes and config) to this one."""
        if other.config != self.config:
            raise SegscopeError("cannot merge metrics of different configs")
        self.evaluation.merge(other.evaluation)
        return self

    # ------------------------------------------------------------------ results
    def synced(self) -> Evaluation | None:
        """The evaluation of every rank's images (this one's outside ``torch.distributed``);
        None on ranks other than 0 with ``sync="rank0"``."""
        dist = _dist()
        if dist is None:
            return self.evaluation
        payload = self._payload()
        if self.sync == "all":
            gathered: list = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, payload)
        else:
            gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
            dist.gather_object(payload, gathered, dst=0)
            if gathered is None:
                return None
        merged = Evaluation(self.spec, self.config)
        for part in gathered:
            merged.merge(self._from_payload(part))
        return merged

    def compute(self) -> MetricsDict | None:
        """The ``metrics.json`` dict of every image added (of every rank under ``torch.distributed``)."""
        ev = self.synced()
        if ev is None:
            return None
        return MetricsDict(ev.compute(), dict(zip(self.spec.names, self.spec.colors)))

    def save(self, out: str | Path, report: Callable[..., Any] | None = None) -> MetricsDict | None:
        """Write a results folder like ``segscope evaluate --out`` (staged, swapped in whole).

        ``report``: a report builder such as :func:`segscope.report.build_report`, called on the
        staged folder (``report(stage, shown_as=out)``). Under ``torch.distributed`` call it on
        every rank: the states are gathered and rank 0 writes. Returns the metrics (None on the
        other ranks).
        """
        ev = self.synced()
        dist = _dist()
        if ev is None or (dist is not None and dist.get_rank() != 0):
            return None
        out = Path(out)
        with staged_results(out) as stage:
            metrics = ev.save(stage)
            if report is not None:
                report(stage, shown_as=out)
        return MetricsDict(metrics, dict(zip(self.spec.names, self.spec.colors)))

    # ------------------------------------------------------------------ checkpoints
    def _payload(self) -> dict:
        ev = self.evaluation
        return {"format": STATE_FORMAT, "classes": list(self.spec.names), "config": self.config.to_dict(),
                "states": ev.states, "items": list(ev.sink.items())}

    def _from_payload(self, payload: dict) -> Evaluation:
        if payload.get("format") != STATE_FORMAT:
            raise SegscopeError(f"metric state of format {payload.get('format')!r}; this version reads {STATE_FORMAT}")
        if payload["classes"] != list(self.spec.names) or payload["config"] != self.config.to_dict():
            raise SegscopeError("the metric state was saved with other classes or another config")
        ev = Evaluation(self.spec, self.config)
        ev.states = payload["states"]
        for image_id, row, records in payload["items"]:
            ev.sink.add(image_id, row, records)
        return ev

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The metric's states and per-image records as one byte tensor (``torch.save`` it with
        a checkpoint; :meth:`load_state_dict` resumes exactly). The bytes are a pickle: load
        only checkpoints you trust, as with ``torch.load``."""
        data = pickle.dumps(self._payload(), protocol=pickle.HIGHEST_PROTOCOL)
        return {_STATE_KEY: torch.frombuffer(bytearray(data), dtype=torch.uint8)}

    def load_state_dict(self, state: dict) -> None:
        """Replace this metric's images with those of :meth:`state_dict`."""
        if _STATE_KEY not in state:
            raise SegscopeError(f"not a SegscopeMetric state (no {_STATE_KEY!r} key)")
        data = state[_STATE_KEY].cpu().numpy().tobytes()
        self.evaluation = self._from_payload(pickle.load(io.BytesIO(data)))
