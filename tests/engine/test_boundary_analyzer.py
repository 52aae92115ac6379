"""The boundary analysis inside an evaluation: keys, pooling, merging, warnings."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from segscope import EvalConfig, Evaluation
from segscope.metrics.boundary import (
    BoundaryWidthWarning,
    bf_score,
    boundary_counts,
    boundary_width,
    trimap_counts,
)


def _images():
    rng = np.random.default_rng(5)
    out = []
    for h, w in ((40, 60), (40, 60), (50, 30)):
        gt = np.zeros((h, w), np.uint8)
        gt[h // 3:, :] = 1
        gt[5:15, 10:25] = 2
        gt[-6:, -8:] = 255
        pred = gt.copy()
        pred[h // 3 - 2:h // 3, :] = 1  # the boundary moves by 2 px
        pred[rng.random(gt.shape) < 0.02] = 0
        out.append((pred, gt))
    return out


def _evaluate(images, **cfg):
    config = EvalConfig(analyses=("boundary",), **cfg)
    ev = Evaluation(3, config, ignore_index=255)
    for i, (p, g) in enumerate(images):
        ev.update(p, g, image_id=f"im{i}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWidthWarning)
        return ev, ev.compute()


def test_keys_and_pooled_counts():
    images = _images()
    ev, m = _evaluate(images, boundary_ratio=0.05, trimap=(2, 1, 4))
    for key in ("mboundary_iou", "mbf_score", "trimap", "boundary_band_share"):
        assert key in m
    assert list(m["trimap"]) == ["1", "2", "4"]
    assert set(m["trimap"]["2"]) == {"miou", "pixel_accuracy", "pixels"}
    widths = sorted({boundary_width(g.shape, 0.05) for _, g in images})
    assert m["config"]["boundary_px_used"] == widths == [3, 4]
    assert m["config"]["boundary_ratio"] == 0.05
    assert len(m["config"]["bf_tolerance_px_used"]) == 2
    inter = np.zeros(3, np.int64)
    union = np.zeros(3, np.int64)
    for p, g in images:
        i, u = boundary_counts(p, g, 3, 255, boundary_width(g.shape, 0.05))
        inter += i
        union += u
    for c, name in enumerate(("0", "1", "2")):
        pc = m["per_class"][name]
        assert pc["boundary_intersection"] == inter[c] and pc["boundary_union"] == union[c]
        assert pc["boundary_iou"] == pytest.approx(inter[c] / union[c])
        assert pc["min_iou_boundary_iou"] == min(pc["iou"], pc["boundary_iou"])
    assert m["mboundary_iou"] == pytest.approx(np.mean(inter / union))
    # the boundary is harder than the region
    assert m["mboundary_iou"] < m["miou"]
    # trimap counts pooled over images
    tri = sum(trimap_counts(p, g, 3, (1, 2, 4), 255) for p, g in images)
    t = tri[0][:3, :3]
    assert m["trimap"]["1"]["pixels"] == int(tri[0][:3].sum())
    assert m["trimap"]["1"]["pixel_accuracy"] == pytest.approx(np.trace(t) / tri[0][:3].sum())
    rows = ev.per_image_rows()
    assert all("boundary_miou" in r and "mbf_score" in r for r in rows)


def test_bf_is_mean_over_images_where_defined():
    a = np.zeros((8, 8), np.uint8)
    a[:, 4:] = 1
    b = np.zeros((8, 8), np.uint8)  # no class 1 anywhere: undefined for class 1
    c_gt = a.copy()
    c_pred = np.zeros((8, 8), np.uint8)  # class 1 missed: exactly one contour empty -> 0
    images = [(a, a), (b, b), (c_pred, c_gt)]
    _, m = _evaluate(images, bf_ratio=0.1)
    assert m["per_class"]["1"]["bf_score"] == pytest.approx(0.5)  # mean of 1 and 0
    per_image = [bf_score(p, g, 3, 255, 0.1) for p, g in images]
    expected0 = np.mean([s[0] for s in per_image])
    assert m["per_class"]["0"]["bf_score"] == pytest.approx(expected0)
    assert m["per_class"]["2"]["bf_score"] is None  # never defined
    assert m["mbf_score"] == pytest.approx((expected0 + 0.5) / 2)


def test_merge_order_gives_identical_numbers():
    images = _images()
    _, whole = _evaluate(images)
    config = EvalConfig(analyses=("boundary",))
    parts = []
    for chunk in (images[2:], images[:2]):
        ev = Evaluation(3, config, ignore_index=255)
        for i, (p, g) in enumerate(chunk):
            ev.update(p, g, image_id=f"x{len(parts)}{i}")
        parts.append(ev)
    merged = parts[0].merge(parts[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWidthWarning)
        m = merged.compute()
    for key in ("mboundary_iou", "mbf_score", "trimap", "boundary_band_share"):
        assert m[key] == whole[key]
    for name in ("0", "1", "2"):
        for key in ("boundary_iou", "bf_score", "min_iou_boundary_iou"):
            assert m["per_class"][name][key] == whole["per_class"][name][key]


def test_band_warning_once_and_only_when_wide():
    images = _images()
    config = EvalConfig(analyses=("boundary",), boundary_px=20)
    ev = Evaluation(3, config, ignore_index=255)
    for p, g in images:
        ev.update(p, g)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ev.compute()
    assert m["boundary_band_share"] > 0.8
    assert [w.category for w in caught] == [BoundaryWidthWarning]
    assert m["config"]["boundary_px_used"] == [20]
    # a narrow band: no warning
    big = np.zeros((400, 400), np.uint8)
    big[200:, :] = 1
    ev = Evaluation(2, EvalConfig(analyses=("boundary",), boundary_ratio=0.005))
    ev.update(big, big)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ev.compute()
    assert not caught and m["boundary_band_share"] < 0.8
    assert m["mboundary_iou"] == 1.0 and m["mbf_score"] == 1.0


def test_excluded_and_absent_classes():
    images = _images()
    _, m = _evaluate(images, exclude=("0",))
    biou = [m["per_class"][n]["boundary_iou"] for n in ("1", "2")]
    assert m["mboundary_iou"] == pytest.approx(np.mean(biou))
    assert m["per_class"]["0"]["boundary_iou"] is not None  # still reported, left out of the mean
    gt = np.zeros((10, 10), np.uint8)
    _, m = _evaluate([(gt, gt)], boundary_px=1)
    assert m["per_class"]["2"]["boundary_iou"] is None
    assert m["per_class"]["2"]["min_iou_boundary_iou"] is None
    assert m["per_class"]["2"]["bf_score"] is None


def test_image_level_boundary_miou():
    gt = np.zeros((6, 6), np.uint8)
    gt[:, 3:] = 1
    pred = np.zeros((6, 6), np.uint8)
    pred[:, 4:] = 1
    pred[0, 0] = 2  # a class absent from the GT does not enter the image mean
    ev, _ = _evaluate([(pred, gt)], boundary_px=1)
    from segscope.metrics.boundary import boundary_iou

    b = boundary_iou(pred, gt, 3, 255, px=1)
    row = ev.per_image_rows()[0]
    assert row["boundary_miou"] == pytest.approx((b[0] + b[1]) / 2)
    assert row["boundary_px"] == 1
    assert not math.isnan(b[2])  # class 2 does have a boundary IoU (0) at dataset level


def test_huge_image_scratch_is_not_kept_and_counts_agree(monkeypatch):
    """Above the scratch threshold the analyzer allocates its masks per image and drops them:
    the figures are those of the reused scratch."""
    import segscope.engine.analyzers.boundary as mod
    from segscope import EvalConfig, Evaluation

    rng = np.random.default_rng(3)
    gt = rng.integers(0, 4, (12, 16)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
    pred = np.roll(gt, 2, axis=1)
    cfg = EvalConfig(analyses=("boundary",), boundary_px=2)
    kept = Evaluation(4, cfg)
    kept.update(pred, gt)
    kept.update(pred, gt)
    monkeypatch.setattr(mod, "_KEEP_SCRATCH_PIXELS", 0)
    fresh = Evaluation(4, cfg)
    fresh.update(pred, gt)
    assert getattr(fresh.analyzers[1]._local, "masks", None) is None
    fresh.update(pred, gt)
    assert kept.compute() == fresh.compute()
