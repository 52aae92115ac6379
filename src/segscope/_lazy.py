"""Lazy access to a kernel file: the module is imported on the first attribute read.

Every kernel file named so is remembered (:func:`kernel_modules`), so that the engine can ask
numba's cache about them before a run (see :mod:`segscope._jit`).

>>> k = kernels("math")
>>> k.sqrt(4.0)
2.0
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["kernels", "kernel_modules"]

_NAMED: dict[str, None] = {}


class kernels:  # noqa: N801 - reads as a function at the call site
    """A stand-in for the kernel module ``name`` that imports it on first use."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None
        _NAMED.setdefault(name)

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<kernels of {self._name}>"


def kernel_modules() -> tuple[str, ...]:
    """The kernel files named by a :class:`kernels` so far (in this process), in order."""
    return tuple(_NAMED)
