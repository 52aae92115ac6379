"""Pictures: hand-worked pixels of masks, overlays and error maps; panels and plots render."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segscope import viz
from segscope.viz import plots

COLORS = [(10, 20, 30), (200, 0, 0), (0, 200, 0)]


def test_colorize_classes_ignore_and_unknown():
    m = np.array([[0, 1, 2, 255, 255, 7]])
    rgb = viz.colorize(m, COLORS, ignore_index=255)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 6, 3)
    assert rgb[0, :3].tolist() == [list(c) for c in COLORS]
    # ignore: white/grey stripes; unknown id 7: black/magenta stripes, never a class colour
    assert {tuple(rgb[0, 3]), tuple(rgb[0, 4])} <= set(viz.IGNORE_COLORS)
    assert tuple(rgb[0, 5]) in ((0, 0, 0), (255, 0, 255))
    # ignore stripes alternate along a row
    row = viz.colorize(np.full((1, 8), 255), COLORS, ignore_index=255)[0]
    assert len({tuple(p) for p in row}) == 2


def test_colorize_rejects_3d():
    with pytest.raises(ValueError):
        viz.colorize(np.zeros((2, 2, 3), int), COLORS)


def test_overlay_alpha():
    img = np.full((2, 2, 3), 100, np.uint8)
    m = np.array([[0, 1], [2, 1]])
    assert np.array_equal(viz.overlay(img, m, COLORS, alpha=0.0), img)
    assert np.array_equal(viz.overlay(img, m, COLORS, alpha=1.0), viz.colorize(m, COLORS))
    half = viz.overlay(img, m, COLORS, alpha=0.5)
    assert half[0, 1].tolist() == [150, 50, 50]  # (100 + 200) / 2, (100 + 0) / 2
    with pytest.raises(ValueError):
        viz.overlay(img, m, COLORS, alpha=1.5)
    with pytest.raises(ValueError):
        viz.overlay(img, np.zeros((3, 3), int), COLORS)


def test_overlay_ignore_keeps_the_image_striped():
    img = np.full((1, 4, 3), 100, np.uint8)
    out = viz.overlay(img, np.full((1, 4), 255), COLORS, alpha=0.5, ignore_index=255)
    values = {int(v) for v in out[0, :, 0]}
    assert values == {100, 139}  # the image itself, and the image lightened by a quarter: 0.75*100 + 0.25*255


def test_label_edges_and_band_outline():
    lab = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    assert viz.label_edges(lab).astype(int).tolist() == [[0, 1, 1, 0], [0, 1, 1, 0]]
    gt = np.zeros((1, 11), int)
    gt[0, 5:] = 1
    # edge pixels 4 and 5; band of width 2 covers 2..7; its outline is its two ends
    assert np.flatnonzero(viz.band_outline(gt, 2)[0]).tolist() == [2, 7]
    assert not viz.band_outline(gt, 0).any()
    assert not viz.band_outline(np.zeros((3, 3), int), 2).any()


def _scene():
    gt = np.zeros((24, 24), np.uint8)
    gt[4:14, 4:14] = 1
    pred = gt.copy()
    pred[4:14, 14] = 1      # a one-pixel protrusion along the right edge of the square: boundary
    pred[19:22, 19:22] = 2  # an invented isolated blob of class 2: segment (FP of class 2)
    return pred, gt


def test_error_map_colours_error_types():
    pytest.importorskip("segscope.metrics.breakdown")
    pred, gt = _scene()
    m = viz.error_map(pred, gt, 3, band_px=1, outline=False)
    assert tuple(m[20, 20]) == viz.ERROR_COLORS["segment"]
    assert tuple(m[8, 14]) == viz.ERROR_COLORS["boundary"]
    # correct pixels are muted grey (r == g == b) and never an error colour
    assert m[0, 0, 0] == m[0, 0, 1] == m[0, 0, 2]
    assert tuple(m[8, 8]) not in viz.ERROR_COLORS.values()


def test_error_map_per_class_separates_fp_and_fn():
    pytest.importorskip("segscope.metrics.breakdown")
    pred, gt = _scene()
    gt2 = gt.copy()
    gt2[0:2, 20:22] = 2  # a small GT object of class 2 that the prediction misses: FN segment of 2
    m = viz.error_map(pred, gt2, 3, class_index=2, band_px=1, outline=False)
    assert tuple(m[20, 20]) == viz.SIDE_COLORS[("fp", "segment")]
    assert tuple(m[0, 20]) == viz.SIDE_COLORS[("fn", "segment")]
    # class 1's protrusion is not an error of class 2
    assert tuple(m[8, 14]) not in viz.SIDE_COLORS.values()


def test_error_map_without_the_errors_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "segscope.metrics.breakdown", None)  # import fails
    pred, gt = _scene()
    fp, fn, typed = viz.error_types(pred, gt, 3)
    assert typed is False
    assert fp[20, 20] == 2 and fp[0, 0] == 0 and int((fp > 0).sum()) == 10 + 9
    m = viz.error_map(pred, gt, 3, outline=False)
    assert tuple(m[20, 20]) == viz.ERROR_COLORS["error"]
    data = viz.panel_data(pred, gt, ["a", "b", "c"], COLORS, band_px=1)
    assert data.stats["dominant"] is None and data.stats["error_pixels"] == 19


def test_error_map_ignore_is_not_an_error():
    gt = np.array([[0, 255], [1, 1]], np.uint8)
    pred = np.array([[0, 1], [1, 0]], np.uint8)
    fp, fn, _ = viz.error_types(pred, gt, 2, ignore_index=255, band_px=0)
    assert fp[0, 1] == 0 and fn[0, 1] == 0
    assert fn[1, 1] > 0


def test_worst_window_finds_the_errors():
    e = np.zeros((40, 60), bool)
    e[30:34, 50:55] = True
    ys, xs = viz.worst_window(e, frac=0.25, min_size=4)
    assert ys.stop - ys.start == 10 and xs.stop - xs.start == 15
    assert e[ys, xs].sum() == e.sum()


def test_boundary_comparison_colours():
    gt = np.zeros((6, 6), int)
    gt[:, 3:] = 1
    pred = np.zeros((6, 6), int)
    pred[:, 4:] = 1
    out = viz.boundary_comparison(pred, gt, colors=COLORS)
    assert tuple(out[0, 2]) == viz.GT_CONTOUR      # only a GT edge
    assert tuple(out[0, 4]) == viz.PRED_CONTOUR    # only a predicted edge
    assert tuple(out[0, 3]) == viz.BOTH_CONTOUR    # both
    crop = viz.boundary_comparison(pred, gt, colors=COLORS, window=(slice(0, 2), slice(2, 5)))
    assert crop.shape == (2, 3, 3)


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, (5, 7), elements=st.integers(0, 3)), arrays(np.uint8, (5, 7), elements=st.integers(0, 3)))
def test_image_class_iou_matches_a_plain_count(pred, gt):
    iou, n = viz.image_class_iou(pred, gt, 3, ignore_index=3)  # GT 3: the ignore label
    valid = gt != 3
    for c in range(3):
        tp = int((valid & (pred == c) & (gt == c)).sum())
        union = int((valid & ((pred == c) | (gt == c))).sum())  # a prediction of 3 is a miss
        assert (np.isnan(iou[c]) if union == 0 else iou[c] == tp / union)
        assert n[c] == int((gt == c).sum())


def test_panel_miou_matches_per_image_miou():
    from segscope.engine.config import EvalConfig
    from segscope.engine.evaluation import Evaluation

    pred, gt = _scene()
    row = Evaluation(3, EvalConfig(analyses=())).update(pred, gt)
    data = viz.panel_data(pred, gt, ["a", "b", "c"], COLORS, band_px=1)
    assert data.miou == pytest.approx(row["miou"], abs=1e-12)
    assert data.worst[0][0] == "c"  # the invented class: IoU 0


@pytest.mark.parametrize("with_image", [True, False])
@pytest.mark.parametrize("class_index", [None, 1])
def test_panel_renders(tmp_path, with_image, class_index):
    from PIL import Image

    pred, gt = _scene()
    img = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8) if with_image else None
    data = viz.panel_data(pred, gt, ["a", "b", "c"], COLORS, image=img, image_id="x", band_px=1)
    out = viz.save_panel(tmp_path / "p.png", data, class_index=class_index)
    with Image.open(out) as im:
        w, h = im.size
    tiles = 5 if with_image else 4
    assert w == tiles * 300 + (tiles + 1) * 6 and h > 300


def test_panel_resizes_a_mismatched_image():
    pred, gt = _scene()
    data = viz.panel_data(pred, gt, ["a", "b", "c"], COLORS, image=np.zeros((12, 12, 3), np.uint8))
    assert data.image.shape == (24, 24, 3)


def test_compare_figure_renders(tmp_path):
    pred, gt = _scene()
    rgb = viz.compare_image("x", gt, pred, gt, ["a", "b", "c"], COLORS, miou_a=0.5, miou_b=1.0)
    assert rgb.shape[1] == 4 * 300 + 5 * 6
    # the change tile: the invented blob was fixed by B (green)
    assert (rgb == np.array([40, 200, 60], np.uint8)).all(axis=2).any()


METRICS = {
    "classes": ["a", "b", "c"], "miou": 0.5, "pixel_accuracy": 0.9,
    "per_class": {
        "a": {"iou": 0.9, "gt_share": 0.9, "errors": {"tp": 9, "fp_boundary": 1, "fn_boundary": 0, "fp_extent": 0,
                                                      "fn_extent": 0, "fp_segment": 0, "fn_segment": 0}},
        "b": {"iou": 0.1, "gt_share": 0.1, "e_boundary_ou": 0.2, "e_extent_ou": 0.3, "e_segment_ou": 0.4},
        "c": {"iou": None, "gt_share": 0.0},
    },
    "confusion_matrix": [[9, 1, 0], [2, 1, 0], [0, 0, 0]],
    "trimap": {"1": {"miou": 0.3, "pixel_accuracy": 0.5}, "4": {"miou": 0.45, "pixel_accuracy": 0.8}},
}


def test_plots_render_with_their_keys_and_skip_without():
    for fn in (viz.plot_class_imbalance, viz.plot_confusion, viz.plot_error_breakdown, viz.plot_trimap):
        fig = fn(METRICS)
        assert fig is not None, fn.__name__
        assert viz.figure_rgb(fig).size > 0
    bare = {"classes": ["a"], "per_class": {"a": {"iou": 0.5}}}
    assert viz.plot_error_breakdown(bare) is None
    assert viz.plot_trimap(bare) is None
    empty = {"1": {"miou": None, "pixel_accuracy": None, "pixels": 0}, "4": {"miou": None, "pixel_accuracy": None}}
    assert viz.plot_trimap({**METRICS, "trimap": empty}) is None  # no pixel near a GT boundary (a 1×1 image)
    half = {**empty, "8": {"miou": 0.5, "pixel_accuracy": None}}
    assert viz.figure_rgb(viz.plot_trimap({**METRICS, "trimap": half})).size > 0
    assert viz.plot_confusion(bare) is None
    assert viz.plot_segment_recall(None) is None
    table = {"bins": ["<0.1%", ">0.1%"], "classes": {"a": {"recall": [0.2, 0.9]}}}
    assert viz.plot_segment_recall(table) is not None


def test_error_shares_from_counts_and_ratios():
    s = viz.error_shares(METRICS["per_class"]["a"])
    assert s == {"iou": 0.9, "boundary": 0.1, "extent": 0.0, "segment": 0.0}
    s = viz.error_shares(METRICS["per_class"]["b"])
    assert s == {"iou": 0.1, "boundary": 0.2, "extent": 0.3, "segment": 0.4}
    assert viz.error_shares({"iou": 0.5}) is None


def test_confusion_top_k_keeps_the_most_confused():
    cm = np.diag([100] * 6).astype(float)
    cm[4, 5] = 30
    cm[1, 4] = 20
    sel = plots._confusion_selection(cm, 3)
    assert sel.tolist() == [1, 4, 5]
    m = {"classes": list("abcdef"), "confusion_matrix": cm.tolist()}
    assert viz.plot_confusion(m, top_k=3) is not None
