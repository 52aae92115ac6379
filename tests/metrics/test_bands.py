"""One band-width rule: the error band, the boundary band and the pictures agree."""

from __future__ import annotations

import numpy as np
import pytest

from segscope import viz
from segscope.metrics.bands import band_width, diagonal, ratio_width
from segscope.metrics.boundary import boundary_width

SHAPES = [(1, 1), (30, 40), (64, 96), (512, 512), (1024, 2048), (1023, 2047)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ratio", [0.0075, 0.01, 0.02, 0.005])
def test_same_rounding_everywhere(shape, ratio):
    h, w = shape
    d = int(round(ratio * (float(h * h + w * w)) ** 0.5))
    assert ratio_width(shape, ratio) == d
    assert band_width(shape, None, ratio) == d
    assert boundary_width(shape, ratio) == max(1, d)


def test_known_values():
    assert diagonal((30, 40)) == 50.0
    assert band_width((1024, 2048)) == 23 and boundary_width((1024, 2048)) == 46
    assert band_width((30, 40)) == 0 and boundary_width((30, 40)) == 1  # the boundary band has a floor
    assert band_width((8, 8), band_px=2) == 2


def test_panel_uses_the_error_band_rule():
    gt = np.zeros((300, 400), np.uint8)
    gt[:, 200:] = 1
    data = viz.panel_data(gt, gt, ["a", "b"], [(0, 0, 0), (255, 0, 0)], band_ratio=0.02)
    assert data.band_px == band_width(gt.shape, None, 0.02) == 10
