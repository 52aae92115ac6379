"""The fast PNG decoder gives Pillow's arrays, bit for bit, and leaves to Pillow what it does not
decode itself (palette PNGs keep giving indices); corrupt files still give one line."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segscope.classes import ClassSpec
from segscope.exceptions import SegscopeError
from segscope.io import masks
from segscope.io.masks import decode_png, png_layout, read_mask

imagecodecs = pytest.importorskip("imagecodecs")

SPEC = ClassSpec(("bg", "fg"), (0, 1), ((0, 0, 0), (255, 0, 0)), ignore_index=255, transparent="ignore")


def _pillow(path):
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def _write(path, arr, mode=None, **save):
    Image.fromarray(arr, mode=mode).save(path, format="PNG", **save)
    return path


@st.composite
def images(draw):
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    kind = draw(st.sampled_from(["L", "I;16", "RGB", "LA", "RGBA"]))
    channels = {"L": (), "I;16": (), "RGB": (3,), "LA": (2,), "RGBA": (4,)}[kind]
    dtype = np.uint16 if kind == "I;16" else np.uint8
    arr = draw(st.sampled_from([
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, np.iinfo(dtype).max + 1, (h, w, *channels)),
        np.full((h, w, *channels), draw(st.integers(0, np.iinfo(dtype).max))),
    ])).astype(dtype)
    return kind, arr, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(images())
def test_fast_decoder_gives_pillows_array(tmp_path_factory, case):
    kind, arr, interlace = case
    path = tmp_path_factory.mktemp("png") / "m.png"
    if kind == "LA":
        Image.fromarray(arr, mode="LA").save(path, format="PNG", optimize=interlace)
    else:
        Image.fromarray(arr).save(path, format="PNG", optimize=interlace)
    mode, want = _pillow(path)
    got = decode_png(path)
    assert got is not None and got[0] == mode
    assert got[1].dtype == want.dtype and got[1].shape == want.shape and np.array_equal(got[1], want)


def test_interlaced_and_16_bit(tmp_path):
    import imagecodecs as ic

    arr = np.arange(37 * 23, dtype=np.uint16).reshape(37, 23) * 61
    path = tmp_path / "adam7.png"
    path.write_bytes(ic.png_encode(arr))  # libpng's own writer
    mode, want = _pillow(path)
    mode2, got = decode_png(path)
    assert (mode, mode2) == ("I;16", "I;16") and got.dtype == np.uint16 and np.array_equal(got, want)
    assert read_mask(path).dtype == np.uint16


def test_left_to_pillow_palette_low_depth_transparency(tmp_path):
    idx = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    pal = Image.fromarray(idx, mode="L").convert("P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    pal.save(tmp_path / "p.png")
    Image.fromarray(idx.astype(bool)).save(tmp_path / "one.png")  # 1-bit
    Image.fromarray(idx).save(tmp_path / "trns.png", transparency=1)  # grey with tRNS
    for name in ("p.png", "one.png", "trns.png"):
        data = (tmp_path / name).read_bytes()
        assert png_layout(data) is None and decode_png(tmp_path / name) is None
    assert read_mask(tmp_path / "p.png").tolist() == idx.tolist()  # a palette PNG gives its indices
    assert read_mask(tmp_path / "one.png").tolist() == (idx > 0).astype(np.uint8).tolist()


def test_read_mask_same_with_and_without_the_fast_decoder(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    rgba = np.zeros((6, 7, 4), np.uint8)
    rgba[..., 0] = 255 * rng.integers(0, 2, (6, 7))
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0
    la = np.stack([rng.integers(0, 2, (6, 7)), np.full((6, 7), 255)], -1).astype(np.uint8)
    files = {
        "l.png": _write(tmp_path / "l.png", rng.integers(0, 2, (6, 7)).astype(np.uint8)),
        "i16.png": _write(tmp_path / "i16.png", rng.integers(0, 60000, (6, 7)).astype(np.uint16)),
        "rgb.png": _write(tmp_path / "rgb.png", np.ascontiguousarray(rgba[..., :3])),
        "rgba.png": _write(tmp_path / "rgba.png", rgba),
        "la.png": _write(tmp_path / "la.png", la, mode="LA"),
    }
    fast = {n: read_mask(p, SPEC) for n, p in files.items()}
    monkeypatch.setattr(masks, "_png_decoder", lambda: None)  # imagecodecs absent
    assert all(decode_png(p) is None for p in files.values())
    for name, path in files.items():
        slow = read_mask(path, SPEC)
        assert slow.dtype == fast[name].dtype and np.array_equal(slow, fast[name]), name


def test_a_failing_fast_decoder_falls_back_to_pillow(tmp_path, monkeypatch):
    path = _write(tmp_path / "m.png", np.arange(12, dtype=np.uint8).reshape(3, 4))

    def broken(data):
        raise RuntimeError("no")

    assert decode_png(path, decoder=broken) is None
    assert decode_png(path, decoder=lambda data: np.zeros((4, 3), np.uint8)) is None  # a wrong shape
    monkeypatch.setattr(masks, "_png_decoder", lambda: broken)
    assert read_mask(path).tolist() == np.arange(12).reshape(3, 4).tolist()


def _damaged(tmp_path, damage):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 19, (64, 64)).astype(np.uint8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    idat = data.index(b"IDAT")
    if damage == "truncate":
        data = data[: idat + 30]
    elif damage == "idat":
        data[idat + 10: idat + 20] = b"\xff" * 10
    else:
        length = int.from_bytes(data[idat - 4: idat], "big")
        data[idat + 4 + length] ^= 0xFF
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", ["truncate", "idat"])
def test_corrupt_png_is_one_line(tmp_path, damage):
    path = _damaged(tmp_path, damage)
    with pytest.raises(SegscopeError) as err:
        read_mask(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(str(path)) and "cannot read mask" in text


def test_what_pillow_reads_despite_a_bad_checksum_still_reads(tmp_path):
    path = _damaged(tmp_path, "crc")  # libpng refuses a bad IDAT checksum, Pillow does not check it
    assert decode_png(path) is None
    assert np.array_equal(read_mask(path), _pillow(path)[1])


def test_pixel_limit_checked_before_the_fast_decoder(tmp_path, monkeypatch):
    path = _write(tmp_path / "big.png", np.zeros((40, 50), np.uint8))
    monkeypatch.setattr(masks, "MAX_PIXELS", 1000)
    called = []
    with pytest.raises(SegscopeError, match="declares 50×40"):
        decode_png(path, decoder=lambda data: called.append(1))
    assert not called
