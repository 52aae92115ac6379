"""segscope's build backend: setuptools' own, which after an editable install (``pip install -e .``)
compiles the kernels a default ``segscope evaluate`` uses into numba's cache, so that the first run
only loads them.

Every hook is setuptools.build_meta's; ``build_editable`` then runs
:func:`segscope.engine.runners.compile_kernels` in a fresh interpreter (the checkout's ``src``
first on its path), which writes numba's cache where a run looks for it (``NUMBA_CACHE_DIR``, else
``__pycache__`` beside each kernel file). numba's cache holds only for the numba version that
wrote it, so the compile uses the numba of the environment installed into when it has one
(pip's build isolation removed from the interpreter's path); else that of pip's build
environment, where ``get_requires_for_build_editable`` then asks for numba and what the engine
imports (the same version that the install resolves, unless something pins another).

The install never fails because of this: a compile that fails or takes too long is one line on
stderr (``pip install -v`` shows it), and the first run compiles what the cache lacks, as it
would have anyway. ``SEGSCOPE_NO_PRECOMPILE=1`` skips the compile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from setuptools import build_meta as _setuptools

__all__ = [
    "get_requires_for_build_wheel", "get_requires_for_build_sdist", "get_requires_for_build_editable",
    "prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable",
    "build_wheel", "build_sdist", "build_editable", "precompile", "SKIP",
]

#: set to 1 (or any value but 0 and empty) to install without compiling the kernels
SKIP = "SEGSCOPE_NO_PRECOMPILE"
#: what the compile imports, as ``[project] dependencies`` pins them (tests/test_build_backend.py)
COMPILE_REQUIRES = ["numpy>=1.24", "numba>=0.59", "Pillow>=10", "PyYAML>=6"]
#: seconds the compile may take before the install goes on without it
TIMEOUT_S = 900

SRC = Path(__file__).resolve().parents[1] / "src"
_COMPILE = "from segscope.engine.runners import compile_kernels; print(len(compile_kernels()))"
_PROBE = "import numba, numpy, PIL, yaml"

get_requires_for_build_wheel = _setuptools.get_requires_for_build_wheel
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist
prepare_metadata_for_build_wheel = _setuptools.prepare_metadata_for_build_wheel
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable
build_wheel = _setuptools.build_wheel
build_sdist = _setuptools.build_sdist


def get_requires_for_build_editable(config_settings=None) -> list[str]:
    """setuptools' requirements, and what the compile imports when the environment installed into
    lacks it."""
    requires = list(_setuptools.get_requires_for_build_editable(config_settings))
    if not _skipped() and _target_env() is None:
        requires += COMPILE_REQUIRES
    return requires


def build_editable(wheel_directory, config_settings=None, metadata_directory=None) -> str:
    """setuptools' editable wheel, then the kernels compiled (unless :data:`SKIP` is set)."""
    name = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    if not _skipped():
        precompile()
    return name


def precompile(env: dict | None = None, timeout: float = TIMEOUT_S) -> bool:
    """Compile the kernels of a default run in a fresh interpreter; one line on stderr says how it
    went. ``env``: its environment (None: the environment installed into when it has numba, else
    this one). Returns whether it compiled; never raises for a failed compile."""
    t, cpu = time.perf_counter(), _children_cpu()
    try:
        env = dict(env if env is not None else _target_env() or os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
        proc = subprocess.run([sys.executable, "-c", _COMPILE], env=env, cwd=SRC.parent, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit status {proc.returncode}"]
            raise RuntimeError(lines[-1])
        files = proc.stdout.strip().splitlines()[-1]
    except Exception as e:  # noqa: BLE001 - the install goes on; the first run compiles instead
        print(f"segscope: kernels not compiled at install ({type(e).__name__}: {e}); "
              "the first run compiles them", file=sys.stderr)
        return False
    print(f"segscope: compiled the kernels of {files} kernel files for the first run in "
          f"{time.perf_counter() - t:.0f} s ({_children_cpu() - cpu:.0f} s of CPU)", file=sys.stderr)
    return True


def _children_cpu() -> float:
    """CPU seconds of the ended child processes waited for (0 where unknown: not Unix)."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    except (ImportError, OSError):
        return 0.0
    return usage.ru_utime + usage.ru_stime


def _skipped() -> bool:
    return os.environ.get(SKIP, "") not in ("", "0")


def _target_env() -> dict | None:
    """The environment of this interpreter without pip's build isolation (its ``pip-build-env``
    entries of ``PYTHONPATH``), when numba and the rest of the compile's imports are there; else
    None."""
    env = dict(os.environ)
    path = env.pop("PYTHONPATH", "")
    kept = [p for p in path.split(os.pathsep) if p and "pip-build-env" not in p]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    if kept != [p for p in path.split(os.pathsep) if p]:
        env.pop("PYTHONNOUSERSITE", None)  # pip's isolation sets it
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE], env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return env if probe.returncode == 0 else None
