"""The report reads only the files a results folder lists: source folders recorded as the file
system's root (or a system folder, or a huge one) are not walked; the pictures are looked up by
the image ids of the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import segscope
from segscope.cli import main
from segscope.report.data import locate_sources, unwalkable

SRC = Path(segscope.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A results folder of a small synthetic run, with its images."""
    from segscope.synth import write_dataset

    root = tmp_path_factory.mktemp("guards")
    data = write_dataset(root / "data", num_images=5, height=32, width=48, seed=9)
    out = root / "run"
    assert main(["evaluate", str(data["pred"]), str(data["gt"]), "--classes", str(data["classes"]), "--out",
                 str(out), "--images", str(data["images"]), "--quiet", "--jobs", "1"]) == 0
    return data, out


def _with_config(out: Path, tmp_path: Path, **config) -> Path:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["config"].update(config)
    (copy / "metrics.json").write_text(json.dumps(metrics))
    return copy


def test_a_report_whose_folders_are_the_root_says_why_it_has_no_pictures(run, tmp_path):
    _, out = run
    copy = _with_config(out, tmp_path, pred_dir="/", gt_dir="/", images_dir="/")
    env = {"PYTHONPATH": str(SRC), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "segscope", "report", str(copy), "--jobs", "1"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    page = (copy / "report" / "index.html").read_text()
    assert "is the file system&#39;s root" in page or "is the file system's root" in page
    assert not (copy / "report" / "panels").is_dir() or not any((copy / "report" / "panels").iterdir())


def test_sources_are_looked_up_by_image_id_without_listing(run, tmp_path, monkeypatch):
    data, out = run
    metrics = json.loads((out / "metrics.json").read_text())
    import segscope.report.data as data_mod

    def no_listing(*args, **kwargs):
        raise AssertionError("a folder was listed")

    monkeypatch.setattr(data_mod, "list_files", no_listing)
    monkeypatch.setattr(data_mod, "unwalkable", no_listing)
    src = locate_sources(out, metrics, ["street_0001", "street_0003"])
    assert src.reason is None
    assert src.pairs == {i: (data["pred"] / f"{i}.png", data["gt"] / f"{i}.png") for i in ("street_0001", "street_0003")}
    assert src.image_for("street_0003") == data["images"] / "street_0003.png"


def test_an_id_that_leaves_the_folder_is_not_looked_up(run, tmp_path):
    _, out = run
    metrics = json.loads((out / "metrics.json").read_text())
    (tmp_path / "outside.png").write_bytes(b"")
    escaping = f"../{tmp_path.name}/outside"
    src = locate_sources(out, metrics, [escaping])
    assert escaping not in src.pairs


def test_system_and_huge_folders_are_not_walked(tmp_path):
    assert unwalkable(Path("/")) == "is the file system's root"
    assert unwalkable(Path("/proc/self")) == "is a system folder"
    for i in range(5):
        (tmp_path / f"f{i}").write_bytes(b"")
    assert unwalkable(tmp_path, limit=4) == "holds more than 4 entries"
    assert unwalkable(tmp_path, limit=5) is None
