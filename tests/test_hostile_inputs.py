"""Hostile inputs to the readers and the command line: each gets a one-line SegscopeError naming
the file and the problem (or, for a negative ignore label, the right numbers)."""

from __future__ import annotations

import csv
import re
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from _hostile import default_limit, png_bytes  # noqa: F401  (fixture)
from segscope.classes import ClassSpec
from segscope.cli import main
from segscope.engine.config import EvalConfig
from segscope.engine.evaluation import evaluate_arrays
from segscope.exceptions import SegscopeError
from segscope.io import masks
from segscope.io.files import pair_masks, printable
from segscope.io.masks import read_image, read_mask, read_npy_mask, write_mask
from segscope.io.tables import csv_cell, csv_text, write_csv

pytestmark = pytest.mark.usefixtures("default_limit")
CORE = EvalConfig(analyses=())


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


# ---------------------------------------------------------------------- decompression bombs
def test_png_bomb_is_refused_from_its_header(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bytes(60000, 60000))
    assert bomb.stat().st_size < 200
    start = time.process_time()
    with pytest.raises(SegscopeError) as info:
        read_mask(bomb)
    assert time.process_time() - start < 5  # refused before decoding, not after 3.6 GB
    msg = one_line(info.value)
    assert "bomb.png" in msg and "60000×60000" in msg and "--max-pixels" in msg


def test_image_bomb_is_refused(tmp_path):
    bomb = tmp_path / "photo.png"
    bomb.write_bytes(png_bytes(50000, 50000, colour_type=2))
    with pytest.raises(SegscopeError, match="photo.png: declares 50000×50000"):
        read_image(bomb)


def test_real_large_tile_passes_the_default_limit():
    masks.check_pixels(16384, 16384, "tile.png")
    with pytest.raises(SegscopeError):
        masks.check_pixels(16385, 16384, "tile.png")


def test_limit_from_setting_and_environment(tmp_path, monkeypatch):
    path = tmp_path / "m.png"
    write_mask(path, np.zeros((20, 20), np.uint8))
    monkeypatch.setenv("SEGSCOPE_MAX_PIXELS", "399")
    with pytest.raises(SegscopeError, match="over the limit of 399"):
        read_mask(path)
    monkeypatch.setenv("SEGSCOPE_MAX_PIXELS", "0")  # no limit
    assert read_mask(path).shape == (20, 20)
    monkeypatch.setattr(masks, "MAX_PIXELS", 100)
    with pytest.raises(SegscopeError, match="over the limit of 100"):
        read_mask(path)
    monkeypatch.setenv("SEGSCOPE_MAX_PIXELS", "lots")
    monkeypatch.setattr(masks, "MAX_PIXELS", None)
    with pytest.raises(SegscopeError, match="SEGSCOPE_MAX_PIXELS must be"):
        read_mask(path)


def test_npy_header_declaring_a_huge_array_is_refused(tmp_path):
    path = tmp_path / "huge.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2), np.uint8))
    header["shape"] = (60000, 60000)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(b"\x00" * 16)
    with pytest.raises(SegscopeError, match="huge.npy: declares 60000×60000"):
        read_npy_mask(path)


def test_truncated_npy_is_refused_before_allocating(tmp_path):
    path = tmp_path / "short.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2), np.int64))
    header["shape"] = (4000, 4000)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(b"\x00" * 64)
    with pytest.raises(SegscopeError, match="short.npy: truncated .npy"):
        read_npy_mask(path)


def test_cli_max_pixels_applies_in_every_reading_command(tmp_path, capsys):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
        write_mask(d / "a.png", np.zeros((30, 30), np.uint8))
    runs = {
        "evaluate": ["evaluate", str(pred), str(gt), "-n", "2", "-o", str(tmp_path / "out"), "-q"],
        "stats": ["stats", str(gt), "-n", "2"],
        "convert": ["convert", str(gt / "a.png"), str(tmp_path / "c.png"), "--from", "index", "--to", "index"],
    }
    for name, argv in runs.items():
        code = main(argv + ["--max-pixels", "100"])
        err = capsys.readouterr().err
        assert code == 1, name
        assert "a.png: declares 30×30 = 900 pixels, over the limit of 100" in err, name
        assert err.count("\n") == 1, name
    masks.set_max_pixels(None)
    assert main(["check", str(gt), "-n", "2", "--max-pixels", "100"]) == 1
    assert "declares 30×30" in capsys.readouterr().out
    assert main(["stats", str(gt), "-n", "2", "--max-pixels", "ten"]) == 1
    assert "--max-pixels must be a whole number" in capsys.readouterr().err


# ---------------------------------------------------------------------- transparency
def _rgba(tmp_path, alpha):
    arr = np.zeros((2, 2, 4), np.uint8)
    arr[..., 0] = 255
    arr[..., 3] = alpha
    path = tmp_path / "rgba.png"
    Image.fromarray(arr, "RGBA").save(path)
    return path


SPEC = ClassSpec(("bg", "red"), (0, 1), ((0, 0, 0), (255, 0, 0)), ignore_index=255)


def test_transparent_rgba_mask_is_refused(tmp_path):
    alpha = np.array([[255, 0], [255, 255]], np.uint8)
    with pytest.raises(SegscopeError, match=r"rgba.png: 1 pixel\(s\) are transparent"):
        read_mask(_rgba(tmp_path, alpha), SPEC)
    assert read_mask(_rgba(tmp_path, 255), SPEC).tolist() == [[1, 1], [1, 1]]


def test_transparent_pixels_read_as_ignore_when_asked(tmp_path):
    path = _rgba(tmp_path, np.array([[255, 0], [255, 255]], np.uint8))
    assert read_mask(path, SPEC, transparent="ignore").tolist() == [[1, 255], [1, 1]]
    spec = ClassSpec.from_dict({"classes": [{"name": "bg", "color": "#000000"}, {"name": "red", "color": "#ff0000"}],
                                "ignore_index": 255, "transparent": "ignore"})
    assert read_mask(path, spec).tolist() == [[1, 255], [1, 1]]
    with pytest.raises(SegscopeError, match="no ignore label"):
        read_mask(path, SPEC.with_ignore(None), transparent="ignore")


def test_transparent_la_mask_is_refused(tmp_path):
    arr = np.zeros((2, 2, 2), np.uint8)
    arr[0, 0, 1] = 255
    path = tmp_path / "la.png"
    Image.fromarray(arr, "LA").save(path)
    with pytest.raises(SegscopeError, match="3 pixel"):
        read_mask(path)


# ---------------------------------------------------------------------- float and empty .npy
@pytest.mark.parametrize("values, kind", [
    ([[0.0, 1e30]], "outside the id range"),
    ([[0.0, 2.5]], "not whole numbers"),
    ([[0.0, np.nan]], "not whole numbers"),
])
def test_bad_float_npy_names_the_value_kind(tmp_path, values, kind):
    path = tmp_path / "f.npy"
    np.save(path, np.array(values))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy cast warnings on the way
        with pytest.raises(SegscopeError, match=kind) as info:
            read_mask(path)
    assert "-9223372036854775808" not in str(info.value)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.longdouble])
def test_whole_float_npy_of_any_width_reads_without_warnings(tmp_path, dtype):
    path = tmp_path / "f.npy"
    np.save(path, np.array([[0, 3], [7, 2]], dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float16 cannot hold the int32 bounds: no overflow warning
        assert read_mask(path).tolist() == [[0, 3], [7, 2]]


def test_empty_npy_is_refused_and_convert_writes_nothing(tmp_path, capsys):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((0, 5), np.uint8))
    with pytest.raises(SegscopeError, match=r"empty.npy: the mask is empty \(0×5 pixels\)"):
        read_mask(path)
    out = tmp_path / "out.png"
    assert main(["convert", str(path), str(out), "--from", "index", "--to", "index"]) == 1
    assert "the mask is empty" in capsys.readouterr().err
    assert not out.exists()


# ---------------------------------------------------------------------- negative ignore labels
def test_minus_one_is_an_ignore_label():
    gt = np.array([[0, 1, -1, 1]])
    pred = np.array([[0, 1, 1, -1]])
    m = evaluate_arrays([pred], [gt], 2, CORE, ignore_index=-1)
    assert m["valid_pixels"] == 3
    assert m["per_class"]["1"]["fn"] == 1 and m["per_class"]["1"]["fp"] == 0
    spec = ClassSpec(("a", "b"), (3, 7), ((0, 0, 0), (9, 9, 9)), ignore_index=-1)
    m2 = evaluate_arrays([np.where(pred == 1, 7, np.where(pred == 0, 3, -1))],
                         [np.where(gt == 1, 7, np.where(gt == 0, 3, -1))], spec, CORE)
    assert m2["confusion_matrix"] == m["confusion_matrix"]


def test_minus_one_without_ignore_label_is_an_unknown_id():
    gt = np.array([[0, 1, -1, 1]])
    with pytest.raises(SegscopeError, match=r"GT has ids not in the class spec: -1 \(1 px\)"):
        evaluate_arrays([np.zeros_like(gt)], [gt], 2, CORE)
    with pytest.raises(SegscopeError, match=r"prediction has ids not in the class spec .*-1 \(1 px\)"):
        evaluate_arrays([gt], [np.zeros_like(gt)], 2, CORE)


def test_cli_reads_minus_one_as_a_label(tmp_path, capsys):
    from segscope.cli._common import parse_ignore

    assert parse_ignore("-1") == -1 and parse_ignore("none") is None and parse_ignore(None) == "keep"
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
    np.save(gt / "a.npy", np.array([[0, 1], [-1, 1]], np.int32))
    np.save(pred / "a.npy", np.array([[0, 1], [1, 1]], np.int32))
    out = tmp_path / "out"
    assert main(["evaluate", str(pred), str(gt), "-n", "2", "--ignore-index", "-1", "-o", str(out), "-q",
                 "--skip", "boundary", "--skip", "errors"]) == 0
    import json

    m = json.loads((out / "metrics.json").read_text())
    assert m["valid_pixels"] == 3 and m["config"]["ignore_index"] == -1
    assert main(["evaluate", str(pred), str(gt), "-n", "2", "--ignore-index", "none", "-o", str(out), "-q"]) == 1
    assert "-1 (1 px)" in capsys.readouterr().err


# ---------------------------------------------------------------------- raw ids in messages
def test_unknown_id_messages_name_raw_ids():
    spec = ClassSpec(("a", "b"), (3, 4), ((0, 0, 0), (9, 9, 9)), ignore_index=255)
    with pytest.raises(SegscopeError) as info:
        evaluate_arrays([np.array([[3, 3]])], [np.array([[7, 5]])], spec, CORE)
    assert "7 (1 px)" in str(info.value) and "5 (1 px)" in str(info.value)
    assert "254" not in str(info.value)
    with pytest.raises(SegscopeError, match=r"9 \(2 px\)"):
        evaluate_arrays([np.array([[9, 9]], np.uint8)], [np.array([[3, 4]], np.uint8)], spec, CORE)


# ---------------------------------------------------------------------- other files and names
def test_jpeg_gt_is_named_with_the_reason(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
    write_mask(pred / "a.png", np.zeros((4, 4), np.uint8))
    write_mask(pred / "b.png", np.zeros((4, 4), np.uint8))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(gt / "a.jpg")
    with pytest.raises(SegscopeError, match=r"only JPEG: a.jpg cannot be label masks \(JPEG's lossy"):
        pair_masks(pred, gt)
    write_mask(gt / "b.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(SegscopeError, match=r"have no GT: a; the GT folder holds JPEG files, not read: a.jpg"):
        pair_masks(pred, gt)


def test_printable_escapes_control_characters():
    assert printable("x\ny\x00") == "x\\x0ay\\x00"
    assert printable("ünïcode ok") == "ünïcode ok"


def test_panel_with_control_characters_in_the_image_id():
    from segscope.viz.panels import panel_data, panel_image

    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1
    data = panel_data(gt, gt, ["bg", "box"], [(0, 0, 0), (200, 40, 40)], image_id="evil\nname\r", band_px=1)
    assert panel_image(data).ndim == 3


def test_mathtext_class_names_reach_the_plots(tmp_path):
    from segscope.viz import plots

    names = ["$\\frac{$", "a$b"]
    metrics = {"classes": names, "confusion_matrix": [[3, 1], [0, 4]]}
    fig = plots.plot_confusion(metrics)
    assert plots.figure_rgb(fig).ndim == 3


# ---------------------------------------------------------------------- CSV formula injection
def test_csv_text_escapes_names_never_numbers(tmp_path):
    assert csv_text("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert [csv_text(s) for s in ("+1", "-x", "@a", "plain")] == ["'+1", "'-x", "'@a", "plain"]
    assert csv_cell(-0.5) == "-0.5" and csv_cell(-3) == -3
    path = tmp_path / "t.csv"
    write_csv(path, ["image", "miou"], [["=evil", -0.5], ["ok", float("nan")]])
    assert list(csv.reader(path.open())) == [["image", "miou"], ["'=evil", "-0.5"], ["ok", "nan"]]


def test_evaluation_csvs_escape_hostile_names(tmp_path):
    spec = ClassSpec(("=bg", "@fg"), (0, 1), ((0, 0, 0), (255, 0, 0)))
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
    g = np.zeros((16, 16), np.uint8)
    g[4:12, 4:12] = 1
    write_mask(gt / "+img.png", g)
    write_mask(pred / "+img.png", np.roll(g, 2, axis=1))
    from segscope.engine.runners import run_evaluation

    ev = run_evaluation(pair_masks(pred, gt), spec, EvalConfig(), jobs=1)
    out = tmp_path / "out"
    ev.save(out, ev.compute())
    rows = list(csv.reader((out / "confusion_matrix.csv").open()))
    assert [r[0] for r in rows] == ["gt\\pred", "'=bg", "'@fg"] and rows[0][1:] == ["'=bg", "'@fg"]
    per_image = list(csv.DictReader((out / "per_image.csv").open()))
    assert per_image[0]["image"] == "'+img"
    for f in out.glob("*.csv"):
        for row in csv.reader(f.open()):
            for cell in row:
                assert not cell.startswith(("=", "+", "@")), (f.name, cell)


# ---------------------------------------------------------------------- bands wider than the image
def test_bands_wider_than_the_image_reach_no_further():
    """A band or tolerance beyond H + W pixels covers the image from any pixel: the same numbers as
    one just beyond it, computed as fast (no disk of a billion rows)."""
    from segscope.metrics.boundary import bf_counts
    from segscope.metrics.breakdown import error_counts

    rng = np.random.default_rng(3)
    gt = rng.integers(0, 3, (9, 14))
    pred = gt.copy()
    pred[2:6, 3:10] = 1
    wide = 3 * (9 + 14)
    assert error_counts(pred, gt, 3, band_px=10**9).tolist() == error_counts(pred, gt, 3, band_px=wide).tolist()
    assert bf_counts(pred, gt, 3, tolerance=1e300).tolist() == bf_counts(pred, gt, 3, tolerance=wide + 0.5).tolist()
    config = dict(analyses=("boundary", "errors"), trimap=())
    huge = evaluate_arrays([pred], [gt], 3, EvalConfig(bf_ratio=1e6, error_band_px=10**9, **config))
    near = evaluate_arrays([pred], [gt], 3, EvalConfig(bf_ratio=10.0, error_band_px=wide, **config))
    assert huge["error_breakdown"].pop("band_px") == 10**9 and near["error_breakdown"].pop("band_px") == wide
    for key in ("mbf_score", "per_class", "error_breakdown"):
        assert repr(huge[key]) == repr(near[key]), key


# ---------------------------------------------------------------------- outputs that cannot be written
@pytest.fixture
def tiny_run(tmp_path):
    """A prediction and GT folder of one 8×8 mask each, and a results folder of them."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
    g = np.zeros((8, 8), np.uint8)
    g[2:6, 2:6] = 1
    write_mask(gt / "a.png", g)
    write_mask(pred / "a.png", np.roll(g, 1, axis=1))
    argv = ["evaluate", str(pred), str(gt), "-n", "2", "-q", "-j", "1", "--skip", "boundary", "--skip", "errors",
            "--skip", "conventions", "-o"]
    assert main(argv + [str(tmp_path / "run")]) == 0
    return argv, tmp_path / "run"


def test_outputs_that_cannot_be_written_are_one_line(tiny_run, tmp_path, capsys):
    argv, run = tiny_run
    taken = tmp_path / "taken"
    taken.write_text("a file")
    capsys.readouterr()
    cases = [
        (argv + [str(taken / "out")], f"{taken / 'out'}: cannot write the results folder: {taken} is a file, not a folder"),
        (["stats", str(run.parent / "gt"), "-n", "2", "--json", str(taken / "s.json")],
         f"{taken / 's.json'}: cannot write the file: {taken} is a file, not a folder"),
        (["stats", str(run.parent / "gt"), "-n", "2", "--json", str(run)],
         f"{run}: cannot write the file: a folder stands where the file goes"),
        (["compare", str(run), str(run), "-o", str(taken), "-j", "1", "--n-boot", "10"],
         f"{taken}: cannot write the comparison folder: it is a file, not a folder"),
        (["report", str(run), "-o", str(taken / "r"), "-j", "1"],
         f"{taken / 'r'}: cannot write the report folder: {taken} is a file, not a folder"),
    ]
    for args, line in cases:
        assert main(args) == 1, args[0]
        assert capsys.readouterr().err.splitlines()[-1:] == [f"segscope: error: {line}"], args[0]
    assert taken.read_text() == "a file"
    assert not [p for p in tmp_path.rglob(".*") if p.name.endswith(".tmp") or "staging" in p.name]


def test_other_os_errors_and_failed_allocations_are_one_line(tiny_run, monkeypatch, capsys):
    import errno
    import tempfile

    argv, run = tiny_run

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "/dev/sdz")

    monkeypatch.setattr(tempfile, "mkstemp", broken)
    capsys.readouterr()
    assert main(["stats", str(run.parent / "gt"), "-n", "2", "--json", str(run.parent / "s.json")]) == 1
    assert capsys.readouterr().err.splitlines() == ["segscope: error: /dev/sdz: Input/output error"]
    monkeypatch.undo()

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 745. GiB for an array")

    import segscope.analysis.compare as compare

    monkeypatch.setattr(compare, "bootstrap_weights", no_memory)
    assert main(["compare", str(run), str(run), "-o", str(run.parent / "cmp"), "-j", "1", "--n-boot", "10"]) == 1
    assert capsys.readouterr().err.splitlines() == ["segscope: error: out of memory: Unable to allocate 745. GiB for an array"]


@pytest.mark.parametrize("option, message", [
    (["--n-boot", "100000000000"], r"the number of resamples \(--n-boot\) must lie in 1..1,000,000, got 100000000000"),
    (["--seed", "-5"], r"the random seed \(--seed\) must be an integer >= 0, got -5"),
])
def test_compare_refuses_resamples_it_cannot_hold_and_negative_seeds(tiny_run, tmp_path, capsys, option, message):
    _, run = tiny_run
    capsys.readouterr()
    assert main(["compare", str(run), str(run), "-o", str(tmp_path / "cmp"), "-j", "1"] + option) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err)
    assert not (tmp_path / "cmp").exists()


def test_file_names_that_are_not_utf8_are_refused_when_listed(tmp_path, capsys):
    import os

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
        for name in (os.fsdecode(b"bad\xff\xfe.png"), "ok.png"):
            write_mask(d / name, np.zeros((4, 4), np.uint8))
    (gt / os.fsdecode(b"notes\xff.txt")).write_text("not a mask: not listed, not refused")
    with pytest.raises(SegscopeError, match=r"pred: the file name 'bad\\xff\\xfe.png' is not valid UTF-8"):
        pair_masks(pred, gt)
    out = tmp_path / "out"
    assert main(["evaluate", str(pred), str(gt), "-n", "2", "-o", str(out), "-q", "-j", "1"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"segscope: error: {pred}: the file name 'bad\\xff\\xfe.png' is not valid UTF-8; rename the file"]
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    os.unlink(gt / os.fsdecode(b"bad\xff\xfe.png"))
    os.unlink(pred / os.fsdecode(b"bad\xff\xfe.png"))
    assert main(["stats", str(gt), "-n", "2"]) == 0


# ---------------------------------------------------------------------- mappings that say two things
def test_a_value_mapped_twice_is_refused(tmp_path):
    from segscope.classes import parse_label_map
    from segscope.convert import load_mapping

    with pytest.raises(SegscopeError, match="--label-map: label_map maps raw value 0 twice: to 1 and to 2"):
        parse_label_map("0:1,0:2", "--label-map")
    assert parse_label_map("0:1,0:1,1:0") == {0: 1, 1: 0}  # said twice the same way
    with pytest.raises(SegscopeError, match="maps raw value 3 twice"):
        parse_label_map({"3": 0, 3: 1}, "spec.yaml")
    with pytest.raises(SegscopeError, match=r"mapping: '255' is mapped twice, to '1' and to 'ignore'"):
        load_mapping("255:1,255:ignore")
    path = tmp_path / "m.yaml"
    path.write_text("'7': ignore\n7: 2\n")
    with pytest.raises(SegscopeError, match=f"{path}: mapping: id 7 is mapped twice, to ignore and to 2"):
        load_mapping(path)
    assert load_mapping("255:ignore,255:ignore,3:1") == {255: None, 3: 1}


# ---------------------------------------------------------------------- damaged results folders
def test_damaged_per_image_counts_are_one_line_in_every_reader(tiny_run, capsys):
    _, run = tiny_run
    counts = run / "per_image_counts.npz"
    capsys.readouterr()
    assert main(["explain", str(run)]) == 0
    capsys.readouterr()
    whole = counts.read_bytes()
    damages = {
        "cannot read per-image counts: ": lambda: counts.write_bytes(whole[: len(whole) // 2]),
        "cannot read per-image counts: This file contains pickled": lambda: counts.write_bytes(b"garbage"),
        "'tp' has shape (1, 9), expected (2, K)": lambda: np.savez(
            counts, image_ids=np.array(["a", "b"]), tp=np.zeros((1, 9), np.int64), fp=np.zeros((2, 2)),
            fn=np.zeros((2, 2))),
        "per-image counts: 3 classes, metrics.json has 2": lambda: np.savez(
            counts, image_ids=np.array(["a"]), tp=np.zeros((1, 3), np.int64), fp=np.zeros((1, 3)),
            fn=np.zeros((1, 3))),
    }
    for what, damage in damages.items():
        damage()
        assert main(["explain", str(run)]) == 1, what
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"segscope: error: {counts}: ") and what in err, (what, err)


def test_a_damaged_per_image_table_is_one_line_in_every_reader(tiny_run, capsys):
    from segscope.io.run_folder import load_results

    _, run = tiny_run
    table = run / "per_image.csv"
    whole = table.read_text(encoding="utf-8")
    header, line = whole.splitlines()[:2]
    damages = {
        "damaged per-image table: line 2 has 3 cells, the header ": header + "\n" + ",".join(line.split(",")[:3]),
        "damaged per-image table: line 2 has ": header + "\n" + line + ",0.5,7\n",
        "its header has no 'image' column": whole.replace("image", "picture", 1),
        "per_image.csv has 2 rows, metrics.json counts 1 images": whole + line + "\n",
    }
    for what, text in damages.items():
        table.write_text(text, encoding="utf-8")
        with pytest.raises(SegscopeError, match=re.escape(what)):
            load_results(run)
        for argv in (["report", str(run)], ["show", "a", "--results", str(run), "--out", str(run.parent / "a.png")]):
            capsys.readouterr()
            assert main(argv) == 1, (what, argv)
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith(f"segscope: error: {table}: ") and what in err, (what, err)
        assert not (run / "report").exists() and not (run.parent / "a.png").exists()
    table.write_text(whole, encoding="utf-8")
    assert len(load_results(run).rows) == 1


def test_names_with_newlines_keep_errors_and_warnings_on_one_line(tmp_path, capsys):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for d in (gt, pred):
        d.mkdir()
        write_mask(d / "ok.png", np.zeros((4, 4), np.uint8))
    write_mask(gt / "two\nlines.png", np.zeros((4, 4), np.uint8))
    out = tmp_path / "out"
    argv = ["evaluate", str(pred), str(gt), "-n", "2", "-o", str(out), "-q", "-j", "1", "--skip", "boundary",
            "--skip", "errors", "--skip", "conventions"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"segscope: error: {pred}: 1 GT file(s) have no prediction: two\\x0alines "
                                "(--allow-missing evaluates the pairs that exist)"]
    from segscope.cli import _show_warning

    _show_warning("1 GT file(s) have no prediction: two\nlines", UserWarning, "x.py", 1)
    assert capsys.readouterr().err.splitlines() == ["segscope: warning: 1 GT file(s) have no prediction: two\\x0alines"]
    write_mask(pred / "two\nlines.png", np.zeros((4, 4), np.uint8))
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["show", "missing", "-r", str(out), "-o", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two\\x0alines" in err


def test_the_report_of_one_pixel_masks(tmp_path, capsys):
    for d in ("gt", "pred"):
        write_mask(tmp_path / d / "a.png", np.zeros((1, 1), np.uint8))
    run = tmp_path / "run"
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-n", "2", "-o", str(run), "-q",
                 "-j", "1"]) == 0
    assert main(["report", str(run), "-j", "1"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert (run / "report" / "index.html").is_file() and not (run / "report" / "img" / "trimap.png").exists()


# ---------------------------------------------------------------------- arguments of the Python API
def test_a_class_count_that_is_not_a_positive_integer_is_one_error_everywhere():
    import segscope
    from segscope.metrics.boundary import boundary_bands, contours
    from segscope.metrics.confusion import ConfusionState

    mask = np.zeros((3, 3), np.uint8)
    calls = {
        "confusion_matrix": lambda k: segscope.confusion_matrix(mask, mask, k),
        "iou_per_class": lambda k: segscope.iou_per_class(mask, mask, k),
        "boundary_iou": lambda k: segscope.boundary_iou(mask, mask, k),
        "bf_score": lambda k: segscope.bf_score(mask, mask, k),
        "trimap_scores": lambda k: segscope.trimap_scores(mask, mask, k),
        "error_counts": lambda k: segscope.error_counts(mask, mask, k),
        "boundary_bands": lambda k: boundary_bands(mask, k, 1),
        "contours": lambda k: contours(mask, k),
        "ConfusionState": lambda k: ConfusionState(k),
    }
    for name, call in calls.items():
        for k in (0, -2, 2.5, True, "3", None):
            message = rf"^num_classes must be an integer >= 1, got {re.escape(repr(k))}$"
            with pytest.raises(SegscopeError, match=message):
                call(k)
        call(np.int64(2))  # numpy integers are integers


def test_evaluate_arrays_refuses_lists_of_different_lengths():
    import segscope

    mask = np.zeros((4, 4), np.uint8)
    with pytest.raises(SegscopeError, match="^preds and gts hold different numbers of masks: gts ran out after 1$"):
        segscope.evaluate_arrays([mask, mask], [mask], 2, segscope.EvalConfig(analyses=()))
    with pytest.raises(SegscopeError, match="^preds and gts hold different numbers of masks: preds ran out after 2$"):
        segscope.evaluate_arrays(iter([mask, mask]), [mask] * 3, 2, segscope.EvalConfig(analyses=()))
    assert segscope.evaluate_arrays([mask], [mask], 2, segscope.EvalConfig(analyses=()))["num_images"] == 1


def test_evaluation_takes_one_2d_map_per_update_and_a_spec_or_a_count():
    import segscope

    mask = np.array([[0, 1, 1], [0, 0, 1]], np.uint8)
    ev = segscope.Evaluation(2, segscope.EvalConfig(analyses=()))
    with pytest.raises(SegscopeError, match=r"masks must be 2-D \(H×W\) label maps, got prediction shape \(1, 2, 3\)"):
        ev.update(mask[None], mask[None])
    assert len(ev) == 0  # nothing half-added
    assert ev.update(mask[..., None], mask[..., None])["height"] == 2  # H×W×1, as a file would be read
    assert ev.update(mask[0], mask[0])["height"] == 1  # 1-D: one row
    assert ev.compute()["num_images"] == 2
    for spec in ("voc", True, 2.0):
        with pytest.raises(TypeError, match="spec must be a ClassSpec or an int"):
            segscope.Evaluation(spec)
    assert segscope.Evaluation(np.int64(3)).spec.num_classes == 3


def test_write_mask_writes_only_what_reads_back(tmp_path):
    from segscope.io.masks import read_mask

    bad = {
        "a.jpg": (np.zeros((2, 2), np.uint8), "masks are written as .png or .npy, not .jpg"),
        "b": (np.zeros((2, 2), np.uint8), "masks are written as .png or .npy, not a name without a suffix"),
        "c.png": (np.zeros((2, 2)) + 0.5, "float values that are not whole numbers"),
        "d.png": (np.zeros((2, 2, 2), np.uint8), "a mask must be 2-D"),
        "e.png": (np.zeros((0, 2), np.uint8), "the mask is empty"),
        "f.png": (np.array([["a"]]), "a mask must hold integer labels"),
    }
    for name, (mask, message) in bad.items():
        with pytest.raises(SegscopeError, match=re.escape(message)):
            write_mask(tmp_path / name, mask)
    assert list(tmp_path.iterdir()) == []
    for mask, back in ((np.full((2, 2), 3.0), 3), (np.ones((2, 2, 1), bool), 1), (np.full((2, 2), 300), 300)):
        write_mask(tmp_path / "ok.png", mask)
        assert read_mask(tmp_path / "ok.png").tolist() == [[back, back], [back, back]]
