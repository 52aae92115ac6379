"""``segscope demo``: synthetic predictions (--no-train), a tiny trained run, and no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segscope.cli import main

BLOCK_TORCH = "import sys; sys.modules['torch'] = None; "


def test_demo_no_train(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--no-train", "--out", str(out), "--num-images", "4", "--jobs", "1", "--no-report"]) == 0
    data = out / "data"
    for sub in ("images", "gt", "pred"):
        assert len(list((data / sub).glob("*.png"))) == 4, sub
    assert (data / "classes.yaml").exists() and not (out / "run").exists()
    metrics = json.loads((out / "results" / "metrics.json").read_text())
    assert metrics["num_images"] == 4 and metrics["config"]["predictions"] == "synthetic"
    assert 0 < metrics["miou"] < 1
    # a second run over the same folder starts clean
    assert main(["demo", "--no-train", "--out", str(out), "--num-images", "2", "--jobs", "1", "--no-report"]) == 0
    assert json.loads((out / "results" / "metrics.json").read_text())["num_images"] == 2


def test_demo_trains_predicts_and_evaluates(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--num-images", "2", "--train-images", "4", "--epochs", "1",
            "--steps-per-epoch", "2", "--jobs", "1", "--no-report"]
    assert main(args) == 0
    assert (out / "run" / "best.pt").exists() and (out / "run" / "curve.png").exists()
    assert len(list((out / "data" / "train" / "gt").glob("*.png"))) == 4
    assert sorted(p.name for p in (out / "data" / "probs").iterdir()) == ["street_0000.npy", "street_0001.npy"]
    metrics = json.loads((out / "results" / "metrics.json").read_text())
    assert metrics["config"]["predictions"] == "baseline" and metrics["num_images"] == 2
    assert metrics["config"]["images_dir"].endswith("images")


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_does_not_load_torch(tmp_path):
    proc = _run("import sys, segscope, segscope.cli, segscope.synth, segscope.baseline; "
                "print('torch' in sys.modules)", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_without_torch(tmp_path):
    code = BLOCK_TORCH + (
        "from segscope.cli import main; "
        "a = main(['demo', '--out', 'd', '--num-images', '2', '--jobs', '1', '--no-report']); "
        "b = main(['train', 'd/data/images', 'd/data/gt', '--classes', 'd/data/classes.yaml']); "
        "c = main(['evaluate', 'd/data/pred', 'd/data/gt', '--classes', 'd/data/classes.yaml', '--out', 'r', '--jobs', '1', '-q']); "
        "print(a, b, c)"
    )
    proc = _run(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 1 0"
    assert "PyTorch is not installed" in proc.stderr and "segscope[train]" in proc.stderr
    metrics = json.loads((tmp_path / "d" / "results" / "metrics.json").read_text())
    assert metrics["config"]["predictions"] == "synthetic"
