"""Runs with many classes: per-image states follow the classes present, and every number is the
one of a dense evaluation (the sparse path is forced off, or the classes are renumbered)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from segscope import EvalConfig, Evaluation
from segscope.classes import ClassSpec
from segscope.io.run_folder import load_results
from segscope.metrics.confusion import PairCounts, matrix_from_json
from segscope.report.data import confusion_pair_rows

IGNORE = 65535


def _blobs(rng, h, w, classes):
    """A blobby label map of the given classes (each pixel takes the class of its nearest seed)."""
    seeds = rng.integers(0, [h, w], size=(3 * len(classes), 2))
    yy, xx = np.mgrid[:h, :w]
    d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    return np.asarray(classes)[d.argmin(-1) % len(classes)]


def _pairs(num_classes, n=3, seed=0, unknown=None):
    rng = np.random.default_rng(seed)
    present = np.sort(rng.choice(num_classes, 10, replace=False))
    out = []
    for _ in range(n):
        gt = _blobs(rng, 48, 64, present).astype(np.uint16)
        pred = np.roll(gt, 2, axis=1)
        pred[rng.random(gt.shape) < 0.05] = rng.choice(present)
        pred[30:34, 10:20] = _blobs(rng, 4, 10, present[:3])
        gt[:4, :6] = IGNORE
        pred[40:42, :5] = IGNORE
        if unknown is not None:
            pred[10:12, 50:54] = unknown
        out.append((pred, gt))
    return present, out


def _evaluate(spec, pairs, config, sparse=None):
    ev = Evaluation(spec, config)
    if sparse is not None:
        for analyzer in ev.analyzers:
            analyzer.sparse = sparse
    for i, (p, g) in enumerate(pairs):
        ev.update(p, g, image_id=f"im{i}")
    return ev


def _json(metrics):
    return json.dumps(metrics, sort_keys=True, default=str)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("num_classes", [100, 300])
def test_sparse_states_give_the_dense_numbers(num_classes):
    """Beyond the dense limit the states are PairCounts; metrics, rows and records are those of
    the dense path, bit for bit (trimap, an excluded class and unknown predicted ids included)."""
    spec = ClassSpec.anonymous(num_classes, IGNORE)
    present, pairs = _pairs(num_classes, unknown=num_classes + 7)
    config = EvalConfig(trimap=(1, 3), exclude=(str(present[1]),), allow_unknown_pred=True)
    sparse = _evaluate(spec, pairs, config)
    dense = _evaluate(spec, pairs, config, sparse=False)
    assert isinstance(sparse.states["core"]["counts"], PairCounts)
    assert isinstance(sparse.states["errors"]["conf_fn"], PairCounts)
    assert isinstance(dense.states["core"]["counts"], np.ndarray)
    a, b = sparse.compute(), dense.compute()
    assert _json(a) == _json(b)
    assert sparse.per_image_rows() == dense.per_image_rows()
    for name in ("core", "errors"):
        for ra, rb in zip(sparse.records(name), dense.records(name)):
            assert _json({k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in ra.items()}) == \
                _json({k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in rb.items()})
    # the per-image state holds the cells present, not K²
    one = Evaluation(spec, config)
    one.update(*pairs[0])
    assert one.states["core"]["counts"].index.size <= (len(present) + 2) ** 2
    if num_classes > 256:
        assert "confusion_matrix" not in a and a["confusion_matrix_sparse"]["num_classes"] == num_classes
    else:
        assert len(a["confusion_matrix"]) == num_classes


def test_merged_sparse_evaluations_equal_one_pass():
    spec = ClassSpec.anonymous(500, IGNORE)
    _, pairs = _pairs(500, n=4, seed=3)
    whole = _evaluate(spec, pairs, EvalConfig())
    left, right = _evaluate(spec, pairs[:2], EvalConfig()), Evaluation(spec, EvalConfig())
    for i, (p, g) in enumerate(pairs[2:], start=2):
        right.update(p, g, image_id=f"im{i}")
    assert _json(left.merge(right).compute()) == _json(whole.compute())


def test_ten_thousand_classes_match_a_dense_run_at_the_classes_present(tmp_path):
    """K = 10,000 on small masks: the same per-class numbers as a dense run of the present
    classes renumbered 0..9; the sparse confusion matrix round-trips; the outputs stay small
    and the readers read them."""
    k = 10_000
    present, pairs = _pairs(k, seed=5)
    big = ClassSpec.anonymous(k, IGNORE)
    lut = np.full(65536, 65534, np.uint16)
    lut[present] = np.arange(len(present))
    lut[IGNORE] = IGNORE
    names = tuple(str(c) for c in present)
    small = ClassSpec(names=names, ids=tuple(range(len(present))), colors=big.colors[: len(present)],
                      ignore_index=IGNORE, name="present")
    config = EvalConfig(trimap=(2,))
    ev = _evaluate(big, pairs, config)
    a = ev.save(tmp_path / "big")
    ev_small = _evaluate(small, [(lut[p], lut[g]) for p, g in pairs], config)
    b = ev_small.compute()
    for name in names:
        ea = {key: v for key, v in a["per_class"][name].items() if key != "id"}
        eb = {key: v for key, v in b["per_class"][name].items() if key != "id"}
        assert _json(ea) == _json(eb), name
    # a class without pixels has no entry: per_class and the convention blocks follow the classes present
    absent = "0" if 0 not in present else "1" if 1 not in present else "2"
    assert absent not in a["per_class"] and sorted(a["per_class"], key=int) == list(names)
    assert a["per_class_omitted"] == k - len(present)
    for block in a["conventions"].values():
        assert sorted(block["per_class_iou"], key=int) == list(names)
    assert a["conventions"]["mmseg"]["per_class_iou_omitted"] is None
    assert a["conventions"]["torchmetrics-meaniou"]["per_class_iou_omitted"] == -1.0
    same = ("miou", "pixel_accuracy", "mean_accuracy", "fwiou", "miou_image", "mboundary_iou", "mbf_score", "trimap",
            "error_breakdown", "confusion_pairs", "segments", "improvements", "failure_cases", "worst_images")
    for key in same:
        assert _json(a[key]) == _json(b[key]), key
    # the sparse confusion matrix: the dense one's cells at the classes present
    cm = matrix_from_json(a)
    dense_small = np.asarray(b["confusion_matrix"])
    rows, cols = cm.coords()
    assert (cm.values > 0).all()
    assert np.array_equal(np.asarray(PairCounts((len(present),) * 2, lut[rows].astype(np.int64) * len(present)
                                                + lut[cols], cm.values)), dense_small)
    # no K × K anywhere: the matrices follow the classes present, the rest K (one entry a class)
    assert len(json.dumps(a["confusion_matrix_sparse"])) < 20_000
    for f in ("confusion_matrix.csv", "confusion_by_type.npz"):
        assert (tmp_path / "big" / f).stat().st_size < 100_000, f
    # what stays K long: the class names (classes, absent_classes) and config.class_ids
    assert (tmp_path / "big" / "metrics.json").stat().st_size < 50 * k
    header = (tmp_path / "big" / "confusion_matrix.csv").read_text().splitlines()[0].split(",")
    assert header[1:] == list(names)
    z = np.load(tmp_path / "big" / "confusion_by_type.npz")
    assert z["fn_shape"].tolist() == [3, k, k + 1] and z["fn_cells"].shape[1] == 4
    loaded = load_results(tmp_path / "big")
    assert matrix_from_json(loaded.metrics).values.tolist() == cm.values.tolist()
    rows_b = confusion_pair_rows(b)
    assert confusion_pair_rows(loaded.metrics) == rows_b and rows_b
    # the readers of a folder without entries for the empty classes: the conventions table, a
    # convention computed afresh, and the report's class table hold the classes present
    from segscope import conventions
    from segscope.report.build import _class_table

    assert [r["miou"] for r in conventions.explain_rows(loaded)] == [r["miou"] for r in conventions.explain_rows(ev)]
    fresh = conventions.compute(loaded, "mmseg:nan_to_num=0")["per_class_iou"]
    assert fresh == conventions.compute(ev, "mmseg:nan_to_num=0")["per_class_iou"]
    assert {n: fresh[n] for n in names} == conventions.compute(ev_small, "mmseg:nan_to_num=0")["per_class_iou"]
    assert [row["name"] for row in _class_table(loaded)["rows"]] == list(names)
    # the terminal names the first absent classes and counts the rest
    from io import StringIO

    from rich.console import Console

    from segscope.cli.summary import print_summary
    from segscope.io.files import LISTED_NAMES

    out = StringIO()
    print_summary(a, Console(file=out, width=100))
    assert f"and {k - len(present) - LISTED_NAMES:,} more" in " ".join(out.getvalue().split())
    assert len(out.getvalue()) < 5_000
