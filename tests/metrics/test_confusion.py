"""The confusion kernel against NumPy references, on every code path and dtype."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segscope.exceptions import SegscopeError
from segscope.metrics import confusion
from segscope.metrics.confusion import (
    ConfusionState,
    check_ids,
    confusion_counts,
    confusion_matrix,
)

DTYPES = [np.uint8, np.uint16, np.int32, np.int64, np.bool_]


def reference_counts(pred, gt, k, ignore):
    """The extended (K + 1) × (K + 2) layout, written with plain NumPy."""
    g = np.asarray(gt).astype(np.int64).reshape(-1)
    p = np.asarray(pred).astype(np.int64).reshape(-1)
    valid = np.ones(g.shape, bool) if ignore is None else g != ignore
    gi = np.where((g >= 0) & (g < k), g, k)
    is_ignore = np.zeros(p.shape, bool) if ignore is None else p == ignore
    pj = np.where((p >= 0) & (p < k), p, np.where(is_ignore, k, k + 1))
    flat = np.bincount(gi[valid] * (k + 2) + pj[valid], minlength=(k + 1) * (k + 2))
    return flat.reshape(k + 1, k + 2)


@contextlib.contextmanager
def path(mode: str):
    """Force one code path of the kernel on small inputs."""
    saved = (confusion._U8_TABLE_MIN_PIXELS, confusion._U8_CHUNK, confusion._WIDE_CHUNK)
    try:
        if mode == "words":
            confusion._U8_TABLE_MIN_PIXELS = 1 << 62
        elif mode == "table":
            confusion._U8_TABLE_MIN_PIXELS = 0
        elif mode == "table_chunked":  # several passes and recoding buffers, cut mid-run
            confusion._U8_TABLE_MIN_PIXELS = 0
            confusion._U8_CHUNK = 64
            confusion._WIDE_CHUNK = 24
        yield
    finally:
        confusion._U8_TABLE_MIN_PIXELS, confusion._U8_CHUNK, confusion._WIDE_CHUNK = saved


def _cast(values: np.ndarray, dtype) -> np.ndarray:
    if dtype is np.bool_:
        return (values % 2).astype(bool)
    info = np.iinfo(dtype)
    return np.clip(values, info.min, info.max).astype(dtype)


@st.composite
def mask_pairs(draw):
    """(pred, gt, k, ignore): masks with long runs or noise, unknown ids, any ignore policy."""
    k = draw(st.integers(1, 6))
    ignore = draw(st.sampled_from([None, "in_range", "above", "255", "out_of_dtype"]))
    ignore = {None: None, "in_range": 0, "above": k + 1, "255": 255, "out_of_dtype": 70000}[ignore]
    h = draw(st.integers(0, 5))
    w = draw(st.integers(0, 41))
    n = h * w
    alphabet = list(range(k)) + [k, k + 3, 255, 300, -2, -1] + ([ignore] if ignore is not None else [])
    runs = draw(st.lists(st.tuples(st.sampled_from(alphabet), st.sampled_from(alphabet),
                                   st.integers(1, 20)), min_size=1, max_size=12))
    g = np.repeat([r[0] for r in runs], [r[2] for r in runs])
    p = np.repeat([r[1] for r in runs], [r[2] for r in runs])
    reps = -(-n // len(g)) if n else 1
    g, p = np.tile(g, reps)[:n], np.tile(p, reps)[:n]
    if draw(st.booleans()):  # a few noisy pixels inside the runs
        idx = draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=8)) if n else []
        for i in idx:
            p[i] = draw(st.sampled_from(alphabet))
    gt_dtype = draw(st.sampled_from(DTYPES))
    pred_dtype = gt_dtype if draw(st.booleans()) else draw(st.sampled_from(DTYPES))
    return _cast(p, pred_dtype).reshape(h, w), _cast(g, gt_dtype).reshape(h, w), k, ignore


@settings(max_examples=150, deadline=None)
@given(mask_pairs(), st.sampled_from(["default", "words", "table", "table_chunked"]))
def test_counts_equal_reference_on_every_path(case, mode):
    pred, gt, k, ignore = case
    with path(mode):
        got = confusion_counts(pred, gt, k, ignore)
    assert got.shape == (k + 1, k + 2) and got.dtype == np.int64
    np.testing.assert_array_equal(got, reference_counts(pred, gt, k, ignore))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize("noisy", [False, True])
def test_real_size_matches_bincount_baseline(dtype, noisy):
    # No forced path: 192×256 takes the table path for every dtype; 19 classes, ignore 255.
    rng = np.random.default_rng(7)
    k = 19
    if noisy:
        gt = rng.integers(0, k, (192, 256))
        pred = rng.integers(0, k, (192, 256))
    else:
        gt = np.repeat(np.repeat(rng.integers(0, k, (12, 8)), 16, 0), 32, 1)
        pred = np.roll(gt, 5, axis=1)
    gt[rng.random(gt.shape) < 0.05] = 255
    gt, pred = gt.astype(dtype), pred.astype(dtype)
    valid = gt != 255
    baseline = np.bincount(k * gt[valid].astype(np.int64) + pred[valid], minlength=k * k).reshape(k, k)
    ext = confusion_counts(pred, gt, k, 255)
    np.testing.assert_array_equal(ext[:k, :k], baseline)
    assert ext[k].sum() == 0 and ext[:, k:].sum() == 0
    np.testing.assert_array_equal(confusion_matrix(pred, gt, k, 255), baseline)


def test_hand_worked_extended_layout():
    # K = 2, ignore 255. GT row 2 = unknown GT id; pred column 2 = ignore label, column 3 = unknown.
    gt = np.array([[0, 0, 1, 255, 7, 1]], dtype=np.uint8)
    pred = np.array([[0, 1, 255, 1, 0, 9]], dtype=np.uint8)
    got = confusion_counts(pred, gt, 2, 255)
    assert got.tolist() == [
        [1, 1, 0, 0],  # gt 0: pred 0, pred 1
        [0, 0, 1, 1],  # gt 1: pred ignore, pred unknown 9
        [1, 0, 0, 0],  # gt 7 (unknown): pred 0
    ]


def test_ignore_inside_the_class_range():
    # ignore 1 with 3 classes: GT 1 is skipped, a predicted 1 is still class 1.
    gt = np.array([0, 1, 2, 2])
    pred = np.array([1, 0, 1, 2])
    got = confusion_counts(pred, gt, 3, 1)
    assert got[:3, :3].tolist() == [[0, 1, 0], [0, 0, 0], [0, 1, 1]]


def test_negative_ids_are_unknown_without_ignore():
    got = confusion_counts(np.array([-1, 0]), np.array([0, -1]), 1, None)
    assert got.tolist() == [[0, 0, 1], [1, 0, 0]]


def test_unaligned_and_strided_inputs():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 4, 70_001).astype(np.uint8)
    a, b = base[1:], base[:-1][::-1].copy()  # `a` starts off a word boundary
    np.testing.assert_array_equal(confusion_counts(a, b, 3, 3), reference_counts(a, b, 3, 3))
    m = rng.integers(0, 3, (300, 400)).astype(np.int32)
    t = m.T  # not C-contiguous
    np.testing.assert_array_equal(confusion_counts(t, t[::-1], 3, None), reference_counts(t, t[::-1], 3, None))


def test_shape_mismatch_and_float_masks_are_errors():
    with pytest.raises(SegscopeError, match="shape"):
        confusion_counts(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8), 2, None)
    with pytest.raises(SegscopeError, match="integers"):
        confusion_counts(np.zeros(3, np.float32), np.zeros(3, np.float32), 2, None)


def test_check_ids():
    ok = confusion_counts(np.array([0, 1]), np.array([0, 1]), 2, None)
    check_ids(ok)
    bad_gt = confusion_counts(np.array([0, 1]), np.array([0, 5]), 2, None)
    with pytest.raises(SegscopeError, match="GT has 1 pixel"):
        check_ids(bad_gt, where="gt.png")
    bad_pred = confusion_counts(np.array([0, 5]), np.array([0, 1]), 2, None)
    with pytest.raises(SegscopeError, match="prediction has 1 valid pixel"):
        check_ids(bad_pred)
    check_ids(bad_pred, allow_unknown_pred=True)
    with pytest.raises(SegscopeError):
        confusion_matrix(np.array([0, 5]), np.array([0, 1]), 2)


def test_state_update_merge_and_missed():
    rng = np.random.default_rng(3)
    pairs = [(rng.integers(0, 4, (9, 13)), rng.integers(0, 4, (9, 13))) for _ in range(4)]
    whole = ConfusionState(3, ignore_index=3)
    halves = [ConfusionState(3, ignore_index=3), ConfusionState(3, ignore_index=3)]
    for i, (p, g) in enumerate(pairs):
        whole.update(p, g)
        halves[i % 2].update(p, g)
    merged = halves[1].merge(halves[0])
    np.testing.assert_array_equal(merged.counts, whole.counts)
    expected = sum(reference_counts(p, g, 3, 3) for p, g in pairs)
    np.testing.assert_array_equal(whole.counts, expected)
    np.testing.assert_array_equal(whole.matrix, expected[:3, :3])
    np.testing.assert_array_equal(whole.missed, expected[:3, 3:].sum(axis=1))
    with pytest.raises(ValueError):
        whole.merge(ConfusionState(4))


def test_import_does_not_load_numba():
    code = "import sys, segscope; assert 'numba' not in sys.modules, 'numba imported by import segscope'"
    subprocess.run([sys.executable, "-c", code], check=True)
