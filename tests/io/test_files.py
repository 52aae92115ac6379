"""The one lister: ids, suffixes, duplicates and errors for every caller's case."""

from __future__ import annotations

from pathlib import Path

import pytest

from segscope.check import list_check_masks
from segscope.convert import list_sources
from segscope.exceptions import SegscopeError
from segscope.io.files import (
    IMAGE_SUFFIXES,
    MASK_SUFFIXES,
    STRIP_SUFFIXES,
    AuxIndex,
    list_files,
    list_masks,
)
from segscope.report.data import locate_sources


def _touch(root: Path, *names: str) -> Path:
    for name in names:
        f = root / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    return root


def test_ids_are_relative_paths_without_extension(tmp_path):
    _touch(tmp_path, "b.png", "city/a.npy", ".hidden.png", "notes.txt", "deep/er/c.TIF")
    found = list_masks(tmp_path)
    assert list(found) == ["b", "city/a", "deep/er/c"]
    assert found["city/a"] == tmp_path / "city" / "a.npy"
    assert list(list_masks(tmp_path, recursive=False)) == ["b"]


def test_suffix_selects_and_is_dropped(tmp_path):
    _touch(tmp_path, "x/x_1_gtFine_labelIds.png", "x/x_1_gtFine_color.png")
    assert list(list_masks(tmp_path, "_gtFine_labelIds")) == ["x/x_1"]
    with pytest.raises(SegscopeError, match=r"no mask files ending in '_nope' \(\.png"):
        list_masks(tmp_path, "_nope")


def test_known_suffixes_are_stripped_when_present(tmp_path):
    _touch(tmp_path, "a_gtFine_instanceIds.png", "b_labelIds.png", "c.png", "d_probs.npz")
    assert sorted(list_files(tmp_path, strip=STRIP_SUFFIXES)) == ["a", "b", "c"]
    assert list(list_files(tmp_path, (".npz",), strip=STRIP_SUFFIXES)) == ["d"]


def test_duplicate_ids(tmp_path):
    _touch(tmp_path, "a.npy", "a.png", "b.png")
    with pytest.raises(SegscopeError, match="two mask files share the id 'a': a.npy and a.png"):
        list_masks(tmp_path)
    assert list_files(tmp_path, duplicates="first") == {"a": tmp_path / "a.npy", "b": tmp_path / "b.png"}
    assert list_files(tmp_path, duplicates="extension") == {
        "a": tmp_path / "a.npy", "a.png": tmp_path / "a.png", "b": tmp_path / "b.png",
    }


def test_missing_empty_and_not_a_folder(tmp_path):
    with pytest.raises(SegscopeError, match="no such folder"):
        list_masks(tmp_path / "nope")
    _touch(tmp_path, "f.png")
    with pytest.raises(SegscopeError, match="not a folder"):
        list_masks(tmp_path / "f.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SegscopeError, match=r"no images \(\.png, \.jpg"):
        list_files(tmp_path / "empty", IMAGE_SUFFIXES, what="images")
    assert list_files(tmp_path / "empty", allow_empty=True) == {}


def test_check_lists_jpeg_masks_and_keeps_duplicates(tmp_path):
    _touch(tmp_path, "a.png", "a.jpg", "b.jpeg")
    assert list_check_masks(tmp_path) == {
        "a": tmp_path / "a.jpg", "a.png": tmp_path / "a.png", "b": tmp_path / "b.jpeg",
    }


def test_convert_refuses_jpeg_sources_and_lists_lossless_ones(tmp_path):
    _touch(tmp_path, "src/a.png", "src/sub/b.npy", "src/c.txt")
    assert list_sources(tmp_path / "src") == [tmp_path / "src" / "a.png", tmp_path / "src" / "sub" / "b.npy"]
    _touch(tmp_path, "src/sub/d.jpg")
    with pytest.raises(SegscopeError, match=r"1 JPEG mask\(s\) \(e.g. sub/d.jpg\)"):
        list_sources(tmp_path / "src")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SegscopeError, match=r"no mask files \(" + r"\.png, \.npy, \.bmp, \.tif, \.tiff\) found"):
        list_sources(tmp_path / "empty")
    assert ".jpg" not in MASK_SUFFIXES


def test_aux_index_finds_by_key_then_by_unique_stem(tmp_path):
    _touch(tmp_path, "inst/city/a_gtFine_instanceIds.png", "inst/other/b.png", "inst/x/c.png", "inst/y/c.png")
    index = AuxIndex(tmp_path / "inst", MASK_SUFFIXES, "instance mask")
    assert index.find("city/a") == tmp_path / "inst" / "city" / "a_gtFine_instanceIds.png"
    assert index.find("city/a_gtFine_labelIds") == tmp_path / "inst" / "city" / "a_gtFine_instanceIds.png"
    assert index.find("b") == tmp_path / "inst" / "other" / "b.png"  # same stem elsewhere
    with pytest.raises(SegscopeError, match="no instance mask file for image 'c'"):
        index.find("c")  # two files of that stem
    with pytest.raises(SegscopeError, match="instance mask folder does not exist"):
        AuxIndex(tmp_path / "nope", MASK_SUFFIXES, "instance mask")


def test_report_image_index_knows_ids_stems_and_cityscapes_names(tmp_path):
    _touch(tmp_path, "img/aachen/aachen_000000_000019_leftImg8bit.png", "img/street.jpg", "img/street.png")
    sources = locate_sources(tmp_path, {"config": {"images_dir": str(tmp_path / "img")}})
    assert sources.image_for("aachen/aachen_000000_000019_leftImg8bit").name == "aachen_000000_000019_leftImg8bit.png"
    assert sources.image_for("aachen_000000_000019").name == "aachen_000000_000019_leftImg8bit.png"
    assert sources.image_for("street") == tmp_path / "img" / "street.jpg"  # the first in sorted order


def test_a_mask_name_that_is_not_a_file_is_named(tmp_path):
    import os

    _touch(tmp_path, "a.png", "city/b.png", "notes/readme.txt")
    (tmp_path / "folder.png").mkdir()  # a folder named like a mask: searched, not listed
    assert sorted(list_masks(tmp_path)) == ["a", "city/b"]
    os.symlink(tmp_path / "a.png", tmp_path / "linked.png")  # a link to a mask is a mask
    assert sorted(list_masks(tmp_path)) == ["a", "city/b", "linked"]
    cases = {
        "a link to nothing": lambda f: os.symlink(tmp_path / "gone.png", f),
        "a link in a loop": lambda f: os.symlink(f, f),
        "a named pipe": os.mkfifo,
    }
    for what, make in cases.items():
        bad = tmp_path / "city" / "c.png"
        make(bad)
        with pytest.raises(SegscopeError, match=rf"^{tmp_path}: 'city/c.png' is {what}, not one of the mask files"):
            list_masks(tmp_path)
        bad.unlink()
    assert list(list_files(tmp_path / "notes", (".txt",))) == ["readme"]
