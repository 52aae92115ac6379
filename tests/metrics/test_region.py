"""Region metrics: hand-worked cases, properties, and a peer (torchmetrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import segscope
from segscope.engine.config import EvalConfig
from segscope.engine.evaluation import Evaluation
from segscope.metrics.region import per_class_metrics, summary_metrics

CORE = EvalConfig(analyses=())


def test_hand_worked_three_classes():
    # GT / pred with an ignore pixel (255) and a pred of the ignore label at a valid pixel.
    gt = np.array([[0, 0, 1, 1], [0, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 255, 2]])
    ev = Evaluation(3, CORE, ignore_index=255)
    ev.update(pred, gt)
    m = ev.compute()
    pc = m["per_class"]
    # class 0: tp 2, fp 0, fn 1 -> IoU 2/3; class 1: tp 2, fp 1, fn 0 -> 2/3; class 2: tp 1, fn 1 -> 1/2
    assert pc["0"]["iou"] == pytest.approx(2 / 3)
    assert pc["1"]["iou"] == pytest.approx(2 / 3)
    assert pc["2"]["iou"] == pytest.approx(1 / 2)
    assert pc["2"]["gt_pixels"] == 2 and pc["2"]["pred_pixels"] == 1
    assert pc["1"]["precision"] == pytest.approx(2 / 3) and pc["1"]["recall"] == 1.0
    assert pc["0"]["dice"] == pytest.approx(4 / 5)
    assert m["pixel_accuracy"] == pytest.approx(5 / 7)
    assert m["mean_accuracy"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    assert m["miou"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)
    fw = (3 / 7) * (2 / 3) + (2 / 7) * (2 / 3) + (2 / 7) * (1 / 2)
    assert m["fwiou"] == pytest.approx(fw)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [0, 0, 1]]
    assert m["unmatched_pred_pixels"] == 1


def test_absent_class_is_null_and_left_out():
    gt = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 0], [1, 0]])
    m = segscope.evaluate_arrays([pred], [gt], 3, CORE)
    assert m["per_class"]["2"]["iou"] is None
    assert m["per_class"]["2"]["present"] is False
    assert m["absent_classes"] == ["2"]
    assert m["miou"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_predicted_but_absent_from_gt_counts_as_zero():
    gt = np.zeros((2, 2), dtype=np.uint8)
    pred = np.array([[0, 0], [0, 1]])
    m = segscope.evaluate_arrays([pred], [gt], 2, CORE)
    assert m["per_class"]["1"]["iou"] == 0.0
    assert m["miou"] == pytest.approx((3 / 4 + 0.0) / 2)
    assert m["per_class"]["1"]["recall"] is None  # no GT pixel: recall undefined


def test_exclude_keeps_pixels_but_leaves_the_means():
    gt = np.array([[0, 0, 0, 1]])
    pred = np.array([[0, 0, 1, 1]])
    plain = segscope.evaluate_arrays([pred], [gt], 2, CORE)
    excl = segscope.evaluate_arrays([pred], [gt], 2, EvalConfig(analyses=(), exclude=("0",)))
    assert excl["miou"] == pytest.approx(plain["per_class"]["1"]["iou"])
    assert excl["pixel_accuracy"] == plain["pixel_accuracy"]  # pixels still count
    assert excl["per_class"]["0"]["iou"] == plain["per_class"]["0"]["iou"]
    # an ignore label cannot also be a class id
    with pytest.raises(segscope.SegscopeError, match="collides"):
        segscope.evaluate_arrays([pred], [gt], 2, CORE, ignore_index=0)


def test_image_level_miou_uses_classes_present_in_each_gt():
    ev = Evaluation(2, CORE)
    ev.update(np.array([[0, 0]]), np.array([[0, 0]]))  # image mIoU 1 (class 1 not in GT)
    ev.update(np.array([[1, 1]]), np.array([[0, 1]]))  # class 0: 0, class 1: 1/2 -> 0.25
    m = ev.compute()
    assert m["miou_image"] == pytest.approx((1.0 + 0.25) / 2)
    assert [w["image"] for w in m["worst_images"]] == ["image_00001", "image_00000"]


def test_unknown_ids_are_errors():
    with pytest.raises(segscope.SegscopeError, match="GT has"):
        segscope.evaluate_arrays([np.zeros((2, 2), int)], [np.full((2, 2), 7)], 3, CORE)
    with pytest.raises(segscope.SegscopeError, match="prediction has"):
        segscope.evaluate_arrays([np.full((2, 2), 7)], [np.zeros((2, 2), int)], 3, CORE)
    m = segscope.evaluate_arrays(
        [np.full((2, 2), 7)], [np.zeros((2, 2), int)], 3, EvalConfig(analyses=(), allow_unknown_pred=True)
    )
    assert m["per_class"]["0"]["iou"] == 0.0 and m["unmatched_pred_pixels"] == 4


def test_unknown_pred_under_gt_ignore_is_fine():
    gt = np.array([[255, 0]])
    pred = np.array([[9, 0]])
    m = segscope.evaluate_arrays([pred], [gt], 2, CORE, ignore_index=255)
    assert m["per_class"]["0"]["iou"] == 1.0


def test_size_mismatch_is_an_error():
    with pytest.raises(segscope.SegscopeError, match="differs"):
        segscope.evaluate_arrays([np.zeros((2, 3), int)], [np.zeros((3, 2), int)], 2, CORE)


# ---------------------------------------------------------------- properties
masks = st.integers(1, 12).flatmap(
    lambda h: st.integers(1, 12).flatmap(
        lambda w: st.tuples(
            arrays(np.uint8, (h, w), elements=st.integers(0, 3)),
            arrays(np.uint8, (h, w), elements=st.sampled_from([0, 1, 2, 3, 255])),
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(masks)
def test_iou_in_unit_interval_and_perfect_is_one(pair):
    pred, gt = pair
    m = segscope.evaluate_arrays([pred], [gt], 4, CORE, ignore_index=255)
    for c in m["per_class"].values():
        assert c["iou"] is None or 0.0 <= c["iou"] <= 1.0
        assert c["dice"] is None or c["iou"] <= c["dice"] + 1e-12
    perfect = np.where(gt == 255, 0, gt).astype(np.uint8)
    p = segscope.evaluate_arrays([perfect], [gt], 4, CORE, ignore_index=255)
    for c in p["per_class"].values():
        assert c["iou"] is None or c["iou"] == 1.0


@settings(max_examples=40, deadline=None)
@given(masks, st.permutations(range(4)))
def test_permuting_class_ids_permutes_results(pair, perm):
    pred, gt = pair
    lut = np.arange(256, dtype=np.uint8)
    lut[:4] = perm
    a = segscope.evaluate_arrays([pred], [gt], 4, CORE, ignore_index=255)
    b = segscope.evaluate_arrays([lut[pred]], [lut[gt]], 4, CORE, ignore_index=255)
    for c in range(4):
        assert a["per_class"][str(c)]["iou"] == b["per_class"][str(perm[c])]["iou"]
    assert a["miou"] == pytest.approx(b["miou"], nan_ok=True)


@settings(max_examples=30, deadline=None)
@given(st.lists(masks, min_size=1, max_size=6), st.integers(0, 6))
def test_split_and_merge_gives_identical_matrices(pairs, cut):
    whole = Evaluation(4, CORE, ignore_index=255)
    left, right = Evaluation(4, CORE, ignore_index=255), Evaluation(4, CORE, ignore_index=255)
    for i, (p, g) in enumerate(pairs):
        whole.update(p, g, image_id=f"i{i}")
        (left if i < cut else right).update(p, g, image_id=f"i{i}")
    merged = right.merge(left) if left.rows else right
    a, b = whole.compute(), merged.compute()
    assert a["confusion_matrix"] == b["confusion_matrix"]
    assert a["miou"] == b["miou"] or (math.isnan(a["miou"]) and math.isnan(b["miou"]))
    assert a["miou_image"] == b["miou_image"] or math.isnan(a["miou_image"])


def test_summary_from_plain_matrix_matches_extended():
    cm = np.array([[5, 1], [2, 3]])
    s = summary_metrics(cm)
    assert s["miou"] == pytest.approx((5 / 8 + 3 / 6) / 2)
    assert per_class_metrics(cm)["gt_pixels"].tolist() == [6, 5]


# ---------------------------------------------------------------- a peer
def test_matches_torchmetrics_jaccard_on_random_data():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(0)
    k = 6
    for trial in range(5):
        gt = rng.integers(0, k, size=(4, 32, 40))
        gt[rng.random(gt.shape) < 0.1] = 255
        pred = np.where(rng.random(gt.shape) < 0.6, np.where(gt == 255, 0, gt), rng.integers(0, k, size=gt.shape))
        ours = segscope.evaluate_arrays(list(pred), list(gt), k, CORE, ignore_index=255)
        metric = tm.MulticlassJaccardIndex(num_classes=k, ignore_index=255, average="none")
        theirs = metric(torch.from_numpy(pred), torch.from_numpy(gt)).numpy()
        np.testing.assert_allclose([ours["per_class"][str(c)]["iou"] for c in range(k)], theirs, rtol=1e-6)
        macro = tm.MulticlassJaccardIndex(num_classes=k, ignore_index=255, average="macro")
        assert ours["miou"] == pytest.approx(float(macro(torch.from_numpy(pred), torch.from_numpy(gt))), rel=1e-6)
        acc = tm.MulticlassAccuracy(num_classes=k, ignore_index=255, average="micro")
        assert ours["pixel_accuracy"] == pytest.approx(float(acc(torch.from_numpy(pred), torch.from_numpy(gt))), rel=1e-6)
