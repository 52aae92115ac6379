"""Every number stays bit for bit: the engine reproduces the stored outputs of two seeded runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .make_golden import CASES, COMPARED, COMPARED_NPZ, HERE, normalised, npz_arrays, run_case


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
            assert json.loads(json.dumps(got, sort_keys=True)) == json.loads((stored / name).read_text()), name
        else:
            assert got == (stored / name).read_bytes(), name
    for name in COMPARED_NPZ:
        if name not in expected_files:
            continue
        got, want = npz_arrays(out / name), npz_arrays(stored / name)
        assert got.keys() == want.keys(), name
        for key in want:
            assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), f"{name}:{key}"
