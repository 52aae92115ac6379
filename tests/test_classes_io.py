"""Class specs, mask reading in every supported format, and pairing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segscope import SegscopeError
from segscope.classes import CITYSCAPES_LABEL_TO_TRAIN, ClassSpec, generate_palette, load_spec, preset
from segscope.io.files import pair_masks
from segscope.io.masks import read_mask, write_mask


def write_yaml(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_spec_with_generated_colours(tmp_path):
    p = write_yaml(tmp_path / "c.yaml", "ignore_index: 255\nclasses:\n  - {id: 0, name: bg, color: [0,0,0]}\n  - {id: 1, name: cat}\n  - {id: 2, name: dog, color: '#ff0000'}\n")
    spec = load_spec(p)
    assert spec.names == ("bg", "cat", "dog")
    assert spec.ignore_index == 255
    assert len(set(spec.colors)) == 3 and spec.colors[2] == (255, 0, 0)


def test_json_spec_and_ignore_override(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"classes": ["a", "b"], "ignore_index": 255}))
    assert load_spec(p).ignore_index == 255
    assert load_spec(p, ignore_index=None).ignore_index is None
    assert load_spec(p, ignore_index=7).ignore_index == 7


@pytest.mark.parametrize(
    "text, message",
    [
        ("classes:\n  - {id: 0, name: a}\n  - {id: 0, name: b}\n", "duplicate class id"),
        ("classes:\n  - {id: 0, name: a}\n  - {id: 1, name: a}\n", "duplicate class name"),
        ("ignore_index: 1\nclasses:\n  - {id: 0, name: a}\n  - {id: 1, name: b}\n", "collides"),
        ("classes: []\n", "non-empty"),
        ("classes: [\n", "not valid YAML"),
        ("classes:\n  - {id: 0, name: a, color: [300, 0, 0]}\n", "colour"),
    ],
)
def test_bad_specs_name_the_file(tmp_path, text, message):
    p = write_yaml(tmp_path / "bad.yaml", text)
    with pytest.raises(SegscopeError, match=message) as info:
        load_spec(p)
    assert "bad.yaml" in str(info.value)


def test_missing_spec_file_and_unknown_preset():
    with pytest.raises(SegscopeError, match="no such class spec"):
        load_spec("nope.yaml")
    with pytest.raises(SegscopeError, match="give the classes"):
        load_spec()


def test_presets():
    voc = preset("voc")
    assert voc.num_classes == 21 and voc.ignore_index == 255 and voc.names[15] == "person"
    ade = preset("ade20k")
    assert ade.num_classes == 150
    assert ade.to_index(np.array([[0, 1, 150]], dtype=np.uint8)).tolist() == [[255, 0, 149]]
    cs = preset("cityscapes")
    assert cs.num_classes == 19 and cs.names[0] == "road"
    label = np.array([[7, 26, 0, 33, 4]], dtype=np.uint8)
    assert cs.to_index(label, "gt").tolist() == [[0, 13, 255, 18, 255]]
    assert cs.to_index(np.array([[0, 13, 18]], dtype=np.uint8), "pred").tolist() == [[0, 13, 18]]
    cs_label = preset("cityscapes", pred_ids="label")
    assert cs_label.to_index(label, "pred").tolist() == [[0, 13, 255, 18, 255]]
    assert len(CITYSCAPES_LABEL_TO_TRAIN) == 19


def test_generated_palette_is_distinct():
    assert len(set(generate_palette(256))) == 256


def test_non_contiguous_ids_map_to_indices():
    spec = ClassSpec(("a", "b"), (10, 3), ((1, 1, 1), (2, 2, 2)), ignore_index=0)
    assert spec.names == ("b", "a")  # sorted by id
    idx = spec.to_index(np.array([[3, 10, 0, 5]], dtype=np.uint16))
    assert idx.tolist() == [[0, 1, spec.index_ignore, spec.index_invalid]]


# ---------------------------------------------------------------- reading masks
@pytest.mark.parametrize("mode", ["L", "P", "I;16", "I"])
def test_single_channel_png_modes(tmp_path, mode):
    arr = np.array([[0, 1, 2], [3, 255, 1]], dtype=np.uint8)
    im = Image.fromarray(arr, mode="L")
    if mode == "P":
        im = im.convert("P")
        im.putpalette([v for c in generate_palette(256) for v in c])
    elif mode == "I;16":
        im = Image.fromarray(arr.astype(np.uint16))
    elif mode == "I":
        im = Image.fromarray(arr.astype(np.int32))
    path = tmp_path / ("m.tif" if mode == "I" else "m.png")  # PNG cannot store 32-bit mode I
    im.save(path)
    with Image.open(path) as check:
        assert check.mode == mode
    got = read_mask(path)
    assert got.tolist() == arr.tolist()


def test_palette_png_index_is_the_label(tmp_path):
    spec = ClassSpec(("bg", "fg"), (0, 1), ((0, 0, 0), (255, 0, 0)))
    mask = np.array([[0, 1], [1, 0]])
    write_mask(tmp_path / "p.png", mask, palette=spec.colors)
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "P"
    assert read_mask(tmp_path / "p.png").tolist() == mask.tolist()


def test_rgb_mask_through_spec_colours(tmp_path):
    spec = ClassSpec(("bg", "fg"), (0, 1), ((0, 0, 0), (255, 0, 0)))
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 1] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert read_mask(tmp_path / "rgb.png", spec).tolist() == [[0, 1, 0], [0, 0, 0]]
    with pytest.raises(SegscopeError, match="needs a class spec"):
        read_mask(tmp_path / "rgb.png")
    rgb[1, 2] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "bad.png")
    with pytest.raises(SegscopeError, match=r"#010203 \(1 px\)") as info:
        read_mask(tmp_path / "bad.png", spec)
    assert "bad.png" in str(info.value)


def test_npy_masks(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[1, 2]], dtype=np.int64))
    assert read_mask(tmp_path / "a.npy").tolist() == [[1, 2]]
    np.save(tmp_path / "b.npy", np.zeros((2, 2, 2)))
    with pytest.raises(SegscopeError, match="2-D"):
        read_mask(tmp_path / "b.npy")
    np.save(tmp_path / "c.npy", np.array([[0.5]]))
    with pytest.raises(SegscopeError, match="integer"):
        read_mask(tmp_path / "c.npy")


def test_corrupt_png_names_the_file(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(SegscopeError, match="cannot read mask") as info:
        read_mask(tmp_path / "x.png")
    assert "x.png" in str(info.value)


def test_write_mask_16_bit_round_trip(tmp_path):
    mask = np.array([[0, 300, 65535]])
    write_mask(tmp_path / "w.png", mask)
    assert read_mask(tmp_path / "w.png").tolist() == mask.tolist()


# ---------------------------------------------------------------- pairing
def touch_masks(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        write_mask(folder / n, np.zeros((2, 2), dtype=np.uint8))


def test_pairing_by_stem_with_suffixes(tmp_path):
    touch_masks(tmp_path / "gt" / "aachen", ["aachen_01_gtFine_labelIds.png", "aachen_01_gtFine_color.png"])
    touch_masks(tmp_path / "pred", ["aachen_01_pred.png"])
    pairs = pair_masks(tmp_path / "pred", tmp_path / "gt", pred_suffix="_pred", gt_suffix="_gtFine_labelIds")
    assert [p.image_id for p in pairs] == ["aachen_01"]
    assert pairs[0].gt.name == "aachen_01_gtFine_labelIds.png"


def test_missing_and_extra_predictions_are_named(tmp_path):
    touch_masks(tmp_path / "gt", ["a.png", "b.png", "c.png"])
    touch_masks(tmp_path / "pred", ["a.png", "b.png", "z.png"])
    with pytest.raises(SegscopeError) as info:
        pair_masks(tmp_path / "pred", tmp_path / "gt")
    text = str(info.value)
    assert "have no prediction: c" in text and "have no GT: z" in text
    with pytest.warns(UserWarning):
        pairs = pair_masks(tmp_path / "pred", tmp_path / "gt", allow_missing=True)
    assert [p.image_id for p in pairs] == ["a", "b"]


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SegscopeError, match="no mask files"):
        pair_masks(tmp_path / "empty", tmp_path / "empty")


def test_rgb_masks_with_a_labelid_spec_decode_to_raw_ids(tmp_path):
    spec = preset("cityscapes")
    rgb = np.zeros((1, 2, 3), dtype=np.uint8)
    rgb[0, 0] = (128, 64, 128)  # road
    rgb[0, 1] = (0, 0, 142)  # car
    Image.fromarray(rgb).save(tmp_path / "c.png")
    gt = read_mask(tmp_path / "c.png", spec, "gt")
    assert gt.tolist() == [[7, 26]]  # labelIds, as the GT of this spec holds
    assert spec.to_index(gt, "gt").tolist() == [[0, 13]]
    pred = read_mask(tmp_path / "c.png", spec, "pred")
    assert spec.to_index(pred, "pred").tolist() == [[0, 13]]


def test_outputs_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_mask(tmp_path / "m.png", np.zeros((2, 2), dtype=np.uint8))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.png").stat().st_mode) == 0o644
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------------- label_map, reduce_zero_label
def test_label_map_is_applied_all_at_once_and_never_in_place():
    from segscope.classes import ClassSpec

    spec = ClassSpec.from_dict({"classes": ["a", "b", "c"], "ignore_index": 255, "label_map": {"0": 1, "1": 0}})
    mask = np.array([[0, 1, 2, 255]], np.uint8)
    before = mask.copy()
    assert spec.to_index(mask).tolist() == [[1, 0, 2, 255]]
    assert spec.to_index(mask, "pred").tolist() == [[0, 1, 2, 255]]  # predictions keep their ids
    assert np.array_equal(mask, before)
    assert ClassSpec.from_dict(spec.to_dict()).gt_map == spec.gt_map


def test_reduce_zero_label_from_a_spec_file(tmp_path):
    from segscope.classes import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text("classes: [a, b]\nignore_index: 255\nreduce_zero_label: true\nlabel_map: {5: 1}\n")
    spec = load_spec(path)
    # raw 0 -> ignored, 1 -> a, 2 -> b, 5 -> 1 -> a, 3 -> class id 2: unknown
    assert spec.to_index(np.array([[0, 1, 2, 5, 3]], np.uint8)).tolist() == [[255, 0, 1, 0, spec.index_invalid]]


@pytest.mark.parametrize("bad, message", [
    ({"reduce_zero_label": "yes"}, "reduce_zero_label must be true or false"),
    ({"label_map": [1, 2]}, "label_map must be a mapping"),
    ({"label_map": {"x": 1}}, "must map an integer to an integer"),
])
def test_bad_label_maps_are_one_line_errors(bad, message):
    from segscope.classes import ClassSpec

    with pytest.raises(SegscopeError, match=message):
        ClassSpec.from_dict({"classes": ["a", "b"], **bad})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "id": st.one_of(st.integers(-3, 70000), st.floats(allow_nan=False), st.booleans(), st.text(max_size=4)),
    "name": st.text(max_size=12),
    "color": st.one_of(st.none(), st.lists(st.integers(-1, 300), max_size=4), st.text(max_size=8)),
}), max_size=6), st.one_of(st.none(), st.integers(-2, 70000), st.text(max_size=3)))
def test_spec_yaml_parses_as_pyyaml_safe_load(classes, ignore):
    import yaml

    from segscope._yaml import safe_load

    text = yaml.safe_dump({"ignore_index": ignore, "classes": classes}, allow_unicode=True)
    assert safe_load(text) == yaml.safe_load(text)


def test_large_specs_keep_their_duplicate_checks(tmp_path):
    k = 3000
    entries = "".join(f"  - {{id: {i}, name: c{i}}}\n" for i in range(k))
    spec = load_spec(write_yaml(tmp_path / "c.yaml", f"classes:\n{entries}"))
    assert spec.num_classes == k and len(set(spec.colors)) == k
    for extra, message in (("  - {id: 7, name: again}\n", r"duplicate class id\(s\) \[7\]"),
                           (f"  - {{id: {k}, name: c3}}\n", r"duplicate class name\(s\) \['c3'\]"),
                           (f"  - {{id: {k}, name: x, color: '#123456'}}\n  - {{id: {k + 1}, name: y, color: '#123456'}}\n",
                            r"duplicate class colour\(s\) \[\(18, 52, 86\)\]")):
        with pytest.raises(SegscopeError, match=message):
            load_spec(write_yaml(tmp_path / "d.yaml", f"classes:\n{entries}{extra}"))
