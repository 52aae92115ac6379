"""Class specs that must be refused at load, with a one-line message naming the class and value."""

from __future__ import annotations

import numpy as np
import pytest

from segscope.classes import ClassSpec, load_spec
from segscope.exceptions import SegscopeError


def spec_of(*entries, **extra):
    return ClassSpec.from_dict({"classes": list(entries), **extra}, name="spec.yaml")


@pytest.mark.parametrize("colour", ["#-1-1-1", "# 1 2 3", "#+0+0+0", "#12345g", " #123456", "#1234567",
                                    [256, 0, 0], [-1, 0, 0], [True, 0, 0], [1.5, 0, 0], [1, 2], "red"])
def test_bad_colours_are_refused_naming_class_and_value(colour):
    with pytest.raises(SegscopeError) as info:
        spec_of({"name": "road", "color": colour})
    msg = str(info.value)
    assert msg.startswith("spec.yaml: class 'road': colour ") and repr(colour) in msg and "\n" not in msg


@pytest.mark.parametrize("colour, rgb", [("#80ff0A", (128, 255, 10)), ([0, 255, 7], (0, 255, 7))])
def test_good_colours(colour, rgb):
    assert spec_of({"name": "road", "color": colour}).colors == (rgb,)


def test_ids_beyond_16_bits_are_refused():
    with pytest.raises(SegscopeError, match=r"class 'big' has id 70000: ids must lie in 0..65535"):
        spec_of({"name": "big", "id": 70000})
    assert spec_of({"name": "top", "id": 65535}).ids == (65535,)
    with pytest.raises(SegscopeError, match="ignore label 70000"):
        spec_of({"name": "a"}, ignore_index=70000)


def test_negative_ignore_label_is_accepted():
    spec = spec_of({"name": "a"}, {"name": "b"}, ignore_index=-1)
    assert spec.ignore_index == -1 and spec.index_ignore == -1
    idx = spec.to_index(np.array([[0, 1, -1, -5]]))
    assert idx.tolist() == [[0, 1, -1, 2]]  # -5 is unknown (index K), -1 is ignore
    assert spec.describe_unknown(np.array([[0, -1, -5]])) == "-5 (1 px)"


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "nul\x00", "bell\x07", "", "   "])
def test_control_characters_and_empty_names_are_refused(name):
    with pytest.raises(SegscopeError) as info:
        spec_of({"name": name})
    assert "\n" not in str(info.value)


def test_unicode_and_formula_like_names_load():
    assert spec_of({"name": "Straße"}, {"name": "=sum"}, {"name": "$\\frac{$"}).names == ("Straße", "=sum", "$\\frac{$")


def test_transparent_key():
    assert spec_of({"name": "a"}, transparent="ignore").transparent == "ignore"
    with pytest.raises(SegscopeError, match="transparent must be 'ignore'"):
        spec_of({"name": "a"}, transparent="opaque")


def test_spec_files(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text('classes:\n  - {name: road, color: "# 1 2 3"}\n')
    with pytest.raises(SegscopeError, match=f"{path}: class 'road': colour"):
        load_spec(path)


@pytest.mark.parametrize("name, text", [("c.json", '{"classes": ["road", "car"], "ignore_index": 255}'),
                                        ("c.yaml", "classes: [road, car]\nignore_index: 255\n")])
def test_spec_files_with_a_byte_order_mark_load(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    spec = load_spec(path)
    assert spec.names == ("road", "car") and spec.ignore_index == 255


def test_mapping_files_with_a_byte_order_mark_load(tmp_path):
    from segscope.convert import load_mapping

    path = tmp_path / "m.json"
    path.write_bytes(b'\xef\xbb\xbf{"255": "ignore", "3": 1}')
    assert load_mapping(path) == {255: None, 3: 1}
