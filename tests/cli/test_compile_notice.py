"""The first run on an empty kernel cache says that kernels are being compiled; a warm run does not."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from segscope.engine.runners import _compile_groups
from segscope.io.masks import write_mask

NOTICE = "compiling kernels, once: about"


def _evaluate(tmp_path, cache, out):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "segscope", "evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-n", "3",
           "--skip", "boundary", "--skip", "errors", "--jobs", "1", "-q", "--out", str(tmp_path / out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_notice_on_an_empty_cache_only(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_mask(tmp_path / "pred" / f"{name}.png", rng.integers(0, 3, (24, 32)).astype(np.uint8))
        write_mask(tmp_path / "gt" / f"{name}.png", rng.integers(0, 3, (24, 32)).astype(np.uint8))
    cache = tmp_path / "cache"
    cache.mkdir()
    cold = _evaluate(tmp_path, cache, "r1")
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(NOTICE) == 1, cold.stderr
    line = next(x for x in cold.stderr.splitlines() if NOTICE in x)
    assert line.startswith("segscope: ") and line.endswith(" s") and int(line.split()[-2]) >= 1
    warm = _evaluate(tmp_path, cache, "r2")
    assert warm.returncode == 0, warm.stderr
    assert NOTICE not in warm.stderr
    assert (tmp_path / "r1" / "metrics.json").read_bytes() == (tmp_path / "r2" / "metrics.json").read_bytes()


class _A:
    def __init__(self, name, needs=()):
        self.name, self.needs = name, needs


def test_compile_groups_each_analyzer_with_what_it_needs():
    core, b, e, x = _A("core"), _A("boundary", ("core",)), _A("errors", ("core",)), _A("extra", ("errors",))
    assert _compile_groups([core, b, e]) == [("core", "boundary"), ("core", "errors")]
    assert _compile_groups([core, b, e, x]) == [("core", "boundary"), ("core", "errors", "extra")]
    assert _compile_groups([core]) == [("core",)]
