"""Second annotations, suspect labels from probabilities, and boundary slivers."""

from __future__ import annotations

import numpy as np
import pytest

from segscope.metrics.annotations import (
    agreement_counts,
    agreement_metrics,
    suspect_labels,
)
from segscope.metrics.breakdown import analyze_image, to_codes


def test_agreement_counts_by_hand():
    g = np.array([[0, 0, 1, 1, -1]])
    g2 = np.array([[0, 1, 1, -1, 1]])
    p = np.array([[1, 1, 1, 0, 0]])
    c = agreement_counts(p, g, g2, 2)
    # both valid: (0,0), (0,1), (1,1); GT-ignored pixel never counts
    assert c["conf2"].tolist() == [[1, 1], [0, 1]]
    # ambiguous: (0,1) GT 0 / GT2 1 predicted 1 -> fn of 0, fp of 1; (0,3) GT 1 / GT2 ignore predicted 0
    assert c["ambiguous"].tolist() == [[0, 1, 1], [0, 1, 1]]
    m = agreement_metrics(c["conf2"], c["ambiguous"], tp=np.array([0, 1]), fp=np.array([1, 2]), fn=np.array([2, 1]))
    assert m["inter_annotator_iou"].tolist() == [0.5, 0.5]
    assert m["ambiguous_error_share"].tolist() == [2 / 3, 2 / 3]
    # class 1 without ambiguous pixels: tp 1 (0,2), fp 1 (0,0), fn 0
    assert m["iou_unambiguous"][1] == pytest.approx(1 / 2)


def test_suspect_labels_ranked():
    seg = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]])
    g = np.array([[1] * 8 + [0] * 4])
    cls = np.array([1, 1, 0])
    probs = np.zeros((2, 1, 12))
    probs[0, 0, :4], probs[1, 0, :4] = 0.98, 0.02      # contradicted strongly
    probs[0, 0, 4:8], probs[1, 0, 4:8] = 0.92, 0.08    # contradicted, less
    probs[0, 0, 8:], probs[1, 0, 8:] = 0.7, 0.3        # agrees
    box = np.zeros((3, 4), int)
    out = suspect_labels("im", seg, 3, cls, np.array([4, 4, 4]), box, g, probs, min_pixels=4)
    assert [(r[1], r[7], r[8]) for r in out] == [(1, 0.02, 0), (1, 0.08, 0)]
    assert suspect_labels("im", seg, 3, cls, np.array([4, 4, 4]), box, g, probs, min_pixels=5) == []


def sliver_case(shift):
    gt = np.zeros((60, 60), np.uint8)
    gt[10:50, 10:30] = 1
    pred = gt.copy()
    pred[10:50, 30:30 + shift] = 1
    p, g = to_codes(pred, gt, 2, None, False)
    return analyze_image(p, g, 2, 4)


def test_thin_boundary_errors_are_slivers_thick_ones_are_not():
    thin = sliver_case(1)
    assert thin.counts[1, 1] == 40 and thin.sliver_px.tolist() == [40, 40]
    thick = sliver_case(4)
    assert thick.counts[1, 1] == 160 and thick.sliver_px.tolist() == [0, 0]
