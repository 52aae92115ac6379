"""segscope.torch's metric gives the numbers and files of ``segscope evaluate`` on the same masks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from segscope import evaluate_folders, synth  # noqa: E402
from segscope.classes import ClassSpec  # noqa: E402
from segscope.exceptions import SegscopeError  # noqa: E402
from segscope.io.masks import read_mask, write_mask  # noqa: E402
from segscope.io.results import clean_json  # noqa: E402
from segscope.io.run_folder import load_results  # noqa: E402
from segscope.torch import SegscopeMetric  # noqa: E402

SPEC = synth.street_spec()
K = SPEC.num_classes
#: metrics.json config entries of a folder run alone: its folders and how they were paired
PATH_KEYS = ("pred_dir", "gt_dir", "probs_dir", "pred_suffix", "gt_suffix", "pred_ids", "gt_ids")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Six street scenes as PNGs, their masks as arrays, and softmax probabilities whose argmax is
    the prediction (written as .npy for ``--probs``)."""
    root = tmp_path_factory.mktemp("torch_data")
    paths = synth.write_dataset(root, num_images=6, height=40, width=80, seed=3)
    ids = sorted(p.stem for p in paths["gt"].iterdir())
    rng = np.random.default_rng(0)
    probs_dir = root / "probs"
    probs_dir.mkdir()
    pred2_dir = root / "pred_from_probs"
    pred2_dir.mkdir()
    preds, gts, probs = [], [], []
    for i in ids:
        pred = read_mask(paths["pred"] / f"{i}.png")
        gt = read_mask(paths["gt"] / f"{i}.png")
        logits = rng.normal(size=(K, *pred.shape)) + 4.0 * (np.arange(K)[:, None, None] == pred)
        p = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)
        p = p.astype(np.float32)
        np.save(probs_dir / f"{i}.npy", p)
        write_mask(pred2_dir / f"{i}.png", p.argmax(0).astype(np.uint8))
        preds.append(pred)
        gts.append(gt)
        probs.append(p)
    return {"paths": paths, "ids": ids, "preds": np.stack(preds), "gts": np.stack(gts), "probs": np.stack(probs),
            "probs_dir": probs_dir, "pred2_dir": pred2_dir}


def _json(metrics: dict) -> dict:
    """metrics as metrics.json holds them (NaN as null), the input folders left out."""
    m = json.loads(json.dumps(clean_json(metrics)))
    for key in PATH_KEYS:
        m["config"].pop(key, None)
    return m


def _same_folders(a: Path, b: Path) -> None:
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    for name in names:
        if name == "metrics.json":
            ma = _json(json.loads((a / name).read_text()))
            mb = _json(json.loads((b / name).read_text()))
            assert ma == mb
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _feed(metric, preds, gts, ids, batch=4, dtype=None):
    for s in range(0, len(ids), batch):
        p = torch.from_numpy(preds[s : s + batch])
        g = torch.from_numpy(gts[s : s + batch])
        if dtype is not None:
            p = p.to(dtype)
        metric.update(p, g, ids=ids[s : s + batch])


@pytest.mark.parametrize("analyses", [(), ("boundary",), ("boundary", "errors")], ids=lambda a: "+".join(a) or "core")
@pytest.mark.parametrize("device_counts", [None, True], ids=["kernel", "torch-ops"])
def test_index_input_equals_cli(data, tmp_path, analyses, device_counts):
    cli = evaluate_folders(data["paths"]["pred"], data["paths"]["gt"], SPEC, out=tmp_path / "cli", jobs=1,
                           analyses=analyses)
    metric = SegscopeMetric(SPEC, analyses=analyses, device_counts=device_counts)
    _feed(metric, data["preds"], data["gts"], data["ids"], dtype=torch.int64)
    assert _json(metric.compute()) == _json(cli.metrics)
    metric.save(tmp_path / "mine")
    _same_folders(tmp_path / "cli", tmp_path / "mine")


@pytest.mark.parametrize("device_counts", [None, True], ids=["kernel", "torch-ops"])
def test_scores_and_probabilities_equal_cli_probs(data, tmp_path, device_counts):
    """Scores (N, C, H, W) are argmaxed; with probs=True they feed the suspect labels like --probs."""
    cli = evaluate_folders(data["pred2_dir"], data["paths"]["gt"], SPEC, out=tmp_path / "cli", jobs=1,
                           probs_dir=str(data["probs_dir"]))
    metric = SegscopeMetric(SPEC, probs=True, device_counts=device_counts)
    _feed(metric, data["probs"], data["gts"], data["ids"], batch=3)
    mine = metric.compute()
    assert "suspect_labels" in mine["annotations"]
    assert _json(mine) == _json(cli.metrics)
    metric.save(tmp_path / "mine")
    _same_folders(tmp_path / "cli", tmp_path / "mine")
    # logits without probs=True: the same prediction, no suspect labels
    logits = SegscopeMetric(SPEC, analyses=("boundary",))
    _feed(logits, np.log(data["probs"]), data["gts"], data["ids"], batch=3)
    plain = evaluate_folders(data["pred2_dir"], data["paths"]["gt"], SPEC, jobs=1, analyses=("boundary",))
    assert _json(logits.compute()) == _json(plain.metrics)


def test_spec_with_ids_and_ignore_zero(tmp_path):
    """Class ids that are not 0..K-1: targets hold raw ids, predictions class indices."""
    spec = ClassSpec(("a", "b", "c"), (3, 7, 9), ((1, 2, 3), (4, 5, 6), (7, 8, 9)), ignore_index=0)
    rng = np.random.default_rng(1)
    ids = np.array(spec.ids)
    preds, gts, names = [], [], []
    for i in range(3):
        pred = np.kron(rng.integers(0, 3, (6, 8)), np.ones((5, 5), np.int64))
        gt = ids[np.kron(rng.integers(0, 3, (6, 8)), np.ones((5, 5), np.int64))].astype(np.uint8)
        gt[:3] = 0
        name = f"im{i}"
        write_mask(tmp_path / "pred" / f"{name}.png", ids[pred].astype(np.uint8))
        write_mask(tmp_path / "gt" / f"{name}.png", gt)
        preds.append(pred)
        gts.append(gt)
        names.append(name)
    (tmp_path / "pred").mkdir(exist_ok=True)
    cli = evaluate_folders(tmp_path / "pred", tmp_path / "gt", spec, jobs=1)
    for device_counts in (None, True):
        metric = SegscopeMetric(spec, device_counts=device_counts)
        _feed(metric, np.stack(preds), np.stack(gts), names, batch=2)
        assert _json(metric.compute()) == _json(cli.metrics)


def test_state_dict_round_trip_mid_stream(data):
    whole = SegscopeMetric(SPEC)
    _feed(whole, data["preds"], data["gts"], data["ids"], batch=2)
    first = SegscopeMetric(SPEC)
    _feed(first, data["preds"][:2], data["gts"][:2], data["ids"][:2], batch=2)
    buffer = io.BytesIO()
    torch.save({"metric": first.state_dict()}, buffer)
    buffer.seek(0)
    resumed = SegscopeMetric(SPEC)
    resumed.load_state_dict(torch.load(buffer, weights_only=True)["metric"])
    _feed(resumed, data["preds"][2:], data["gts"][2:], data["ids"][2:], batch=2)
    assert _json(resumed.compute()) == _json(whole.compute())
    other = SegscopeMetric(SPEC, analyses=())
    with pytest.raises(SegscopeError, match="other classes or another config"):
        other.load_state_dict(first.state_dict())


def test_merge_and_reset(data):
    a, b, whole = SegscopeMetric(SPEC), SegscopeMetric(SPEC), SegscopeMetric(SPEC)
    _feed(a, data["preds"][:3], data["gts"][:3], data["ids"][:3])
    _feed(b, data["preds"][3:], data["gts"][3:], data["ids"][3:])
    _feed(whole, data["preds"], data["gts"], data["ids"])
    assert _json(a.merge(b).compute()) == _json(whole.compute())
    a.reset()
    assert len(a) == 0
    with pytest.raises(SegscopeError, match="no image"):
        a.compute()


def test_single_images_and_default_ids(data):
    metric = SegscopeMetric(SPEC, analyses=())
    metric.update(torch.from_numpy(data["preds"][0]), torch.from_numpy(data["gts"][0]))
    metric.update(torch.from_numpy(data["preds"][1:3]), torch.from_numpy(data["gts"][1:3]))
    assert [r["image"] for r in metric.evaluation.per_image_rows()] == ["image_00000", "image_00001", "image_00002"]


@pytest.mark.parametrize("device_counts", [None, True], ids=["kernel", "torch-ops"])
def test_bad_input_is_one_line(data, device_counts):
    metric = SegscopeMetric(SPEC, analyses=(), device_counts=device_counts)
    pred = torch.from_numpy(data["preds"][:2]).long()
    gt = torch.from_numpy(data["gts"][:2]).long()
    with pytest.raises(SegscopeError, match="differs from target shape"):
        metric.update(pred[:, :-1], gt)
    with pytest.raises(SegscopeError, match="channels for 9 classes"):
        metric.update(torch.zeros(2, 3, 40, 80), gt)
    with pytest.raises(SegscopeError, match="integer label ids"):
        metric.update(pred, gt.float())
    with pytest.raises(SegscopeError, match="2 ids for a batch of 1"):
        metric.update(pred[:1], gt[:1], ids=["a", "b"])
    bad = gt.clone()
    bad[0, 0, 0] = 77
    with pytest.raises(SegscopeError, match=r"GT has ids not in the class spec: 77 \(1 px\)"):
        metric.update(pred, bad)
    bad = pred.clone()
    bad[0, 10, 10] = 40
    with pytest.raises(SegscopeError, match="prediction has ids not in the class spec"):
        metric.update(bad, gt)
    with pytest.raises(SegscopeError, match="softmax, not logits"):
        SegscopeMetric(SPEC, probs=True).update(torch.full((1, K, 4, 4), 3.0), gt[:1, :4, :4])
    with pytest.raises(SegscopeError, match="'errors' analysis, which is skipped"):
        SegscopeMetric(SPEC, analyses=(), probs=True)


def test_unknown_predictions_counted_when_allowed(data):
    pred = torch.from_numpy(data["preds"][:2]).long()
    pred[0, :5] = 40
    gt = torch.from_numpy(data["gts"][:2])
    a = SegscopeMetric(SPEC, analyses=(), allow_unknown_pred=True)
    b = SegscopeMetric(SPEC, analyses=(), allow_unknown_pred=True, device_counts=True)
    a.update(pred, gt)
    b.update(pred, gt)
    assert a.compute()["unmatched_pred_pixels"] > 0
    assert _json(a.compute()) == _json(b.compute())


def test_notebook_html(data, tmp_path):
    metric = SegscopeMetric(SPEC, analyses=("boundary",))
    _feed(metric, data["preds"], data["gts"], data["ids"])
    page = metric.compute()._repr_html_()
    assert "mIoU" in page and "Boundary IoU" in page and "person" in page
    metric.save(tmp_path / "run")
    shown = load_results(tmp_path / "run")._repr_html_()
    assert f"{100 * metric.compute()['per_class']['road']['gt_share']:.2f} %" in shown


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu(data):
    cpu = SegscopeMetric(SPEC)
    gpu = SegscopeMetric(SPEC)
    _feed(cpu, data["preds"], data["gts"], data["ids"])
    for s in range(0, 6, 3):
        gpu.update(torch.from_numpy(data["preds"][s : s + 3]).cuda(), torch.from_numpy(data["gts"][s : s + 3]).cuda(),
                   ids=data["ids"][s : s + 3])
    assert _json(gpu.compute()) == _json(cpu.compute())
