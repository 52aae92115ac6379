"""The results schema: it describes every key and column a run writes, its docs page is generated
from it, the JSON writer enforces it and the report shows its labels."""

from __future__ import annotations

import csv
import html as _html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from segscope import EvalConfig, Evaluation, SegscopeError, schema

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
CASES = ("seeded", "street")


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


# ---------------------------------------------------------------------- the docs page
def test_docs_page_is_what_the_schema_generates():
    page = ROOT / "docs" / "results-schema.md"
    assert page.read_text(encoding="utf-8") == schema.markdown(), "run: python -m segscope.schema docs/results-schema.md"
    assert schema.main(["--check", str(page)]) == 0


def test_docs_page_check_reports_a_stale_page(tmp_path, capsys):
    stale = tmp_path / "results-schema.md"
    stale.write_text(schema.markdown().replace("share of the union", "share of it"), encoding="utf-8")
    assert schema.main(["--check", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert schema.main([str(stale)]) == 0 and stale.read_text(encoding="utf-8") == schema.markdown()


def test_docs_page_lists_every_field_once():
    text = schema.markdown()
    for f in schema.FIELDS:
        assert text.count(f"| `{f.key}` |") >= 1, f.key
    rows = re.findall(r"^\| `([^`]+)` \|", text, re.M)
    metrics_rows = rows[rows.index("segscope_version"):rows.index("config.probs_dir") + 1]
    assert len(metrics_rows) == len(set(metrics_rows)) == len(schema.fields("metrics.json"))


# ---------------------------------------------------------------------- golden runs are covered
@pytest.mark.parametrize("case", CASES)
def test_every_key_of_the_golden_runs_is_described(case):
    metrics = json.loads((GOLDEN / case / "metrics.json").read_text())
    schema.check_metrics(metrics)  # raises on any key it does not describe
    classes = metrics["classes"]
    assert schema.label(f"per_class.{classes[0]}.iou") == "IoU"
    columns = _header(GOLDEN / case / "per_image.csv")
    schema.check_columns(columns, "per_image.csv", classes)
    assert {f"iou_{c}" for c in classes} <= set(columns)
    for name in ("confusion_matrix", "missed_segments", "invented_segments", "suspect_labels"):
        path = GOLDEN / case / f"{name}.csv"
        if path.exists():
            schema.check_columns(_header(path), f"{name}.csv", classes)


def _paths(value, prefix=""):
    """Every key path of a metrics dict, list records as ``[]``."""
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else k
            yield path
            yield from _paths(v, path)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict):
                yield from _paths(v, prefix + "[]")


def test_the_golden_runs_use_the_schema_blocks():
    """Every field of the failure analysis's optional inputs (--gt2, --probs, --instances) is
    reached by the seeded run: nothing in the schema is invented."""
    seen = set()
    for case in CASES:
        metrics = json.loads((GOLDEN / case / "metrics.json").read_text())
        seen |= {schema.describe(p).key for p in _paths(metrics)}
    never = {f.key for f in schema.fields("metrics.json")} - seen
    # written only by demo and baseline runs, what golden files leave out (folders, version), and
    # the sparse confusion matrix of runs with many classes (tests/engine/test_many_classes.py)
    assert never == {
        "segscope_version", "config.pred_dir", "config.gt_dir", "config.images_dir", "config.instances_dir", "config.gt2_dir",
        "config.probs_dir", "config.predictions", "config.checkpoint_epoch",
        *(f"confusion_matrix_sparse{s}" for s in ("", ".num_classes", ".gt", ".pred", ".pixels")),
        "per_class_omitted", "conventions.<convention>.per_class_iou_omitted",
        # the cityscapes block's own scores: the golden runs are not Cityscapes (tests/metrics/test_conventions.py)
        *(f"conventions.<convention>.{key}{s}" for key, s in (
            ("per_category_iou", ""), ("per_category_iou", ".<category>"), ("per_class_iiou", ""),
            ("per_class_iiou", ".<class>"), ("per_category_iiou", ""), ("per_category_iiou", ".<category>"))),
    }


# ---------------------------------------------------------------------- the records
def test_fields_are_well_formed():
    keys = [(f.file, f.key) for f in schema.FIELDS]
    assert len(keys) == len(set(keys))
    for f in schema.FIELDS:
        assert f.label and f.definition and "\n" not in f.definition, f.key
        # labels are words, not keys: no snake_case outside placeholders
        assert "_" not in re.sub(r"<\w+>", "", f.label), f.key
        for holder in re.findall(r"<\w+>", f.label + f.key):
            assert holder in schema.PLACEHOLDERS, (f.key, holder)
        if "<" in f.label:
            assert set(re.findall(r"<\w+>", f.label)) <= set(re.findall(r"<\w+>", f.key)), f.key
    with pytest.raises(ValueError, match="unknown unit"):
        schema.Field("x", "float", "furlongs", "x", "x", "core")
    with pytest.raises(AttributeError):
        schema.FIELDS[0].label = "changed"  # frozen


def test_lookup_of_concrete_keys_and_patterns():
    assert schema.label("per_class.road.e_boundary_ou") == "boundary errors, share of the union"
    assert schema.label("error_breakdown.mfn_extent_ou") == "mean false-negative extent errors, share of the union"
    assert schema.label("per_class.car.errors.fn_segment") == "false-negative segment errors"
    assert schema.label("failure_cases_by_type.extent[3].boundary") == "boundary errors, share of the union"
    assert schema.label("failure_cases_by_type.extent") == "worst images by extent errors"
    assert schema.label("per_class.car.iou_gain.invented_segments") == "IoU gain, invented segments fixed"
    assert schema.label("iou_car", "per_image.csv") == "IoU of car"
    assert schema.label("err_boundary_px", "per_image.csv") == "boundary error pixels"
    assert schema.label("car", "confusion_matrix.csv") == "predicted as car"
    f = schema.describe("per_class.<class>.gt_pixels")
    assert (f.type, f.unit, f.analysis, f.file) == ("int", "pixels", "core", "metrics.json")
    assert schema.describe("trimap.8.pixels").analysis == "boundary"
    assert schema.describe("segments.largest_missed[0].predicted_as").nullable
    assert schema.describe("miou_image").unit == "fraction"
    assert schema.describe("miou").definition != schema.describe("miou", "per_image.csv").definition
    # error types and repairs take only their values
    assert not schema.known("error_breakdown.error_pixels.colour")
    assert not schema.known("improvements.if_fixed.everything")
    assert not schema.known("trimap.wide")
    with pytest.raises(KeyError, match="not in the results schema"):
        schema.describe("per_class.road.accuracy_top5")
    assert schema.label("nope", default="n o p e") == "n o p e"
    assert {f.analysis for f in schema.fields("suspect_labels.csv")} == {"errors"}
    assert [f.key for f in schema.fields("per_image_classes.csv")][:6] == ["image", "class", "tp", "fp", "fn", "iou"]


# ---------------------------------------------------------------------- checks
def _tiny_metrics() -> dict:
    ev = Evaluation(2, EvalConfig(analyses=()))
    ev.update([[0, 0, 1], [0, 1, 1]], [[0, 0, 1], [0, 0, 1]])
    return ev.compute()


def test_check_metrics_names_unknown_keys_and_wrong_types():
    m = _tiny_metrics()
    schema.check_metrics(m)
    bad = json.loads(json.dumps(m))
    bad["per_class"]["1"]["iou_at_50"] = 0.3
    with pytest.raises(SegscopeError, match=r"metrics.json: key 'per_class\.1\.iou_at_50' is not in the results schema"):
        schema.check_metrics(bad)
    bad = json.loads(json.dumps(m))
    bad["per_class"]["7"] = dict(bad["per_class"]["1"])  # not a class of `classes`
    with pytest.raises(SegscopeError, match=r"'per_class\.7'"):
        schema.check_metrics(bad)
    bad = json.loads(json.dumps(m))
    bad["num_images"] = "2"
    with pytest.raises(SegscopeError, match=r"'num_images' holds str '2'; the schema says int"):
        schema.check_metrics(bad)
    bad = json.loads(json.dumps(m))
    bad["worst_images"][0]["colour"] = "red"
    with pytest.raises(SegscopeError, match=r"'worst_images\[0\]\.colour'"):
        schema.check_metrics(bad)
    bad = json.loads(json.dumps(m))
    bad["classes"] = None
    with pytest.raises(SegscopeError, match=r"'classes' is null"):
        schema.check_metrics(bad)
    many = dict(m, a=1, b=2, c=3, d=4)
    with pytest.raises(SegscopeError, match=r"\(and 1 more\)"):
        schema.check_metrics(many)
    # undefined floats are null or NaN, numpy numbers are numbers
    ok = dict(m, miou=None, fwiou=float("nan"), valid_pixels=np.int64(5))
    schema.check_metrics(ok)


def test_check_columns():
    schema.check_columns(["image", "miou", "iou_a", "err_segment_px", "suspect_labels"], classes=["a"])
    with pytest.raises(SegscopeError, match="per_image.csv: column 'iou_b'"):
        schema.check_columns(["image", "iou_b"], classes=["a"])
    with pytest.raises(SegscopeError, match="missed_segments.csv: column 'area'"):
        schema.check_columns(["image", "area"], "missed_segments.csv")
    with pytest.raises(KeyError):
        schema.check_columns(["x"], "other.csv")


def test_save_refuses_keys_outside_the_schema(tmp_path):
    ev = Evaluation(2, EvalConfig(analyses=()))
    ev.update([[0, 1]], [[0, 1]])
    m = ev.compute()
    m["my_metric"] = 1.0
    with pytest.raises(SegscopeError, match="'my_metric' is not in the results schema"):
        ev.save(tmp_path / "out", m)
    assert not (tmp_path / "out" / "metrics.json").exists()


def _run(analyses, **kw):
    rng = np.random.default_rng(3)
    ev = Evaluation(3, EvalConfig(analyses=analyses, trimap=(1, 2), **kw), ignore_index=255)
    for _ in range(3):
        gt = rng.integers(0, 3, (24, 32))
        pred = gt.copy()
        pred[rng.random(gt.shape) < 0.15] = rng.integers(0, 3)
        pred[:, 20:] = np.roll(pred[:, 20:], 1, axis=1)
        gt[:2] = 255
        ev.update(pred, gt)
    return ev.compute(), ev.per_image_rows()


@pytest.mark.filterwarnings("ignore::segscope.metrics.boundary.BoundaryWidthWarning")  # tiny images
def test_each_key_is_made_by_its_analysis():
    """Keys of a core-only run are ``core``; the keys a boundary-only or errors-only run adds are
    ``boundary`` or ``errors`` (config entries name the analysis a setting is for, and are
    recorded by every run)."""
    core, core_rows = _run(())
    base = {schema.describe(p).key for p in _paths(core)}
    base_cols = {schema.describe(c, "per_image.csv").key for c in core_rows[0]}
    assert {schema.describe(k).analysis for k in base if not k.startswith("config.")} == {"core"}
    assert {schema.describe(c, "per_image.csv").analysis for c in base_cols} == {"core"}
    for analysis in ("boundary", "errors"):
        m, rows = _run((analysis,), error_band_px=1)
        schema.check_metrics(m)
        added = {schema.describe(p).key for p in _paths(m)} - base
        assert added and {schema.describe(k).analysis for k in added if not k.startswith("config.")} == {analysis}
        cols = {schema.describe(c, "per_image.csv").key for c in rows[0]} - base_cols
        assert cols and {schema.describe(c, "per_image.csv").analysis for c in cols} == {analysis}


# ---------------------------------------------------------------------- the report shows labels
@pytest.fixture(scope="module")
def golden_like_report(tmp_path_factory):
    """The seeded golden run (every analysis, --gt2, --probs, --instances) and its report."""
    from golden.make_golden import run_case

    from segscope.report import build_report

    work = tmp_path_factory.mktemp("schema_report")
    out = run_case("seeded", work)
    index = build_report(out, jobs=1, max_panels=2, worst_k=2)
    return out, index.read_text(encoding="utf-8")


def _visible_labels(page: str) -> dict[str, list[str]]:
    def texts(pattern):
        return [_html.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in re.findall(pattern, page, re.S)]

    data = json.loads(re.search(r'id="image-data">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</"))
    return {
        "th": texts(r"<th(?:\s[^>]*)?>(.*?)</th>"),
        "cards": texts(r'<div class="label">(.*?)</div>'),
        "terms": texts(r"<dt>(.*?)</dt>"),
        "image columns": [c["label"] for c in data["columns"]],
    }


def test_report_shows_schema_labels_not_raw_keys(golden_like_report):
    out, page = golden_like_report
    metrics = json.loads((out / "metrics.json").read_text())
    seen = _visible_labels(page)
    shown = [t for texts in seen.values() for t in texts]
    # no per-image column, error-breakdown or per-class key appears raw, nor with spaces for its
    # underscores ("mfn extent ou") unless that is its label in the schema ("error share")
    raw = {c: schema.label(c, "per_image.csv") for c in _header(out / "per_image.csv")}
    raw.update({k: schema.label(f"error_breakdown.{k}") for k in metrics["error_breakdown"]})
    raw.update({k: schema.label(f"per_class.c1000.{k}") for k in metrics["per_class"]["c1000"]})
    for key, own in raw.items():
        if "_" not in key:
            continue
        for text in shown:
            assert key not in text, (key, text)
            assert key.replace("_", " ") != text or text == own, (key, text)
    # the schema's labels do appear: cards, per-class headers, per-image headers, breakdown cards
    assert seen["cards"][:6] == [schema.label(k) for k in
                                 ("miou", "pixel_accuracy", "mean_accuracy", "mdice", "fwiou", "miou_image")]
    assert schema.label("mboundary_iou") in seen["cards"]
    assert schema.label("error_breakdown.mfn_extent_ou") in seen["cards"]
    for key in ("e_boundary_ou", "boundary_iou", "bf_score", "gt_pixels"):
        assert schema.label(f"per_class.<class>.{key}") in seen["th"], key
    for col in ("miou", "e_boundary_ou", "dominant_error", "error_share", "missed_segments", "valid_pixels"):
        assert schema.label(col, "per_image.csv") in seen["image columns"], col
    assert schema.label("confusion_pairs[].share_of_gt_errors") in seen["th"]
    assert schema.label("config.boundary_ratio") in seen["th"]  # the configuration table
    # every result shown is defined under "Definitions", with the schema's words
    assert schema.label("e_boundary_ou", "per_image.csv") + " (per image)" in seen["terms"]
    assert schema.describe("per_class.<class>.boundary_iou").definition in _html.unescape(page)
    assert {t.term for t in schema.terms()} <= set(seen["terms"])
    # the annotation checks have no section of their own: under "More results", by their label
    assert f"<summary>{schema.label('annotations')}</summary>" in page
