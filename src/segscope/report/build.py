"""Building ``report/index.html`` from a results folder (and the comparison page)."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import schema
from .._version import __version__
from ..exceptions import SegscopeError
from ..io.results import atomic_write, make_folder, staged_files
from .data import (
    SEGMENT_KEYS,
    Results,
    Sources,
    confusion_pair_rows,
    failure_groups,
    gap_sentence,
    is_number,
    load_results,
    locate_sources,
    pair_rows,
    recommendation_items,
    convention_rows,
    records_table,
    segment_recall_table,
    worst_classes,
)
from .panels import PanelJob, render_all, safe_name

__all__ = ["build_report", "build_compare_report", "render_page"]

#: blocks of the schema the page has no section for: shown as JSON under "More results"
NO_SECTION = ("annotations",)

#: the summary cards: top-level keys of metrics.json (boundary ones when that analysis ran)
CARD_KEYS = ("miou", "pixel_accuracy", "mean_accuracy", "mdice", "fwiou", "miou_image", "mboundary_iou", "mbf_score")
#: the cards of the boundary section
BOUNDARY_CARD_KEYS = ("mboundary_iou", "mbf_score", "boundary_band_share")
#: the columns of the trimap table, keys of ``trimap.<width>``
TRIMAP_KEYS = ("miou", "pixel_accuracy", "pixels")
#: keys whose labels the template shows as table headers
LABELLED_KEYS = (
    "trimap", *(f"trimap.<width>.{k}" for k in TRIMAP_KEYS), "confusion_pairs[].gt", "confusion_pairs[].pred",
    "confusion_pairs[].pixels", "confusion_pairs[].share_of_gt_errors", "confusion_pairs[].share_of_pred_errors",
    "confusion_pairs[].miou_gain", "confusion_pairs[].fn_types", "confusion_pairs[].images",
    "improvements.if_fixed.<scenario>.miou_gain", "improvements.if_fixed.<scenario>.miou_after",
    "improvements.if_fixed.<scenario>.pixels",
)

GROUP_TEXT = {
    "segment": "Whole segments missed or invented: small objects and rare classes.",
    "extent": "Segments found but with the wrong extent: regions grown onto, or cut from, a correct segment.",
    "boundary": "Thin errors along true boundaries: blurry or jittery edges.",
    "confusion": "One class predicted as another.",
    "ambiguous": "Regions where annotations disagree.",
    "lowest": "The images with the lowest image mIoU.",
}

# ---------------------------------------------------------------------- helpers
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("segscope.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["cell"] = _cell_text
    env.filters["signed"] = lambda x, d=3: f"{x:+.{d}f}" if is_number(x) else "—"
    env.filters["rgb"] = lambda c: "#%02x%02x%02x" % tuple(int(v) for v in c) if c else "#888888"
    env.filters["label"] = _label
    return env


def _label(key: str, default: str | None = None) -> str:
    """The schema's label of a ``metrics.json`` key; ``default`` (else the key with spaces) for
    a key the schema does not describe."""
    return schema.label(key, default=default if default is not None else key.rsplit(".", 1)[-1].replace("_", " "))


def _column_label(column: str) -> str:
    return schema.label(column, "per_image.csv", default=column.replace("_", " "))


def _num(x, digits: int = 3) -> str:
    if not is_number(x):
        return "—"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}f}"


def _pct(x, digits: int = 2) -> str:
    if not is_number(x):
        return "—"
    return f"{100 * x:.{digits}f}%"


def _cell_text(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return _num(v, 4 if abs(v) < 1 else 2)
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _round(v):
    if isinstance(v, float):
        return round(v, 5) if math.isfinite(v) else None
    return v


def _json_script(data) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_page(template: str, out_html: Path, **context) -> Path:
    """Render a template of this package to ``out_html`` (atomically)."""
    env = _env()
    html = env.get_template(template).render(
        version=__version__, generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), **context
    )
    with atomic_write(out_html, "w", encoding="utf-8") as fh:
        fh.write(html)
    return out_html


def _text(v) -> str | None:
    return v if isinstance(v, str) and v else None


def _save_plot(fig, path: Path, rel: str) -> str | None:
    if fig is None:
        return None
    from ..viz.plots import save_figure

    save_figure(fig, path)
    return rel


#: the manifest of a report folder: the files the report made, the only ones it ever removes
REPORT_MANIFEST = ".segscope-report.json"


# ---------------------------------------------------------------------- sections
def _card_keys(m: dict) -> list[str]:
    return [k for k in CARD_KEYS if m.get(k) is not None or k == "miou"]


def _cards(m: dict) -> list[dict]:
    return [{"label": schema.label(k), "value": _num(m.get(k)), "title": schema.describe(k).definition,
             "raw": m.get(k)} for k in _card_keys(m)]


def _class_table(res: Results) -> dict:
    from ..viz.plots import error_shares

    pc = res.metrics["per_class"]
    # beyond DENSE_MATRIX_CLASSES classes, per_class holds only the classes with pixels
    names = res.names if not res.metrics.get("per_class_omitted") else [n for n in res.names if n in pc]
    entries = [(n, pc.get(n) if isinstance(pc.get(n), dict) else {}) for n in names]
    has_b = any("boundary_iou" in e for _, e in entries)
    has_bf = any("bf_score" in e for _, e in entries)
    shares = {n: error_shares(e) for n, e in entries}
    has_e = any(s is not None for s in shares.values())
    keys = ["iou", "dice", "precision", "recall"]
    if has_b:
        keys.append("boundary_iou")
    if has_bf:
        keys.append("bf_score")
    if has_e:
        keys += ["e_boundary_ou", "e_extent_ou", "e_segment_ou"]
    keys += ["gt_share", "gt_pixels", "pred_pixels"]
    cols = [(k, schema.label(f"per_class.<class>.{k}")) for k in keys]
    rows = []
    for name, e in entries:
        s = shares.get(name) or {}
        values = {
            **{k: e.get(k) for k in ("iou", "dice", "precision", "recall", "boundary_iou", "bf_score", "gt_share",
                                     "gt_pixels", "pred_pixels")},
            "e_boundary_ou": s.get("boundary"), "e_extent_ou": s.get("extent"), "e_segment_ou": s.get("segment"),
        }
        cells = []
        for key in keys:
            v = values.get(key)
            text = _pct(v) if key == "gt_share" else (_num(v) if key not in ("gt_pixels", "pred_pixels") else _num(
                int(v) if is_number(v) else None))
            cells.append({"v": v if is_number(v) else "", "text": text,
                          "low": key == "iou" and is_number(v) and v < 0.5})
        notes = []
        if e.get("present") is False:
            notes.append("absent")
        if e.get("excluded"):
            notes.append("excluded")
        rows.append({"name": name, "color": res.colors.get(name), "cells": cells, "note": ", ".join(notes)})
    return {"columns": cols, "rows": rows}


def _image_table(res: Results, panels: dict[str, str]) -> dict:
    rows = res.rows
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    class_cols = [f"iou_{n}" for n in res.names if f"iou_{n}" in cols]
    skip = set(class_cols) | {"image", "height", "width", "boundary_px", "valid_pixels"}
    numeric = [c for c in cols if c not in skip and any(is_number(r.get(c)) for r in rows)]
    text_cols = [c for c in ("dominant_error",) if c in cols]
    preferred = ["miou", "pixel_accuracy", "boundary_miou", "mbf_score", "dominant_error", "error_share",
                 "e_boundary_ou", "e_extent_ou", "e_segment_ou", "missed_segments", "invented_segments",
                 "sliver_px"]
    front = [c for c in preferred if c in numeric or c in text_cols]
    minor = re.compile(r"^(fp_|fn_|err_)|_renormed$|_px$|^gt_segments$|^missed_segment_rate$")
    rest = [c for c in numeric if c not in front and not minor.match(c)][: max(0, 14 - len(front))]
    shown = ["image"] + front + rest + (["valid_pixels"] if "valid_pixels" in cols else [])
    data_rows = [[(r.get(c) if c in ("image", "dominant_error") else _round(r.get(c) if is_number(r.get(c)) else None))
                  for c in shown] for r in rows]
    class_iou = [[_round(r.get(c) if is_number(r.get(c)) else None) for c in class_cols] for r in rows]
    return {
        "columns": [{"key": c, "label": _column_label(c),
                     "text": c in ("image", "dominant_error"),
                     "int": c == "valid_pixels" or all(isinstance(r.get(c), int) for r in rows if r.get(c) is not None)}
                    for c in shown],
        "rows": data_rows,
        "classes": [c[4:] for c in class_cols],
        "class_label": schema.describe("iou_<class>", "per_image.csv").label,
        "class_iou": class_iou,
        "panels": [panels.get(str(r.get("image"))) for r in rows],
    }


def _sorted_ids(res: Results) -> list[str]:
    def key(r):
        v = r.get("miou")
        return (0, v, str(r.get("image"))) if is_number(v) else (1, 0.0, str(r.get("image")))

    ids = [str(r.get("image")) for r in sorted(res.rows, key=key)]
    if not ids:  # no per-image table: fall back on metrics' worst images
        ids = [w.get("image") for w in res.metrics.get("worst_images") or [] if isinstance(w, dict)]
    return [i for i in ids if i]


def _extras(m: dict) -> list[dict]:
    out = []
    for k, v in m.items():
        known = schema.known(k)
        if known and k not in NO_SECTION or k in SEGMENT_KEYS:
            continue
        text = json.dumps(v, indent=1, default=str)
        if len(text) > 20000:
            text = text[:20000] + "\n… (truncated; see metrics.json)"
        out.append({"key": k, "label": schema.label(k) if known else None, "json": text})
    return out


def _if_fixed(m: dict) -> list[tuple[str, str, str, str]]:
    """``improvements.if_fixed`` as rows (what, mIoU gain, mIoU after, pixels)."""
    imp = m.get("improvements")
    fixed = imp.get("if_fixed") if isinstance(imp, dict) else None
    if not isinstance(fixed, dict):
        return []
    rows = []
    for k, v in fixed.items():
        if isinstance(v, dict):
            gain = v.get("miou_gain")
            rows.append((k.replace("_", " "), f"{gain:+.3f}" if is_number(gain) else "—", _num(v.get("miou_after")),
                         _num(v.get("pixels"))))
    return rows


def _definitions(m: dict, shown: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(term, text) of every result the page shows (``shown``: (key, file) pairs), then the terms
    of the analyses whose keys are present; a term the page already defined is not repeated."""
    pc = m.get("per_class") or {}
    any_entry = next((e for e in pc.values() if isinstance(e, dict)), {})
    analyses = ["core"]
    if "mboundary_iou" in m or "boundary_iou" in any_entry or "trimap" in m:
        analyses.append("boundary")
    if "error_breakdown" in m or "errors" in any_entry or "e_boundary_ou" in any_entry:
        analyses.append("errors")
    defs: list[tuple[str, str]] = []
    terms: dict[str, str] = {}
    for key, file in shown:
        if not schema.known(key, file):
            continue
        lab, text = schema.label(key, file), schema.definition(key, file)
        term = lab if file == "metrics.json" else f"{lab} (per image)"
        if term in terms and terms[term] != text and file == "metrics.json":
            term = f"{lab} ({schema.label(schema.describe(key).parts[0])})"
        if term not in terms:
            terms[term] = text
            defs.append((term, text))
    return defs + [(t.term, t.definition) for t in schema.terms(analyses) if t.term not in terms]


def _config_rows(m: dict) -> list[tuple[str, str]]:
    cfg = m.get("config") if isinstance(m.get("config"), dict) else {}
    rows = [(schema.label("segscope_version"), str(m.get("segscope_version", "—"))),
            (schema.label("num_images"), str(m.get("num_images", "—")))]
    for k, v in cfg.items():
        rows.append((_label(f"config.{k}", str(k)), v if isinstance(v, str) else json.dumps(v, default=str)))
    return rows


# ---------------------------------------------------------------------- the report
def build_report(
    results_dir: str | Path, out: str | Path | None = None, worst_k: int = 12, max_panels: int = 200,
    jobs: int | None = None, progress: Callable[[int], None] | bool | None = None,
    shown_as: str | Path | None = None,
) -> Path:
    """Write the HTML report of a results folder and return the path of its ``index.html``.

    Parameters
    ----------
    results_dir : a folder written by ``segscope evaluate`` (``metrics.json``, ``per_image.csv``,
        ``class_spec.json``).
    out : the report folder (default ``results_dir/report``); ``index.html`` opens from disk with
        no network: styles and scripts are embedded, pictures lie in ``img/`` and ``panels/``.
    worst_k : how many failure cases the gallery shows (per error type when the failure analysis
        ranked them, else the ``worst_k`` lowest image mIoU).
    max_panels : panels are drawn for every image up to this many images; beyond, for the
        ``max_panels`` lowest image mIoU and the gallery (the others: ``segscope show ID``).
    jobs : worker processes for the panels (None: all cores).
    progress : ``advance(n)`` callable, or True/False to force the terminal progress bar.
    shown_as : the path the report names as its results folder (default ``results_dir``; a
        run being staged gives its final path).

    Returns
    -------
    Path of ``index.html``.

    Notes
    -----
    The report is built in a hidden folder beside ``out`` and moved in when complete, so a build
    that fails (Ctrl-C, a full disk) leaves the previous report as it was. It removes only files
    it made: those listed in ``.segscope-report.json`` by its previous build in the same folder;
    other files there are left alone.
    """
    if worst_k < 0 or max_panels < 0:
        raise SegscopeError("--worst-k and --max-panels must be >= 0")
    res = load_results(results_dir)
    out_dir = make_folder(Path(out) if out is not None else res.dir / "report", "report folder")
    with staged_files(out_dir, "report folder", REPORT_MANIFEST, last="index.html") as stage:
        _build_report(res, stage, worst_k, max_panels, jobs, progress, shown_as)
    return out_dir / "index.html"


def _build_report(res: Results, out_dir: Path, worst_k: int, max_panels: int, jobs: int | None,
                  progress: Callable[[int], None] | bool | None, shown_as: str | Path | None) -> None:
    m = res.metrics
    from .. import viz

    img_dir = out_dir / "img"
    plots = {
        "imbalance": _save_plot(viz.plot_class_imbalance(m, res.colors), img_dir / "imbalance.png", "img/imbalance.png"),
        "confusion": _save_plot(viz.plot_confusion(m), img_dir / "confusion.png", "img/confusion.png"),
        "trimap": _save_plot(viz.plot_trimap(m), img_dir / "trimap.png", "img/trimap.png"),
        "errors": _save_plot(viz.plot_error_breakdown(m), img_dir / "errors.png", "img/errors.png"),
    }
    seg_table = segment_recall_table(m, res.colors)
    plots["segments"] = _save_plot(viz.plot_segment_recall(seg_table), img_dir / "segments.png", "img/segments.png")

    # ---- panels
    ordered = _sorted_ids(res)
    groups_in = failure_groups(m)
    gallery_ids: list[str] = []
    if groups_in:
        for items in groups_in.values():
            gallery_ids += [str(it.get("image")) for it in items[:worst_k]]
    else:
        gallery_ids = ordered[:worst_k]
    wanted = ordered if len(ordered) <= max_panels else ordered[:max_panels]
    wanted = list(dict.fromkeys(list(gallery_ids) + list(wanted)))
    sources = locate_sources(res.dir, m, wanted) if res.spec is not None else Sources(reason=res.spec_note)
    cfg = res.config
    exclude = tuple(res.names.index(n) for n in m.get("excluded_classes") or [] if n in res.names)
    panel_dir = out_dir / "panels"
    res_rows = res.row_by_id()
    tasks = []
    for image_id in wanted:
        pair = sources.pairs.get(image_id)
        if pair is None:
            continue
        tasks.append(PanelJob(
            image_id, pair[0], pair[1], sources.image_for(image_id), panel_dir / f"{safe_name(image_id)}.png",
            res.spec, exclude, cfg.get("error_band_px"), cfg.get("error_band_ratio") or 0.01,
            dominant_error=_text(res_rows.get(image_id, {}).get("dominant_error")),
        ))
    stats, failed = render_all(tasks, workers=jobs, progress=progress)
    panels = {t.image_id: f"panels/{t.out.name}" for t in tasks if t.image_id in stats}
    rows_by_id = res.row_by_id()

    def item(image_id: str, extra: dict | None = None) -> dict:
        row = rows_by_id.get(image_id, {})
        miou = row.get("miou", (stats.get(image_id) or {}).get("miou"))
        details = []
        for k, v in (extra or {}).items():
            if k in ("image", "image_id", "dominant", "dominant_error", "type", "miou") or isinstance(v, (dict, list)):
                continue
            details.append(f"{_label(f'failure_cases[].{k}')}: {_cell_text(v)}")
        return {"id": image_id, "panel": panels.get(image_id), "miou": _num(miou), "details": details[:4],
                "error": failed.get(image_id)}

    gallery = []
    if groups_in:
        for name, items in groups_in.items():
            gallery.append({"name": name, "text": GROUP_TEXT.get(name, ""),
                            "cases": [item(str(it.get("image")), it) for it in items[:worst_k]]})
    else:
        by_type: dict[str, list[str]] = {}
        for image_id in gallery_ids:
            dom = (stats.get(image_id) or {}).get("dominant") or "lowest"
            by_type.setdefault(dom, []).append(image_id)
        for name in ("segment", "extent", "boundary", "lowest"):
            if name in by_type:
                gallery.append({"name": name if name != "lowest" else "lowest image mIoU",
                                "text": GROUP_TEXT[name], "cases": [item(i) for i in by_type[name]]})
    typed_by_panels = not groups_in and any((s or {}).get("dominant") for s in stats.values())

    # ---- sections
    pairs_rich = pair_rows(m.get("confusion_pairs"))
    pairs_table = None if pairs_rich else records_table(m.get("confusion_pairs"))
    eb = m.get("error_breakdown") if isinstance(m.get("error_breakdown"), dict) else None
    sections = [("summary", "Summary"), ("classes", "Classes"), ("confusion", "Confusion")]
    has_boundary = any(k in m for k in ("mboundary_iou", "mbf_score", "trimap"))
    if has_boundary:
        sections.append(("boundaries", "Boundaries"))
    if eb is not None or plots["errors"]:
        sections.append(("errors", "Error breakdown"))
    if seg_table:
        sections.append(("small-objects", "Small objects"))
    recs = recommendation_items(m)
    if recs or _if_fixed(m):
        sections.append(("recommendations", "What to improve"))
    conventions = convention_rows(res)
    if conventions:
        sections.append(("conventions", "Other conventions"))
    sections += [("gallery", "Failure cases"), ("images", "Images")]
    extras = _extras(m)
    if extras:
        sections.append(("more", "More results"))
    sections.append(("config", "Configuration"))

    class_table = _class_table(res)
    image_table = _image_table(res, panels)
    trimap_items = [(w, v) for w, v in (m.get("trimap") or {}).items() if isinstance(v, dict)] \
        if isinstance(m.get("trimap"), dict) else []
    eb_items = [(k, v) for k, v in (eb or {}).items() if is_number(v)]
    shown = [(k, "metrics.json") for k in _card_keys(m)]
    shown += [(f"per_class.<class>.{k}", "metrics.json") for k, _ in class_table["columns"]]
    shown += [(k, "metrics.json") for k in BOUNDARY_CARD_KEYS if k in m]
    if trimap_items:
        shown += [(f"trimap.<width>.{k}", "metrics.json") for k in TRIMAP_KEYS]
    shown += [(f"error_breakdown.{k}", "metrics.json") for k, _ in eb_items]
    shown += [(c["key"], "per_image.csv") for c in image_table["columns"]]

    context: dict[str, Any] = {
        "title": f"segscope report · {Path(shown_as or res.dir).name}",
        "results_dir": str(shown_as or res.dir),
        "m": m,
        "sections": sections,
        "cards": _cards(m),
        "labels": {k: schema.label(k) for k in LABELLED_KEYS},
        "gap": gap_sentence(m),
        "worst": worst_classes(m, 3),
        "colors": res.colors,
        "absent": m.get("absent_classes") or [],
        "excluded": m.get("excluded_classes") or [],
        "plots": plots,
        "class_table": class_table,
        "confusion_pairs": pairs_table,
        "pair_rows": pairs_rich,
        "computed_pairs": None if (pairs_table or pairs_rich) else confusion_pair_rows(m),
        "if_fixed": _if_fixed(m),
        "boundary_cards": [
            {"label": schema.label(k), "value": _num(m.get(k)) if k != "boundary_band_share" else _pct(m.get(k), 1)}
            for k in BOUNDARY_CARD_KEYS if k in m
        ],
        "trimap_rows": [(schema.label(f"trimap.{w}") if str(w).isdigit() else str(w), v) for w, v in trimap_items],
        "error_breakdown": [(_label(f"error_breakdown.{k}"), _num(v)) for k, v in eb_items],
        "seg_table": seg_table,
        "recommendations": recs,
        "conventions": conventions,
        "gallery": gallery,
        "gallery_typed_by_panels": typed_by_panels,
        "worst_k": worst_k,
        "panel_reason": sources.reason,
        "panel_failed": failed,
        "panel_count": len(panels),
        "max_panels": max_panels,
        "image_json": _json_script(image_table),
        "num_rows": len(res.rows),
        "extras": extras,
        "definitions": _definitions(m, shown),
        "config_rows": _config_rows(m),
    }
    render_page("report.html", out_dir / "index.html", **context)


# ---------------------------------------------------------------------- the comparison page
def build_compare_report(
    result: dict, out: str | Path, jobs: int | None = None, progress: Callable[[int], None] | bool | None = None,
    label_a: str = "A", label_b: str = "B",
) -> Path:
    """Write the comparison page (``out/index.html``) of :func:`segscope.analysis.compare.compare_runs`'s
    result, with A | B | GT panels of the images that improved and regressed most."""
    ra, rb = load_results(result["a"]), load_results(result["b"])
    out_dir = make_folder(out, "report folder")
    with staged_files(out_dir, "report folder", REPORT_MANIFEST, last="index.html") as stage:
        _build_compare_report(result, ra, rb, stage, jobs, progress, label_a, label_b)
    return out_dir / "index.html"


def _build_compare_report(result: dict, ra: Results, rb: Results, out_dir: Path, jobs: int | None,
                          progress: Callable[[int], None] | bool | None, label_a: str, label_b: str) -> None:
    from .panels import CompareJob

    shown = list(dict.fromkeys(result["regressed"] + result["improved"]))
    src_a = locate_sources(ra.dir, ra.metrics, shown) if ra.spec is not None else Sources(reason=ra.spec_note)
    src_b = locate_sources(rb.dir, rb.metrics, shown) if rb.spec is not None else Sources(reason=rb.spec_note)
    by_id = {r["image"]: r for r in result["images"]}
    panel_dir = out_dir / "panels"
    tasks = []
    for image_id in shown:
        pa, pb = src_a.pairs.get(image_id), src_b.pairs.get(image_id)
        if pa is None or pb is None:
            continue
        r = by_id.get(image_id, {})
        tasks.append(CompareJob(
            image_id, pa[1], pa[0], pb[0], src_a.image_for(image_id) or src_b.image_for(image_id),
            panel_dir / f"{safe_name(image_id)}.png", ra.spec, r.get("miou_a"), r.get("miou_b"), label_a, label_b,
        ))
    done, failed = render_all(tasks, workers=jobs, progress=progress, description="rendering comparisons")
    panels = {t.image_id: f"panels/{t.out.name}" for t in tasks if t.image_id in done}

    def case(image_id):
        r = by_id.get(image_id, {})
        return {"id": image_id, "panel": panels.get(image_id), "miou_a": _num(r.get("miou_a")),
                "miou_b": _num(r.get("miou_b")), "delta": r.get("delta"), "error": failed.get(image_id)}

    boot = result["bootstrap"]
    pc_rows = []
    metric_keys: list[str] = []
    for row in result["per_class"].values():
        for k in row:
            if k not in metric_keys and k not in ("tp", "fp", "fn", "iou", "present", "excluded", "accuracy"):
                metric_keys.append(k)
    shown_keys = [k for k in ("dice", "precision", "recall", "boundary_iou", "bf_score", "gt_share")
                  if k in metric_keys]
    for name, b in boot["per_class"].items():  # in the order of classes; only those with pixels beyond 256
        row = result["per_class"].get(name, {})
        pc_rows.append({
            "name": name, "color": ra.colors.get(name), "a": b["a"], "b": b["b"], "delta": b["delta"],
            "lo": b["ci_low"], "hi": b["ci_high"], "p": b["p_better"],
            "sig": b["ci_low"] is not None and b["ci_high"] is not None and (b["ci_low"] > 0 or b["ci_high"] < 0),
            "others": [(row.get(k) or {}).get("delta") for k in shown_keys],
        })
    image_table = {
        "columns": [{"key": "image", "label": "image", "int": False, "text": True},
                    {"key": "delta", "label": "mIoU delta", "int": False},
                    {"key": "miou_a", "label": f"mIoU {label_a}", "int": False},
                    {"key": "miou_b", "label": f"mIoU {label_b}", "int": False}],
        "rows": [[r["image"], _round(r["delta"]), _round(r["miou_a"]), _round(r["miou_b"])] for r in result["images"]],
        "classes": [], "class_iou": [[] for _ in result["images"]],
        "panels": [panels.get(r["image"]) for r in result["images"]],
    }
    summary_rows = [(k, v["a"], v["b"], v["delta"]) for k, v in result["summary"].items()]
    sections = [("summary", "Summary"), ("classes", "Classes"), ("gallery", "Changed images"), ("images", "Images"),
                ("config", "Method")]
    render_page(
        "compare.html", out_dir / "index.html",
        title=f"segscope comparison · {Path(result['a']).name} → {Path(result['b']).name}",
        results_dir=f"{result['a']} → {result['b']}", r=result, boot=boot, label_a=label_a, label_b=label_b,
        sections=sections, summary_rows=summary_rows, pc_rows=pc_rows, shown_keys=shown_keys,
        regressed=[case(i) for i in result["regressed"]], improved=[case(i) for i in result["improved"]],
        panel_reason=src_a.reason or src_b.reason, image_json=_json_script(image_table),
        num_rows=len(result["images"]), panel_count=len(panels), max_panels=len(panels),
    )
