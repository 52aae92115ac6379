"""``segscope explain`` and ``evaluate --convention`` / ``--label-map`` / ``--reduce-zero-label``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from segscope.cli import app


@pytest.fixture
def run(tmp_path):
    """Three images of classes a, b; c only predicted, d nowhere."""
    rng = np.random.default_rng(0)
    for sub in ("pred", "gt"):
        (tmp_path / sub).mkdir()
    for i in range(3):
        g = rng.integers(0, 2, (12, 16)).astype(np.uint8)
        p = g.copy()
        p[:3, :4] = 2
        Image.fromarray(p).save(tmp_path / "pred" / f"im{i}.png")
        Image.fromarray(g).save(tmp_path / "gt" / f"im{i}.png")
    (tmp_path / "classes.yaml").write_text("classes: [a, b, c, d]\nignore_index: 255\n")
    return tmp_path


def _evaluate(root, *extra):
    args = ["evaluate", str(root / "pred"), str(root / "gt"), "--classes", str(root / "classes.yaml"),
            "--out", str(root / "out"), "-q", "--jobs", "1", "--skip", "boundary", "--skip", "errors", *extra]
    return CliRunner().invoke(app, args)


def test_explain_says_why_detectron2_differs(run):
    res = _evaluate(run, "--convention", "mmseg:nan_to_num=0")
    assert res.exit_code == 0, res.output
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    assert "mmseg:nan_to_num=0" in metrics["conventions"]
    out = CliRunner().invoke(app, ["explain", str(run / "out"), "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["convention"]: r for r in json.loads(out.output)}
    assert rows["detectron2"]["delta"] > 0
    assert rows["detectron2"]["why"] == ["class 'c' has no GT pixels but is predicted in 3 image(s): detectron2 "
                                         "leaves it out of the mean, segscope counts its IoU of 0"]
    assert rows["mmseg:nan_to_num=0"]["why"] == ["class 'd' appears in no image: mmseg with nan_to_num=0 adds a 0 "
                                                 "to the mean"]
    assert rows["mmseg:nan_to_num=0"]["delta"] < 0 and rows["segscope"]["delta"] == 0.0
    table = CliRunner().invoke(app, ["explain", str(run / "out")])
    assert table.exit_code == 0 and "detectron2" in table.output


def test_unknown_convention_is_one_line_error(run, capsys):
    from segscope.cli import main

    code = main(["evaluate", str(run / "pred"), str(run / "gt"), "--classes", str(run / "classes.yaml"),
                 "--out", str(run / "out"), "-q", "--convention", "smp-macro:nan_to_num=0"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "unknown option 'nan_to_num'; its options are zero_division" in err


def test_label_map_swaps_gt_values_all_at_once(run):
    for f in (run / "gt").iterdir():  # the GT stored with a and b swapped
        g = np.array(Image.open(f))
        Image.fromarray(np.where(g == 0, 1, np.where(g == 1, 0, g)).astype(np.uint8)).save(f)
    assert _evaluate(run, "--label-map", "0:1,1:0").exit_code == 0
    swapped = json.loads((run / "out" / "metrics.json").read_text())
    assert swapped["per_class"]["a"]["iou"] > 0.7 and swapped["per_class"]["b"]["iou"] > 0.7


def test_reduce_zero_label(run):
    for f in (run / "gt").iterdir():  # GT stored as 0 = other, v = class v - 1
        g = np.array(Image.open(f)).astype(np.uint8) + 1
        g[0, 0] = 0
        Image.fromarray(g).save(f)
    assert _evaluate(run, "--reduce-zero-label").exit_code == 0
    m = json.loads((run / "out" / "metrics.json").read_text())
    assert m["valid_pixels"] == 3 * 12 * 16 - 3
    assert m["per_class"]["a"]["gt_pixels"] > 0 and m["per_class"]["d"]["gt_pixels"] == 0


def test_the_report_shows_the_same_table(run):
    assert _evaluate(run).exit_code == 0
    res = CliRunner().invoke(app, ["report", str(run / "out"), "--worst-k", "0", "--max-panels", "0", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    html = next((run / "out" / "report").glob("*.html")).read_text()
    assert '<section id="conventions">' in html
    assert "detectron2 leaves it out of the mean" in html
