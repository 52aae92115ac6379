"""Boundary IoU, boundary F-score and trimap: the fast kernels against plain references, and
hand-worked cases for every metric and every empty-mask rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from references import reference_band  # tests/metrics/references.py
from scipy import ndimage as ndi

from segscope import SegscopeError
from segscope.metrics.boundary import (
    bf_counts,
    bf_score,
    bf_tolerance,
    boundary_bands,
    boundary_counts,
    boundary_iou,
    boundary_width,
    contours,
    trimap_counts,
    trimap_distance,
    trimap_scores,
)

CROSS = ndi.generate_binary_structure(2, 1)


# ---------------------------------------------------------------------- references
def brute_band(mask: np.ndarray, d: int) -> np.ndarray:
    """The definition itself: pixels of M with a pixel outside M or outside the image within
    chessboard distance d (a third implementation, independent of erosion)."""
    h, w = mask.shape
    padded = np.zeros((h + 2 * d, w + 2 * d), bool)
    padded[d:d + h, d:d + w] = mask
    out = np.zeros_like(mask)
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                out[y, x] = not padded[y:y + 2 * d + 1, x:x + 2 * d + 1].all()
    return out


def ref_counts(pred, gt, k, valid, d):
    inter = np.zeros(k, np.int64)
    union = np.zeros(k, np.int64)
    for c in range(k):
        bg = reference_band(gt == c, d)
        bp = reference_band(pred == c, d)
        inter[c] = (bg & bp & valid).sum()
        union[c] = ((bg | bp) & valid).sum()
    return inter, union


def ref_contour(mask: np.ndarray) -> np.ndarray:
    eroded = ndi.binary_erosion(np.pad(mask, 1), structure=CROSS, border_value=0)[1:-1, 1:-1]
    return mask & ~eroded


def ref_bf_counts(pred, gt, k, valid, theta):
    out = np.zeros((k, 4), np.int64)
    for c in range(k):
        cg = ref_contour(gt == c)
        cp = ref_contour(pred == c)
        dist_g = ndi.distance_transform_edt(~cg) if cg.any() else np.full(gt.shape, np.inf)
        dist_p = ndi.distance_transform_edt(~cp) if cp.any() else np.full(gt.shape, np.inf)
        q = cp & valid
        out[c] = [q.sum(), (dist_g[q] < theta).sum(), cg.sum(), (dist_p[cg] < theta).sum()]
    return out


def ref_boundary_pixels(gt: np.ndarray) -> np.ndarray:
    e = np.zeros(gt.shape, bool)
    e[1:, :] |= gt[1:, :] != gt[:-1, :]
    e[:-1, :] |= gt[:-1, :] != gt[1:, :]
    e[:, 1:] |= gt[:, 1:] != gt[:, :-1]
    e[:, :-1] |= gt[:, :-1] != gt[:, 1:]
    return e


def ref_trimap_dist(gt: np.ndarray) -> np.ndarray:
    e = ref_boundary_pixels(gt)
    if not e.any():
        return np.full(gt.shape, np.inf)
    return ndi.distance_transform_edt(~e)


def random_map(rng, h, w, k, ignore, style):
    """Label maps of three kinds: noise, blocks (upsampled noise) and blobs (smoothed fields)."""
    labels = np.arange(k + (1 if ignore is not None else 0))
    values = np.where(labels < k, labels, ignore if ignore is not None else 0)
    if style == 0:
        idx = rng.integers(0, len(values), (h, w))
    elif style == 1:
        s = int(rng.integers(1, 6))
        small = rng.integers(0, len(values), ((h + s - 1) // s, (w + s - 1) // s))
        idx = np.repeat(np.repeat(small, s, 0), s, 1)[:h, :w]
    else:
        fields = ndi.gaussian_filter(rng.random((len(values), h, w)), (0, 2, 2))
        idx = fields.argmax(0)
    dtypes = [np.int64, np.int32] if ignore == -1 else [np.uint8, np.int64, np.int32]
    return values[idx].astype(dtypes[int(rng.integers(0, len(dtypes)))])


map_args = dict(
    h=st.integers(1, 40), w=st.integers(1, 40), k=st.integers(1, 12),
    ignore=st.sampled_from([None, 255, -1]), style=st.integers(0, 2), seed=st.integers(0, 2**32 - 1),
)


def _valid(gt, k):
    return (gt >= 0) & (gt < k)


# ---------------------------------------------------------------------- bands
def test_reference_band_is_the_definition():
    rng = np.random.default_rng(7)
    for _ in range(60):
        h, w = rng.integers(1, 14, 2)
        m = rng.random((h, w)) < rng.random()
        d = int(rng.integers(1, 6))
        assert (reference_band(m, d) == brute_band(m, d)).all()


@settings(max_examples=150, deadline=None)
@given(**map_args, d=st.integers(1, 50))
def test_one_pass_bands_equal_per_class_recipe(h, w, k, ignore, style, seed, d):
    rng = np.random.default_rng(seed)
    lab = random_map(rng, h, w, k, ignore, style)
    fast = boundary_bands(lab, k, d)
    slow = np.zeros(lab.shape, bool)
    for c in range(k):
        slow |= reference_band(lab == c, d)
    assert (fast == slow).all()


@settings(max_examples=100, deadline=None)
@given(**map_args, d=st.integers(1, 50))
def test_boundary_counts_equal_per_class_recipe(h, w, k, ignore, style, seed, d):
    rng = np.random.default_rng(seed)
    gt = random_map(rng, h, w, k, ignore, style)
    pred = random_map(rng, h, w, k, ignore, int(rng.integers(0, 3)))
    if rng.random() < 0.5:  # predictions close to the GT, with a few unknown ids
        pred = gt.copy()
        flip = rng.random(gt.shape) < 0.1
        pred[flip] = rng.integers(0, k + 1, flip.sum())
    ii = None if ignore in (None, -1) else ignore
    inter, union = boundary_counts(pred, gt, k, ii, d)
    r_inter, r_union = ref_counts(pred, gt, k, _valid(gt, k), d)
    assert inter.tolist() == r_inter.tolist()
    assert union.tolist() == r_union.tolist()


def test_large_map_bands_equal_recipe():
    rng = np.random.default_rng(3)
    lab = random_map(rng, 300, 420, 19, 255, 2)
    for d in (1, 6, 23):
        slow = np.zeros(lab.shape, bool)
        for c in range(19):
            slow |= reference_band(lab == c, d)
        assert (boundary_bands(lab, 19, d) == slow).all()


def test_long_uniform_rows_and_bands_over_127_pixels():
    """Rows of long uniform stretches (their codes tallied 8 pixels at a time) next to rows of
    salt, and bands wider than 127 pixels, whose vertical pass works in blocks of 2d - 1 rows
    that do not divide the image's height (or exceed it)."""
    rng = np.random.default_rng(5)
    gt = np.zeros((300, 1030), np.uint8)
    gt[40:90, 100:700] = 1
    gt[150:260, 500:1021] = 2
    gt[200:230, 20:61] = 255
    pred = gt.copy()
    pred[60:121, 300:901] = 3
    salt = rng.random(gt.shape) < 0.3
    salt[:270] = False
    pred[salt] = rng.integers(0, 5, salt.sum())
    valid = _valid(gt, 4)
    for d in (1, 9, 130, 151, 400):
        inter, union = boundary_counts(pred, gt, 4, 255, d)
        r_inter, r_union = ref_counts(pred, gt, 4, valid, d)
        assert inter.tolist() == r_inter.tolist() and union.tolist() == r_union.tolist(), d
    widths = (1, 2, 5, 16)
    counts = trimap_counts(pred, gt, 4, widths, 255)
    dist = ref_trimap_dist(gt)
    pcol = np.where(pred < 4, pred, 4).astype(np.int64)
    for i, wdt in enumerate(widths):
        sel = valid & (dist < wdt)
        ref = np.zeros((5, 6), np.int64)
        np.add.at(ref, (gt[sel].astype(np.int64), pcol[sel]), 1)
        assert counts[i].tolist() == ref.tolist()


def test_band_hand_worked():
    # a 3-wide stripe of class 1 in a 5x7 image, d = 1: class 0 touches the frame or the stripe
    # everywhere; the stripe's centre column survives one erosion except next to the frame.
    lab = np.zeros((5, 7), int)
    lab[:, 2:5] = 1
    expected = np.array([
        [1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 0, 1, 1, 1],
        [1, 1, 1, 0, 1, 1, 1],
        [1, 1, 1, 0, 1, 1, 1],
        [1, 1, 1, 1, 1, 1, 1],
    ], bool)
    assert (boundary_bands(lab, 2, 1) == expected).all()
    # a 9x9 square of one class, d = 2: only the 5x5 core is outside the band
    sq = np.zeros((9, 9), int)
    band = boundary_bands(sq, 1, 2)
    assert band.sum() == 81 - 25 and not band[2:7, 2:7].any()
    # ignore pixels are in no band but cut the bands of their neighbours
    sq[4, 4] = 255
    band = boundary_bands(sq, 1, 2)
    assert not band[4, 4] and band[2:7, 2:7].sum() == 24


def test_label_difference_mistake_does_not_happen():
    """Eroding the whole label map at once (min filter over class ids) makes the "boundary" of a
    pixel the difference between class ids, so classes leak into each other's bands. Here class 2
    sits between classes 1 and 0: the min filter sees class 2 next to class 1 as 2 - 1 = 1."""
    gt = np.zeros((6, 9), np.uint8)
    gt[:, 3:6] = 1
    gt[:, 6:] = 2
    pred = gt.copy()
    pred[:, 5] = 2  # class 2 grows one column into class 1

    def label_difference(mask, d):  # the mistaken recipe (detectron2 SemSegEvaluator style)
        padded = np.pad(mask, 1, constant_values=0)
        eroded = ndi.grey_erosion(padded, size=(2 * d + 1, 2 * d + 1), mode="constant", cval=255)
        return (mask - eroded[1:-1, 1:-1]).astype(np.int64)

    k = 3
    bg, bp = label_difference(gt, 1), label_difference(pred, 1)
    conf = np.bincount((k + 1) * bp.ravel() + bg.ravel(), minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    with np.errstate(invalid="ignore"):
        wrong = (np.diag(conf) / (conf.sum(0) + conf.sum(1) - np.diag(conf)))[:k]
    # there, class 2's first column is "boundary 1" (2 - 1) and class 1's interior is "class 0"
    assert bg[1, 6] == 1 and bg[1, 4] == 0
    ours = boundary_iou(pred, gt, k, px=1)
    # Hand-worked, d = 1. Class 0 (columns 0-2): band = all but the middle column's rows 1-4 = 14,
    # the same in both masks -> 1. Class 1: GT band = 14 (columns 3 and 5, and column 4 at the
    # frame), pred band = columns 3-4 = 12; shared: column 3 and column 4 at the frame = 8;
    # union 14 + 12 - 8 = 18. Class 2: GT band = 14 (columns 6 and 8, column 7 at the frame);
    # pred band = column 5, column 8 and columns 6-7 at the frame = 16; shared 10; union 20.
    assert reference_band(gt == 1, 1).sum() == 14 and reference_band(pred == 2, 1).sum() == 16
    assert ours.tolist() == pytest.approx([1.0, 8 / 18, 10 / 20])
    # the mistaken recipe is off by 0.24 and 0.33 on classes 0 and 2
    assert wrong.tolist() == pytest.approx([26 / 34, 8 / 18, 10 / 12])
    assert abs(wrong[0] - ours[0]) > 0.2 and abs(wrong[2] - ours[2]) > 0.3


# ---------------------------------------------------------------------- Boundary IoU
def test_boundary_iou_hand_worked():
    # 4x4, GT: columns 0-1 class 0, 2-3 class 1; pred: column 0 class 0, 1-3 class 1; d = 1.
    gt = np.array([[0, 0, 1, 1]] * 4)
    pred = np.array([[0, 1, 1, 1]] * 4)
    # band(G0) = all 8, band(P0) = 4 (column 0) -> I 4, U 8
    # band(G1) = all 8, band(P1) = 12 - 2 (the centre of column 2) = 10 -> I 6, U 12
    inter, union = boundary_counts(pred, gt, 2, width=1)
    assert inter.tolist() == [4, 6] and union.tolist() == [8, 12]
    assert boundary_iou(pred, gt, 2, px=1).tolist() == [0.5, 0.5]


def test_boundary_iou_empty_rules_and_ignore():
    gt = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0]])
    pred = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]])
    biou = boundary_iou(pred, gt, 3, px=1)
    # class 0: GT band = the 8 frame pixels; pred band = its 7 frame pixels + the centre, which
    # touches class 1; shared 7, union 9
    assert biou[0] == pytest.approx(7 / 9)
    assert biou[1] == 0.0  # predicted only: U = 1, I = 0
    assert math.isnan(biou[2])  # in neither mask: undefined
    # an ignored GT pixel counts nowhere, but is "not c" when the GT band is formed
    gt_i = gt.copy()
    gt_i[1, 2] = 255
    inter, union = boundary_counts(pred, gt_i, 3, 255, 1)
    # now the GT band of class 0 holds the centre too (it touches the ignored pixel), and (1, 2)
    # is gone from the counts: both bands are the same 8 valid pixels
    assert inter[0] == 8 and union[0] == 8 and union[1] == 0
    assert math.isnan(boundary_iou(pred, gt_i, 3, 255, px=1)[1])


def test_boundary_width():
    assert boundary_width((1024, 2048)) == 46  # 0.02 * 2289.7
    assert boundary_width((3, 4), ratio=0.1) == 1  # round(0.5) = 0 (half to even) -> at least 1
    assert boundary_width((30, 40), ratio=0.05) == 2  # round(2.5) = 2, as Python's round
    assert boundary_width((30, 40), ratio=0.07) == 4  # round(3.5) = 4
    assert boundary_width((10, 10), px=5) == 5
    with pytest.raises(SegscopeError):
        boundary_width((10, 10), px=0)
    with pytest.raises(SegscopeError):
        boundary_width((10, 10), ratio=0)


def test_bad_input():
    with pytest.raises(SegscopeError):
        boundary_iou(np.zeros((2, 2), int), np.full((2, 2), 7), 3)
    with pytest.raises(SegscopeError):
        boundary_iou(np.zeros((2, 3), int), np.zeros((2, 2), int), 3)
    with pytest.raises(SegscopeError):
        boundary_iou(np.zeros((2, 2), float), np.zeros((2, 2), int), 3)
    with pytest.raises(SegscopeError):
        boundary_iou(np.zeros((2, 2), int), np.zeros((2, 2), int), 3, ignore_index=1)


# ---------------------------------------------------------------------- boundary F-score
def test_contours_hand_worked():
    lab = np.array([
        [0, 0, 0, 0],
        [0, 1, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 255],
    ])
    c = contours(lab, 2).astype(int)
    assert c.tolist() == [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0]]
    lab = np.zeros((5, 5), int)
    assert contours(lab, 1).sum() == 16  # the frame; the 3x3 interior is not contour


@settings(max_examples=120, deadline=None)
@given(**map_args, theta=st.floats(0.0, 12.0))
def test_bf_counts_equal_distance_transform_reference(h, w, k, ignore, style, seed, theta):
    rng = np.random.default_rng(seed)
    gt = random_map(rng, h, w, k, ignore, style)
    pred = random_map(rng, h, w, k, ignore, int(rng.integers(0, 3)))
    ii = None if ignore in (None, -1) else ignore
    fast = bf_counts(pred, gt, k, ii, tolerance=theta)
    assert fast.tolist() == ref_bf_counts(pred, gt, k, _valid(gt, k), theta).tolist()


def test_bf_tolerance_edges():
    # theta exactly on a lattice distance: "< theta" excludes it (MATLAB bfscore)
    gt = np.zeros((1, 12), int)
    gt[0, 6:] = 1
    pred = np.zeros((1, 12), int)
    pred[0, 8:] = 1
    # class 1 contours: GT columns 6..11 (one row: everything is contour), pred 8..11
    # recall: GT columns 6 and 7 lie 2 and 1 away from the predicted contour
    assert bf_counts(pred, gt, 2, tolerance=2.0)[1].tolist() == [4, 4, 6, 5]
    assert bf_counts(pred, gt, 2, tolerance=2.0001)[1].tolist() == [4, 4, 6, 6]
    assert bf_tolerance((3, 4), 0.5) == 2.5


def test_bf_score_hand_worked_and_empty_rules():
    gt = np.zeros((6, 6), int)
    gt[:, 3:] = 1
    pred = np.zeros((6, 6), int)
    pred[:, 4:] = 1
    # tolerance 1: only coinciding contour pixels match
    # class 0: pred contour 16 (cols 0, 3 and rows 0, 5 of cols 1-2), 10 on the GT contour;
    #          GT contour 14 (cols 0, 2 and rows 0, 5 of col 1), 10 on the pred contour
    # class 1: pred contour 12 (cols 4-5), 8 matched; GT contour 14, 8 matched
    assert bf_counts(pred, gt, 3, tolerance=1.0).tolist() == [[16, 10, 14, 10], [12, 8, 14, 8], [0, 0, 0, 0]]
    f = bf_score(pred, gt, 3, tolerance=1.0)
    assert f[0] == pytest.approx(2 * (10 / 16) * (10 / 14) / (10 / 16 + 10 / 14))
    assert f[1] == pytest.approx(2 * (8 / 12) * (8 / 14) / (8 / 12 + 8 / 14))
    assert math.isnan(f[2])  # both contours empty: undefined
    # with tolerance 1.5 the one-column shift is forgiven everywhere
    assert bf_score(pred, gt, 2, tolerance=1.5).tolist() == [1.0, 1.0]
    # exactly one contour empty -> 0
    only_pred = np.zeros((6, 6), int)
    only_pred[2, 2] = 2
    assert bf_score(only_pred, gt, 3, tolerance=1.0)[2] == 0.0
    assert bf_score(gt, only_pred, 3, tolerance=1.0)[2] == 0.0
    # both contours present but far apart: P = R = 0 -> BF = 0
    a = np.zeros((1, 20), int)
    a[0, 0:2] = 1
    b = np.zeros((1, 20), int)
    b[0, 15:17] = 1
    assert bf_score(b, a, 2, tolerance=3.0)[1] == 0.0


def test_bf_ignores_predicted_contours_on_ignored_gt():
    gt = np.zeros((5, 10), int)
    gt[:, 5:] = 255
    pred = np.zeros((5, 10), int)
    pred[:, 7:] = 1  # class 1 only where the GT is ignored
    counts = bf_counts(pred, gt, 2, 255, tolerance=1.0)
    assert counts[1].tolist() == [0, 0, 0, 0]  # nothing to score: undefined, not 0
    assert math.isnan(bf_score(pred, gt, 2, 255, tolerance=1.0)[1])


# ---------------------------------------------------------------------- trimap
@settings(max_examples=100, deadline=None)
@given(**map_args, cap=st.sampled_from([1, 2, 3, 5, 16, 130]))
def test_trimap_distance_equals_edt(h, w, k, ignore, style, seed, cap):
    rng = np.random.default_rng(seed)
    gt = random_map(rng, h, w, k, ignore, style)
    fast = trimap_distance(gt, cap)
    ref = np.minimum(ref_trimap_dist(gt), cap)
    assert np.allclose(fast, ref)


@settings(max_examples=80, deadline=None)
@given(**map_args, widths=st.lists(st.integers(1, 20), min_size=1, max_size=5),
       big=st.booleans())
def test_trimap_counts_equal_reference(h, w, k, ignore, style, seed, widths, big):
    rng = np.random.default_rng(seed)
    gt = random_map(rng, h, w, k, ignore, style)
    pred = random_map(rng, h, w, k, ignore, int(rng.integers(0, 3)))
    if big:
        widths = widths + [128]  # the path for widths over 127
    ii = None if ignore in (None, -1) else ignore
    counts = trimap_counts(pred, gt, k, widths, ii)
    dist = ref_trimap_dist(gt)
    valid = _valid(gt, k)
    pcol = np.where((pred >= 0) & (pred < k), pred, k).astype(np.int64)
    for i, wdt in enumerate(sorted(set(widths))):
        sel = valid & (dist < wdt)
        ref = np.zeros((k + 1, k + 2), np.int64)
        np.add.at(ref, (gt[sel].astype(np.int64), pcol[sel]), 1)
        assert counts[i].tolist() == ref.tolist()


def test_trimap_hand_worked():
    gt = np.array([[0, 0, 0, 1, 1, 1]])
    pred = np.array([[0, 0, 1, 1, 1, 1]])
    # boundary pixels: columns 2 and 3; distances 2 1 0 0 1 2
    assert trimap_distance(gt, 8).tolist() == [[2.0, 1.0, 0.0, 0.0, 1.0, 2.0]]
    s = trimap_scores(pred, gt, 2, widths=(1, 2, 3))
    # width 1: columns 2-3: pixel 2 wrong (0 -> 1), pixel 3 right -> accuracy 1/2, IoU0 0, IoU1 1/2
    assert s[1] == {"miou": 0.25, "pixel_accuracy": 0.5, "pixels": 2}
    # width 2: columns 1-4: IoU0 = 1/2, IoU1 = 2/3
    assert s[2]["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2) and s[2]["pixel_accuracy"] == 0.75
    assert s[3]["pixels"] == 6
    # no label change: the trimap is empty and its metrics undefined
    flat = trimap_scores(np.zeros((3, 3), int), np.zeros((3, 3), int), 2, widths=(4,))
    assert flat[4]["pixels"] == 0 and math.isnan(flat[4]["miou"])
    # the ignore label is a GT value: its edge is a boundary, its pixels are never counted
    gi = np.array([[0, 0, 255, 255]])
    t = trimap_counts(np.zeros((1, 4), int), gi, 1, (1,), 255)
    assert t[0, 0, 0] == 1 and t.sum() == 1


def test_1200_random_cases_against_the_official_recipe():
    """The official recipe literally (pad one ring of zeros, erode d times with a 3×3 square --
    outside the padding counts as foreground, as cv2.erode's default border -- and subtract), on
    1,200 seeded random maps."""
    rng = np.random.default_rng(2021)
    square = np.ones((3, 3), bool)
    for case in range(1200):
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        k = int(rng.integers(1, 21))
        d = int(rng.integers(1, 51))
        lab = random_map(rng, h, w, k, [None, 255][case % 2], case % 3)
        fast = boundary_bands(lab, k, d)
        for c in np.unique(lab):
            if not 0 <= c < k:
                assert not fast[lab == c].any()
                continue
            m = lab == c
            eroded = ndi.binary_erosion(np.pad(m, 1), square, iterations=d, border_value=1)[1:-1, 1:-1]
            assert (fast[m] == (m & ~eroded)[m]).all(), (case, h, w, k, d)


def test_many_classes_take_the_general_counting_path():
    """Over 255 classes the per-pixel codes no longer fit the small histograms."""
    rng = np.random.default_rng(11)
    k = 300
    gt = random_map(rng, 30, 41, k, 65535, 1).astype(np.int64)
    pred = random_map(rng, 30, 41, k, 65535, 0).astype(np.int64)
    inter, union = boundary_counts(pred, gt, k, 65535, 2)
    r_inter, r_union = ref_counts(pred, gt, k, _valid(gt, k), 2)
    assert inter.tolist() == r_inter.tolist() and union.tolist() == r_union.tolist()
    counts = trimap_counts(pred, gt, k, (1, 3), 65535)
    dist = ref_trimap_dist(gt)
    valid = _valid(gt, k)
    pcol = np.where((pred >= 0) & (pred < k), pred, k)
    for i, wdt in enumerate((1, 3)):
        sel = valid & (dist < wdt)
        ref = np.zeros((k + 1, k + 2), np.int64)
        np.add.at(ref, (gt[sel], pcol[sel]), 1)
        assert (counts[i] == ref).all()


def test_odd_inputs():
    assert boundary_bands(np.ones(5, bool), 2, 1).tolist() == [[True] * 5]  # 1-D: one row
    assert boundary_bands(np.zeros((0, 4), np.uint8), 2, 3).shape == (0, 4)
    lab = np.zeros((6, 8), np.uint16)
    lab[2:, 3:] = 1
    view = np.asfortranarray(lab)[:, ::-1]  # not C-contiguous
    assert (boundary_bands(view, 2, 1) == boundary_bands(lab[:, ::-1].copy(), 2, 1)).all()
    assert np.isnan(boundary_iou(np.zeros((0, 3), int), np.zeros((0, 3), int), 2)).all()  # nothing: undefined
    with pytest.raises(SegscopeError):
        boundary_bands(np.zeros((2, 2, 2), int), 2, 1)
    with pytest.raises(SegscopeError):
        boundary_bands(np.zeros((2, 2), int), 2, 0)


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), k=st.integers(1, 9), salt=st.floats(0.2, 0.8),
       seed=st.integers(0, 2**32 - 1), theta=st.floats(0.0, 40.0))
def test_bf_counts_with_dense_ignore_equal_reference(h, w, k, salt, seed, theta):
    """GT salted with ignore (every class pixel next to one is contour) and predictions holding
    unknown values: predicted contour pixels at ignored GT pixels are no query but still a target;
    tolerances up to wider than the map."""
    rng = np.random.default_rng(seed)
    gt = random_map(rng, h, w, k, None, 2).astype(np.int32)
    gt[rng.random((h, w)) < salt] = 255
    pred = random_map(rng, h, w, k, None, int(rng.integers(0, 3))).astype(np.int32)
    pred[rng.random((h, w)) < 0.1] = k + 3  # not a class: a contour edge for its neighbours
    fast = bf_counts(pred, gt, k, 255, tolerance=theta)
    assert fast.tolist() == ref_bf_counts(pred, gt, k, _valid(gt, k), theta).tolist()


@settings(max_examples=60, deadline=None)
@given(**map_args)
def test_contours_equal_erosion_reference(h, w, k, ignore, style, seed):
    rng = np.random.default_rng(seed)
    lab = random_map(rng, h, w, k, ignore, style)
    ref = np.zeros(lab.shape, bool)
    for c in range(k):
        ref |= ref_contour(lab == c)
    assert (contours(lab, k) == ref).all()


def test_bf_counts_on_larger_maps():
    """Long continuous contours, where matches and misses are carried from pixel to pixel."""
    rng = np.random.default_rng(17)
    for seed in range(6):
        gt = random_map(rng, 90, 140, 6, 255, 2)
        pred = gt.copy()
        shift = ndi.shift(random_map(rng, 90, 140, 6, 255, 2), (seed % 3, 2 - seed % 3), order=0, mode="nearest")
        pred[:, 40:] = shift[:, 40:]  # half the picture agrees with the GT, half does not
        for theta in (1.5, 3.5, 7.0, 12.3):
            fast = bf_counts(pred, gt, 6, 255, tolerance=theta)
            assert fast.tolist() == ref_bf_counts(pred, gt, 6, _valid(gt, 6), theta).tolist()


@pytest.mark.parametrize("widths", [(16,), (1, 4, 15, 16), (3, 16, 17), (5, 127)])
def test_trimap_counts_around_the_widest_band(widths):
    # one small blob in a wide field: squared distances up to and past 16² = 256 occur, where
    # the uint8 rows of widths <= 16 saturate at 255 and wider widths use int16 rows
    gt = np.zeros((70, 90), np.uint8)
    gt[30:33, 40:42] = 1
    gt[60:, 80:] = 255
    pred = np.zeros_like(gt)
    pred[::3, ::4] = 1
    counts = trimap_counts(pred, gt, 2, widths, 255)
    dist = ref_trimap_dist(gt)
    valid = _valid(gt, 2)
    for i, wdt in enumerate(widths):
        sel = valid & (dist < wdt)
        ref = np.zeros((3, 4), np.int64)
        np.add.at(ref, (gt[sel].astype(np.int64), pred[sel].astype(np.int64)), 1)
        assert counts[i].tolist() == ref.tolist(), wdt
        assert 0 < counts[i].sum() < valid.sum() or wdt == 127
