"""Panels read a pair as ``evaluate`` does: the GT in the GT's id space, the prediction in the
prediction's (Cityscapes labelIds GT beside colour-coded predictions)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segscope.classes import CITYSCAPES, preset
from segscope.engine.config import EvalConfig
from segscope.engine.runners import run_evaluation
from segscope.io.files import pair_masks
from segscope.io.masks import read_pair
from segscope.report.panels import PanelJob, render_panel

LABEL_ID = np.array([label_id for _, label_id, _ in CITYSCAPES], dtype=np.uint8)
COLOUR = np.array([colour for _, _, colour in CITYSCAPES], dtype=np.uint8)


def _train_ids(h: int = 48, w: int = 64) -> np.ndarray:
    """Blocks of all 19 train ids."""
    return ((np.arange(h * w).reshape(h, w) // 97) % 19).astype(np.uint8)


@pytest.fixture
def cityscapes_run(tmp_path):
    """A labelIds GT (top rows unlabelled) and a colour-coded prediction with a wrong block."""
    train = _train_ids()
    gt = LABEL_ID[train]
    gt[:4] = 0  # "unlabeled": ignored
    pred = train.copy()
    pred[10:20, 10:30] = 13  # car
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    Image.fromarray(gt, "L").save(tmp_path / "gt" / "x_gtFine_labelIds.png")
    Image.fromarray(COLOUR[pred], "RGB").save(tmp_path / "pred" / "x.png")
    pairs = pair_masks(tmp_path / "pred", tmp_path / "gt", gt_suffix="_gtFine_labelIds")
    return pairs, train, pred


def test_read_pair_decodes_each_role_in_its_own_id_space(cityscapes_run):
    pairs, train, pred = cityscapes_run
    spec = preset("cityscapes")
    p, g = read_pair(pairs[0], spec)
    assert np.array_equal(p, pred)  # colours -> train ids, not labelIds read as train ids
    assert np.array_equal(g[4:], train[4:])
    assert (g[:4] == spec.index_ignore).all()
    p2, g2 = read_pair(pairs[0].pred, spec, pairs[0].gt)
    assert np.array_equal(p2, p) and np.array_equal(g2, g)


def test_panel_shows_the_classes_evaluate_scored(cityscapes_run, tmp_path):
    pairs, _train, _pred = cityscapes_run
    spec = preset("cityscapes")
    row = run_evaluation(pairs, spec, EvalConfig(analyses=()), jobs=1).rows[0]
    stats = render_panel(PanelJob("x", pairs[0].pred, pairs[0].gt, None, tmp_path / "x.png", spec))
    assert row["pixel_accuracy"] < 1.0
    assert stats["valid_pixels"] == row["valid_pixels"]
    assert stats["error_pixels"] == round(row["valid_pixels"] * (1 - row["pixel_accuracy"]))
    assert stats["miou"] == pytest.approx(row["miou"], rel=1e-12)
    assert (tmp_path / "x.png").stat().st_size > 0


def test_pred_map_applies_to_predictions_only(tmp_path):
    # trainIds GT beside labelIds predictions: the prediction's raw ids go through pred_map.
    train = _train_ids()
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    Image.fromarray(train, "L").save(tmp_path / "gt" / "x.png")
    Image.fromarray(COLOUR[train], "RGB").save(tmp_path / "pred" / "x.png")
    spec = preset("cityscapes", pred_ids="label", gt_ids="train")
    p, g = read_pair(tmp_path / "pred" / "x.png", spec, tmp_path / "gt" / "x.png")
    assert np.array_equal(p, train) and np.array_equal(g, train)
    pairs = pair_masks(tmp_path / "pred", tmp_path / "gt")
    stats = render_panel(PanelJob("x", pairs[0].pred, pairs[0].gt, None, tmp_path / "x_panel.png", spec))
    assert stats["error_pixels"] == 0 and stats["miou"] == 1.0
