"""The exact error breakdown: every example of the method's text, its invariants, the plain
reference implementation as an independent check, and injected errors landing where they should."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from references import reference_error_counts  # tests/metrics/references.py
from scipy import ndimage as ndi

from segscope.exceptions import SegscopeError
from segscope.metrics.breakdown import (
    COUNT_KEYS,
    band_width,
    disk_offsets,
    error_counts,
    error_means,
    error_ratios,
    error_type_maps,
)

IGN = 255


def parse(rows):
    return np.array([[IGN if ch == "." else int(ch) for ch in r] for r in rows], dtype=np.uint8)


def tile(row, n=8):
    return np.tile(parse([row]), (n, 1))


def nonzero(counts):
    return {c: {COUNT_KEYS[j]: int(v) for j, v in enumerate(row) if v} for c, row in enumerate(counts) if row.any()}


E1_GT = ["00000000", "01111000", "01111000", "01111000", "01111000", "00000000", "00000000", "00000000"]
E1_PRED = ["00000000", "00111100", "00111100", "00111100", "00111100", "00000000", "00000000", "00000000"]
E3_GT = ["11000000", "11000000", "00000000", "00000000", "00000220", "00000220", "00000000", "00000000"]
E3_PRED = ["11000000", "11000000", "00000000", "00000000", "00000000", "00000000", "01100000", "01100000"]
E5_GT = ["11100000", "11100000", "11100000", "........", "00000000", "00000000", "00000000", "00000000"]
E5_PRED = ["11100000", "11100000", "11100000", "111000.0", "11100000", "11100000", "11100000", "00000000"]

EXAMPLES = {
    "E1": (parse(E1_PRED), parse(E1_GT), 2, dict(band_px=1), {
        0: {"tp": 44, "fp_boundary": 4, "fn_boundary": 4},
        1: {"tp": 12, "fp_boundary": 4, "fn_boundary": 4}}),
    "E2a": (tile("11111100"), tile("11100000"), 2, dict(band_px=1), {
        0: {"tp": 16, "fn_extent": 24}, 1: {"tp": 24, "fp_extent": 24}}),
    "E2b": (tile("11111100"), tile("11100000"), 2, dict(band_px=2), {
        0: {"tp": 16, "fn_boundary": 24}, 1: {"tp": 24, "fp_boundary": 24}}),
    "E3": (parse(E3_PRED), parse(E3_GT), 3, dict(band_px=1), {
        0: {"tp": 52, "fp_extent": 4, "fn_extent": 4}, 1: {"tp": 4, "fp_segment": 4}, 2: {"fn_segment": 4}}),
    "E4": (tile("11101100"), tile("11000000"), 2, dict(band_px=2), {
        0: {"tp": 24, "fn_boundary": 8, "fn_extent": 16}, 1: {"tp": 16, "fp_boundary": 8, "fp_segment": 16}}),
    "E5": (parse(E5_PRED), parse(E5_GT), 2, dict(band_px=1), {
        0: {"tp": 38, "fn_boundary": 4, "fn_extent": 5}, 1: {"tp": 9, "fp_boundary": 2, "fp_extent": 7}}),
    "E6a": (parse(E1_PRED), parse(E1_GT), 3, dict(), {
        0: {"tp": 44, "fp_extent": 4, "fn_extent": 4}, 1: {"tp": 12, "fp_extent": 4, "fn_extent": 4}}),
    "E6b": (tile("11111111"), tile("11111100"), 3, dict(band_px=2), {
        0: {"fn_segment": 16}, 1: {"tp": 48, "fp_extent": 16}}),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_spec_examples(name):
    pred, gt, c, kw, want = EXAMPLES[name]
    assert nonzero(error_counts(pred, gt, c, IGN, **kw)) == want
    assert nonzero(reference_error_counts(pred, gt, c, IGN, **kw)) == want


def test_e4_component_filter_matters():
    # without the filter class 1 would get fp_boundary 16 and fp_segment 8
    pred, gt = tile("11101100"), tile("11000000")
    fp, _ = error_type_maps(pred, gt, 2, IGN, band_px=2)
    assert fp[:, 2].tolist() == [1] * 8 and fp[:, 4].tolist() == [3] * 8 and fp[:, 5].tolist() == [3] * 8


def test_e5_ignore_pixels_are_never_counted():
    fp, fn = error_type_maps(parse(E5_PRED), parse(E5_GT), 2, IGN, band_px=1)
    assert fp[3].tolist() == [0] * 8 and fn[3].tolist() == [0] * 8
    assert fp[4, :3].tolist() == [2, 1, 1]  # (4,1), (4,2) boundary; (4,0) extent


@pytest.mark.parametrize("shape,d", [
    ((8, 8), 0), ((100, 100), 1), ((200, 200), 3), ((512, 512), 7), ((512, 683), 9),
    ((512, 1024), 11), ((1080, 1920), 22), ((1024, 2048), 23), ((30, 40), 0),
])
def test_band_width_table(shape, d):
    assert band_width(shape) == d


def test_band_width_ties_to_even_and_absolute():
    assert band_width((30, 40), band_ratio=0.01) == 0  # exactly 0.5
    assert band_width((30, 40), band_ratio=0.03) == 2  # exactly 1.5
    assert band_width((5, 5), band_px=0) == 0
    with pytest.raises(SegscopeError):
        band_width((5, 5), band_px=-1)
    with pytest.raises(SegscopeError):
        band_width((5, 5), band_ratio=1.5)


def test_disk_sizes_and_shape():
    assert [len(disk_offsets(d)) for d in range(7)] == [1, 9, 21, 37, 69, 97, 137]
    d3 = {tuple(o) for o in disk_offsets(3).tolist()}
    assert (3, 3) not in d3 and (3, 2) not in d3 and (3, 1) in d3 and (2, 2) in d3


def test_edge_cases():
    z = np.zeros((0, 0), np.uint8)
    assert not error_counts(z, z, 3, IGN).any()
    gt = np.full((6, 6), IGN, np.uint8)
    pred = np.ones((6, 6), np.uint8)
    assert not error_counts(pred, gt, 3, IGN, band_px=1).any()  # all-ignore GT
    gt = np.zeros((6, 6), np.uint8)
    gt[:, 3:] = IGN
    pred = gt.copy()
    pred[:, 4] = 2  # class 2 predicted only on ignore pixels
    c = error_counts(pred, gt, 3, IGN, band_px=1)
    assert not c[2].any() and not c[1].any() and c[0, 0] == 18
    # a class equal to ignore_index is never scored (ignore 0: class 0 is not a class)
    gt = np.array([[0, 1, 1, 2]] * 4)
    c = error_counts(gt, gt, 3, 0, band_px=1)
    assert not c[0].any() and c[1, 0] == 8 and c[2, 0] == 4


def test_bad_labels_are_rejected():
    gt = np.array([[0, 1], [1, 3]])
    with pytest.raises(SegscopeError):
        error_counts(gt.clip(0, 1), gt, 2, IGN)
    with pytest.raises(SegscopeError):
        error_counts(np.array([[0, 2]]), np.array([[0, 1]]), 2, IGN)
    with pytest.raises(SegscopeError):
        error_counts(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), 2)
    # an unknown predicted label as "no class" on request: an FN of its GT class, no FP
    c = error_counts(np.array([[0, 7]]), np.array([[0, 1]]), 2, None, band_px=1, allow_unknown_pred=True)
    assert c[1].tolist() == [0, 0, 0, 0, 0, 0, 1] and c[0].tolist() == [1, 0, 0, 0, 0, 0, 0]


# ---------------------------------------------------------------------- random maps
def blobs(rng, h, w, c, n):
    m = np.full((h, w), rng.integers(0, c), np.uint8)
    yy, xx = np.ogrid[:h, :w]
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1, max(2, h / 4)), rng.uniform(1, max(2, w / 4))
        m[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.integers(0, c)
    return m


def random_case(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(8, 64, 2))
    c = int(rng.integers(2, 7))
    gt = blobs(rng, h, w, c, int(rng.integers(1, 10)))
    kind = seed % 4
    if kind == 0:
        pred = np.roll(gt, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), (0, 1))
    elif kind == 1:
        pred = gt.copy()
        for k in range(c):
            if rng.random() < 0.5:
                pred[ndi.binary_dilation(gt == k, iterations=int(rng.integers(1, 4)))] = k
    elif kind == 2:
        pred = gt.copy()
        s = rng.random(gt.shape) < 0.05
        pred[s] = rng.integers(0, c, int(s.sum()))
    else:
        pred = blobs(rng, h, w, c, 6)
    ignore = None
    if rng.random() < 0.5:
        ignore = IGN
        gt[rng.random(gt.shape) < 0.04] = IGN
        gt[int(rng.integers(0, h)), :] = IGN
        if rng.random() < 0.3:
            pred[rng.random(gt.shape) < 0.03] = IGN
    kw = dict(band_px=int(rng.integers(0, 6))) if rng.random() < 0.6 else dict(band_ratio=float(rng.choice([0.02, 0.05])))
    return pred, gt, c, ignore, kw


@pytest.mark.parametrize("seed", range(60))
def test_matches_reference_implementation(seed):
    pred, gt, c, ignore, kw = random_case(seed)
    np.testing.assert_array_equal(error_counts(pred, gt, c, ignore, **kw), reference_error_counts(pred, gt, c, ignore, **kw))


def check_invariants(pred, gt, c, ignore, kw):
    counts = error_counts(pred, gt, c, ignore, **kw)
    valid = gt != ignore if ignore is not None else np.ones(gt.shape, bool)
    tp, fpb, fnb, fpe, fne, fps, fns = counts.T
    for k in range(c):
        assert tp[k] + fpb[k] + fpe[k] + fps[k] == ((pred == k) & valid).sum()
        assert tp[k] + fnb[k] + fne[k] + fns[k] == ((gt == k) & valid).sum()
    wrong = valid & (pred != gt)
    assert (fpb + fpe + fps).sum() == (wrong & (pred != (ignore if ignore is not None else -1))).sum()
    assert (fnb + fne + fns).sum() == wrong.sum()
    # no TP: no boundary or extent errors
    assert not counts[tp == 0][:, 1:5].any()
    # the identity IoU + shares = 1, also with FP/FN split
    r = error_ratios(counts)
    live = r["union"] > 0
    total = r["iou"] + r["e_boundary_ou"] + r["e_extent_ou"] + r["e_segment_ou"]
    np.testing.assert_allclose(total[live], 1.0, rtol=0, atol=1e-12)
    split = r["iou"] + sum(r[f"{s}_{t}_ou"] for s in ("fp", "fn") for t in ("boundary", "extent", "segment"))
    np.testing.assert_allclose(split[live], 1.0, rtol=0, atol=1e-12)
    assert np.isnan(r["iou"][~live]).all()
    # the type maps agree with the counts
    fp, fn = error_type_maps(pred, gt, c, ignore, **kw)
    for t in (1, 2, 3):
        assert np.bincount(pred[(fp == t)].astype(int), minlength=c)[:c].tolist() == counts[:, 2 * t - 1].tolist()
        assert np.bincount(gt[(fn == t)].astype(int), minlength=c)[:c].tolist() == counts[:, 2 * t].tolist()
    assert not fp[~valid].any() and not fn[~valid].any()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6))
def test_invariants_property(seed):
    check_invariants(*random_case(seed))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=6, max_size=6), min_size=5, max_size=5),
       st.lists(st.lists(st.integers(0, 3), min_size=6, max_size=6), min_size=5, max_size=5),
       st.integers(0, 3))
def test_tiny_maps_match_reference(p, g, d):
    pred = np.array(p, np.uint8)
    gt = np.array(g, np.uint8)
    gt[gt == 3] = IGN  # label 3 plays the ignore label in GT; in pred it is class 3 of 4
    np.testing.assert_array_equal(error_counts(pred, gt, 4, IGN, band_px=d), reference_error_counts(pred, gt, 4, IGN, band_px=d))


def test_means_skip_nan():
    counts = np.array([
        [10, 0, 0, 0, 0, 0, 0],  # perfect
        [0, 0, 0, 0, 0, 4, 0],   # only invented: IoU 0, renormed boundary/extent undefined
        [0, 0, 0, 0, 0, 0, 0],   # absent
    ])
    m = error_means(counts)
    assert m["miou"] == 0.5 and m["me_segment_ou"] == 0.5
    assert m["me_boundary_renormed"] == 0.0  # only the perfect class counts
    assert error_ratios(counts)["e_boundary_renormed"][1] != error_ratios(counts)["e_boundary_renormed"][1]


# ---------------------------------------------------------------------- injected errors
def scene():
    gt = np.zeros((64, 64), np.uint8)
    gt[10:40, 10:40] = 1
    gt[50:54, 50:54] = 2  # a small isolated object
    return gt


def test_one_pixel_shift_is_boundary():
    gt = scene()
    pred = gt.copy()
    pred[10:40, 11:41] = 1
    pred[10:40, 10] = 0
    c = error_counts(pred, gt, 3, band_px=1)
    assert c[1].tolist() == [900 - 30, 30, 30, 0, 0, 0, 0]


def test_deleted_small_object_is_fn_segment():
    gt = scene()
    pred = gt.copy()
    pred[pred == 2] = 0
    c = error_counts(pred, gt, 3, band_px=2)
    assert c[2].tolist() == [0, 0, 0, 0, 0, 0, 16]
    assert c[0, 3] == 16 and c[0, 1] == 0  # an FP of the background, inside its found region


def test_protrusion_is_fp_extent():
    gt = scene()
    pred = gt.copy()
    pred[20:24, 40:52] = 1  # a 12 px long tongue out of the square
    c = error_counts(pred, gt, 3, band_px=1)
    fp, _ = error_type_maps(pred, gt, 3, band_px=1)
    assert c[1, 3] > 0 and c[1, 5] == 0
    assert fp[21:23, 43:52].min() == 2  # the far part of the tongue is extent
    assert (fp[20:24, 40:52] > 0).all()


def test_class_swap_is_a_confusion():
    from segscope.metrics.breakdown import analyze_image, to_codes

    gt = scene()
    pred = gt.copy()
    pred[gt == 1] = 2  # the square is predicted as class 2
    p, g = to_codes(pred, gt, 3, None, False)
    res = analyze_image(p, g, 3, 1)
    total = res.conf_fn.sum(0)
    assert total[1, 2] == 900 and total[1].sum() == 900
    assert res.conf_fn[2, 1, 2] == 900  # typed as a missed segment of class 1
    assert res.counts[1].tolist() == [0, 0, 0, 0, 0, 0, 900]
    assert res.counts[2, 5] == 900  # and an invented segment of class 2 (not touching its own object)


def test_large_map_matches_reference():
    rng = np.random.default_rng(5)
    gt = blobs(rng, 160, 200, 6, 40)
    pred = np.roll(gt, (1, -2), (0, 1))
    pred[rng.random(gt.shape) < 0.01] = 3
    gt[150:, :] = IGN
    for kw in (dict(), dict(band_px=5)):
        np.testing.assert_array_equal(error_counts(pred, gt, 6, IGN, **kw), reference_error_counts(pred, gt, 6, IGN, **kw))


def salted_case(seed):
    """Blobs with a shifted prediction and a band of rows salted with ignore pixels: many short
    FP runs of one class side by side in a row (the query spans of the boundary step)."""
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(12, 60)), int(rng.integers(12, 80)), int(rng.integers(2, 5))
    gt = blobs(rng, h, w, c, 5)
    pred = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), (0, 1)).copy()
    y0 = int(rng.integers(0, h // 2))
    band = slice(y0, y0 + int(rng.integers(2, h // 2 + 2)))
    gt[band][rng.random(gt[band].shape) < float(rng.uniform(0.2, 0.6))] = IGN
    return pred, gt, c, int(rng.integers(1, 7))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6))
def test_salted_maps_match_reference(seed):
    pred, gt, c, d = salted_case(seed)
    np.testing.assert_array_equal(error_counts(pred, gt, c, IGN, band_px=d), reference_error_counts(pred, gt, c, IGN, band_px=d))


@pytest.mark.parametrize("seed", range(4))
def test_type_maps_are_drawn_whole_whatever_their_buffers_held(seed, monkeypatch):
    """The final pass clears the two type maps itself and draws only the error runs into them:
    buffers full of another value give the same maps, 0 on every TP and ignored pixel."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import analyze_image, to_codes

    pred, gt, c, d = salted_case(seed)
    p, g = to_codes(pred, gt, c, IGN, False)
    want = analyze_image(p, g, c, d)
    real = kern.assign

    def dirty(*args):
        args[12].fill(0xAB)
        args[13].fill(0xAB)
        return real(*args)

    monkeypatch.setattr(kern, "assign", dirty)
    got = analyze_image(p, g, c, d)
    np.testing.assert_array_equal(got.counts, reference_error_counts(pred, gt, c, IGN, band_px=d))
    np.testing.assert_array_equal(got.fp_type, want.fp_type)
    np.testing.assert_array_equal(got.fn_type, want.fn_type)
    quiet = (p == g) | (g < 0)
    assert not got.fp_type[quiet].any() and not got.fn_type[quiet].any()
    assert ((got.fn_type > 0) == ((p != g) & (g >= 0))).all()
    assert ((got.fp_type > 0) == ((p != g) & (g >= 0) & (p >= 0))).all()


def reference_sliver_px(pred, gt, c, d):
    """Sliver pixels per class by the text: the kept boundary components of both sides (§5,
    ignore pixels included), each a sliver when its valid pixels number at most min(2, d) times
    its pixels touching the TP, and more than none."""
    from segscope.metrics.breakdown import SLIVER_MAX_WIDTH, to_codes

    p, g = to_codes(pred, gt, c, IGN, False)
    eight = np.ones((3, 3), bool)
    sw = min(SLIVER_MAX_WIDTH, d)

    def within(s):
        if not s.any():
            return np.zeros_like(s)
        dist = ndi.distance_transform_edt(~s)
        return np.rint(dist * dist) <= d * (d + 1)

    out = np.zeros(c, np.int64)
    for k in range(c):
        tp = (p == k) & (g == k)
        tn = (p != k) & (g != k)
        if d == 0 or not tp.any() or not tn.any():
            continue
        near_tp = ndi.binary_dilation(tp, eight)
        near_tn = ndi.binary_dilation(tn, eight)
        for err in ((p == k) & (g != k), (p != k) & (g == k)):
            cand = err & within(err & within(tp) & within(tn))
            lab, n = ndi.label(cand, structure=eight)
            kept = (np.bincount(lab[cand & near_tp], minlength=n + 1) > 0) & (
                np.bincount(lab[cand & near_tn], minlength=n + 1) > 0)
            area = np.bincount(lab[cand & (g >= 0)], minlength=n + 1)
            contact = np.bincount(lab[cand & near_tp], minlength=n + 1)
            thin = kept & (area > 0) & (area <= sw * contact)
            thin[0] = False
            out[k] += area[thin].sum()
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6))
def test_sliver_pixels_match_the_components_of_the_text(seed):
    """The component filter's sliver tally (valid pixels and pixels beside the TP, summed over
    each kept component's runs) equals the one of the labelled boundary components, and the
    dropped components leave no mark."""
    from segscope.metrics.breakdown import analyze_image, to_codes

    pred, gt, c, d = salted_case(seed)
    p, g = to_codes(pred, gt, c, IGN, False)
    res = analyze_image(p, g, c, d, maps=False)
    np.testing.assert_array_equal(res.sliver_px, reference_sliver_px(pred, gt, c, d))
    np.testing.assert_array_equal(res.counts, reference_error_counts(pred, gt, c, IGN, band_px=d))


def boundary_step_case(seed):
    """A salted case as the boundary step gets it: codes, classes, band, the (FP, FN) query runs
    and the TP and cover runs indexed by (class, row)."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import to_codes

    pred, gt, c, d = salted_case(seed)
    p, g = to_codes(pred, gt, c, IGN, False)
    tp_runs, cv_runs, fp_runs, fn_runs = kern.runs(p, g, c)
    h = p.shape[0]
    return p, g, c, d, (fp_runs, fn_runs), kern.csr(tp_runs, c, h), kern.csr(cv_runs, c, h)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([0, 1, 3, 8, 10**6]))
def test_near_runs_spans_match_dilation(seed, join):
    """The disk walk of the boundary step, whatever query runs it answers together, gives the
    pixels within d of a TP and of a TN* of their class: the dilation of the method's text."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import _row_widths

    p, g, c, d, (fp_runs, fn_runs), tp_csr, cv_csr = boundary_step_case(seed)
    h, w = p.shape
    dys, wds = _row_widths(d)
    disk = np.zeros((2 * d + 1, 2 * d + 1), bool)
    disk[tuple((disk_offsets(d) + d).T)] = True
    for q, side in ((fp_runs, p), (fn_runs, g)):
        ok = (np.random.default_rng(seed).random(q.shape[1]) < 0.8).astype(np.uint8)
        got = np.zeros((h, w), bool)
        for y, s, e, _ in kern.near_runs(q, ok, *tp_csr, *cv_csr, True, h, w, dys, wds, join).T:
            assert not got[y, s:e + 1].any()
            got[y, s:e + 1] = True
        want = np.zeros((h, w), bool)
        for k in range(c):
            near_tp = ndi.binary_dilation((p == k) & (g == k), disk)
            near_tn = ndi.binary_dilation((p != k) & (g != k), disk)
            asked = np.zeros((h, w), bool)
            for y, s, e, kk in q[:, ok > 0].T:
                if kk == k:
                    asked[y, s:e + 1] = True
            want |= asked & near_tp & near_tn
        np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([0, 1, 2, 5, 300]))
def test_seeds_and_candidates_match_dilation_from_no_band_to_wider_than_the_map(seed, d):
    """The boundary step as the evaluation runs it: seeds (query pixels within d of a TP and of a
    TN* of their class) and candidates (query pixels of a component with a TP pixel, within d of
    a seed) are the dilations of the method's text, for d = 0 (no boundary error at all) up to
    a disk wider than the map."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import _JOIN, _row_widths, analyze_image, to_codes

    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(1, 24)), int(rng.integers(1, 24)), int(rng.integers(2, 5))
    gt = blobs(rng, h, w, c, 4)
    pred = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), (0, 1)).copy()
    pred[rng.random((h, w)) < 0.05] = rng.integers(0, c)
    gt[rng.random((h, w)) < 0.1] = IGN
    p, g = to_codes(pred, gt, c, IGN, False)
    if d == 0:
        assert not analyze_image(p, g, c, d, maps=False).counts[:, 1:3].any()
        return
    (_, _, *p_runs), php, (_, _, *g_runs), ghp, *_, tp_runs, cv_runs, fp_runs, fn_runs = kern.scan(p, g, c)
    dys, wds = _row_widths(d)
    tp_csr = kern.csr(tp_runs, c, h)
    cv_csr = kern.csr(cv_runs, c, h)
    r = min(d, h + w)  # the part of the disk that can reach inside the map
    disk = np.zeros((2 * r + 1, 2 * r + 1), bool)
    off = disk_offsets(d)
    off = off[(np.abs(off) <= r).all(axis=1)]
    disk[tuple((off + r).T)] = True

    def drawn(runs):
        m = np.zeros((h, w), bool)
        for y, s, e in runs[:3].T:
            assert not m[y, s:e + 1].any()
            m[y, s:e + 1] = True
        return m

    for q, lab, has, side in ((fp_runs, p_runs[3], php, pred), (fn_runs, g_runs[3], ghp, gt)):
        ask = np.ones(q.shape[1], np.uint8)
        seeds = kern.near_runs(q, ask, *tp_csr, *cv_csr, True, h, w, dys, wds, _JOIN)
        ask *= has[lab[q[4]]]
        sd_csr = kern.csr(seeds, c, h)
        cand = kern.near_runs(q, ask, *sd_csr, *sd_csr, False, h, w, dys, wds, _JOIN)
        want_seeds = np.zeros((h, w), bool)
        want_cand = np.zeros((h, w), bool)
        for k in range(c):
            tp = (pred == k) & (gt == k)
            query = (side == k) & ~tp
            sk = query & ndi.binary_dilation(tp, disk) & ndi.binary_dilation((pred != k) & (gt != k), disk)
            comp, _ = ndi.label(side == k, np.ones((3, 3), bool))
            found = np.isin(comp, np.unique(comp[tp]))
            want_seeds |= sk
            want_cand |= query & found & ndi.binary_dilation(sk, disk)
        np.testing.assert_array_equal(drawn(seeds), want_seeds)
        np.testing.assert_array_equal(drawn(cand), want_cand)


@pytest.mark.parametrize("seed", range(3))
def test_noise_maps_outgrow_the_first_run_lists(seed):
    """Pixel noise: about one run per pixel, the most the row scan's lists (sized from a first
    count) ever hold; the counts still match the reference and the components are the
    8-connected ones."""
    from segscope.metrics.breakdown import analyze_image, to_codes

    rng = np.random.default_rng(seed)
    c = 3
    gt = rng.integers(0, c, (70, 90)).astype(np.uint8)
    pred = np.where(rng.random(gt.shape) < 0.4, rng.integers(0, c, gt.shape), gt).astype(np.uint8)
    gt[rng.random(gt.shape) < 0.2] = IGN
    np.testing.assert_array_equal(error_counts(pred, gt, c, IGN, band_px=2),
                                  reference_error_counts(pred, gt, c, IGN, band_px=2))
    p, g = to_codes(pred, gt, c, IGN, False)
    res = analyze_image(p, g, c, 2, maps=False)
    assert res.pred_runs[1].size > 1024 + p.size // 32
    for labels, codes in ((res.pred_labels, p), (res.gt_labels, g)):
        for k in range(c):
            lab, m = ndi.label(codes == k, structure=np.ones((3, 3)))
            ours = labels[codes == k]
            assert len(np.unique(ours)) == m
            assert len(np.unique(lab[codes == k] * (labels.max() + 1) + ours)) == m  # one id per component
        assert (labels[codes < 0] == -1).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([0, 3, 64, 10**6]))
def test_near_runs_marks_runs_held_whole(seed, join):
    """``qok`` comes back 2 exactly for the query runs answered whole, and a run marked 2 is taken
    whole unasked: the candidate step given the seeds' marks answers as if asked afresh."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import _row_widths

    p, g, c, d, (fp_runs, fn_runs), tp_csr, cv_csr = boundary_step_case(seed)
    h, w = p.shape
    dys, wds = _row_widths(d)
    for q in (fp_runs, fn_runs):
        ask = np.ones(q.shape[1], np.uint8)
        seeds = kern.near_runs(q, ask, *tp_csr, *cv_csr, True, h, w, dys, wds, join)
        whole = {tuple(r) for r in seeds.T}
        np.testing.assert_array_equal(ask == 2, [tuple(r) in whole for r in q.T])
        sd_csr = kern.csr(seeds, c, h)
        some = np.random.default_rng(seed).random(q.shape[1]) < 0.7
        fresh = kern.near_runs(q, some.astype(np.uint8), *sd_csr, *sd_csr, False, h, w, dys, wds, join)
        marked = kern.near_runs(q, ask * some, *sd_csr, *sd_csr, False, h, w, dys, wds, join)
        np.testing.assert_array_equal(marked, fresh)


def test_run_lists_are_of_one_numba_type_whatever_the_data():
    """The run lists the kernels hand each other have one numba type (layout included) on any
    data, so that a run on odd data loads the kernels compiled before it instead of compiling
    another specialisation: here single-pixel FP runs that are all seeds fill the seed list to
    its last column."""
    import numba

    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import _JOIN, _row_widths, to_codes

    def types(pred, gt, c, d):
        p, g = to_codes(pred, gt, c, IGN, False)
        h, w = p.shape
        scanned = kern.scan(p, g, c)
        tp, cv, fp, fn = scanned[6:]
        ask = np.ones(fp.shape[1], np.uint8)
        seeds = kern.near_runs(fp, ask, *kern.csr(tp, c, h), *kern.csr(cv, c, h), True, h, w, *_row_widths(d), _JOIN)
        assert seeds.shape[1] == fp.shape[1] or d != 3
        return [numba.typeof(a) for a in (scanned[5], tp, cv, fp, fn, seeds)]

    gt = np.zeros((12, 9), np.uint8)
    gt[:, :6] = 1
    pred = gt.copy()
    pred[:, 6:] = (np.indices((12, 3)).sum(0) % 2).astype(np.uint8)  # 1-px FP runs of class 1
    rng = np.random.default_rng(0)
    blobby_gt = rng.integers(0, 3, (40, 50)).repeat(2, 0).repeat(2, 1).astype(np.uint8)
    blobby_pred = np.roll(blobby_gt, 1, 1)
    assert types(pred, gt, 2, 3) == types(blobby_pred, blobby_gt, 3, 2)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([0, 3, 64, 10**6]))
def test_near_runs_answers_from_what_lies_beside_as_from_the_walk(seed, join):
    """The query runs of the row scan say what lies beside each run (a sixth row); the seeds the
    walk gives with it are the dilation's, and the runs it marks held whole are the same as
    without it, on runs beside a TP or a TN* on either side, or both."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import _row_widths

    p, g, c, d, _, tp_csr, cv_csr = boundary_step_case(seed)
    h, w = p.shape
    dys, wds = _row_widths(d)
    disk = np.zeros((2 * d + 1, 2 * d + 1), bool)
    disk[tuple((disk_offsets(d) + d).T)] = True
    fp_runs, fn_runs = kern.scan(p, g, c)[8:]
    for q in (fp_runs, fn_runs):
        assert q.shape[0] == 6
        for y, s, e, k, _, f in q.T:
            left = (p[y, s - 1], g[y, s - 1]) if s > 0 else None
            right = (p[y, e + 1], g[y, e + 1]) if e + 1 < w else None
            for side, bits in ((left, f & 3), (right, (f >> 2) & 3)):
                want = 0 if side is None else 1 if side == (k, k) else 2 if k not in side else 0
                assert bits == want
        ok = (np.random.default_rng(seed).random(q.shape[1]) < 0.9).astype(np.uint8)
        plain = ok.copy()
        got_runs = kern.near_runs(q, ok, *tp_csr, *cv_csr, True, h, w, dys, wds, join)
        np.testing.assert_array_equal(got_runs, kern.near_runs(q[:4], plain, *tp_csr, *cv_csr, True, h, w, dys, wds, join))
        np.testing.assert_array_equal(ok, plain)
        got = np.zeros((h, w), bool)
        for y, s, e, _ in got_runs.T:
            got[y, s:e + 1] = True
        want = np.zeros((h, w), bool)
        for k in range(c):
            asked = np.zeros((h, w), bool)
            for y, s, e, kk in q[:4, ok > 0].T:
                if kk == k:
                    asked[y, s:e + 1] = True
            want |= (asked & ndi.binary_dilation((p == k) & (g == k), disk)
                     & ndi.binary_dilation((p != k) & (g != k), disk))
        np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 37), st.sampled_from([0.02, 0.2, 0.9]))
def test_scan_cuts_rows_where_either_map_changes(seed, w, rate):
    """The row scan starts a pair run at column 0 and wherever the prediction or the GT changes,
    at any width (not only multiples of 8) and any density of changes; its prediction and GT runs
    are the maximal runs of equal code of each map alone."""
    from segscope.metrics import _breakdown_kernels as kern
    from segscope.metrics.breakdown import to_codes

    rng = np.random.default_rng(seed)
    h, c = 5, 3
    gt = rng.integers(0, c, (h, w)).astype(np.uint8)
    gt = np.where(rng.random((h, w)) < rate, gt, np.repeat(gt[:, :1], w, 1))
    gt[rng.random((h, w)) < 0.1] = IGN
    pred = np.where(rng.random((h, w)) < rate, rng.integers(0, c, (h, w)), gt).astype(np.uint8)
    p, g = to_codes(pred, gt, c, IGN, True)
    (_, _, pptr, ps, pe, _), _, (_, _, gptr, gs, ge, _), _, xptr, xr = kern.scan(p, g, c)[:6]
    for y in range(h):
        cut = np.flatnonzero((p[y, 1:] != p[y, :-1]) | (g[y, 1:] != g[y, :-1])) + 1
        np.testing.assert_array_equal(xr[0, xptr[y]:xptr[y + 1]], np.r_[0, cut])
        for codes, ptr, s, e in ((p[y], pptr, ps, pe), (g[y], gptr, gs, ge)):
            edges = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1, w]
            want = [(a, b - 1) for a, b in zip(edges[:-1], edges[1:]) if codes[a] >= 0]
            assert list(zip(s[ptr[y]:ptr[y + 1]], e[ptr[y]:ptr[y + 1]])) == want
