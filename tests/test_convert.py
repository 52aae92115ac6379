"""segscope convert: hand-worked conversions, bit-exact round trips, refusals, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segscope.classes import CITYSCAPES_LABEL_TO_TRAIN, ClassSpec
from segscope.cli import main
from segscope.convert import convert, convert_values, load_mapping, plan_conversion
from segscope.exceptions import SegscopeError
from segscope.io.masks import read_mask, write_mask

SPEC = ClassSpec(("a", "b", "c"), (0, 1, 2), ((255, 0, 0), (0, 255, 0), (0, 0, 255)), 255, name="abc")
SPARSE = ClassSpec(("x", "y", "z"), (3, 7, 300), ((10, 20, 30), (40, 50, 60), (70, 80, 90)), 255)
SETTINGS = settings(max_examples=25, deadline=None)


def read_rgb(path):
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im)


def masks_of(values, dtype=np.uint8):
    return arrays(dtype, st.tuples(st.integers(1, 9), st.integers(1, 9)), elements=st.sampled_from(values))


# ---------------------------------------------------------------------- hand-worked
def test_value_arithmetic():
    assert convert_values([7, 8, 26, 33, 0, 1, 255], "labelids", "trainids").tolist() == [0, 1, 13, 18, 255, 255, 255]
    assert convert_values([0, 13, 255], "trainids", "labelids").tolist() == [7, 26, 0]
    assert convert_values([0, 1, 150, 255], "zero-label", "reduced").tolist() == [255, 0, 149, 255]
    assert convert_values([255, 0, 149], "reduced", "zero-label").tolist() == [0, 1, 150]
    assert convert_values([34, 40], "labelids", "trainids").tolist() == [-1, -1]


def test_index_to_rgb_and_palette_by_hand(tmp_path):
    m = np.array([[0, 1], [2, 255]], np.uint8)
    write_mask(tmp_path / "m.png", m)
    convert(tmp_path / "m.png", tmp_path / "rgb.png", "index", "rgb", SPEC)
    assert read_rgb(tmp_path / "rgb.png").tolist() == [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]]
    convert(tmp_path / "m.png", tmp_path / "pal.png", "index", "palette", SPEC)
    with Image.open(tmp_path / "pal.png") as im:
        assert im.mode == "P"
        pal = im.getpalette()
        assert np.asarray(im).tolist() == m.tolist()
    assert pal[0:9] == [255, 0, 0, 0, 255, 0, 0, 0, 255] and pal[3 * 255 : 3 * 256] == [255, 255, 255]


def test_palette_decoded_through_colours(tmp_path):
    """A palette PNG whose indices are not the class ids: the colours decide."""
    idx = np.array([[0, 1], [2, 3]], np.uint8)
    im = Image.fromarray(idx, mode="L")
    im.putpalette([0, 0, 255, 255, 0, 0, 0, 255, 0, 255, 255, 255] + [0] * 756)  # c, a, b, white
    im.save(tmp_path / "p.png")
    plan = convert(tmp_path / "p.png", tmp_path / "i.png", "palette", "index", SPEC)
    assert plan.lossless
    assert read_mask(tmp_path / "i.png").tolist() == [[2, 0], [1, 255]]


def test_labelids_to_trainids_folder_recursive(tmp_path):
    src = tmp_path / "gtFine"
    label = np.array([[7, 26, 0], [1, 23, 33]], np.uint8)
    write_mask(src / "aachen" / "a_gtFine_labelIds.png", label)
    write_mask(src / "bonn" / "b_gtFine_labelIds.png", label[::-1])
    write_mask(src / "bonn" / "b_gtFine_color.png", label)  # filtered out by --suffix
    plan = convert(src, tmp_path / "train", "labelids", "trainids", suffix="_gtFine_labelIds")
    assert plan.lossless  # void labels -> 255 is the definition of trainIds
    assert {r.source: r.note for r in plan.rows}[1] == "void label -> ignore (by definition)"
    out = read_mask(tmp_path / "train" / "aachen" / "a_gtFine_labelIds.png")
    assert out.tolist() == [[0, 13, 255], [255, 10, 18]]
    assert (tmp_path / "train" / "bonn" / "b_gtFine_labelIds.png").exists()
    assert not (tmp_path / "train" / "bonn" / "b_gtFine_color.png").exists()


def test_unknown_labelids_are_refused(tmp_path):
    write_mask(tmp_path / "m.png", np.array([[7, 40]], np.uint8))
    with pytest.raises(SegscopeError, match="no place in trainids"):
        convert(tmp_path / "m.png", tmp_path / "o.png", "labelids", "trainids")
    convert(tmp_path / "m.png", tmp_path / "o.png", "labelids", "trainids", force_lossy=True)
    assert read_mask(tmp_path / "o.png").tolist() == [[0, 255]]


# ---------------------------------------------------------------------- mappings
def test_load_mapping_forms(tmp_path):
    assert load_mapping("255:1, 3:ignore") == {255: 1, 3: None}
    (tmp_path / "m.yaml").write_text("mapping:\n  b: a\n  c: null\n  5: 4\n")
    assert load_mapping(tmp_path / "m.yaml", SPEC) == {1: 0, 2: None, 5: 4}
    (tmp_path / "m.json").write_text('{"1": 2}')
    assert load_mapping(tmp_path / "m.json") == {1: 2}
    for bad in ("nofile.yaml", "1:2:3", "x:1"):
        with pytest.raises(SegscopeError):
            load_mapping(bad)


def test_merge_and_drop_are_refused_unless_forced(tmp_path):
    m = np.array([[0, 1, 2, 255]], np.uint8)
    write_mask(tmp_path / "m.png", m)
    with pytest.raises(SegscopeError, match=r"2 source values \(1, 2\) would all become 1"):
        convert(tmp_path / "m.png", tmp_path / "o.png", "index", "index", SPEC, mapping={2: 1})
    assert not (tmp_path / "o.png").exists()
    with pytest.raises(SegscopeError, match="loses information"):
        convert(tmp_path / "m.png", tmp_path / "o.png", "index", "index", SPEC, mapping={2: None})
    convert(tmp_path / "m.png", tmp_path / "o.png", "index", "index", SPEC, mapping={2: None}, force_lossy=True)
    assert read_mask(tmp_path / "o.png").tolist() == [[0, 1, 255, 255]]
    # dropping an id that no mask holds loses nothing
    plan = convert(tmp_path / "m.png", tmp_path / "o2.png", "index", "index", SPEC, mapping={9: None})
    assert plan.lossless


def test_colours_not_in_spec_are_refused(tmp_path):
    rgb = np.array([[[255, 0, 0], [1, 2, 3]]], np.uint8)
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "c.png")
    with pytest.raises(SegscopeError, match=r"no place in index \(#010203"):
        convert(tmp_path / "c.png", tmp_path / "o.png", "rgb", "index", SPEC)
    idx = Image.fromarray(np.array([[0, 1]], np.uint8), mode="L")
    idx.putpalette([255, 0, 0, 9, 9, 9] + [0] * 762)
    idx.save(tmp_path / "p.png")
    plan = plan_conversion(tmp_path / "p.png", tmp_path / "o.png", "palette", "index", SPEC)
    assert not plan.lossless and plan.rows[1].note == "colour not in the class spec"
    convert(tmp_path / "p.png", tmp_path / "o.png", "palette", "index", SPEC, force_lossy=True)
    assert read_mask(tmp_path / "o.png").tolist() == [[0, 255]]


def test_ids_without_colour_are_refused(tmp_path):
    write_mask(tmp_path / "m.png", np.array([[0, 5]], np.uint8))
    with pytest.raises(SegscopeError, match="no place in rgb"):
        convert(tmp_path / "m.png", tmp_path / "o.png", "index", "rgb", SPEC)
    with pytest.raises(SegscopeError, match="colour per class"):
        convert(tmp_path / "m.png", tmp_path / "o.png", "index", "rgb", ClassSpec.anonymous(3))


def test_reduce_zero_label_with_255_present_is_lossy(tmp_path):
    write_mask(tmp_path / "m.png", np.array([[0, 1, 255]], np.uint8))
    plan = plan_conversion(tmp_path / "m.png", tmp_path / "o.png", "zero-label", "reduced")
    assert not plan.lossless and "would all become 255" in plan.losses[0]


# ---------------------------------------------------------------------- never overwrite
def test_sources_are_never_overwritten(tmp_path):
    src = tmp_path / "gt"
    write_mask(src / "a.png", np.array([[0, 1]], np.uint8))
    before = (src / "a.png").read_bytes()
    for dst in (src, src / "out", src / "a.png"):
        with pytest.raises(SegscopeError):
            convert(src if dst != src / "a.png" else src / "a.png", dst, "index", "rgb", SPEC)
    with pytest.raises(SegscopeError, match="never overwrites"):
        convert(src / "a.png", src / "a.png", "index", "index", mapping={1: 2})
    assert (src / "a.png").read_bytes() == before
    assert sorted(p.name for p in src.rglob("*")) == ["a.png"]


def test_existing_outputs_need_overwrite(tmp_path):
    write_mask(tmp_path / "gt" / "a.png", np.array([[0, 1]], np.uint8))
    write_mask(tmp_path / "gt" / "b.png", np.array([[1, 1]], np.uint8))
    write_mask(tmp_path / "out" / "b.png", np.array([[9]], np.uint8))
    with pytest.raises(SegscopeError, match="exist already"):
        convert(tmp_path / "gt", tmp_path / "out", "index", "index", mapping={1: 2})
    assert not (tmp_path / "out" / "a.png").exists()  # nothing written before refusing
    convert(tmp_path / "gt", tmp_path / "out", "index", "index", mapping={1: 2}, overwrite=True)
    assert read_mask(tmp_path / "out" / "b.png").tolist() == [[2, 2]]


def test_dry_run_writes_nothing(tmp_path):
    write_mask(tmp_path / "gt" / "a.png", np.array([[0, 1, 1]], np.uint8))
    plan = convert(tmp_path / "gt", tmp_path / "out", "index", "index", mapping={1: 2}, dry_run=True)
    assert not (tmp_path / "out").exists()
    assert [(r.source, r.target, r.pixels, r.files) for r in plan.rows] == [(0, 0, 1, 1), (1, 2, 2, 1)]
    assert plan.changed_pixels() == 2


def test_no_temp_files_left(tmp_path):
    write_mask(tmp_path / "gt" / "a.png", np.array([[0, 1]], np.uint8))
    convert(tmp_path / "gt", tmp_path / "out", "index", "rgb", SPEC)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


# ---------------------------------------------------------------------- bit-exact round trips
def _roundtrip(tmp, mask, there, back, spec=None, write=write_mask, suffix=".png", **kw):
    src = tmp / f"src{suffix}"
    write(src, mask)
    mid, out = tmp / "mid.png", tmp / f"out{suffix}"
    for p in (mid, out):
        p.unlink(missing_ok=True)
    assert convert(src, mid, *there, spec, **kw.get("there", {})).lossless
    assert convert(mid, out, *back, spec, **kw.get("back", {})).lossless
    return src, out


@SETTINGS
@given(mask=masks_of([0, 1, 2, 255]))
def test_roundtrip_index_rgb(tmp_path_factory, mask):
    tmp = tmp_path_factory.mktemp("rt")
    src, out = _roundtrip(tmp, mask, ("index", "rgb"), ("rgb", "index"), SPEC)
    back = read_mask(out)
    assert back.dtype == mask.dtype and np.array_equal(back, mask)
    assert out.read_bytes() == src.read_bytes()


@SETTINGS
@given(mask=masks_of([3, 7, 300, 255], np.uint16))
def test_roundtrip_index_rgb_16bit_ids(tmp_path_factory, mask):
    tmp = tmp_path_factory.mktemp("rt")
    src, out = _roundtrip(tmp, mask, ("index", "rgb"), ("rgb", "index"), SPARSE)
    back = read_mask(out)
    expected = mask if mask.max() >= 256 else mask.astype(np.uint8)  # 8 bits when they suffice
    assert back.dtype == expected.dtype and np.array_equal(back, expected)


@SETTINGS
@given(mask=masks_of([0, 1, 2, 255]))
def test_roundtrip_index_palette(tmp_path_factory, mask):
    tmp = tmp_path_factory.mktemp("rt")
    src, out = _roundtrip(tmp, mask, ("index", "palette"), ("palette", "index"), SPEC)
    assert out.read_bytes() == src.read_bytes()


@SETTINGS
@given(mask=masks_of([0, 1, 2, 255]))
def test_roundtrip_palette_index_palette(tmp_path_factory, mask):
    tmp = tmp_path_factory.mktemp("rt")
    first = tmp / "first.png"
    first.unlink(missing_ok=True)
    write_mask(tmp / "idx.png", mask)
    convert(tmp / "idx.png", first, "index", "palette", SPEC)
    src, out = _roundtrip(tmp, None, ("palette", "index"), ("index", "palette"), SPEC,
                          write=lambda p, _m: p.write_bytes(first.read_bytes()))
    with Image.open(src) as a, Image.open(out) as b:
        assert a.mode == b.mode == "P" and a.getpalette() == b.getpalette()
        assert np.array_equal(np.asarray(a), np.asarray(b))


@SETTINGS
@given(mask=masks_of(list(range(19)) + [255]))
def test_roundtrip_trainids_labelids(tmp_path_factory, mask):
    tmp = tmp_path_factory.mktemp("rt")
    src, out = _roundtrip(tmp, mask, ("trainids", "labelids"), ("labelids", "trainids"))
    assert np.array_equal(read_mask(out), mask) and out.read_bytes() == src.read_bytes()
    labels = read_mask(tmp / "mid.png")
    assert set(np.unique(labels).tolist()) <= set(CITYSCAPES_LABEL_TO_TRAIN) | {0}


@SETTINGS
@given(mask=masks_of([0, 1, 2, 3, 149, 150]))
def test_roundtrip_zero_label_reduced(tmp_path_factory, mask):
    tmp = tmp_path_factory.mktemp("rt")
    src, out = _roundtrip(tmp, mask, ("zero-label", "reduced"), ("reduced", "zero-label"))
    assert np.array_equal(read_mask(out), mask)


@SETTINGS
@given(mask=masks_of([0, 1, 2, 5, 255], np.int32), perm=st.permutations([0, 1, 2, 5]))
def test_roundtrip_mapping_and_inverse_npy(tmp_path_factory, mask, perm):
    tmp = tmp_path_factory.mktemp("rt")
    fwd = dict(zip([0, 1, 2, 5], perm))
    inv = {v: k for k, v in fwd.items()}
    src = tmp / "src.npy"
    np.save(src, mask)
    for p in (tmp / "mid.npy", tmp / "out.npy"):
        p.unlink(missing_ok=True)
    assert convert(src, tmp / "mid.npy", "index", "index", mapping=fwd).lossless
    assert convert(tmp / "mid.npy", tmp / "out.npy", "index", "index", mapping=inv).lossless
    back = np.load(tmp / "out.npy")
    assert back.dtype == np.int32 and np.array_equal(back, mask)


def test_folder_round_trip_keeps_relative_paths(tmp_path):
    rng = np.random.default_rng(0)
    names = ["a.png", "sub/b.png", "sub/deeper/c.png"]
    for n in names:
        write_mask(tmp_path / "gt" / n, rng.choice([0, 1, 2, 255], (5, 7)).astype(np.uint8))
    convert(tmp_path / "gt", tmp_path / "rgb", "index", "rgb", SPEC, jobs=2)
    convert(tmp_path / "rgb", tmp_path / "back", "rgb", "index", SPEC, jobs=2)
    for n in names:
        assert (tmp_path / "back" / n).read_bytes() == (tmp_path / "gt" / n).read_bytes()


# ---------------------------------------------------------------------- the command line
def cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_convert(tmp_path, capsys):
    write_mask(tmp_path / "gt" / "a.png", np.array([[0, 255], [255, 0]], np.uint8))
    code, out, _ = cli(["convert", tmp_path / "gt", tmp_path / "out", "--from", "index", "--to", "index",
                        "--mapping", "255:1", "--dry-run", "--jobs", "1"], capsys)
    assert code == 0 and "would write 1 file" in out and "lossless" in out
    assert not (tmp_path / "out").exists()
    code, _, err = cli(["convert", tmp_path / "gt", tmp_path / "out", "--from", "index", "--to", "index",
                        "--mapping", "255:1", "--jobs", "1"], capsys)
    assert code == 0 and "wrote 1 file" in err
    assert read_mask(tmp_path / "out" / "a.png").tolist() == [[0, 1], [1, 0]]
    # again: the output exists
    code, _, err = cli(["convert", tmp_path / "gt", tmp_path / "out", "--from", "index", "--to", "index",
                        "--mapping", "255:1"], capsys)
    assert code == 1 and "--overwrite" in err
    # lossy: dry run says it would be refused (exit 1), --force-lossy goes ahead
    args = ["convert", tmp_path / "gt", tmp_path / "merged", "--from", "index", "--to", "index", "--mapping", "255:0"]
    code, out, err = cli(args + ["--dry-run"], capsys)
    assert code == 1 and "would be refused" in out and "merged into 0" in out
    assert cli(args + ["--allow-lossy"], capsys)[0] == 0
    assert read_mask(tmp_path / "merged" / "a.png").tolist() == [[0, 0], [0, 0]]


def test_cli_convert_usage_errors(tmp_path, capsys):
    write_mask(tmp_path / "gt" / "a.png", np.array([[0]], np.uint8))
    base = ["convert", tmp_path / "gt", tmp_path / "out"]
    assert cli(base + ["--from", "index"], capsys)[0] == 2
    assert cli(base + ["--from", "jpeg", "--to", "index"], capsys)[0] == 2
    assert cli(base + ["--from", "labelids", "--to", "rgb"], capsys)[0] == 2
    assert cli(base + ["--from", "rgb", "--to", "rgb"], capsys)[0] == 2
    code, _, err = cli(base + ["--from", "index", "--to", "rgb"], capsys)
    assert code == 1 and "colour per class" in err
