"""Comparing runs: hand-worked deltas, the paired bootstrap against a plain loop, point estimates
equal to metrics.json, and the compare command."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from segscope.cli import main
from segscope.analysis.compare import (
    bootstrap_delta,
    bootstrap_weights,
    compare_runs,
    dataset_iou,
    load_counts,
)
from segscope.io.masks import read_mask, write_mask


def _counts(rows):
    """rows: per image, per class (tp, fp, fn)."""
    a = np.array(rows, dtype=np.int64)
    return a[..., 0], a[..., 1], a[..., 2]


def test_identical_runs_have_zero_delta():
    c = _counts([[[8, 1, 1], [1, 1, 1]], [[6, 0, 2], [0, 2, 0]]])
    d = bootstrap_delta(c, c, n_boot=300)
    assert (d["miou"]["delta"], d["miou"]["ci_low"], d["miou"]["ci_high"]) == (0.0, 0.0, 0.0)
    assert all(pc["delta"] == 0.0 and pc["ci_low"] == 0.0 for pc in d["per_class"])


def test_hand_worked_delta():
    # A: class 0 IoU = (8+6)/(10+8) = 14/18, class 1 IoU = 1/(3+2) = 0.2
    # B: class 0 IoU = (9+7)/(10+8) = 16/18, class 1 IoU = 2/(3+2) = 0.4
    a = _counts([[[8, 1, 1], [1, 1, 1]], [[6, 0, 2], [0, 2, 0]]])
    b = _counts([[[9, 0, 1], [2, 0, 1]], [[7, 0, 1], [0, 2, 0]]])
    d = bootstrap_delta(a, b, n_boot=200, seed=3)
    assert d["miou"]["a"] == pytest.approx((14 / 18 + 0.2) / 2)
    assert d["miou"]["b"] == pytest.approx((16 / 18 + 0.4) / 2)
    assert d["miou"]["delta"] == pytest.approx((2 / 18 + 0.2) / 2)
    assert d["per_class"][1]["delta"] == pytest.approx(0.2)
    # B is better on both images for class 0, so every resample says so
    assert d["per_class"][0]["ci_low"] > 0 and d["per_class"][0]["p_better"] == 1.0
    # excluding class 1 leaves class 0 alone in the mean
    e = bootstrap_delta(a, b, n_boot=50, exclude=[1])
    assert e["miou"]["delta"] == pytest.approx(2 / 18)


def test_one_image_gives_a_degenerate_interval():
    a = _counts([[[5, 1, 2], [3, 3, 0]]])
    b = _counts([[[6, 1, 1], [1, 3, 2]]])
    d = bootstrap_delta(a, b, n_boot=100)
    assert d["miou"]["ci_low"] == pytest.approx(d["miou"]["delta"])
    assert d["miou"]["ci_high"] == pytest.approx(d["miou"]["delta"])


def test_vectorised_resamples_equal_a_plain_loop():
    rng = np.random.default_rng(7)
    n, k = 9, 4
    a = tuple(rng.integers(0, 50, (n, k)) for _ in range(3))
    b = tuple(rng.integers(0, 50, (n, k)) for _ in range(3))
    a[0][:, 3] = 0
    a[1][:, 3] = 0
    a[2][:, 3] = 0  # class 3 absent in A: undefined there
    n_boot = 40
    d = bootstrap_delta(a, b, n_boot=n_boot, seed=11, ci=0.8, chunk=7)
    w = bootstrap_weights(n, n_boot, seed=11)
    deltas = []
    for row in w:
        idx = np.repeat(np.arange(n), row)  # the images of this resample, with repeats
        ia = [a[0][idx, c].sum() / max(1, (a[0][idx, c] + a[1][idx, c] + a[2][idx, c]).sum())
              if (a[0][idx, c] + a[1][idx, c] + a[2][idx, c]).sum() else np.nan for c in range(k)]
        ib = [b[0][idx, c].sum() / (b[0][idx, c] + b[1][idx, c] + b[2][idx, c]).sum() for c in range(k)]
        deltas.append(np.nanmean(ib) - np.nanmean(ia))
    lo, hi = np.quantile(deltas, [0.1, 0.9])
    assert d["miou"]["ci_low"] == pytest.approx(lo, abs=1e-12)
    assert d["miou"]["ci_high"] == pytest.approx(hi, abs=1e-12)
    assert d["per_class"][3]["delta"] is None and d["per_class"][3]["resamples"] == 0


def test_weights_are_reproducible_per_resample():
    w = bootstrap_weights(6, 10, seed=2)
    assert np.array_equal(w[4:7], bootstrap_weights(6, 10, seed=2, start=4, stop=7))
    assert not np.array_equal(w, bootstrap_weights(6, 10, seed=3))


def test_dataset_iou_undefined_union():
    assert np.isnan(dataset_iou([0], [0], [0])[0])


def test_bad_arguments():
    c = _counts([[[1, 0, 0]]])
    with pytest.raises(ValueError):
        bootstrap_delta(c, _counts([[[1, 0, 0], [1, 0, 0]]]))
    with pytest.raises(ValueError):
        bootstrap_delta(c, c, ci=1.5)


# ---------------------------------------------------------------------- two real runs
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A: synthetic predictions with errors; run B: the same, with two images made perfect."""
    from segscope import synth

    root = tmp_path_factory.mktemp("compare")
    p = synth.write_dataset(root / "data", num_images=6, height=48, width=96, seed=9)
    pred_b = root / "data" / "pred_b"
    shutil.copytree(p["pred"], pred_b)
    for name in ("street_0001", "street_0004"):
        write_mask(pred_b / f"{name}.png", read_mask(p["gt"] / f"{name}.png"))
    # and one made worse: everything predicted as the first class
    gt5 = read_mask(p["gt"] / "street_0005.png")
    write_mask(pred_b / "street_0005.png", np.zeros_like(gt5))
    out = {}
    for tag, pred in (("a", p["pred"]), ("b", pred_b)):
        out[tag] = root / f"results_{tag}"
        assert main([str(x) for x in ("evaluate", pred, p["gt"], "--classes", p["classes"], "--images", p["images"],
                                      "--out", out[tag], "--quiet", "--jobs", "1", "--skip", "errors")]) == 0
    out["root"] = root
    return out


def test_point_estimates_equal_metrics_json(runs):
    res = compare_runs(runs["a"], runs["b"], n_boot=50)
    ma = json.loads((runs["a"] / "metrics.json").read_text())
    mb = json.loads((runs["b"] / "metrics.json").read_text())
    assert res["bootstrap"]["miou"]["a"] == ma["miou"]
    assert res["bootstrap"]["miou"]["b"] == mb["miou"]
    for name in ma["classes"]:
        assert res["bootstrap"]["per_class"][name]["a"] == pytest.approx(ma["per_class"][name]["iou"], abs=1e-15)
        assert res["per_class"][name]["iou"]["delta"] == pytest.approx(
            mb["per_class"][name]["iou"] - ma["per_class"][name]["iou"])
    assert res["summary"]["pixel_accuracy"]["delta"] == pytest.approx(mb["pixel_accuracy"] - ma["pixel_accuracy"])
    assert "boundary_iou" in res["per_class"]["road"]  # every metric both runs have
    assert res["improved"][:2] and set(res["improved"]) >= {"street_0001", "street_0004"}
    assert res["regressed"] == ["street_0005"]


def test_images_in_one_run_only(runs, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(runs["b"], b)
    z = load_counts(b)
    keep = np.arange(len(z["image_ids"])) != 0
    np.savez_compressed(b / "per_image_counts.npz", image_ids=z["image_ids"][keep], tp=z["tp"][keep],
                        fp=z["fp"][keep], fn=z["fn"][keep])
    res = compare_runs(runs["a"], b, n_boot=20)
    assert res["bootstrap"]["images"] == 5 and res["bootstrap"]["only_in_a"] == 1


def test_compare_command(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main([str(x) for x in ("compare", runs["a"], runs["b"], "--out", out, "--report", "--n-boot", "200",
                                  "--jobs", "1")])
    stdout, err = capsys.readouterr()
    assert code == 0
    assert "mIoU" in stdout and "95% CI" in stdout
    res = json.loads((out / "compare.json").read_text())
    assert res["bootstrap"]["n_boot"] == 200
    rows = list(csv.DictReader((out / "per_class_deltas.csv").open()))
    assert [r["class"] for r in rows] == res["classes"] and "iou_delta" in rows[0]
    img_rows = list(csv.DictReader((out / "per_image_deltas.csv").open()))
    assert img_rows[0]["image"] == "street_0005"  # the most regressed first
    html = (out / "report" / "index.html").read_text()
    assert "street_0005" in html and "Regressed" in html
    panels = list((out / "report" / "panels").glob("*.png"))
    assert len(panels) == len(res["improved"]) + len(res["regressed"])


def test_compare_bad_input(runs, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(runs["b"], other)
    m = json.loads((other / "metrics.json").read_text())
    m["classes"] = m["classes"][::-1]
    (other / "metrics.json").write_text(json.dumps(m))
    assert main(["compare", str(runs["a"]), str(other), "--out", str(tmp_path / "x")]) == 1
    assert "different classes" in capsys.readouterr().err
    (other / "per_image_counts.npz").unlink()
    assert main(["compare", str(runs["a"]), str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 1
    assert main(["compare", str(runs["a"]), str(runs["b"]), "--ci", "2", "--out", str(tmp_path / "x")]) == 1


def test_a_comparison_cut_short_keeps_the_previous_files(runs, tmp_path, monkeypatch):
    import segscope.io.tables as tables
    from segscope.analysis import compare as compare_mod

    out = tmp_path / "cmp"
    assert main([str(x) for x in ("compare", runs["a"], runs["b"], "--out", out, "--n-boot", "20")]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"compare.json", "per_class_deltas.csv", "per_image_deltas.csv"}
    written = []

    def second_table_fails(path, *args, **kwargs):  # compare.json and the first table are written by then
        written.append(path)
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        return tables.write_csv(path, *args, **kwargs)

    monkeypatch.setattr(compare_mod, "write_csv", second_table_fails)
    with pytest.raises(OSError):
        compare_mod.write_comparison(compare_runs(runs["b"], runs["a"], n_boot=30), out)
    assert len(written) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["cmp"]
