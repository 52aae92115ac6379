"""Every number stays bit for bit: the engine reproduces the stored outputs of two seeded runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .make_golden import CASES, COMPARED, COMPARED_NPZ, HERE, normalised, npz_arrays, run_case


def _kept(got, want):
    """``got`` with only the dict keys ``want`` has, recursively: a new key of ``metrics.json`` is
    an addition, never a change of a stored number."""
    if isinstance(got, dict) and isinstance(want, dict):
        return {k: _kept(got[k], want[k]) if k in want else got[k] for k in got if k in want}
    return got


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_equal_golden(case, tmp_path):
    out = run_case(case, tmp_path)
    stored = HERE / case
    expected_files = {p.name for p in stored.iterdir()}
    produced = {f for f in COMPARED + COMPARED_NPZ if (out / f).exists()}
    assert produced == expected_files
    for name in COMPARED:
        if name not in expected_files:
            continue
        got = normalised(out / name)
        if name.endswith(".json"):
            want = json.loads((stored / name).read_text())
            assert _kept(json.loads(json.dumps(got, sort_keys=True)), want) == want, name
        else:
            assert got == (stored / name).read_bytes(), name
    for name in COMPARED_NPZ:
        if name not in expected_files:
            continue
        got, want = npz_arrays(out / name), npz_arrays(stored / name)
        assert got.keys() == want.keys(), name
        for key in want:
            assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), f"{name}:{key}"
