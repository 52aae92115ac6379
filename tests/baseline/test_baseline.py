"""The baseline: losses, data pipeline, training, checkpoints, prediction, CLI (tiny sizes)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from segscope import synth  # noqa: E402
from segscope.baseline.data import (  # noqa: E402
    IGNORE, CropSampler, Dataset, load_target, pair_images, photometric_jitter, scaled_crop, split_ids,
)
from segscope.baseline.losses import make_loss, median_frequency_weights  # noqa: E402
from segscope.baseline.predict import infer_logits, load_run, predict_arrays, predict_folder  # noqa: E402
from segscope.baseline.train import TrainConfig, train  # noqa: E402
from segscope.cli import main  # noqa: E402
from segscope.exceptions import SegscopeError  # noqa: E402
from segscope.io.masks import read_image, read_mask, write_mask  # noqa: E402

SPEC = synth.street_spec()
LOSSES = ("ce", "weighted-ce", "dice", "focal", "ce+dice")


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    return synth.write_dataset(root, num_images=16, height=64, width=64, seed=3, predictions=False)


def tiny_config(data, out, **kw) -> TrainConfig:
    base = dict(
        images=str(data["images"]), masks=str(data["gt"]), out=str(out), epochs=2, size=(32, 32), batch_size=4,
        steps_per_epoch=6, base=4, depth=2, val_split=0.25, seed=1, threads=1, lr=1e-2,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = train(tiny_config(data, out, epochs=3), SPEC, {"source": str(data["classes"])})
    return out, result


# ---------------------------------------------------------------------- losses
def _batch(k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, k, 5, 6, generator=g, requires_grad=True)
    target = torch.randint(0, k, (2, 5, 6), generator=g)
    target[0, :2] = IGNORE
    return logits, target


@pytest.mark.parametrize("name", LOSSES)
def test_loss_ignores_ignored_pixels(name):
    logits, target = _batch()
    fn = make_loss(name, 4, class_pixels=[10, 20, 5, 1])
    a = fn(logits, target)
    changed = logits.detach().clone()
    changed[0, :, :2] += torch.randn(4, 2, 6) * 5  # only pixels whose target is ignored
    b = fn(changed, target)
    assert torch.allclose(a, b, atol=1e-6)
    a.backward()
    assert torch.count_nonzero(logits.grad[0, :, :2]) == 0
    assert torch.count_nonzero(logits.grad) > 0


@pytest.mark.parametrize("name", LOSSES)
def test_loss_all_ignored_is_zero_and_differentiable(name):
    logits, target = _batch()
    target[:] = IGNORE
    loss = make_loss(name, 4, class_pixels=[1, 1, 1, 1])(logits, target)
    assert float(loss.detach()) == 0.0
    loss.backward()


def test_ce_hand_worked():
    # two classes, logits 0 everywhere: every valid pixel costs log 2
    logits = torch.zeros(1, 2, 1, 3)
    target = torch.tensor([[[0, 1, IGNORE]]])
    assert float(make_loss("ce", 2)(logits, target)) == pytest.approx(np.log(2), abs=1e-6)
    # focal with p_t = 1/2 and gamma 2: (1/2)^2 * log 2
    assert float(make_loss("focal", 2)(logits, target)) == pytest.approx(0.25 * np.log(2), abs=1e-6)


def test_weighted_ce_uses_median_frequency_weights():
    # counts 300/100 -> freq 0.75/0.25, median 0.5 -> weights 2/3 and 2
    assert median_frequency_weights([300, 100]).tolist() == pytest.approx([2 / 3, 2.0])
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])  # 1×2×1×2
    target = torch.tensor([[[0, 1]]])
    per_pixel = torch.nn.functional.cross_entropy(logits, target, reduction="none")[0, 0]
    w = torch.tensor([2 / 3, 2.0])
    expected = (w[0] * per_pixel[0] + w[1] * per_pixel[1]) / (w[0] + w[1])
    got = make_loss("weighted-ce", 2, class_pixels=[300, 100])(logits, target)
    assert float(got) == pytest.approx(float(expected), rel=1e-6)
    assert float(got) != pytest.approx(float(make_loss("ce", 2)(logits, target)), rel=1e-3)


def test_dice_perfect_and_wrong():
    target = torch.tensor([[[0, 1], [1, 2]]])
    perfect = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert float(make_loss("dice", 3)(perfect, target)) == pytest.approx(0.0, abs=1e-4)
    wrong = torch.roll(perfect, 1, dims=1)
    assert float(make_loss("dice", 3)(wrong, target)) > 0.5


def test_unknown_loss():
    with pytest.raises(ValueError):
        make_loss("hinge", 3)


# ---------------------------------------------------------------------- data
def test_scaled_crop_pads_with_ignore_and_keeps_labels():
    img = np.full((6, 6, 3), 200, np.uint8)
    tgt = (np.arange(36).reshape(6, 6) % 4).astype(np.int16)
    x, y = scaled_crop(img, tgt, (8, 8), top=-2, left=-2, height=8, width=8)
    assert (y[:2] == IGNORE).all() and (y[:, :2] == IGNORE).all()
    assert (y[2:, 2:] == tgt).all()
    assert (x[2:, 2:] == 200).all()
    # a zoom keeps labels nearest-neighbour: no value that was not there
    x, y = scaled_crop(img, tgt, (12, 12), top=0, left=0, height=6, width=6)
    assert set(np.unique(y).tolist()) <= set(np.unique(tgt).tolist())
    assert x.shape == (12, 12, 3) and y.shape == (12, 12)


def test_photometric_jitter_stays_in_range():
    rng = np.random.default_rng(0)
    img = np.random.default_rng(1).uniform(0, 255, (16, 16, 3)).astype(np.float32)
    out = photometric_jitter(img.copy(), rng, strength=2.0)
    assert out.min() >= 0 and out.max() <= 255 and not np.allclose(out, img)


def test_split_is_seeded_disjoint_and_complete():
    ids = [f"im{i}" for i in range(10)]
    tr, va = split_ids(ids, 0.2, seed=5)
    assert len(va) == 2 and set(tr) | set(va) == set(ids) and not set(tr) & set(va)
    assert split_ids(ids, 0.2, seed=5) == (tr, va)
    assert split_ids(ids, 0.0, seed=5) == (sorted(ids), [])
    with pytest.raises(SegscopeError):
        split_ids(ids, 1.0, seed=0)


def test_class_aware_sampling_oversamples_rare_classes(data):
    ds = Dataset.load(pair_images(data["images"], data["gt"]), SPEC)
    rare = int(np.argmin(ds.class_pixels() + (ds.class_pixels() == 0) * 10**9))

    def share(class_aware):
        s = CropSampler(ds, (16, 16), class_aware=class_aware, class_aware_p=1.0, seed=0)
        rng = np.random.default_rng(0)
        return np.mean([(s.crop(rng)[1] == rare).any() for _ in range(150)])

    # a crop placed on the rare class (1 in 9 draws) always holds it, on top of the chance hits
    assert share(True) > 1.5 * share(False)


def test_load_target_maps_ignore_and_rejects_unknown(tmp_path):
    m = np.array([[0, 8, 255], [3, 3, 3]], np.uint8)
    write_mask(tmp_path / "a.png", m)
    t = load_target(tmp_path / "a.png", SPEC)
    assert t.tolist() == [[0, 8, IGNORE], [3, 3, 3]]
    write_mask(tmp_path / "b.png", np.array([[0, 12]], np.uint8))
    with pytest.raises(SegscopeError, match="b.png"):
        load_target(tmp_path / "b.png", SPEC)


def test_pairing_errors_name_missing_images(data, tmp_path):
    shutil.copytree(data["gt"], tmp_path / "gt")
    write_mask(tmp_path / "gt" / "orphan.png", np.zeros((64, 64), np.uint8))
    with pytest.raises(SegscopeError, match="orphan"):
        pair_images(data["images"], tmp_path / "gt")


# ---------------------------------------------------------------------- training
def test_training_loss_falls_and_writes_run(run):
    out, result = run
    losses = [h["train_loss"] for h in result["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    for name in ("config.json", "best.pt", "last.pt", "history.json", "metrics.csv", "curve.png", "val/metrics.json"):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())
    assert len(config["val_ids"]) == 4 and len(config["train_ids"]) == 12
    best = max(result["history"], key=lambda h: h["val_miou"])
    assert result["best_epoch"] == best["epoch"]
    lines = (out / "metrics.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,train_loss")


def test_checkpoint_reloads_to_identical_outputs(run):
    out, result = run
    model, spec, ckpt = load_run(out, which="last")
    assert ckpt["epoch"] == 3 and spec.names == SPEC.names
    x = torch.rand(2, 3, 40, 56) * 255
    with torch.inference_mode():
        assert torch.equal(model(x), result["model"](x))


def test_resume_equals_uninterrupted_and_seed_reproduces(data, run, tmp_path):
    out, result = run
    cfg = tiny_config(data, tmp_path / "r", epochs=3)

    def interrupt(entry):
        if entry["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, SPEC, on_epoch=interrupt)
    resumed = train(cfg, SPEC, resume=True)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    # same seed, same data: the same losses and weights as the uninterrupted run
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in result["history"]]
    a, b = resumed["model"].state_dict(), result["model"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(SegscopeError, match="--resume"):
        train(tiny_config(data, tmp_path / "r"), SPEC)


def test_train_time_validation_equals_segscope_evaluate(run, data, tmp_path):
    out, _ = run
    config = json.loads((out / "config.json").read_text())
    val_ids = config["val_ids"]
    gts = tmp_path / "gt"
    gts.mkdir()
    for i in val_ids:
        shutil.copy(data["gt"] / f"{i}.png", gts / f"{i}.png")
    predict_folder(out, data["images"], tmp_path / "pred", ids=val_ids, batch_size=4, threads=1)
    code = main(["evaluate", str(tmp_path / "pred"), str(gts), "--classes", str(data["classes"]),
                 "--out", str(tmp_path / "res"), "--jobs", "1", "--quiet"])
    assert code == 0
    offline = json.loads((tmp_path / "res" / "metrics.json").read_text())
    online = json.loads((out / "val" / "metrics.json").read_text())
    assert online["config"]["checkpoint_epoch"] == load_run(out)[2]["epoch"]
    assert offline["confusion_matrix"] == online["confusion_matrix"]
    assert offline["miou"] == online["miou"]
    assert {n: m["iou"] for n, m in offline["per_class"].items()} == {n: m["iou"] for n, m in online["per_class"].items()}
    history = json.loads((out / "history.json").read_text())
    best = next(h for h in history if h["best"] and h["epoch"] == online["config"]["checkpoint_epoch"])
    assert best["val_miou"] == offline["miou"]


# ---------------------------------------------------------------------- prediction
def test_predicted_masks_are_valid_label_maps(run, data, tmp_path):
    out, _ = run
    info = predict_folder(out, data["images"], tmp_path / "pred", probs_dir=tmp_path / "probs", threads=1)
    assert info["images"] == 16
    for img_path in sorted(data["images"].iterdir()):
        mask = read_mask(tmp_path / "pred" / img_path.name)
        assert mask.shape == read_image(img_path).shape[:2]
        assert set(np.unique(mask).tolist()) <= set(SPEC.ids)
        p = np.load(tmp_path / "probs" / f"{img_path.stem}.npy")
        assert p.shape == (9, 64, 64) and p.dtype == np.float32
        assert np.allclose(p.sum(0), 1, atol=1e-5)
        assert (p.argmax(0) == mask).all()


def test_tiled_inference(run, data):
    out, _ = run
    model, _, _ = load_run(out)
    img = read_image(sorted(data["images"].iterdir())[0])
    whole = next(infer_logits(model, [img]))
    single_tile = next(infer_logits(model, [img], tile=(64, 64)))
    assert np.array_equal(whole, single_tile)  # one window = the whole image
    mask, _ = next(predict_arrays(model, [img], tile=(32, 48), batch_size=3))
    assert mask.shape == (64, 64) and mask.max() < 9
    # mostly the same answer as whole-image inference
    assert (mask == whole.argmax(0)).mean() > 0.5


def test_batched_equals_one_by_one(run, data):
    out, _ = run
    model, _, _ = load_run(out)
    imgs = [read_image(p) for p in sorted(data["images"].iterdir())[:5]]
    batched = [m for m, _ in predict_arrays(model, imgs, batch_size=4)]
    single = [m for m, _ in predict_arrays(model, imgs, batch_size=1)]
    assert all((a == b).mean() > 0.999 for a, b in zip(batched, single))


# ---------------------------------------------------------------------- command line
def test_cli_train_predict(data, tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", str(data["images"]), str(data["gt"]), "--classes", str(data["classes"]), "--out", str(run_dir),
            "--epochs", "1", "--size", "32", "--batch-size", "2", "--steps-per-epoch", "2", "--base", "4",
            "--depth", "2", "--threads", "1", "--loss", "weighted-ce", "--class-aware-sampling"]
    assert main(args) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train_config"]["loss"] == "weighted-ce" and config["train_config"]["class_aware_sampling"]
    assert config["loss_weights"]["pole"] > config["loss_weights"]["road"]
    assert main(args) == 1  # the run exists: --resume or --overwrite
    assert main(["train", str(data["images"]), str(data["gt"]), "--out", str(run_dir), "--resume", "--epochs", "2",
                 "--threads", "1"]) == 0
    assert len(json.loads((run_dir / "history.json").read_text())) == 2
    assert main(["predict", str(run_dir), str(data["images"]), "--out", str(tmp_path / "p"), "--tile", "32x32",
                 "--threads", "1"]) == 0
    assert len(list((tmp_path / "p").glob("*.png"))) == 16
    assert main(["train", str(data["images"]), str(data["gt"]), "--classes", str(data["classes"]), "--out",
                 str(tmp_path / "x"), "--loss", "hinge"]) == 1
    assert main(["predict", str(tmp_path / "nothing"), str(data["images"])]) == 1


def test_export_onnx_matches_torch(run, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out, _ = run
    assert main(["export", str(out), str(tmp_path / "m.onnx"), "--size", "32x48"]) == 0
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    model, _, _ = load_run(out)
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 48, 64)).astype(np.float32)  # another size and batch
    got = sess.run(None, {"image": x})[0]
    with torch.inference_mode():
        ref = model(torch.from_numpy(x)).numpy()
    assert got.shape == ref.shape == (2, 9, 48, 64)
    assert np.abs(got - ref).max() <= 1e-4
