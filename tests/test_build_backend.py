"""The build backend (build_support/segscope_build.py) is setuptools' own, and an editable install
leaves numba's cache holding every kernel a default run uses."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from setuptools import build_meta

from segscope.synth import write_dataset

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
NOTICE = "compiling kernels, once: about"


def _backend():
    path = ROOT / "build_support" / "segscope_build.py"
    spec = importlib.util.spec_from_file_location("segscope_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(tomllib is None, reason="needs tomllib (Python 3.11)")
def test_pyproject_names_the_backend():
    system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert system["build-backend"] == "segscope_build"
    assert system["backend-path"] == ["build_support"]


def test_hooks_are_setuptools_own():
    backend = _backend()
    for hook in ("get_requires_for_build_wheel", "get_requires_for_build_sdist", "prepare_metadata_for_build_wheel",
                 "prepare_metadata_for_build_editable", "build_wheel", "build_sdist"):
        assert getattr(backend, hook) is getattr(build_meta, hook), hook


def test_metadata_hooks_describe_segscope(tmp_path, monkeypatch):
    backend = _backend()
    monkeypatch.chdir(ROOT)
    for hook in (backend.prepare_metadata_for_build_wheel, backend.prepare_metadata_for_build_editable):
        out = tmp_path / hook.__name__
        out.mkdir()
        name = hook(str(out))
        assert name.startswith("segscope-")
        metadata = (out / name / "METADATA").read_text()
        assert "Name: segscope" in metadata and "Requires-Dist: numba" in metadata


def test_editable_requires_numba_only_where_the_target_lacks_it(monkeypatch):
    backend = _backend()
    monkeypatch.chdir(ROOT)
    plain = build_meta.get_requires_for_build_editable()
    assert backend.get_requires_for_build_wheel() == build_meta.get_requires_for_build_wheel()
    monkeypatch.delenv(backend.SKIP, raising=False)
    monkeypatch.setattr(backend, "_target_env", lambda: None)
    assert backend.get_requires_for_build_editable() == plain + backend.COMPILE_REQUIRES
    monkeypatch.setattr(backend, "_target_env", lambda: dict(os.environ))
    assert backend.get_requires_for_build_editable() == plain
    monkeypatch.setattr(backend, "_target_env", lambda: None)
    monkeypatch.setenv(backend.SKIP, "1")
    assert backend.get_requires_for_build_editable() == plain


@pytest.mark.skipif(tomllib is None, reason="needs tomllib (Python 3.11)")
def test_compile_requires_are_the_projects_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(_backend().COMPILE_REQUIRES) <= set(deps)


def test_build_editable_compiles_after_setuptools_unless_skipped(monkeypatch):
    backend = _backend()
    calls = []

    class Setuptools:
        @staticmethod
        def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
            calls.append(("wheel", wheel_directory, config_settings, metadata_directory))
            return "segscope-0.1.0-0.editable-py3-none-any.whl"

    monkeypatch.setattr(backend, "_setuptools", Setuptools)
    monkeypatch.setattr(backend, "precompile", lambda: calls.append(("compile",)))
    monkeypatch.delenv(backend.SKIP, raising=False)
    assert backend.build_editable("w", {"a": "b"}, "m") == "segscope-0.1.0-0.editable-py3-none-any.whl"
    assert calls == [("wheel", "w", {"a": "b"}, "m"), ("compile",)]
    calls.clear()
    monkeypatch.setenv(backend.SKIP, "1")
    backend.build_editable("w")
    assert calls == [("wheel", "w", None, None)]


def test_a_failed_compile_is_one_line_not_an_error(capsys):
    backend = _backend()
    assert backend.precompile(env=dict(os.environ), timeout=0.01) is False
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("segscope: kernels not compiled at install (TimeoutExpired")


def test_target_env_drops_pips_isolation(monkeypatch):
    backend = _backend()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/tmp/pip-build-env-x/site", "/keep"]))
    monkeypatch.setenv("PYTHONNOUSERSITE", "1")
    env = backend._target_env()
    assert env is not None  # this environment has numba
    assert env["PYTHONPATH"] == "/keep" and "PYTHONNOUSERSITE" not in env


_RUN = r"""
import json, sys
from segscope import _jit
from segscope.run import evaluate_folders
compiled = []
with _jit.on_first_compile(lambda: compiled.append(1)):
    evaluate_folders(sys.argv[1] + "/pred", sys.argv[1] + "/gt", classes=sys.argv[2], jobs=1)
print(json.dumps({"used": _jit.used(), "cached": {m: _jit.cached(m) for m in _jit.used()},
                  "compiled": bool(compiled)}))
"""


def _street(folder: Path) -> None:
    """Two synthetic street pairs as 8-bit PNGs (``u8``) and as 16-bit PNGs (``u16``)."""
    write_dataset(folder / "u8", num_images=2, height=96, width=192)
    for side in ("pred", "gt"):
        (folder / "u16" / side).mkdir(parents=True)
        for f in sorted((folder / "u8" / side).glob("*.png")):
            Image.fromarray(np.asarray(Image.open(f)).astype(np.uint16)).save(folder / "u16" / side / f.name)


@pytest.mark.slow
def test_precompile_leaves_every_kernel_of_a_default_run_cached(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert _backend().precompile(env=env)
    _street(tmp_path)
    u8 = tmp_path / "u8"
    run = subprocess.run([sys.executable, "-c", _RUN, str(u8), str(u8 / "classes.yaml")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"segscope.metrics._confusion_kernels", "segscope.metrics._boundary_kernels",
            "segscope.metrics._breakdown_kernels"} <= set(seen["used"])
    assert all(seen["cached"].values()) and not seen["compiled"], seen
    assert NOTICE not in run.stderr
    for data, n in (("u16", "19"), ("u8", "150")):
        cmd = [sys.executable, "-m", "segscope", "evaluate", str(tmp_path / data / "pred"), str(tmp_path / data / "gt"),
               "-n", n, "--ignore-index", "255", "-q", "--out", str(tmp_path / f"out-{data}-{n}")]
        cli = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert cli.returncode == 0, cli.stderr
        assert NOTICE not in cli.stderr, (data, n, cli.stderr)
