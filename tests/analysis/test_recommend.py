"""What to improve next (exact gains), recommendations, failure cases, and the analyzer end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segscope import synth
from segscope.metrics.breakdown import to_codes, analyze_image, error_type_maps
from segscope.engine.config import EvalConfig
from segscope.engine.evaluation import Evaluation
from segscope.metrics.region import iou_per_class
from segscope.analysis.recommend import (
    pair_gain,
    rank_failure_cases,
    recommend,
    scenario_gains,
    top_confusions,
)


def test_scenario_gains_by_hand():
    g = scenario_gains([8, 4], [2, 1], [1, 2], [[1, 2]], [[2, 1]])["boundary"]
    assert g["iou_after"].tolist() == [1.0, 1.0]
    assert g["iou_gain"].tolist() == pytest.approx([1 - 8 / 11, 1 - 4 / 7])
    assert g["miou_gain"] == pytest.approx(1 - (8 / 11 + 4 / 7) / 2)


def test_pair_gain_by_hand():
    ga, gb, gm = pair_gain([8, 4], [2, 1], [1, 2], 1, 0, 2)
    assert ga == pytest.approx(6 / 7 - 4 / 7) and gb == pytest.approx(8 / 9 - 8 / 11)
    assert gm == pytest.approx((ga + gb) / 2)


@pytest.mark.parametrize("scenario,codes", [
    ("boundary", 1), ("extent", 2), ("missed_segments", None), ("invented_segments", None),
])
def test_scenario_gains_equal_the_iou_of_the_repaired_prediction(scenario, codes):
    scene = synth.make_scene(2, 96, 192)  # a scene with errors of all four kinds
    pred, _ = synth.make_prediction(scene, 2, severity=1.5)
    gt = scene.mask
    k = len(synth.CLASSES)
    p, g = to_codes(pred, gt, k, 255, False)
    res = analyze_image(p, g, k, 2)
    fp, fn = res.fp_type, res.fn_type
    fixed = pred.copy()
    if scenario == "missed_segments":
        sel = fn == 3
    elif scenario == "invented_segments":
        sel = fp == 3
    else:
        sel = (fp == codes) | (fn == codes)
    fixed[sel] = gt[sel]
    c = res.counts
    tp, fp_, fn_ = c[:, 0], c[:, 1] + c[:, 3] + c[:, 5], c[:, 2] + c[:, 4] + c[:, 6]
    gains = scenario_gains(tp, fp_, fn_, res.fixed_gt, res.fixed_pred)
    want = iou_per_class(fixed, gt, k, 255)
    np.testing.assert_allclose(gains[scenario]["iou_after"], want, rtol=0, atol=1e-12)
    assert sel.sum() == gains[scenario]["pixels"] and sel.sum() > 0


def test_top_confusions_and_drill_down():
    conf_fn = np.zeros((3, 3, 4), np.int64)
    conf_fn[0, 1, 2] = 30   # GT 1 predicted 2, boundary
    conf_fn[2, 1, 2] = 10   # and segment
    conf_fn[1, 2, 0] = 5
    conf_fp = np.zeros((3, 3, 3), np.int64)
    conf_fp[1, 1, 2] = 40
    conf_fp[2, 2, 0] = 5
    pairs = [("a", np.array([[1, 2, 25], [2, 0, 5]])), ("b", np.array([[1, 2, 15]]))]
    out = top_confusions(conf_fn, conf_fp, [100, 50, 60], [0, 5, 40], [0, 40, 5], ["x", "y", "z"], pairs)
    assert [(o["gt"], o["pred"], o["pixels"]) for o in out] == [("y", "z", 40), ("z", "x", 5)]
    top = out[0]
    assert top["share_of_gt_errors"] == 1.0 and top["share_of_pred_errors"] == 1.0
    assert top["fn_types"] == {"boundary": 30, "extent": 0, "segment": 10}
    assert top["fp_types"] == {"boundary": 0, "extent": 40, "segment": 0}
    assert top["images"] == [{"image": "a", "pixels": 25}, {"image": "b", "pixels": 15}]
    assert top["iou_gain_gt"] == pytest.approx(90 / 95 - 50 / 95)


def test_recommendation_rules():
    names = ["road", "pole", "car"]
    counts = np.array([
        [1000, 0, 0, 0, 0, 0, 0],
        [10, 0, 2, 0, 0, 0, 40],     # pole: mostly missed segments
        [500, 60, 60, 0, 10, 0, 0],  # car: boundary dominates
    ])
    tp = counts[:, 0]
    fp = counts[:, 1] + counts[:, 3] + counts[:, 5]
    fn = counts[:, 2] + counts[:, 4] + counts[:, 6]
    fixed_gt = np.zeros((4, 3), np.int64)
    fixed_pred = np.zeros((4, 3), np.int64)
    fixed_gt[2, 1] = 40
    fixed_pred[2, 0] = 40
    fixed_gt[0, 2] = 60
    fixed_pred[0, 2] = 60
    gains = scenario_gains(tp, fp, fn, fixed_gt, fixed_pred)
    seg = {"missed": np.array([[0, 0, 0], [3, 1, 0], [0, 0, 0]])}
    pairs = [{"gt": "pole", "pred": "road", "pixels": 40, "share_of_gt_errors": 40 / 42, "miou_gain": 0.01}]
    recs = recommend(names, tp, fp, fn, counts, gains, pairs, np.ones(3, bool), seg, (0.001, 0.01),
                     {"suspect_labels": 2, "sliver_share": 0.2, "low_agreement": [("car", 0.8)]})
    kinds = [(r["kind"], r["class"]) for r in recs]
    assert ("small_segments", "pole") in kinds and ("boundary", "car") in kinds and ("confusion", "pole") in kinds
    assert ("suspect_labels", None) in kinds and ("ambiguous", "car") in kinds
    assert ("annotation_jitter", None) not in kinds
    assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
    model = [r for r in recs if r["miou_gain"] is not None]
    assert model == sorted(model, key=lambda r: -r["miou_gain"])
    assert all(r["rule"] and r["action"] for r in recs)
    small = next(r for r in recs if r["kind"] == "small_segments")
    assert "100% of its missed segments are smaller than 1%" in small["rule"]


def test_rank_failure_cases():
    rows = [
        {"image": "a", "error_share": 0.5, "dominant_error": "segment", "e_boundary_ou": 0.1, "e_extent_ou": 0.0,
         "e_segment_ou": 0.4, "miou": 0.5},
        {"image": "b", "error_share": 0.2, "dominant_error": "boundary", "e_boundary_ou": 0.2, "e_extent_ou": 0.0,
         "e_segment_ou": 0.0, "miou": 0.8},
        {"image": "c", "error_share": float("nan"), "dominant_error": "none", "e_boundary_ou": float("nan"),
         "e_extent_ou": float("nan"), "e_segment_ou": float("nan"), "miou": float("nan")},
    ]
    ranked, by_type = rank_failure_cases(rows, 5)
    assert [r["image"] for r in ranked] == ["a", "b"]
    assert [r["image"] for r in by_type["boundary"]] == ["b", "a"]
    assert [r["image"] for r in by_type["segment"]] == ["a"] and by_type["extent"] == []


# ---------------------------------------------------------------------- the analyzer
def demo_pairs(n=6, seed=7):
    out = []
    for i in range(n):
        scene = synth.make_scene(seed + i, 96, 192)
        pred, record = synth.make_prediction(scene, seed + i, severity=1.5)
        out.append((f"s{i}", pred, scene.mask, record))
    return out


@pytest.fixture(scope="module")
def evaluated():
    spec = synth.street_spec()
    data = demo_pairs()
    ev = Evaluation(spec, EvalConfig(analyses=("errors",)))
    for name, pred, gt, _ in data:
        ev.update(pred, gt, image_id=name)
    return spec, data, ev, ev.compute()


def test_metrics_keys_and_identity(evaluated):
    spec, _, ev, m = evaluated
    for key in ("error_breakdown", "confusion_pairs", "segments", "annotations", "improvements",
                "recommendations", "failure_cases", "failure_cases_by_type"):
        assert key in m
    bd = m["error_breakdown"]
    assert bd["miou"] == pytest.approx(m["miou"], abs=1e-12)
    assert bd["miou"] + bd["me_boundary_ou"] + bd["me_extent_ou"] + bd["me_segment_ou"] == pytest.approx(1.0)
    for name, pc in m["per_class"].items():
        e = pc["errors"]
        assert e["tp"] == pc["tp"]
        assert e["fp_boundary"] + e["fp_extent"] + e["fp_segment"] == pc["fp"]
        assert e["fn_boundary"] + e["fn_extent"] + e["fn_segment"] == pc["fn"]
        if pc["iou"] is not None:
            assert pc["iou"] + pc["e_boundary_ou"] + pc["e_extent_ou"] + pc["e_segment_ou"] == pytest.approx(1.0)
    for row in ev.per_image_rows():
        assert row["miou"] + row["e_boundary_ou"] + row["e_extent_ou"] + row["e_segment_ou"] == pytest.approx(1.0)
        assert row["dominant_error"] in ("boundary", "extent", "segment", "none")
    json.dumps(m, allow_nan=False, default=float)  # serialisable once NaN are cleaned by write_json


def test_injected_errors_show_up(evaluated):
    spec, data, ev, m = evaluated
    names = spec.names
    missed = {(r[0], names[r[1]]) for rec in ev.records("errors") for r in rec["missed"]}
    invented = {(r[0], names[r[1]]) for rec in ev.records("errors") for r in rec["invented"]}
    for image, _, _, record in data:
        for r in record:
            if r["type"] == "missed_object" and r["pixels"] >= 4:
                assert (image, r["class"]) in missed
            if r["type"] == "invented_blob":
                assert (image, "vegetation") in invented
    swaps = [(image, r) for image, _, _, record in data for r in record if r["type"] == "class_swap"]
    assert swaps
    pairs = {(p["gt"], p["pred"]): p for p in m["confusion_pairs"]}
    assert ("car", "building") in pairs
    drill = [d["image"] for d in pairs[("car", "building")]["images"]]
    biggest = max(swaps, key=lambda t: t[1]["pixels"])[0]
    assert biggest in drill


def test_merge_order_gives_identical_results(evaluated):
    spec, data, _, m = evaluated
    cfg = EvalConfig(analyses=("errors",))
    a, b = Evaluation(spec, cfg), Evaluation(spec, cfg)
    for i, (name, pred, gt, _) in enumerate(reversed(data)):
        (a if i % 2 else b).update(pred, gt, image_id=name)
    m2 = b.merge(a).compute()
    for key in ("error_breakdown", "confusion_pairs", "segments", "improvements", "recommendations",
                "failure_cases"):
        assert json.dumps(m2[key], default=str, sort_keys=True) == json.dumps(m[key], default=str, sort_keys=True)


def test_type_maps_match_analyzer_counts(evaluated):
    spec, data, ev, m = evaluated
    name, pred, gt, _ = data[0]
    fp, fn = error_type_maps(pred, gt, spec.num_classes, ignore_index=255, band_ratio=0.01)
    counts = next(iter(ev.records("errors")))["counts"]
    assert int((fn == 1).sum() + (fp == 1).sum()) == int(counts[:, 1].sum() + counts[:, 2].sum())


def test_cli_flags_and_files(tmp_path):
    paths = synth.write_dataset(tmp_path / "data", num_images=3, height=64, width=128)
    out = tmp_path / "res"
    exe = str(Path(sys.executable).parent / "segscope")
    cmd = [exe, "evaluate", str(paths["pred"]), str(paths["gt"]),
           "--classes", str(paths["classes"]), "--out", str(out), "--segment-bins", "0.002,0.02",
           "--miss-threshold", "0.7", "--error-band-px", "2", "-q", "--skip", "boundary"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["segments"]["bins"] == [0.002, 0.02] and m["segments"]["miss_threshold"] == 0.7
    assert m["error_breakdown"]["band_px"] == 2
    for f in ("confusion_by_type.npz", "confusion_pairs.json", "missed_segments.csv", "invented_segments.csv",
              "per_image_errors.npz"):
        assert (out / f).exists()
    z = np.load(out / "confusion_by_type.npz")
    assert z["fn"].shape == (3, 9, 10) and z["fp"].shape == (3, 9, 9)
    bad = subprocess.run(cmd[:-5] + ["--segment-bins", "0.5,0.1"], capture_output=True, text=True)
    assert bad.returncode == 1 and "segment-bins" in bad.stderr
