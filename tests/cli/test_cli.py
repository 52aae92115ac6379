"""The command line: the worked examples, outputs, and bad input (one line, exit 1, no output)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segscope.cli import main
from segscope.io.masks import write_mask

SEED_PRED = np.array([[0, 0, 1], [0, 1, 1], [0, 0, 1]], dtype=np.uint8)
SEED_GT = np.array([[0, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=np.uint8)


@pytest.fixture
def seed_dirs(tmp_path):
    write_mask(tmp_path / "pred" / "seed.png", SEED_PRED)
    write_mask(tmp_path / "gt" / "seed.png", SEED_GT)
    return tmp_path


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_worked_example(seed_dirs, capsys):
    out = seed_dirs / "results"
    code, stdout, _ = run(["evaluate", seed_dirs / "pred", seed_dirs / "gt", "--num-classes", "2", "--out", out], capsys)
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["per_class"]["1"]["iou"] == 0.8
    for key in ("classes", "num_images", "pixel_accuracy", "mean_accuracy", "miou", "fwiou", "miou_image",
                "per_class", "confusion_matrix", "config"):
        assert key in m
    for key in ("iou", "dice", "precision", "recall", "accuracy", "gt_pixels", "pred_pixels", "present"):
        assert key in m["per_class"]["0"]
    rows = list(csv.DictReader((out / "per_image.csv").open()))
    assert rows[0]["image"] == "seed" and float(rows[0]["iou_1"]) == 0.8
    cm = list(csv.reader((out / "confusion_matrix.csv").open()))
    assert cm[1][1:] == ["4", "0"] and cm[2][1:] == ["1", "4"]
    assert "IoU" in stdout and "GT share" in stdout


def test_stats_worked_example(tmp_path, capsys):
    mask = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8)
    write_mask(tmp_path / "gts" / "m.png", mask)
    code, _, _ = run(["stats", tmp_path / "gts", "--num-classes", "2", "--json", tmp_path / "s.json"], capsys)
    assert code == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["class_counts"] == {"0": 14, "1": 2}
    assert s["imbalance_ratio"] == 7.0
    for key in ("classes", "num_images", "class_counts", "frequency", "images_with_class", "imbalance_ratio", "ignore_pixels"):
        assert key in s


def test_stats_of_a_large_spec_lists_the_classes_that_occur(tmp_path, capsys):
    write_mask(tmp_path / "gts" / "m.png", np.array([[0, 0, 1, 7]], dtype=np.uint8))
    code, out, _ = run(["stats", tmp_path / "gts", "--num-classes", "500"], capsys)
    assert code == 0
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") == 6]
    assert rows == ["0", "1", "7"]  # only the classes that occur
    assert "classes that never occur (left out of the table): 2, 3, 4, 5, 6, 8," in out and "and 477 more" in out
    code, out, _ = run(["stats", tmp_path / "gts", "--num-classes", "9"], capsys)
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") == 6]
    assert code == 0 and sorted(rows) == [str(c) for c in range(9)]  # few: every class, zeros included
    assert "classes that never occur: 2, 3, 4, 5, 6, 8" in out


def test_stats_cityscapes_labelids(tmp_path, capsys):
    write_mask(tmp_path / "gts" / "a_gtFine_labelIds.png", np.array([[7, 7, 26, 0]], dtype=np.uint8))
    code, _, _ = run(["stats", tmp_path / "gts", "--classes", "cityscapes", "--json", tmp_path / "s.json"], capsys)
    assert code == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["class_counts"]["road"] == 2 and s["class_counts"]["car"] == 1 and s["ignore_pixels"] == 1


def test_cityscapes_labelid_predictions_get_a_hint(tmp_path, capsys):
    gt = np.array([[7, 8, 26, 26]], dtype=np.uint8)
    write_mask(tmp_path / "gt" / "a_gtFine_labelIds.png", gt)
    write_mask(tmp_path / "pred" / "a.png", gt)  # labelIds, but train ids are the default
    code, _, err = run(["evaluate", tmp_path / "pred", tmp_path / "gt", "--classes", "cityscapes",
                        "--gt-suffix", "_gtFine_labelIds", "--out", tmp_path / "r"], capsys)
    assert code == 1 and "--pred-ids label" in err
    code, _, _ = run(["evaluate", tmp_path / "pred", tmp_path / "gt", "--classes", "cityscapes", "--pred-ids", "label",
                      "--gt-suffix", "_gtFine_labelIds", "--out", tmp_path / "r", "--skip", "boundary", "--skip", "errors"], capsys)
    assert code == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["miou"] == 1.0


def test_one_folder_as_predictions_and_gt_is_warned(seed_dirs, capsys):
    both = seed_dirs / "both"
    write_mask(both / "seed_pred.png", SEED_PRED)
    write_mask(both / "seed_gt.png", SEED_GT)
    code, _, err = run(["evaluate", both, both, "-n", "2", "--quiet"], capsys)
    assert code == 0
    warned = [line for line in err.splitlines() if "as both the prediction and the GT" in line]
    assert len(warned) == 1 and "2 of 2 pair(s)" in warned[0] and str(both) in warned[0]
    # one folder holding both, told apart by suffixes: a layout, not a mix-up
    code, _, err = run(["evaluate", both, both, "-n", "2", "--quiet", "--pred-suffix", "_pred", "--gt-suffix", "_gt"],
                       capsys)
    assert code == 0 and "both the prediction and the GT" not in err
    code, _, err = run(["evaluate", seed_dirs / "pred", seed_dirs / "gt", "-n", "2", "--quiet"], capsys)
    assert code == 0 and "both the prediction and the GT" not in err


def test_exclude_option(seed_dirs, capsys):
    out = seed_dirs / "r"
    code, _, _ = run(["evaluate", seed_dirs / "pred", seed_dirs / "gt", "-n", "2", "--exclude", "0", "--out", out], capsys)
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["miou"] == 0.8 and m["excluded_classes"] == ["0"]


@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("gt_bad_id", ["-n", "2"], "gt/seed.png: GT has ids not in the class spec: 7 (1 px)"),
        ("pred_bad_id", ["-n", "2"], "pred/seed.png: prediction has ids not in the class spec"),
        ("size", ["-n", "2"], "prediction size 2×2 differs from GT size 3×3"),
        ("corrupt", ["-n", "2"], "pred/seed.png: cannot read mask"),
        ("missing", ["-n", "2"], "have no prediction: other"),
        ("none", ["--classes", "nope.yaml"], "nope.yaml: no such class spec file"),
        ("none", ["--classes", "x", "-n", "2"], "either --classes or --num-classes"),
        ("rgb", ["-n", "2"], "RGB colour mask needs a class spec"),
    ],
)
def test_bad_input_one_line_exit_1_no_output(seed_dirs, capsys, setup, args, message):
    pred, gt = seed_dirs / "pred" / "seed.png", seed_dirs / "gt" / "seed.png"
    if setup == "gt_bad_id":
        bad = SEED_GT.copy(); bad[0, 0] = 7; write_mask(gt, bad)
    elif setup == "pred_bad_id":
        bad = SEED_PRED.copy(); bad[0, 0] = 9; write_mask(pred, bad)
    elif setup == "size":
        write_mask(pred, np.zeros((2, 2), dtype=np.uint8))
    elif setup == "corrupt":
        pred.write_bytes(b"garbage")
    elif setup == "missing":
        write_mask(seed_dirs / "gt" / "other.png", SEED_GT)
    elif setup == "rgb":
        Image.fromarray(np.zeros((3, 3, 3), dtype=np.uint8)).save(pred)
    out = seed_dirs / "results"
    code, _, err = run(["evaluate", seed_dirs / "pred", seed_dirs / "gt", *args, "--out", out], capsys)
    assert code == 1
    lines = [l for l in err.strip().splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("segscope: error:"), err
    assert message in lines[0]
    assert "Traceback" not in err
    assert not out.exists()


def test_usage_errors_exit_2(seed_dirs, capsys):
    code, _, _ = run(["evaluate", seed_dirs / "pred"], capsys)
    assert code == 2
    code, _, _ = run(["evaluate", seed_dirs / "pred", seed_dirs / "gt", "--jobs", "-3"], capsys)
    assert code == 2


def test_missing_folder(tmp_path, capsys):
    code, _, err = run(["evaluate", tmp_path / "nope", tmp_path, "-n", "2"], capsys)
    assert code == 1 and "nope: prediction folder does not exist" in err


def test_console_script_and_module_entry(seed_dirs):
    exe = Path(sys.executable).parent / "segscope"
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.run([str(exe), "evaluate", str(seed_dirs / "pred"), str(seed_dirs / "gt"), "-n", "2",
                           "--out", str(seed_dirs / "o")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(exe), "evaluate", str(seed_dirs / "pred"), str(seed_dirs / "gt"), "-n", "1",
                           "--out", str(seed_dirs / "o2")], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("segscope ")


def test_stats_without_a_spec_counts_values(tmp_path, capsys):
    write_mask(tmp_path / "g" / "a.png", np.array([[0, 3, 3, 255]], dtype=np.uint8))
    code, _, _ = run(["stats", tmp_path / "g", "--ignore-index", "255", "--json", tmp_path / "s.json"], capsys)
    assert code == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["class_counts"] == {"0": 1, "1": 0, "2": 0, "3": 2} and s["ignore_pixels"] == 1


def test_ctrl_c_says_interrupted_and_exits_130(tmp_path):
    """SIGINT during a run: one line on stderr, exit code 130 (typer alone exits 130 silently)."""
    import signal
    import time

    from segscope.synth import write_dataset

    paths = write_dataset(tmp_path / "data", num_images=300, height=128, width=256, seed=2)
    cmd = [sys.executable, "-m", "segscope", "evaluate", str(paths["pred"]), str(paths["gt"]),
           "--classes", str(paths["classes"]), "--out", str(tmp_path / "out"), "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while (proc.poll() is None and time.monotonic() < deadline and not _reads_masks(proc.pid, paths["gt"])
           and not any(tmp_path.glob(".out.staging-*"))):
        time.sleep(0.002)  # until the run is under way (its staging folder exists, or it has a GT mask open)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    # 130 from main(), or death by SIGINT itself when the signal lands during interpreter
    # shutdown: a shell shows both as 130
    assert proc.returncode in (130, -signal.SIGINT), err
    assert err.strip().splitlines()[-1] == "segscope: interrupted"


def _reads_masks(pid: int, folder: Path) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(folder)):
                return True
        except OSError:
            continue
    return False


def test_help_lists_each_command_by_its_summary():
    from typer.main import get_command

    from segscope.cli import app

    group = get_command(app)
    for name, command in group.commands.items():
        summary = command.short_help
        assert summary and "\n" not in summary and "  " not in summary, name
        assert "Example" not in summary, name
        assert command.help.startswith(summary[:40]), name
        page = command.help.split("\n\n")
        assert all(not line.startswith(" ") for line in page[0].splitlines()), name
