"""PairCounts and ClassSubset: the sparse counts of runs with many classes."""

from __future__ import annotations

import pickle

import numpy as np

from segscope.metrics.confusion import ClassSubset, PairCounts, confusion_counts, dense_counts, matrix_from_json, matrix_json
from segscope.metrics.region import class_counts_from_confusion, per_class_metrics


def test_addition_is_dense_addition_in_any_order():
    rng = np.random.default_rng(0)
    parts = [np.where(rng.random((7, 9)) < 0.2, rng.integers(1, 50, (7, 9)), 0) for _ in range(40)]
    total = sum(parts)
    fwd = PairCounts.from_dense(parts[0])
    for p in parts[1:]:
        fwd = fwd + PairCounts.from_dense(p)
    back = 0
    for p in reversed(parts):
        back = PairCounts.from_dense(p) + back
    assert np.array_equal(np.asarray(fwd), total) and np.array_equal(dense_counts(back), total)
    again = pickle.loads(pickle.dumps(fwd))
    assert np.array_equal(np.asarray(again), total) and (again.values != 0).all()
    assert np.array_equal(np.asarray(fwd.take(3)), total[3])


def test_class_counts_match_the_dense_extended_counts():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 6, (30, 40)).astype(np.uint8)
    pred = rng.integers(0, 7, (30, 40)).astype(np.uint8)
    gt[:3] = 255
    pred[5, :] = 255
    ext = confusion_counts(pred, gt, 5, 255)
    sparse = PairCounts.from_dense(ext).class_counts()
    dense = class_counts_from_confusion(ext)
    assert all(np.array_equal(sparse[key], dense[key]) for key in dense)
    for key, v in per_class_metrics(PairCounts.from_dense(ext)).items():
        np.testing.assert_array_equal(v, per_class_metrics(ext)[key])


def test_recoded_masks_give_the_counts_at_the_classes_present():
    rng = np.random.default_rng(2)
    k = 3000
    classes = np.array([4, 17, 999, 2500])
    gt = classes[rng.integers(0, 4, (20, 30))].astype(np.uint16)
    pred = classes[rng.integers(0, 4, (20, 30))].astype(np.uint16)
    gt[0] = 65535
    pred[1, :5] = 65535
    pred[2, :5] = 4000  # unknown
    sub = ClassSubset.of((pred, gt), k)
    assert sub.classes.tolist() == classes.tolist()
    ext = confusion_counts(sub.recode(pred, 65535), sub.recode(gt, 65535), sub.m, sub.ignore)
    full = confusion_counts(pred, gt, k, 65535)
    assert np.array_equal(np.asarray(sub.sparse(ext, (0, 1))), full)
    assert np.array_equal(sub.gather(sub.sparse(ext, (0, 1)), (0, 1)), ext)
    assert np.array_equal(sub.scatter(ext[:4, 0]), full[:k, 4])
    assert sub.compact([17, 18, 2500]).tolist() == [1, -1, 3]


def test_the_confusion_matrix_json_forms_round_trip():
    ext = np.zeros((301, 302), np.int64)
    ext[3, 3], ext[3, 200], ext[299, 0], ext[4, 300] = 5, 2, 7, 9  # the last: no class
    sparse = matrix_json(ext, 300)
    assert set(sparse) == {"confusion_matrix_sparse"}
    assert sparse["confusion_matrix_sparse"]["pixels"] == [5, 2, 7]
    assert np.array_equal(np.asarray(matrix_from_json(sparse)), ext[:300, :300])
    small = matrix_json(ext[:4, :5], 3)
    assert np.array_equal(np.asarray(matrix_from_json(small)), ext[:3, :3])
    assert matrix_from_json({"confusion_matrix_sparse": {"num_classes": 2, "gt": [0], "pred": [5], "pixels": [1]}}) \
        is None
    assert matrix_from_json({}) is None
