"""Build the golden inputs and (with ``--write``) the golden outputs of ``test_golden.py``.

The inputs are generated from seeds, so only the outputs are stored: the street demo set with
every analysis, and a seeded random set (uint16 ids, an ignore label, a second annotation, model
probabilities and instance masks) that reaches the paths the demo does not.

    python tests/golden/make_golden.py --write     # after a change that is meant to change numbers
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
#: result files compared bit for bit (those present in a run)
COMPARED = (
    "metrics.json", "per_image.csv", "confusion_matrix.csv", "confusion_pairs.json", "missed_segments.csv",
    "invented_segments.csv", "suspect_labels.csv",
)
#: arrays compared bit for bit inside these .npz files
COMPARED_NPZ = ("per_image_counts.npz", "confusion_by_type.npz", "per_image_errors.npz")
#: config entries that name paths of this machine
PATH_KEYS = ("pred_dir", "gt_dir", "instances_dir", "gt2_dir", "probs_dir", "images_dir")


def street(root: Path) -> dict:
    from segscope.synth import write_dataset

    paths = write_dataset(root, num_images=12, height=96, width=160, seed=7)
    return {"pred": paths["pred"], "gt": paths["gt"], "args": ["--classes", str(paths["classes"])]}


def _blobs(rng, h, w, k, n):
    out = np.zeros((h, w), np.int64)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(n):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(2, max(3, h // 4))
        out[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.integers(0, k)
    return out


def seeded(root: Path) -> dict:
    rng = np.random.default_rng(20261201)
    k, h, w = 30, 72, 88
    ids = [3 * i + 1000 for i in range(k)]  # uint16 ids, not 0..K-1
    ignore = 65535
    spec = {"ignore_index": ignore, "classes": [{"id": i, "name": f"c{i}"} for i in ids]}
    for sub in ("pred", "gt", "gt2", "probs", "inst"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps(spec))
    lut = np.array(ids, np.uint16)
    for n in range(10):
        g = _blobs(rng, h, w, k, 14)
        p = g.copy()
        p[_blobs(rng, h, w, 2, 6) == 1] = rng.integers(0, k)
        p = np.roll(p, rng.integers(-2, 3), axis=1)
        g2 = g.copy()
        g2[_blobs(rng, h, w, 2, 3) == 1] = rng.integers(0, k)
        gt_raw = lut[g]
        gt_raw[rng.random((h, w)) < 0.02] = ignore
        gt_raw[:3, :] = ignore
        name = f"img_{n:03d}"
        Image.fromarray(lut[p]).save(root / "pred" / f"{name}.png")
        Image.fromarray(gt_raw).save(root / "gt" / f"{name}.png")
        Image.fromarray(lut[g2]).save(root / "gt2" / f"{name}.png")
        probs = rng.random((k, h, w)).astype(np.float32)
        probs[p, np.arange(h)[:, None], np.arange(w)[None, :]] += 4.0
        probs /= probs.sum(0, keepdims=True)
        np.save(root / "probs" / f"{name}.npy", probs)
        inst = (g * 1000 + _blobs(rng, h, w, 3, 8)).astype(np.int32)
        inst = np.where(g >= 0, lut[g].astype(np.int32) * 1000 + (inst % 1000), 0)
        np.save(root / "inst" / f"{name}.npy", inst)
    return {
        "pred": root / "pred", "gt": root / "gt",
        "args": ["--classes", str(root / "classes.json"), "--gt2", str(root / "gt2"), "--probs", str(root / "probs"),
                 "--instances", str(root / "inst"), "--worst-k", "4", "--trimap", "1,3,5"],
    }


CASES = {"street": street, "seeded": seeded}


def run_case(name: str, work: Path) -> Path:
    from typer.testing import CliRunner

    from segscope.cli import app

    data = CASES[name](work / "data")
    out = work / "out"
    args = ["evaluate", str(data["pred"]), str(data["gt"]), *data["args"], "--out", str(out), "--quiet", "--jobs", "1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return out


def normalised(path: Path) -> bytes | dict:
    """A result file as it is compared: JSON without machine-specific entries, others as bytes."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        if path.name == "metrics.json":
            data.pop("segscope_version", None)
            config = data.get("config", {})
            for key in PATH_KEYS:
                config.pop(key, None)
            if str(config.get("class_spec", "")).endswith((".yaml", ".json")):
                config["class_spec"] = Path(config["class_spec"]).name
        return data
    return path.read_bytes()


def npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def write(name: str, out: Path) -> None:
    dest = HERE / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for f in COMPARED:
        if (out / f).exists():
            value = normalised(out / f)
            if isinstance(value, dict):
                (dest / f).write_text(json.dumps(value, indent=1, sort_keys=True))
            else:
                (dest / f).write_bytes(value)
    for f in COMPARED_NPZ:
        if (out / f).exists():
            np.savez_compressed(dest / f, **npz_arrays(out / f))


if __name__ == "__main__":
    import tempfile

    if "--write" not in sys.argv:
        sys.exit(__doc__)
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            write(case, run_case(case, Path(tmp)))
            print("wrote", HERE / case)
