"""The synthetic street scenes and their predictions with recorded errors."""

from __future__ import annotations

import numpy as np
import pytest

from segscope import synth
from segscope.io.masks import read_mask

K = len(synth.CLASSES)


@pytest.fixture(scope="module")
def scenes():
    return [synth.make_scene(s, 64, 128) for s in range(24)]


def test_seeded_and_shaped():
    a, b, c = synth.make_scene(7, 48, 80), synth.make_scene(7, 48, 80), synth.make_scene(8, 48, 80)
    assert a.image.shape == (48, 80, 3) and a.image.dtype == np.uint8
    assert a.mask.shape == (48, 80) and a.mask.dtype == np.uint8
    assert np.array_equal(a.mask, b.mask) and np.array_equal(a.image, b.image) and a.objects == b.objects
    assert not np.array_equal(a.mask, c.mask)


def test_labels_and_imbalance(scenes):
    counts = np.zeros(K, np.int64)
    for sc in scenes:
        values = set(np.unique(sc.mask).tolist())
        assert values <= set(range(K)) | {synth.IGNORE}
        counts += np.bincount(sc.mask[sc.mask < K], minlength=K)
    share = counts / counts.sum()
    assert (counts > 0).all()  # every class occurs
    large = [synth.ROAD, synth.BUILDING, synth.SKY]
    small = [synth.PERSON, synth.POLE, synth.SIGN]
    assert share[large].min() > 0.1 and share[small].max() < 0.03  # realistic imbalance
    assert sum((sc.mask == synth.IGNORE).any() for sc in scenes) >= 3  # an ignore region in some frames


def test_objects_are_where_the_record_says(scenes):
    names = [n for n, _ in synth.CLASSES]
    seen = 0
    for sc in scenes:
        h, w = sc.mask.shape
        for obj in sc.objects:
            y0, x0, y1, x1 = obj["bbox"]
            assert 0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w
            inside = sc.mask[y0:y1, x0:x1] == names.index(obj["class"])
            seen += bool(inside.any())
    total = sum(len(sc.objects) for sc in scenes)
    assert seen >= 0.9 * total  # a few are hidden behind nearer objects: occlusion


def test_poles_are_thin():
    sc = synth.make_scene(11, 128, 256)
    poles = [o for o in sc.objects if o["class"] == "pole"]
    assert poles and all(o["bbox"][3] - o["bbox"][1] <= 2 for o in poles)


def test_colour_does_not_give_the_class(scenes):
    """Cars and people come in many colours: their pixels' colours spread widely."""
    for cls in (synth.CAR, synth.PERSON):
        pix = np.concatenate([sc.image[sc.mask == cls].reshape(-1, 3) for sc in scenes]).astype(float)
        assert pix.std(axis=0).mean() > 30


def test_lighting_varies(scenes):
    sky_brightness = [sc.image[sc.mask == synth.SKY].mean() for sc in scenes if (sc.mask == synth.SKY).any()]
    assert max(sky_brightness) - min(sky_brightness) > 40


def test_prediction_without_errors_equals_gt():
    sc = synth.make_scene(2, 64, 128)
    pred, record = synth.make_prediction(sc, 2, severity=0.0)
    valid = sc.mask != synth.IGNORE
    assert record == [] and np.array_equal(pred[valid], sc.mask[valid])
    assert (pred != synth.IGNORE).all()


def test_prediction_errors_are_recorded():
    kinds = set()
    for s in range(12):
        sc = synth.make_scene(s, 64, 128)
        pred, record = synth.make_prediction(sc, s, severity=1.0)
        assert (pred != synth.IGNORE).all()
        valid = sc.mask != synth.IGNORE
        wrong = int(((pred != sc.mask) & valid).sum())
        assert (wrong > 0) == any(r["pixels"] > 0 for r in record)
        for r in record:
            kinds.add(r["type"])
            if r["type"] == "missed_object":
                y0, x0, y1, x1 = r["bbox"]
                cls = [n for n, _ in synth.CLASSES].index(r["class"])
                assert not (pred[y0:y1, x0:x1] == cls).any()
    assert {"boundary_shift", "missed_object"} <= kinds


def test_write_dataset(tmp_path):
    paths = synth.write_dataset(tmp_path / "a", num_images=3, height=32, width=64, seed=1)
    assert {"images", "gt", "pred", "classes"} <= set(paths)
    assert sorted(p.name for p in paths["pred"].iterdir()) == ["street_0000.png", "street_0001.png", "street_0002.png"]
    gt = read_mask(paths["gt"] / "street_0001.png")
    assert np.array_equal(gt, synth.make_scene(1 * 100_003 + 1, 32, 64).mask)
    other = synth.write_dataset(tmp_path / "b", num_images=2, height=32, width=64, seed=1, predictions=False,
                                prefix="train", start=500)
    assert sorted(p.name for p in other["gt"].iterdir()) == ["train_0500.png", "train_0501.png"]
    assert not list(other["pred"].iterdir())
    assert np.array_equal(read_mask(other["gt"] / "train_0500.png"), synth.make_scene(100_003 + 500, 32, 64).mask)
    from segscope.classes import load_spec

    assert load_spec(paths["classes"]).names == synth.STREET_SPEC.names
