"""Property-based fuzzing of every reader and parser: any outcome but a correct result or a
SegscopeError is a failure. ``benchmarks/fuzz_inputs.py`` runs the same targets longer."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from _hostile import default_limit, png_bytes  # noqa: F401  (fixture)
from segscope.classes import ClassSpec, _parse_colour
from segscope.exceptions import SegscopeError
from segscope.io import masks

pytestmark = pytest.mark.usefixtures("default_limit")

#: examples per target in the test suite (the benchmark script takes its own number)
EXAMPLES = 400
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SPEC = ClassSpec(("bg", "red", "blue"), (0, 1, 7), ((0, 0, 0), (255, 0, 0), (0, 0, 255)), ignore_index=255)


def _valid_pngs() -> list[bytes]:
    out = []
    rng = np.random.default_rng(0)
    for arr in (rng.integers(0, 3, (6, 5), dtype=np.uint8), np.zeros((4, 4, 3), np.uint8),
                np.full((3, 3, 4), 255, np.uint8), rng.integers(0, 9, (5, 4)).astype(np.uint16)):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        out.append(buf.getvalue())
    p = Image.fromarray(rng.integers(0, 3, (4, 6), dtype=np.uint8), "L").convert("P")
    buf = io.BytesIO()
    p.save(buf, format="PNG")
    out.append(buf.getvalue())
    out.append(png_bytes(60000, 60000))
    return out


PNGS = _valid_pngs()


def _npy_files() -> list[bytes]:
    out = []
    for arr in (np.arange(12, dtype=np.uint8).reshape(3, 4), np.zeros((2, 3), np.float64),
                np.ones((2, 2, 1), np.int32), np.array([[1.5, 2.0]]), np.zeros((0, 3), np.int16)):
        buf = io.BytesIO()
        np.save(buf, arr)
        out.append(buf.getvalue())
    return out


NPYS = _npy_files()


def mutate(data: bytes, draw) -> bytes:
    """Flip, overwrite, insert or cut bytes (the header matters most: mostly the first 64)."""
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "cut", "int"]))
        pos = draw(st.integers(0, max(0, min(len(b) - 1, draw(st.sampled_from([64, len(b)]))))))
        if op == "set" and b:
            b[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            b[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "cut" and b:
            del b[pos: pos + draw(st.integers(1, 16))]
        elif op == "int" and len(b) >= pos + 4:
            b[pos: pos + 4] = struct.pack(">I", draw(st.sampled_from([0, 1, 65535, 60000, 2**31 - 1, 2**32 - 1])))
    return bytes(b)


def _fix_png_crcs(data: bytes) -> bytes:
    """Recompute chunk CRCs so mutations reach the decoder instead of the CRC check."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, pos = bytearray(data[:8]), 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos: pos + 4])
        kind = data[pos + 4: pos + 8]
        body = data[pos + 8: pos + 8 + length]
        if len(body) < length or pos + 12 + length > len(data):
            out += data[pos:]
            break
        out += data[pos: pos + 8 + length] + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        pos += 12 + length
    return bytes(out)


def _check_mask(arr) -> None:
    assert isinstance(arr, np.ndarray) and arr.ndim == 2 and arr.size > 0
    assert arr.dtype.kind in "ui"


# ---------------------------------------------------------------------- targets
def fuzz_png(data, tmp_path) -> None:
    blob = mutate(data.draw(st.sampled_from(PNGS)), data.draw)
    if data.draw(st.booleans()):
        blob = _fix_png_crcs(blob)
    path = tmp_path / "m.png"
    path.write_bytes(blob)
    for reader in (lambda: masks.read_mask(path, SPEC), lambda: masks.read_image(path)):
        try:
            out = reader()
        except SegscopeError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            continue
        assert out.size <= masks.max_pixels() * 3


def fuzz_npy(data, tmp_path) -> None:
    blob = mutate(data.draw(st.sampled_from(NPYS)), data.draw)
    path = tmp_path / "m.npy"
    path.write_bytes(blob)
    try:
        _check_mask(masks.read_npy_mask(path))
    except SegscopeError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


def fuzz_check_profile(data, tmp_path) -> None:
    from segscope.check import CheckOptions
    from segscope.check._profile import profile_mask

    npy = data.draw(st.booleans())
    blob = mutate(data.draw(st.sampled_from(NPYS if npy else PNGS)), data.draw)
    path = tmp_path / ("m.npy" if npy else "m.png")
    path.write_bytes(_fix_png_crcs(blob) if not npy else blob)
    prof = profile_mask("m", path, SPEC, CheckOptions())
    assert prof.error is None or "\n" not in prof.error


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True),
                     st.text(max_size=12), st.sampled_from(["#ff0000", "#-1-1-1", "# 1 2 3", "ignore", "road"]))
_values = st.recursive(_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                       max_leaves=12)
_entry = st.one_of(
    st.fixed_dictionaries({"name": _scalars}, optional={"id": _scalars, "color": _values, "colour": _values}),
    _values,
)
_spec = st.one_of(
    st.fixed_dictionaries({"classes": st.lists(_entry, max_size=5)},
                          optional={"ignore_index": _scalars, "transparent": _scalars, "preset": _scalars}),
    _values,
)


def fuzz_spec(data, tmp_path) -> None:
    raw = data.draw(_spec)
    kind = data.draw(st.sampled_from(["dict", "json", "yaml"]))
    try:
        if kind == "dict":
            spec = ClassSpec.from_dict(raw)
        else:
            from segscope.classes import load_spec

            path = tmp_path / f"spec.{kind}"
            if kind == "json":
                path.write_text(json.dumps(raw, allow_nan=True))
            else:
                import yaml

                text = yaml.safe_dump(raw) if data.draw(st.booleans()) else data.draw(st.text(max_size=60))
                path.write_text(text, encoding="utf-8", errors="surrogatepass")
            spec = load_spec(path)
    except SegscopeError as exc:
        assert "\n" not in str(exc)
        return
    except UnicodeEncodeError:
        return  # the drawn text cannot even be written as a file
    assert spec.num_classes >= 1 and all(0 <= i <= 65535 for i in spec.ids)
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in spec.colors)
    assert all(n.isprintable() or not any(ord(ch) < 32 for ch in n) for n in spec.names)


def fuzz_colour(data, tmp_path) -> None:
    value = data.draw(st.one_of(
        st.text(alphabet="#0123456789abcdefABCDEFg -+ x\t", max_size=9), st.lists(_scalars, max_size=4), _scalars,
    ))
    try:
        rgb = _parse_colour(value, "spec.yaml", "road")
    except SegscopeError as exc:
        assert "\n" not in str(exc) and "road" in str(exc)
        return
    assert len(rgb) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in rgb)
    if isinstance(value, str):
        assert value.lstrip("#") == "".join(f"{v:02x}" for v in rgb).lower() or value.lstrip("#").lower() == "".join(
            f"{v:02x}" for v in rgb)


_option_text = st.one_of(st.text(max_size=12), st.integers(-2**70, 2**70).map(str),
                         st.floats(allow_nan=True).map(str), st.sampled_from(["none", "-1", "1,2,x", "0.1,0.01", ""]))


def fuzz_options(data, tmp_path) -> None:
    from segscope.cli._common import parse_ignore
    from segscope.cli.commands.evaluate import parse_bins, parse_trimap

    text = data.draw(_option_text)
    which = data.draw(st.sampled_from(["ignore", "trimap", "bins", "pixels"]))
    try:
        if which == "ignore":
            value = parse_ignore(text)
            assert value is None or isinstance(value, int)
            ClassSpec.anonymous(3, value)
        elif which == "trimap":
            widths = parse_trimap(text)
            assert all(isinstance(w, int) and w >= 1 for w in widths)
        elif which == "bins":
            from segscope.engine.config import EvalConfig

            edges = EvalConfig(segment_bins=parse_bins(text)).segment_bins  # the CLI parses, the config checks
            assert all(0 < e < 1 for e in edges) and list(edges) == sorted(set(edges))
        else:
            assert masks.parse_max_pixels(text) >= 0
    except SegscopeError as exc:
        assert "\n" not in str(exc)


TARGETS = {"png": fuzz_png, "npy": fuzz_npy, "check": fuzz_check_profile, "spec": fuzz_spec,
           "colour": fuzz_colour, "options": fuzz_options}


# ---------------------------------------------------------------------- the suite's share
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz(name, tmp_path):
    @FUZZ
    @given(st.data())
    def run(data):
        TARGETS[name](data, tmp_path)

    run()
