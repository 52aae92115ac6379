"""A minimal segmentation baseline: a small U-Net in plain PyTorch, paired augmentations,
imbalance-aware losses, training with validation through the evaluation core, prediction and
ONNX export.

PyTorch is an optional extra (``pip install 'segscope[train]'``). Importing this package does not
import torch; the modules that need it (``model``, ``losses``, ``train``, ``predict``, ``export``)
import it when they are imported. :func:`require_torch` gives a clear error when it is missing.

>>> from segscope.baseline import torch_available
>>> isinstance(torch_available(), bool)
True
"""

from __future__ import annotations

import importlib.util

from ..exceptions import SegscopeError

__all__ = ["torch_available", "require_torch", "LOSSES"]

#: the loss names ``segscope train --loss`` accepts
LOSSES = ("ce", "weighted-ce", "dice", "focal", "ce+dice")


def torch_available() -> bool:
    """True when PyTorch can be imported (checked without importing it)."""
    import sys

    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def require_torch(what: str = "this command"):
    """Import and return torch, or raise :class:`SegscopeError` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise SegscopeError(f"{what} needs PyTorch: pip install 'segscope[train]' (torch==2.13.0)") from None
    return torch
