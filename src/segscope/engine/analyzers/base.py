"""The analyzer protocol, what an analyzer is told about an image, and the registry of analyzers.

Every analysis of ``segscope evaluate`` is one class that implements :class:`Analyzer` and is
entered in the registry with :func:`register`. The registry is the one list of analyses: the
validation of ``EvalConfig.analyses``, the choices of ``segscope evaluate --skip`` and the docs
read it (:func:`analyzer_names`, :func:`optional_analyses`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from ...classes import ClassSpec
from ...exceptions import SegscopeError
from ...metrics.confusion import ClassSubset
from ..config import EvalConfig

if TYPE_CHECKING:
    from ..sinks import Sink

__all__ = [
    "Analyzer",
    "ImageContext",
    "register",
    "registry",
    "analyzer_names",
    "optional_analyses",
    "make_analyzers",
]


@dataclass
class ImageContext:
    """What an analyzer may know about the image besides its two masks.

    ``states``: this image's states of the analyzers named in the analyzer's ``needs``.
    """

    image_id: str
    spec: ClassSpec
    config: EvalConfig
    pred_path: Path | None = None
    gt_path: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    states: dict[str, dict] = field(default_factory=dict)
    _present: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def classes_present(self, pred: np.ndarray, gt: np.ndarray) -> tuple[ClassSubset, np.ndarray, np.ndarray]:
        """The classes of this image (:class:`~segscope.metrics.confusion.ClassSubset`) and its
        two masks recoded to them (read-only), made once per image for every analyzer that runs
        on the classes present (specs of more than ``DENSE_STATE_CLASSES`` classes)."""
        got = self._present
        if got is None or got[0] is not pred or got[1] is not gt:
            sub = ClassSubset.of((pred, gt), self.spec.num_classes)
            ign = self.spec.index_ignore
            p, g = sub.recode(pred, ign), sub.recode(gt, ign)
            p.flags.writeable = g.flags.writeable = False
            got = self._present = (pred, gt, sub, p, g)
        return got[2:]


@runtime_checkable
class Analyzer(Protocol):
    """One analysis of a run.

    Attributes
    ----------
    name : the analysis name (``EvalConfig.analyses``, ``--skip``, the key of its state).
    needs : names of the analyzers whose states it reads; it runs after them, receives their
        per-image states in ``ctx.states`` and their pooled states in ``finalize``.
    keys : the top-level keys of ``metrics.json`` it adds (besides entries of ``per_class``
        and ``config``, which analyzers share).
    optional : False for the core analysis, which always runs.

    Per image, ``image(pred, gt, ctx)`` returns ``(state, row, record)``: ``state`` a dict of
    additive counts (integers, integer arrays, :class:`~segscope.engine.sinks.TopK`, nested
    dicts of these) that merge by addition; ``row`` this image's ``per_image.csv`` columns;
    ``record`` anything else of this image the outputs need (per-class counts, listed
    segments), or None; records go to the run's sink, not into memory.

    At the end, ``finalize(states, sink)`` returns this analysis' part of ``metrics.json`` from
    ``states`` (analyzer name -> pooled state, for itself and its ``needs``) and the records in
    ``sink``; it never reads another analyzer's output. ``write(states, metrics, sink, out_dir)``
    writes its own files.
    """

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]]
    keys: ClassVar[tuple[str, ...]]
    optional: ClassVar[bool]

    def __init__(self, spec: ClassSpec, config: EvalConfig) -> None: ...

    def image(self, pred: np.ndarray, gt: np.ndarray, ctx: ImageContext) -> tuple[dict, dict, Any]: ...

    def finalize(self, states: Mapping[str, dict], sink: "Sink") -> dict: ...

    def write(self, states: Mapping[str, dict], metrics: dict, sink: "Sink", out_dir: Path) -> None: ...


_REGISTRY: dict[str, type] = {}
# the built-in analyses, imported on first use of the registry (their modules import this one)
_BUILTIN = ("segscope.engine.analyzers.core", "segscope.engine.analyzers.boundary",
            "segscope.engine.analyzers.failure", "segscope.engine.analyzers.conventions")


def register(cls: type) -> type:
    """Class decorator: enter an analyzer in the registry under its ``name``."""
    for attr in ("name", "needs", "keys", "optional", "image", "finalize", "write"):
        if not hasattr(cls, attr):
            raise TypeError(f"analyzer {cls.__name__} lacks {attr!r}")
    _REGISTRY[cls.name] = cls
    return cls


def registry() -> dict[str, type]:
    """Analysis name -> analyzer class: the built-in ones in their fixed order (core first),
    whatever order their modules were imported in, then the others in registration order."""
    for module in _BUILTIN:
        importlib.import_module(module)
    rank = {module: i for i, module in enumerate(_BUILTIN)}
    order = sorted(_REGISTRY, key=lambda n: rank.get(_REGISTRY[n].__module__, len(rank)))  # stable
    return {name: _REGISTRY[name] for name in order}


def analyzer_names() -> tuple[str, ...]:
    """Every registered analysis."""
    return tuple(registry())


def optional_analyses() -> tuple[str, ...]:
    """The analyses a run may skip (all but core)."""
    return tuple(n for n, cls in registry().items() if cls.optional)


def check_analyses(names) -> tuple[str, ...]:
    """``names`` as a tuple, or a SegscopeError naming the unknown ones and the registry."""
    names = tuple(names)
    known = registry()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SegscopeError(
            f"unknown analysis {', '.join(map(repr, unknown))}; choose from {', '.join(optional_analyses())}"
        )
    return names


def make_analyzers(spec: ClassSpec, config: EvalConfig) -> list:
    """The analyzers of a run: core plus ``config.analyses``, each after those it needs.

    The order is the registry's wherever ``needs`` allow, whatever the order of
    ``config.analyses``, so the keys of ``metrics.json`` come out in one order.
    """
    known = registry()
    wanted = {"core", *check_analyses(config.analyses)}
    for name in wanted:
        missing = [n for n in known[name].needs if n not in wanted]
        if missing:
            raise SegscopeError(f"the {name!r} analysis needs {', '.join(map(repr, missing))}, which is skipped")
    order: list[str] = []
    pending = [n for n in known if n in wanted]
    while pending:
        ready = next((n for n in pending if all(d in order for d in known[n].needs)), None)
        if ready is None:
            raise SegscopeError(f"analyses that need each other: {', '.join(pending)}")
        order.append(ready)
        pending.remove(ready)
    return [known[n](spec, config) for n in order]
