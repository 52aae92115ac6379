"""The HTML report: built from real runs and from crafted metrics.json files, each optional
section present exactly when its keys are; the report and show commands."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from segscope.cli import main
from segscope.report import build_report
from segscope.report import data as rdata


def _run(args, capsys=None):
    code = main([str(a) for a in args])
    if capsys is not None:
        out, err = capsys.readouterr()
        return code, out, err
    return code


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Six synthetic scenes with images, evaluated (default analyses) without a report."""
    from segscope import synth

    root = tmp_path_factory.mktemp("report")
    paths = synth.write_dataset(root / "data", num_images=6, height=48, width=96, seed=5)
    out = root / "results"
    assert _run(["evaluate", paths["pred"], paths["gt"], "--classes", paths["classes"], "--images",
                 paths["images"], "--out", out, "--quiet", "--jobs", "1"]) == 0
    return {"root": root, "paths": paths, "results": out}


def _image_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="image-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def _section_ids(html: str) -> set[str]:
    return set(re.findall(r'<section id="([\w-]+)"', html))


def test_report_of_a_run(run, tmp_path):
    index = build_report(run["results"], out=tmp_path / "rep", jobs=1)
    assert index == tmp_path / "rep" / "index.html"
    html = index.read_text()
    ids = _section_ids(html)
    assert {"summary", "classes", "confusion", "boundaries", "gallery", "images", "config"} <= ids
    # offline: no network address anywhere, styles and scripts inline
    assert "http://" not in html and "https://" not in html
    assert "<style>" in html and "<script>" in html
    for rel in re.findall(r'src="([^"]+\.png)"', html):
        assert (index.parent / rel).is_file(), rel
    data = _image_data(html)
    assert len(data["rows"]) == 6 and len(data["panels"]) == 6
    assert all(p and (index.parent / p).is_file() for p in data["panels"])  # 6 <= max_panels: every image
    assert data["classes"] == json.loads((run["results"] / "metrics.json").read_text())["classes"]
    # the gallery shows the worst images by default (12 > 6: all of them), each a clickable panel
    assert html.count('class="lightbox-link"') == 6
    # the summary explains the gap between pixel accuracy and mIoU
    assert "above mIoU" in html or "agree within" in html or "is above pixel accuracy" in html


def test_worst_k_and_max_panels_bound_the_work(run, tmp_path):
    index = build_report(run["results"], out=tmp_path / "rep", worst_k=1, max_panels=2, jobs=1)
    html = index.read_text()
    data = _image_data(html)
    mious = [r[1] for r in data["rows"]]
    with_panel = [m for m, p in zip(mious, data["panels"]) if p]
    assert len(with_panel) == 2 and sorted(with_panel) == sorted(mious)[:2]  # the two worst
    groups = rdata.failure_groups(json.loads((run["results"] / "metrics.json").read_text()))
    assert html.count('class="lightbox-link"') == (len(groups) if groups else 1)  # one per group
    assert len(list((tmp_path / "rep" / "panels").glob("*.png"))) == 2
    # a rebuild with more panels replaces the old files
    build_report(run["results"], out=tmp_path / "rep", worst_k=1, max_panels=3, jobs=1)
    assert len(list((tmp_path / "rep" / "panels").glob("*.png"))) == 3


def test_parallel_panels_equal_serial(run, tmp_path):
    a = build_report(run["results"], out=tmp_path / "a", jobs=1).parent / "panels"
    b = build_report(run["results"], out=tmp_path / "b", jobs=2).parent / "panels"
    names = sorted(p.name for p in a.glob("*.png"))
    assert names == sorted(p.name for p in b.glob("*.png")) and len(names) == 6
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes()


def test_report_without_masks_still_builds(run, tmp_path):
    res = tmp_path / "results"
    shutil.copytree(run["results"], res)
    m = json.loads((res / "metrics.json").read_text())
    m["config"]["pred_dir"] = str(tmp_path / "gone")
    (res / "metrics.json").write_text(json.dumps(m))
    html = build_report(res).read_text()
    assert "No pictures: mask folders not found" in html
    assert _image_data(html)["panels"] == [None] * 6


def test_relative_mask_folders_resolve_beside_the_results(run, tmp_path, monkeypatch):
    root = tmp_path / "proj"
    shutil.copytree(run["root"], root)
    m = json.loads((root / "results" / "metrics.json").read_text())
    m["config"].update(pred_dir="data/pred", gt_dir="data/gt", images_dir="data/images")
    (root / "results" / "metrics.json").write_text(json.dumps(m))
    monkeypatch.chdir(tmp_path)  # not the project folder: found beside results/
    src = rdata.locate_sources(root / "results", m)
    assert src.reason is None and len(src.pairs) == 6
    assert src.image_for("street_0000").name == "street_0000.png"


def test_demo_layout_without_recorded_mask_folders(run, tmp_path):
    m = json.loads((run["results"] / "metrics.json").read_text())
    for k in ("pred_dir", "gt_dir"):
        m["config"].pop(k)
    src = rdata.locate_sources(run["results"], m)
    assert src.reason is None and len(src.pairs) == 6


# ---------------------------------------------------------------------- crafted metrics.json
BASE = {
    "classes": ["road", "car", "pole"],
    "num_images": 2,
    "pixel_accuracy": 0.95, "mean_accuracy": 0.7, "miou": 0.6, "mdice": 0.7, "fwiou": 0.9, "miou_image": 0.62,
    "absent_classes": [], "excluded_classes": [],
    "worst_images": [{"image": "b", "miou": 0.5, "pixel_accuracy": 0.9}],
    "per_class": {
        "road": {"iou": 0.94, "dice": 0.97, "precision": 0.95, "recall": 0.99, "gt_pixels": 900, "pred_pixels": 930,
                 "gt_share": 0.9, "present": True},
        "car": {"iou": 0.6, "dice": 0.75, "precision": 0.7, "recall": 0.8, "gt_pixels": 90, "pred_pixels": 80,
                "gt_share": 0.09, "present": True},
        "pole": {"iou": 0.26, "dice": 0.4, "precision": 0.5, "recall": 0.3, "gt_pixels": 10, "pred_pixels": 6,
                 "gt_share": 0.01, "present": True},
    },
    "confusion_matrix": [[890, 8, 2], [17, 72, 1], [7, 0, 3]],
    "config": {"class_spec": "custom", "ignore_index": None},
}

FAILURE_KEYS = {
    "error_breakdown": {"miou": 0.6, "me_boundary_ou": 0.2, "me_extent_ou": 0.1, "me_segment_ou": 0.1},
    "confusion_pairs": [{"gt": "car", "predicted": "road", "pixels": 17, "share": 0.19,
                         "images": ["b", "a"]}],
    "failure_cases": [{"image": "b", "dominant": "segment", "miou": 0.5},
                      {"image": "a", "dominant": "boundary", "miou": 0.7}],
    "recommendations": [{"text": "Oversample small poles.", "rule": "segment errors dominate 'pole'",
                         "class": "pole", "iou_gain": 0.3}, "Check the car boundaries."],
    "small_objects": {"bins": [0.001, 0.01], "per_class": {
        "car": {"recall": [0.1, 0.5, 0.9], "segments": [4, 3, 2]}, "pole": {"recall": [0.0, 0.4, None]}}},
    "suspect_labels": [{"image": "a", "class": "car", "p": 0.01}],
}


def _crafted(tmp_path: Path, extra: dict | None = None, rows: bool = True) -> Path:
    res = tmp_path / "res"
    res.mkdir()
    m = json.loads(json.dumps(BASE))
    for name, entry in (extra or {}).pop("per_class", {}).items() if extra else []:
        m["per_class"][name].update(entry)
    m.update(extra or {})
    (res / "metrics.json").write_text(json.dumps(m))
    if rows:
        (res / "per_image.csv").write_text(
            "image,height,width,valid_pixels,pixel_accuracy,miou,iou_road,iou_car,iou_pole\n"
            "a,10,50,500,0.96,0.7,0.95,0.6,\n"
            "b,10,50,500,0.94,0.5,0.93,0.55,0.02\n"
        )
    return res


def test_without_optional_keys(tmp_path):
    html = build_report(_crafted(tmp_path)).read_text()
    ids = _section_ids(html)
    assert {"summary", "classes", "confusion", "gallery", "images", "config"} <= ids
    assert not ids & {"boundaries", "errors", "small-objects", "recommendations", "more"}
    assert "boundary IoU" not in html and "segment errors, share of the union" not in html
    # the confusion view falls back on the pairs of the confusion matrix: car -> road is the largest
    assert re.search(r"<td data-v=\"car\">car</td><td data-v=\"road\">road</td>", html)
    # no masks recorded: the report says so instead of failing
    assert "No pictures" in html
    data = _image_data(html)
    assert data["classes"] == ["road", "car", "pole"] and data["class_iou"][0] == [0.95, 0.6, None]


def test_with_boundary_keys(tmp_path):
    extra = {
        "mboundary_iou": 0.41, "mbf_score": 0.55, "boundary_band_share": 0.3,
        "trimap": {"1": {"miou": 0.3, "pixel_accuracy": 0.6, "pixels": 10}, "2": {"miou": 0.4, "pixel_accuracy": 0.7}},
        "per_class": {"road": {"boundary_iou": 0.8, "bf_score": 0.9}, "car": {"boundary_iou": 0.3}},
    }
    index = build_report(_crafted(tmp_path, extra))
    html = index.read_text()
    assert "boundaries" in _section_ids(html)
    assert "boundary IoU" in html and (index.parent / "img" / "trimap.png").is_file()
    assert "0.410" in html  # the boundary mIoU card
    assert "boundary IoU" in {d for d in re.findall(r"<dt>(.*?)</dt>", html)}


def test_with_failure_analysis_keys(tmp_path):
    extra = dict(json.loads(json.dumps(FAILURE_KEYS)))
    extra["per_class"] = {
        "car": {"errors": {"tp": 72, "fp_boundary": 5, "fn_boundary": 6, "fp_extent": 2, "fn_extent": 3,
                           "fp_segment": 1, "fn_segment": 9}},
        "pole": {"e_boundary_ou": 0.1, "e_extent_ou": 0.2, "e_segment_ou": 0.44},
    }
    index = build_report(_crafted(tmp_path, extra))
    html = index.read_text()
    ids = _section_ids(html)
    assert {"errors", "small-objects", "recommendations", "more"} <= ids
    assert (index.parent / "img" / "errors.png").is_file() and (index.parent / "img" / "segments.png").is_file()
    assert "mean boundary errors, share of the union" in html  # error_breakdown cards
    assert "Oversample small poles." in html and "segment errors dominate" in html and "iou gain" in html
    assert "Check the car boundaries." in html
    # the class table gains the error shares: car's segment share = (1 + 9) / 98
    assert "segment errors, share of the union" in html and 'data-v="0.10204081632653061"' in html
    # small objects: bins from edges, counts in brackets
    assert "recall &lt; 0.1%" in html and "recall 0.1%–1%" in html and "(4)" in html
    # failure cases grouped by their dominant type, in the order segment, boundary
    assert html.index("<h3>segment") < html.index("<h3>boundary")
    # confusion pairs from the failure analysis replace the computed ones
    assert "share of its errors" not in html and "images" in html
    # unknown keys are kept, readable, under "More results"
    assert "<code>suspect_labels</code>" in html


def test_failure_analysis_shapes_of_evaluate(tmp_path):
    """The shapes `segscope evaluate` writes: confusion pairs with types and images, per-class
    segment bins, "what if fixed" gains."""
    extra = {
        "confusion_pairs": [{"gt": "car", "pred": "road", "pixels": 17, "share_of_gt_errors": 0.94,
                             "share_of_pred_errors": 0.5, "fn_types": {"boundary": 3, "extent": 1, "segment": 0},
                             "miou_gain": 0.02, "images": [{"image": "b", "pixels": 12}, {"image": "a", "pixels": 5}]}],
        "segments": {"bins": [0.001, 0.01], "bin_labels": ["<0.1%", "0.1-1%", ">=1%"],
                     "by_size": [{"bin": "<0.1%", "count": 3, "recall": 0.25}, {"bin": "0.1-1%", "count": 2, "recall": 0.5},
                                 {"bin": ">=1%", "count": 1, "recall": 1.0}]},
        "per_class": {"pole": {"segments": {"bins": ["<0.1%", "0.1-1%", ">=1%"], "count": [3, 0, 0],
                                            "recall": [0.25, None, None]}}},
        "improvements": {"if_fixed": {"boundary": {"miou_gain": 0.15, "miou_after": 0.75, "pixels": 30}}},
    }
    html = build_report(_crafted(tmp_path, extra)).read_text()
    assert "boundary 75%, extent 25%" in html and "b, a" in html and "+0.020" in html
    t = rdata.segment_recall_table(json.loads((tmp_path / "res" / "metrics.json").read_text()))
    assert t["bins"] == ["<0.1%", "0.1-1%", ">=1%"]
    assert list(t["classes"]) == ["all classes", "pole"] and t["classes"]["all classes"]["count"] == [3, 2, 1]
    assert "recommendations" in _section_ids(html) and "+0.150" in html


def test_without_per_image_table(tmp_path):
    html = build_report(_crafted(tmp_path, rows=False)).read_text()
    assert _image_data(html)["rows"] == []
    assert "0 images" in html


def test_failure_groups_shapes():
    assert rdata.failure_groups({}) is None
    g = rdata.failure_groups({"failure_cases": {"boundary": ["x", {"image": "y", "e": 1}], "segment": [{"image": "z"}]}})
    assert list(g) == ["segment", "boundary"] and [i["image"] for i in g["boundary"]] == ["x", "y"]
    g = rdata.failure_groups({"failure_cases": [{"image_id": "x", "dominant_error": "extent"}, {"image": "y"}]})
    assert g == {"extent": [{"image_id": "x", "dominant_error": "extent", "image": "x"}], "other": [{"image": "y"}]}
    assert rdata.failure_groups({"failure_cases": "nonsense"}) is None


def test_segment_recall_table_shapes():
    t = rdata.segment_recall_table({"small_objects": FAILURE_KEYS["small_objects"]})
    assert t["bins"] == ["< 0.1%", "0.1%–1%", "> 1%"]
    assert t["classes"]["car"] == {"recall": [0.1, 0.5, 0.9], "count": [4, 3, 2]}
    t = rdata.segment_recall_table({"per_class": {"car": {"segments": {"bins": ["s", "l"], "recall": [0.2, 0.8]}}}})
    assert t == {"bins": ["s", "l"], "classes": {"car": {"recall": [0.2, 0.8], "count": []}}}
    assert rdata.segment_recall_table({"per_class": {"car": {"iou": 0.5}}}) is None
    assert rdata.segment_recall_table({"segments": {"bins": [1], "per_class": {"car": 3}}}) is None


def test_recommendation_items_shapes():
    assert rdata.recommendation_items({}) is None
    items = rdata.recommendation_items({"recommendations": ["a", {"message": "b", "why": "c", "gain": 0.1}, 3]})
    assert [i["text"] for i in items] == ["a", "b", "3"]
    assert items[1]["detail"] == "c" and items[1]["extra"] == {"gain": 0.1}


def test_gap_sentence_cases():
    assert rdata.gap_sentence({"per_class": {}}) is None
    s = rdata.gap_sentence(BASE)
    assert s.startswith("Pixel accuracy (0.950) is 0.350 above mIoU (0.600)")
    assert "road: 90.0%" in s and "pole (IoU 0.260" in s
    m = dict(BASE, pixel_accuracy=0.61)
    assert "agree within 0.02" in rdata.gap_sentence(m)
    m = dict(BASE, pixel_accuracy=0.5)
    assert rdata.gap_sentence(m).startswith("mIoU (0.600) is above pixel accuracy")


def test_run_spec_rebuilds_presets():
    spec = rdata.run_spec(Path("."), {"config": {"class_spec": "cityscapes(gt_ids=train,pred_ids=train)",
                                                  "ignore_index": 255}})
    assert spec.gt_map is None and spec.num_classes == 19
    spec = rdata.run_spec(Path("."), {"config": {"class_spec": "cityscapes(gt_ids=label,pred_ids=train)"}})
    assert spec.gt_map is not None and spec.pred_map is None
    spec = rdata.run_spec(Path("."), {"classes": ["a", "b"], "per_class": {}, "config": {}})
    assert spec.names == ("a", "b")


def test_bad_results_folder(tmp_path, capsys):
    code, _, err = _run(["report", tmp_path], capsys)
    assert code == 1 and "no metrics.json" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "metrics.json").write_text("{not json")
    code, _, err = _run(["report", tmp_path], capsys)
    assert code == 1 and "not valid JSON" in err
    code, _, err = _run(["report", tmp_path / "nope"], capsys)
    assert code == 1 and "does not exist" in err


def test_report_command(run, tmp_path, capsys):
    code, _, err = _run(["report", run["results"], "--out", tmp_path / "r", "--worst-k", "2", "--jobs", "1"], capsys)
    assert code == 0 and (tmp_path / "r" / "index.html").is_file()
    assert "report:" in err


def test_show_command(run, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "p.png"
    code, _, err = _run(["show", "street_0002", "--results", run["results"], "--out", out], capsys)
    assert code == 0 and "image mIoU" in err
    with Image.open(out) as im:
        assert im.size[0] == 5 * 300 + 6 * 6  # with the original image: five tiles
    code, _, err = _run(["show", "street_0002", "--results", run["results"], "--out", tmp_path / "c.png",
                         "--class", "car"], capsys)
    assert code == 0 and (tmp_path / "c.png").is_file()
    code, _, err = _run(["show", "nope", "--results", run["results"]], capsys)
    assert code == 1 and "no image 'nope'" in err
    code, _, err = _run(["show", "street_0002", "--results", run["results"], "--class", "unicorn"], capsys)
    assert code == 1 and "unknown class" in err


def test_evaluate_report_flag(run, tmp_path):
    p = run["paths"]
    out = tmp_path / "res"
    assert _run(["evaluate", p["pred"], p["gt"], "--classes", p["classes"], "--out", out, "--report", "--quiet",
                 "--skip", "boundary", "--skip", "errors", "--jobs", "1"]) == 0
    html = (out / "report" / "index.html").read_text()
    assert "boundaries" not in _section_ids(html)
    # no --images: panels without the original image
    data = _image_data(html)
    assert all(data["panels"])
