"""Segments: components, size bins, missed / invented segments, instances and iIoU."""

from __future__ import annotations

import numpy as np
import pytest

from segscope.metrics.breakdown import analyze_image, to_codes
from segscope.metrics.segments import (
    bin_labels,
    iiou,
    image_segments,
    instance_segments,
    segment_metrics,
    size_bins,
)


def run(pred, gt, k, bins=(0.001, 0.01), tau=0.5, segments=None, band=1):
    p, g = to_codes(np.asarray(pred), np.asarray(gt), k, 255, True)
    res = analyze_image(p, g, k, band)
    return res, image_segments(res, "img", k, bins, tau, segments)


def make():
    gt = np.zeros((100, 100), np.uint8)
    gt[10:13, 10:13] = 1      # 9 px   (0.09 %: bin 0)
    gt[40:50, 40:50] = 1      # 100 px (1 %:   bin 2)
    gt[70:75, 70:76] = 1      # 30 px  (0.3 %: bin 1)
    pred = gt.copy()
    pred[10:13, 10:13] = 0    # missed completely
    pred[70:75, 70:73] = 0    # half found: recall 0.5 -> not missed at tau 0.5
    pred[40:50, 50:55] = 1    # 50 px overshoot attached to the big square
    pred[90:92, 0:3] = 1      # 6 px invented
    return pred, gt


def test_bins_and_labels():
    assert bin_labels((0.001, 0.01)) == ["<0.1%", "0.1-1%", ">=1%"]
    assert size_bins([0.0009, 0.001, 0.005, 0.01, 0.5], (0.001, 0.01)).tolist() == [0, 1, 1, 2, 2]


def test_missed_invented_and_binned_tallies():
    pred, gt = make()
    res, (state, row) = run(pred, gt, 2)
    assert state["seg_n"][1].tolist() == [1, 1, 1]
    assert state["seg_missed"][1].tolist() == [1, 0, 0]
    assert state["seg_tp"][1].tolist() == [0, 15, 100]
    assert state["seg_size"][1].tolist() == [9, 30, 100]
    # the big square's union adds the 50 px overshoot of its predicted component
    assert state["seg_union"][1].tolist() == [9, 30, 150]
    # background is one segment with everything but the objects
    assert state["seg_n"][0].sum() == 1
    assert len(state["missed"]) == 1
    m = state["missed"][0]
    assert m[:8] == ("img", 1, 9, 0.0009, 10, 10, 13, 13) and m[8] == 0.0 and m[10] == 0
    assert state["invented_n"].tolist() == [0, 1] and state["invented_px"].tolist() == [0, 6]
    assert state["invented"] == [("img", 1, 6, 0.0006, 90, 0, 92, 3, 0)]
    assert row == {"gt_segments": 4, "missed_segments": 1, "missed_segment_rate": 0.25, "invented_segments": 1}
    sm = segment_metrics(state)
    assert sm["missed_rate"][1].tolist() == [1.0, 0.0, 0.0]
    assert sm["iou"][1, 2] == pytest.approx(100 / 150)


def test_miss_threshold_and_bins_are_configurable():
    pred, gt = make()
    _, (state, _) = run(pred, gt, 2, bins=(0.005,), tau=0.6)
    assert state["seg_n"].shape == (2, 2)
    assert state["seg_missed"][1].tolist() == [2, 0]  # the half-found one is now missed too


def test_components_are_eight_connected():
    gt = np.zeros((10, 10), np.uint8)
    gt[2, 2] = gt[3, 3] = 1  # diagonal neighbours: one segment
    gt[6, 6] = 1
    _, (state, row) = run(gt, gt, 2)
    assert state["seg_n"][1].sum() == 2


def test_instances_split_touching_objects_and_iiou():
    gt = np.zeros((20, 20), np.uint8)
    gt[5:10, 2:12] = 1                       # two touching cars: one component
    inst = np.zeros((20, 20), np.int32)
    inst[5:10, 2:4] = 1001                   # a small car (10 px)
    inst[5:10, 4:12] = 1002                  # a big car (40 px)
    pred = gt.copy()
    pred[5:10, 2:4] = 0                      # the small car is missed
    p, g = to_codes(pred, gt, 2, 255, True)
    res = analyze_image(p, g, 2, 1)
    seg = instance_segments(inst, lambda lids: np.where(lids == 1, 1, -1), res)
    state, row = image_segments(res, "img", 2, (0.001, 0.01), 0.5, seg)
    assert row["missed_segments"] == 1
    items = state["instances"][0]
    assert sorted(items.tolist()) == [[1, 0, 10, 0], [1, 40, 40, 40]]  # class, tp, size, group_tp
    # with classes 0 and 1 in one group, the small car predicted as class 0 is found in its group
    grouped, _ = image_segments(res, "img", 2, (0.001, 0.01), 0.5, seg, groups=np.array([0, 0]))
    assert sorted(grouped["instances"][0].tolist()) == [[1, 0, 10, 10], [1, 40, 40, 40]]
    # Cityscapes iIoU: mean size 25; iTP = 40*25/40 = 25; iFN = 10*25/10 = 25; FP = 0
    assert iiou(items, np.array([0, 0]), 2)[1] == pytest.approx(0.5)
    assert np.isnan(iiou(items, np.array([0, 0]), 2)[0])
    # without instances the two cars are one segment, found with recall 0.8
    _, (state2, row2) = run(pred, gt, 2)
    assert row2["missed_segments"] == 0 and state2["seg_n"][1].sum() == 1


def test_unknown_instance_class_keeps_components():
    gt = np.zeros((6, 6), np.uint8)
    gt[1:3, 1:3] = 1
    inst = np.zeros((6, 6), np.int32)
    inst[1:3, 1:3] = 9001
    p, g = to_codes(gt, gt, 2, 255, True)
    res = analyze_image(p, g, 2, 1)
    labels, n, cls, is_inst = instance_segments(inst, lambda lids: np.full(lids.shape, -1), res)
    assert not is_inst.any()
    np.testing.assert_array_equal(labels, res.gt_labels)


def _random_pair(seed, h=60, w=70, k=5):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, k, (h // 6, w // 7)).repeat(6, 0).repeat(7, 1).astype(np.uint8)
    pred = gt.copy()
    flip = rng.random((h, w)) < 0.15
    pred[flip] = rng.integers(0, k, flip.sum())
    gt[rng.random((h, w)) < 0.05] = 255
    pred[rng.random((h, w)) < 0.03] = 255
    return pred, gt, k


@pytest.mark.parametrize("seed", range(6))
def test_typing_pass_facts_equal_the_segment_pass(seed):
    """The component facts gathered while typing the pixels (one pass over runs) equal those of
    the separate pass over the painted label maps; pair_hists equals label_hist."""
    from segscope._lazy import kernels

    sk = kernels("segscope.metrics._segments_kernels")
    pred, gt, k = _random_pair(seed)
    p, g = to_codes(pred, gt, k, 255, True)
    res = analyze_image(p, g, k, 2)
    seg, lp = res.gt_labels, res.pred_labels
    n, cls = res.gt_components["n"], np.asarray(res.gt_components["cls"], np.int64)
    ref = sk.segment_pass(seg, n, cls, lp, res.pred_components["n"], res.pred_components["cls"], p, g)
    fused = res.segment_facts
    for a, b in zip(ref[:6], fused[:6]):
        np.testing.assert_array_equal(a, b)
    key = lambda links: np.unique(links[0] * 100000 + links[1])  # noqa: E731
    np.testing.assert_array_equal(key(ref[6]), key(fused[6]))
    sel = np.arange(n)
    psel = np.arange(res.pred_components["n"])
    hist, phist = sk.pair_hists(*res.pair_runs, p.shape[1], res.gt_runs[3], cls, res.pred_runs[3],
                                res.pred_components["cls"], sel, fused[2], psel, fused[5], k + 1)
    np.testing.assert_array_equal(hist, sk.label_hist(seg, sel, fused[2], p, k + 1, g))
    np.testing.assert_array_equal(phist, sk.label_hist(lp, psel, fused[5], g, k + 1, g))
    # the painted maps are the 8-connected components of each class
    from scipy import ndimage as ndi

    for c in range(k):
        lab, m = ndi.label(g == c, structure=np.ones((3, 3)))
        ours = np.where(g == c, seg, -1)
        assert len(np.unique(ours[g == c])) == m
        for j in range(1, m + 1):
            assert len(np.unique(ours[lab == j])) == 1


def test_facts_without_maps_equal_with_maps():
    pred, gt, k = _random_pair(11)
    p, g = to_codes(pred, gt, k, 255, True)
    a = analyze_image(p, g, k, 2)
    b = analyze_image(p, g, k, 2, maps=False)
    assert b.fp_type is None and b.fn_type is None
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.conf_fn, b.conf_fn)
    sa = image_segments(a, "x", k)
    sb = image_segments(b, "x", k)
    assert sa[1] == sb[1] and sa[0]["missed"] == sb[0]["missed"] and sa[0]["invented"] == sb[0]["invented"]


@pytest.mark.parametrize("seed", range(4))
def test_typing_pass_lists_each_component_pair_once(seed):
    """The (GT, predicted component) pairs of the typing pass are distinct: exactly the pairs the
    segment pass meets, without its repeats."""
    from segscope._lazy import kernels

    sk = kernels("segscope.metrics._segments_kernels")
    pred, gt, k = _random_pair(seed)
    p, g = to_codes(pred, gt, k, 255, True)
    res = analyze_image(p, g, k, 2, maps=False)
    links = res.segment_facts[6]
    n_p = res.pred_components["n"]
    ref = sk.segment_pass(res.gt_labels, res.gt_components["n"], np.asarray(res.gt_components["cls"], np.int64),
                          res.pred_labels, n_p, res.pred_components["cls"], p, g)[6]
    ours = links[0] * n_p + links[1]
    assert len(np.unique(ours)) == len(ours) > 0
    np.testing.assert_array_equal(np.sort(ours), np.unique(ref[0] * n_p + ref[1]))
