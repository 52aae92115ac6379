"""segscope check: every check finds its planted defect, and clean data gives no finding."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segscope.check import CHECKS, CheckOptions, run_checks
from segscope.classes import ClassSpec, preset
from segscope.cli import main
from segscope.io.masks import write_mask

SPEC = ClassSpec(("a", "b", "c"), (0, 1, 2), ((255, 0, 0), (0, 255, 0), (0, 0, 255)), 255, name="abc")
H, W = 24, 32
N = 6


def clean_mask(i: int) -> np.ndarray:
    """Three thick bands (0, 1, 2) and a small ignore block, all different per i."""
    m = np.zeros((H, W), np.uint8)
    m[8 + i % 3 :, :] = 1
    m[16 + i % 2 :, :] = 2
    m[:4, W - 6 - i : W - 2 - i] = 255
    return m


def clean_image(i: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb, mode="RGB").save(path)


def write_palette(path: Path, mask: np.ndarray, colours: dict[int, tuple]) -> None:
    im = Image.fromarray(mask, mode="L")
    pal = [0] * 768
    for i, c in colours.items():
        pal[3 * i : 3 * i + 3] = list(c)
    im.putpalette(pal)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def to_rgb(mask: np.ndarray, spec: ClassSpec = SPEC) -> np.ndarray:
    lut = np.full((256, 3), 255, np.uint8)
    for cid, c in zip(spec.ids, spec.colors):
        lut[cid] = c
    return lut[mask]


@pytest.fixture
def data(tmp_path):
    gt, img = tmp_path / "gt", tmp_path / "img"
    for i in range(N):
        write_mask(gt / f"m{i}.png", clean_mask(i))
        write_rgb(img / f"m{i}.png", clean_image(i))
    return tmp_path


def found(report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(f.check, set()).add(f.severity)
    return out


def run(d, spec=SPEC, images=True, **opts):
    return run_checks(d / "gt", spec, d / "img" if images else None, CheckOptions(**opts))


def only(report, expected: dict[str, set[str]]):
    assert found(report) == expected, [(f.check, f.severity, f.message) for f in report.findings]


def the(report, check_id):
    hits = [f for f in report.findings if f.check == check_id]
    assert len(hits) == 1, hits
    return hits[0]


# ---------------------------------------------------------------------- clean data
def test_clean_data_gives_no_finding(data):
    report = run(data)
    assert report.findings == []
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 0
    assert report.stats["num_images"] == N
    assert report.stats["images_with_class"] == {"a": N, "b": N, "c": N}


def test_clean_synthetic_scenes_have_notes_only(tmp_path):
    from segscope.synth import street_spec, write_dataset

    paths = write_dataset(tmp_path, num_images=8, height=64, width=128, predictions=False)
    report = run_checks(paths["gt"], street_spec(), paths["images"])
    assert {f.severity for f in report.findings} <= {"note"}
    assert report.exit_code() == 0


def test_process_pool_gives_the_same_report(data):
    write_mask(data / "gt" / "m1.png", np.where(clean_mask(1) == 1, 7, clean_mask(1)).astype(np.uint8))
    serial = run_checks(data / "gt", SPEC, data / "img", jobs=1)
    pooled = run_checks(data / "gt", SPEC, data / "img", jobs=2)
    assert serial.to_dict() == pooled.to_dict()
    assert "unknown-ids" in found(serial)


# ---------------------------------------------------------------------- storage
def test_unreadable(data):
    (data / "gt" / "m2.png").write_bytes(b"not a png at all")
    (data / "img" / "m3.png").write_bytes(b"broken")
    report = run(data)
    hits = [f for f in report.findings if f.check == "unreadable"]
    assert [f.files for f in hits] == [["m2.png"], ["m3.png"]]
    assert all(f.severity == "error" for f in hits)


def test_unknown_ids(data):
    m = clean_mask(0)
    m[0:2, 0:3] = 7  # 6 px of id 7
    m[2, 0] = 9
    write_mask(data / "gt" / "m0.png", m)
    m = clean_mask(1)
    m[0, 0:4] = 7  # 4 px more of id 7
    write_mask(data / "gt" / "m1.png", m)
    report = run(data)
    f = the(report, "unknown-ids")
    assert f.severity == "error"
    assert f.files == ["m0.png", "m1.png"]
    assert f.details["ids"] == {7: {"pixels": 10, "masks": 2}, 9: {"pixels": 1, "masks": 1}}
    assert "7 (10 px in 2 masks)" in f.message
    assert report.exit_code() == 1


def test_unknown_colours(data):
    rgb = to_rgb(clean_mask(4))
    rgb[0, 0] = (1, 2, 3)
    rgb[5, 5:7] = (1, 2, 3)
    for i in range(N):
        (data / "gt" / f"m{i}.png").unlink()
        write_rgb(data / "gt" / f"m{i}.png", rgb if i == 4 else to_rgb(clean_mask(i)))
    report = run(data)
    only(report, {"unknown-colours": {"error"}})
    f = the(report, "unknown-colours")
    assert f.files == ["m4.png"]
    assert f.details["colours"] == {"#010203": {"pixels": 3, "masks": 1}}
    # colour masks with a spec that has no colours
    report = run(data, spec=ClassSpec.anonymous(3, 255))
    assert "gives no colours" in the(report, "unknown-colours").message


def test_mixed_modes(data):
    (data / "gt" / "m5.png").unlink()
    write_rgb(data / "gt" / "m5.png", to_rgb(clean_mask(5)))
    report = run(data)
    only(report, {"mixed-modes": {"warning"}})
    f = the(report, "mixed-modes")
    assert f.files == ["m5.png"]
    assert f.details["modes"] == {"8-bit index PNG": 5, "RGB colour PNG": 1}
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def _spec_palette():
    return {cid: c for cid, c in zip(SPEC.ids, SPEC.colors)} | {255: (255, 255, 255)}


def test_mixed_palettes(data):
    for i in range(N):
        pal = _spec_palette()
        if i == 2:
            pal[1] = (9, 9, 9)
        write_palette(data / "gt" / f"m{i}.png", clean_mask(i), pal)
    report = run(data)
    f = the(report, "mixed-palettes")
    assert f.severity == "error" and f.files == ["m2.png"]
    assert f.details["indices"] == [1]
    assert "index 1 is #00ff00 in 5 mask(s) and #090909 in 1 mask(s)" in f.message


def test_palette_colours(data):
    for i in range(N):
        pal = _spec_palette()
        pal[1], pal[2] = pal[2], pal[1]  # every file draws b in c's colour and c in b's
        write_palette(data / "gt" / f"m{i}.png", clean_mask(i), pal)
    report = run(data)
    only(report, {"palette-colours": {"warning"}})
    f = the(report, "palette-colours")
    assert len(f.files) == N and f.details["ids"] == [1, 2]
    assert "the colour of 'c' (id 2)" in f.message
    # palette PNGs with the spec's own palette are fine; a grey palette carries no meaning
    for i in range(N):
        write_palette(data / "gt" / f"m{i}.png", clean_mask(i), {v: (v, v, v) for v in range(256)})
    assert run(data).findings == []


def test_bit_depth(data):
    for i in range(N):
        (data / "gt" / f"m{i}.png").unlink()
        Image.fromarray(clean_mask(i).astype(np.uint16)).save(data / "gt" / f"m{i}.png")
    report = run(data)
    only(report, {"bit-depth": {"warning"}})
    assert len(the(report, "bit-depth").files) == N
    # 8-bit masks cannot hold the ids of a spec that goes past 255
    wide = ClassSpec(("a", "b", "c"), (0, 1, 300), ((1, 1, 1), (2, 2, 2), (3, 3, 3)), None)
    write_mask(data / "gt2" / "x.png", np.array([[0, 1]], np.uint8))
    report = run_checks(data / "gt2", wide)
    assert "error" in found(report)["bit-depth"]


# ---------------------------------------------------------------------- the classic mistakes
def test_binary_255(tmp_path):
    binary = ClassSpec(("background", "object"), (0, 1), ((0, 0, 0), (255, 255, 255)), None)
    for i in range(N):
        m = np.zeros((H, W), np.uint8)
        m[4 + i : 14 + i, 6:20] = 255
        write_mask(tmp_path / "gt" / f"m{i}.png", m)
    report = run_checks(tmp_path / "gt", binary)
    f = the(report, "binary-255")
    assert f.severity == "error" and len(f.files) == N
    assert f.details == {"masks": N, "class_1_pixels": 0}
    assert "'255:1'" in f.fix
    assert "unknown-ids" in found(report)
    # with 255 as the ignore label the masks are all "ignore" foreground: still found
    report = run_checks(tmp_path / "gt", binary.with_ignore(255))
    assert "binary-255" in found(report)
    # the same masks stored 0/1 are fine
    for i in range(N):
        m = np.zeros((H, W), np.uint8)
        m[4 + i : 14 + i, 6:20] = 1
        write_mask(tmp_path / "gt" / f"m{i}.png", m)
    assert "binary-255" not in found(run_checks(tmp_path / "gt", binary))


def _city_train_mask(i):
    m = np.zeros((H, W), np.uint8)  # road
    m[:8] = 10  # sky
    m[8:12] = 2  # building
    m[12 + i % 3 : 16, 4:12] = 13  # car
    m[20:, :3] = 255
    return m


def test_cityscapes_ids_trainids_read_as_labelids(tmp_path):
    for i in range(N):
        write_mask(tmp_path / "gt" / f"m{i}.png", _city_train_mask(i))
    report = run_checks(tmp_path / "gt", preset("cityscapes", gt_ids="label"))
    f = the(report, "cityscapes-ids")
    assert f.severity == "error" and "--gt-ids train" in f.fix and len(f.files) == N
    assert f.details == {"max_value": 13}
    assert "cityscapes-ids" not in found(run_checks(tmp_path / "gt", preset("cityscapes", gt_ids="train")))


def test_cityscapes_ids_labelids_read_as_trainids(tmp_path):
    to_label = {0: 7, 10: 23, 2: 11, 13: 26, 255: 0}
    for i in range(N):
        m = _city_train_mask(i)
        write_mask(tmp_path / "gt" / f"m{i}.png", np.vectorize(to_label.get)(m).astype(np.uint8))
    report = run_checks(tmp_path / "gt", preset("cityscapes", gt_ids="train"))
    f = the(report, "cityscapes-ids")
    assert f.details == {"label_only_values": [23, 26]}
    assert "--from labelids --to trainids" in f.fix
    assert "cityscapes-ids" not in found(run_checks(tmp_path / "gt", preset("cityscapes", gt_ids="label")))


def test_zero_label_not_reduced(tmp_path):
    for i in range(N):
        m = clean_mask(i)
        m[m == 255] = 0  # "other"
        m = np.where(m > 0, m + 1, m).astype(np.uint8)  # classes 1..3
        m[:, :4] = 1
        write_mask(tmp_path / "gt" / f"m{i}.png", m)
    report = run_checks(tmp_path / "gt", ClassSpec.anonymous(3, 255))
    f = the(report, "zero-label")
    assert f.severity == "error" and "--from zero-label --to reduced" in f.fix
    assert f.details["masks_with_zero"] == N


def test_zero_label_reduced_twice(tmp_path):
    for i in range(N):
        write_mask(tmp_path / "gt" / f"m{i}.png", clean_mask(i))  # already reduced: has 255
    report = run_checks(tmp_path / "gt", preset("ade20k"))
    f = the(report, "zero-label")
    assert "reduced twice" in f.message and len(f.files) == N
    assert "--num-classes 150 --ignore-index 255" in f.fix


def test_shifted_ids(data):
    m = clean_mask(3)
    write_mask(data / "gt" / "m3.png", np.where(m == 255, 255, m + 1).astype(np.uint8))
    report = run(data)
    only(report, {"shifted-ids": {"error"}, "unknown-ids": {"error"}})
    f = the(report, "shifted-ids")
    assert f.files == ["m3.png"] and f.details == {"shift": 1, "ids": [1, 2, 3]}
    assert "'1:0,2:1,3:2'" in f.fix
    # shifted down: a spec counting from 1
    one = ClassSpec(("a", "b", "c"), (1, 2, 3), SPEC.colors, 255)
    report = run(data, spec=one)
    assert the(report, "shifted-ids").details["shift"] == -1


def _jpeg_roundtrip(mask: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf))


def _lossy_test_mask():
    m = np.zeros((64, 64), np.uint8)
    m[20:44, 10:30] = 1
    m[30:60, 35:60] = 2
    m[:10, :] = 255
    return m


def test_lossy_compression_png_that_was_jpeg(tmp_path):
    for i in range(N):
        m = np.roll(_lossy_test_mask(), i, axis=1)
        write_mask(tmp_path / "gt" / f"m{i}.png", _jpeg_roundtrip(m) if i == 1 else m)
    report = run_checks(tmp_path / "gt", SPEC)
    f = the(report, "lossy-compression")
    assert f.severity == "error" and f.files == ["m1.png"]


def test_lossy_compression_interpolating_resize(tmp_path):
    for i in range(N):
        m = Image.fromarray(np.roll(_lossy_test_mask(), i, axis=1))
        m = m.resize((100, 100), Image.BILINEAR if i == 2 else Image.NEAREST)
        (tmp_path / "gt").mkdir(exist_ok=True)
        m.save(tmp_path / "gt" / f"m{i}.png")
    report = run_checks(tmp_path / "gt", SPEC)
    assert the(report, "lossy-compression").files == ["m2.png"]


def test_lossy_compression_jpeg_file(data):
    Image.fromarray(clean_mask(0)).save(data / "gt" / "extra.jpg", quality=100)
    write_rgb(data / "img" / "extra.png", clean_image(9))
    report = run(data)
    hits = [f for f in report.findings if f.check == "lossy-compression"]
    assert [f.files for f in hits] == [["extra.jpg"]]
    assert "JPEG files" in hits[0].message


# ---------------------------------------------------------------------- pairs and copies
def test_size_mismatch(data):
    write_rgb(data / "img" / "m2.png", clean_image(2, h=H * 2, w=W * 2))
    report = run(data)
    only(report, {"size-mismatch": {"error"}})
    f = the(report, "size-mismatch")
    assert f.files == ["m2.png"] and f.details["per_image"]["m2.png"] == {"mask": [H, W], "image": [2 * H, 2 * W]}


def test_missing_pairs(data):
    (data / "img" / "m4.png").unlink()
    write_rgb(data / "img" / "sub" / "lonely.jpg", clean_image(7))
    report = run(data)
    only(report, {"missing-pairs": {"error"}})
    files = sorted(tuple(f.files) for f in report.findings)
    assert files == [("m4.png",), ("sub/lonely.jpg",)]
    # without --images nothing can be missing
    assert run(data, images=False).findings == []


def test_missing_pairs_with_suffixes(data):
    for i in range(N):
        (data / "img" / f"m{i}.png").rename(data / "img" / f"m{i}_leftImg8bit.png")
    assert "missing-pairs" in found(run(data))
    assert run(data, image_suffix="_leftImg8bit").findings == []


def test_duplicates(data):
    shutil.copy(data / "gt" / "m1.png", data / "gt" / "m1_copy.png")
    shutil.copy(data / "img" / "m1.png", data / "img" / "m1_copy.png")
    report = run(data)
    only(report, {"duplicates": {"warning"}})
    masks, images = [f for f in report.findings if f.check == "duplicates"]
    assert masks.details["groups"] == [["m1.png", "m1_copy.png"]]
    assert images.details["groups"] == [["m1.png", "m1_copy.png"]]


# ---------------------------------------------------------------------- content
def test_mostly_ignore(data):
    m = clean_mask(2)
    m[: int(H * 0.75)] = 255
    write_mask(data / "gt" / "m2.png", m)
    report = run(data)
    only(report, {"mostly-ignore": {"warning"}})
    f = the(report, "mostly-ignore")
    assert f.files == ["m2.png"] and f.details["per_image"]["m2.png"] == 0.75


def test_empty_masks(data):
    write_mask(data / "gt" / "m0.png", np.zeros((H, W), np.uint8))
    write_mask(data / "gt" / "m1.png", np.full((H, W), 255, np.uint8))
    report = run(data, min_images=4)
    only(report, {"empty-masks": {"warning"}})
    f = the(report, "empty-masks")
    assert f.files == ["m0.png", "m1.png"] and f.details["kinds"] == {"all 'a'": 1, "all ignore": 1}


def test_absent_classes(data):
    four = ClassSpec(SPEC.names + ("d",), (0, 1, 2, 3), SPEC.colors + ((9, 9, 9),), 255)
    report = run(data, spec=four)
    only(report, {"absent-classes": {"warning"}})
    assert the(report, "absent-classes").details == {"classes": ["d"]}


def test_rare_classes(data):
    for i in range(2, N):
        m = clean_mask(i)
        write_mask(data / "gt" / f"m{i}.png", np.where(m == 2, 1, m).astype(np.uint8))
    report = run(data)
    only(report, {"rare-classes": {"warning"}})
    assert the(report, "rare-classes").details == {"images_with_class": {"c": 2}}
    assert run(data, min_images=2).findings == []


def test_imbalance(data):
    assert run(data).findings == []
    report = run(data, max_imbalance=1.1)
    only(report, {"imbalance": {"warning"}})
    f = the(report, "imbalance")
    counts = report.stats["class_counts"]
    assert f.details["imbalance_ratio"] == pytest.approx(max(counts.values()) / min(counts.values()))
    assert f.details["largest"] == max(counts, key=counts.get)


# ---------------------------------------------------------------------- annotation noise
def test_fragments(data):
    m = clean_mask(1)
    m[2, 2] = 1  # 1-px speck of b in a
    m[5, 10:12] = 2  # a 2-px speck of c
    write_mask(data / "gt" / "m1.png", m)
    m = clean_mask(4)
    m[1, 1] = 2
    write_mask(data / "gt" / "m4.png", m)
    report = run(data)
    only(report, {"fragments": {"note"}})
    f = the(report, "fragments")
    assert f.details["per_image"] == {"m1.png": 2, "m4.png": 1}
    assert f.details["per_class"] == {"b": 1, "c": 2}
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 0
    # a 2-px speck is no fragment with --min-fragment 2
    assert the(run(data, min_fragment=2), "fragments").details["per_image"] == {"m1.png": 1, "m4.png": 1}


def test_slivers(data):
    m = clean_mask(0)
    m[2, 0:12] = 2  # a one-pixel-thick line of c through a
    write_mask(data / "gt" / "m0.png", m)
    report = run(data)
    only(report, {"slivers": {"note"}})
    f = the(report, "slivers")
    assert f.details == {"total": 1, "per_image": {"m0.png": 1}, "per_class": {"c": 1}}
    # two pixels thick is no sliver
    m[3, 0:12] = 2
    write_mask(data / "gt" / "m0.png", m)
    assert run(data).findings == []


# ---------------------------------------------------------------------- the registry and docs
def test_every_check_has_a_test_and_a_docs_entry():
    text = Path(__file__).read_text(encoding="utf-8")
    docs = (Path(__file__).resolve().parent.parent / "docs" / "checks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## `([a-z0-9-]+)`", docs, re.M))
    assert documented == set(CHECKS)
    for cid in CHECKS:
        assert f"def test_{cid.replace('-', '_')}" in text, cid
        entry = docs.split(f"## `{cid}`", 1)[1].split("\n## ", 1)[0]
        assert "Severity" in entry and "Fix" in entry, cid


# ---------------------------------------------------------------------- the command line
def cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_clean_exit_0_and_json(data, capsys, tmp_path):
    code, out, _ = cli(["check", data / "gt", "--images", data / "img", "--classes", "voc",
                        "--jobs", "1", "--skip", "absent-classes"], capsys)
    assert code == 0, out
    code, out, _ = cli(["check", data / "gt", "--num-classes", "3", "--ignore-index", "255", "--jobs", "1",
                        "--json", tmp_path / "c.json"], capsys)
    assert code == 0 and "passes" in out
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["counts"] == {"error": 0, "warning": 0, "note": 0} and d["findings"] == [] and d["num_masks"] == N


def test_cli_errors_exit_1_and_report_grouped(data, capsys, tmp_path):
    m = clean_mask(0)
    m[0, 0] = 7
    write_mask(data / "gt" / "m0.png", m)
    (data / "gt" / "m5.png").unlink()
    write_rgb(data / "gt" / "m5.png", to_rgb(clean_mask(5)))
    spec_file = tmp_path / "abc.yaml"
    spec_file.write_text(
        "ignore_index: 255\nclasses:\n  - {name: a, color: '#ff0000'}\n  - {name: b, color: '#00ff00'}\n"
        "  - {name: c, color: '#0000ff'}\n"
    )
    code, out, _ = cli(["check", data / "gt", "-c", spec_file, "--jobs", "1", "--json", tmp_path / "c.json"], capsys)
    assert code == 1
    assert out.index("errors (1)") < out.index("warnings (1)")
    assert "unknown-ids" in out and "mixed-modes" in out and "fix:" in out and "m0.png" in out
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["counts"] == {"error": 1, "warning": 1, "note": 0}
    f = d["findings"][0]
    assert set(f) == {"check", "severity", "message", "fix", "num_files", "files", "details"}
    assert f["files"] == ["m0.png"] and f["num_files"] == 1


def test_cli_warnings_only_exit_0_unless_strict(data, capsys):
    (data / "gt" / "m5.png").unlink()
    write_rgb(data / "gt" / "m5.png", to_rgb(clean_mask(5)))
    args = ["check", data / "gt", "-c", "voc", "--jobs", "1", "--skip", "absent-classes"]
    code, out, _ = cli(args, capsys)
    assert code == 1  # voc colours differ from the RGB mask's: an error
    args = ["check", data / "gt", "-n", "3", "--ignore-index", "255", "--jobs", "1", "--skip", "unknown-colours"]
    code, out, _ = cli(args, capsys)
    assert code == 0 and "mixed-modes" in out
    code, _, _ = cli(args + ["--strict"], capsys)
    assert code == 1


def test_cli_usage_errors_exit_2(data, capsys):
    assert cli(["check", data / "gt"], capsys)[0] == 2
    assert cli(["check", data / "gt", "-n", "3", "-c", "voc"], capsys)[0] == 2
    assert cli(["check", data / "gt", "-n", "3", "--skip", "no-such-check"], capsys)[0] == 2
    assert cli(["check", data / "gt", "-n", "3", "--max-ignore", "2"], capsys)[0] == 2
    code, _, err = cli(["check", data / "nope", "-n", "3"], capsys)
    assert code == 1 and "nope" in err
