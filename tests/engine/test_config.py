"""EvalConfig validates every policy once, when it is made."""

from __future__ import annotations

import pytest

from segscope.engine.config import EvalConfig
from segscope.engine.evaluation import Evaluation
from segscope.exceptions import SegscopeError


@pytest.mark.parametrize("kwargs, message", [
    ({"segment_bins": (0.5, 0.1)}, r"segment bins \(--segment-bins\) must be increasing fractions"),
    ({"segment_bins": (0.0, 0.1)}, "segment bins"),
    ({"miss_threshold": 0.0}, r"miss threshold must lie in \(0, 1\]"),
    ({"error_band_ratio": 1.5}, r"error band ratio must lie in \(0, 1\)"),
    ({"error_band_px": -1}, "error band must be an integer >= 0"),
    ({"boundary_ratio": 0.0}, "boundary ratio must be > 0"),
    ({"boundary_px": 0}, "boundary width must be >= 1"),
    ({"bf_ratio": -0.1}, "boundary F-score ratio must be >= 0"),
    ({"trimap": (0, 2)}, "trimap widths must be >= 1"),
    ({"boundary_ratio": float("inf")}, "boundary ratio must be > 0 and <= 1"),
    ({"boundary_ratio": 1e308}, "boundary ratio must be > 0 and <= 1"),
    ({"bf_ratio": float("inf")}, "boundary F-score ratio must be >= 0 and finite"),
    ({"boundary_px": 2**31}, r"boundary width must be >= 1 pixel \(at most 2147483647\)"),
    ({"error_band_px": 2**31}, r"error band must be an integer >= 0 pixels \(at most 2147483647\)"),
    ({"trimap": (1, 2**40)}, r"trimap widths must be >= 1 pixel \(at most 2147483647\)"),
])
def test_bad_policies_fail_at_construction(kwargs, message):
    with pytest.raises(SegscopeError, match=message):
        EvalConfig(**kwargs)


def test_a_band_in_pixels_needs_no_ratio_and_good_configs_build_analyzers():
    EvalConfig(error_band_px=3, error_band_ratio=5.0)  # the ratio is unused then
    ev = Evaluation(3, EvalConfig(analyses=("errors",), segment_bins=(0.002, 0.02), miss_threshold=1.0))
    ev.update([[0, 1, 2], [0, 1, 2]], [[0, 1, 2], [0, 1, 1]])
    assert ev.compute()["num_images"] == 1


def test_analyzer_order_does_not_depend_on_import_order():
    import subprocess
    import sys

    code = ("import segscope.conventions; from segscope.engine.analyzers.base import analyzer_names; "
            "print(','.join(analyzer_names()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "core,boundary,errors,conventions"
