"""What the report reads from a results folder (loaded by :mod:`segscope.io.run_folder`): the mask
and image files of the run, and tolerant readers for the optional sections (each returns None when its keys are
absent, so a report never depends on an analysis having run)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._numbers import is_number
from ..exceptions import SegscopeError
from ..io.files import IMAGE_SUFFIXES, MASK_SUFFIXES, flatten_ids, list_files
from ..io.run_folder import Results, load_results, run_spec
from ..metrics.confusion import matrix_from_json

__all__ = [
    "Results",
    "load_results",
    "run_spec",
    "Sources",
    "locate_sources",
    "unwalkable",
    "gap_sentence",
    "worst_classes",
    "segment_recall_table",
    "failure_groups",
    "recommendation_items",
    "confusion_pair_rows",
    "records_table",
    "pair_rows",
    "is_number",
]



# ---------------------------------------------------------------------- mask files
@dataclass
class Sources:
    """Where the masks and images of a run are (for pictures)."""

    pairs: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)
    reason: str | None = None  # why there are no pairs

    def image_for(self, image_id: str) -> Path | None:
        if image_id in self.images:
            return self.images[image_id]
        last = image_id.rsplit("/", 1)[-1]
        return self.images.get(last)


def _resolve(value, results_dir: Path) -> Path | None:
    if not value:
        return None
    p = Path(str(value)).expanduser()
    if p.is_absolute():
        return p if p.is_dir() else None
    for base in (Path.cwd(), results_dir.parent, results_dir, results_dir.parent.parent):
        q = base / p
        if q.is_dir():
            return q
    return None


#: a source folder with more entries than this is not walked for the report's pictures
MAX_ENTRIES = 200_000
#: folders of the kernel's pseudo file systems, never walked
SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")


def unwalkable(folder: Path, limit: int = MAX_ENTRIES) -> str | None:
    """Why ``folder`` must not be walked for pictures (the file system's root, a system folder,
    more than ``limit`` entries), or None when it may be. Counts entries without following links
    and stops at ``limit``.

    >>> unwalkable(Path("/"))
    "is the file system's root"
    """
    real = folder.resolve()
    if real == Path(real.anchor):
        return "is the file system's root"
    if any(real == Path(s) or Path(s) in real.parents for s in SYSTEM_FOLDERS):
        return "is a system folder"
    seen, stack = 0, [real]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > limit:
                        return f"holds more than {limit} entries"
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return None


def _image_index(folder: Path) -> dict[str, Path]:
    """The images under ``folder`` by id, by stem, and by stem without its last ``_part``
    (``aachen_000000_000019_leftImg8bit``); the first file in sorted order wins a name."""
    found: dict[str, Path] = {}
    for key, f in list_files(folder, IMAGE_SUFFIXES, duplicates="first", allow_empty=True, what="images").items():
        stem = key.rsplit("/", 1)[-1]
        for k in (key, stem, stem.rsplit("_", 1)[0] if "_" in stem else None):
            if k and k not in found:
                found[k] = f
    return found


def _direct(folder: Path, image_id: str, suffix: str, extensions) -> Path | None:
    """The file of ``image_id`` at its own relative path in ``folder`` (no listing), or None."""
    rel = Path(image_id)
    if not image_id or rel.is_absolute() or ".." in rel.parts:
        return None
    for ext in extensions:
        for e in (ext, ext.upper()):
            path = folder / f"{image_id}{suffix}{e}"
            if path.is_file():
                return path
    return None


def locate_sources(results_dir: Path, metrics: dict, image_ids=None) -> Sources:
    """Find the prediction / GT mask files and the images of a run from its ``config``
    (``pred_dir``, ``gt_dir``, suffixes, ``images_dir``); relative paths are tried from the
    working directory and from beside the results folder. When the mask folders are not recorded,
    ``pred/`` and ``gt/`` beside the images folder are used (the layout ``segscope demo`` writes).

    ``image_ids``: the images wanted (None: all). Each is first looked up at its own path in each
    folder; only the ones not found there make the folder be listed, and a folder that is the
    root, a system folder or holds more than :data:`MAX_ENTRIES` entries is never listed (the
    report then says why it has no pictures). Never raises for a folder it cannot read.
    """
    cfg = metrics.get("config") if isinstance(metrics.get("config"), dict) else {}
    src = Sources()
    ids = None if image_ids is None else [str(i) for i in dict.fromkeys(image_ids)]
    pred_sfx, gt_sfx = str(cfg.get("pred_suffix") or ""), str(cfg.get("gt_suffix") or "")
    try:
        images_dir = _resolve(cfg.get("images_dir"), results_dir)
        pred_dir = _resolve(cfg.get("pred_dir"), results_dir)
        gt_dir = _resolve(cfg.get("gt_dir"), results_dir)
    except (OSError, ValueError):
        images_dir = pred_dir = gt_dir = None
    if images_dir is not None:
        src.images = _find_images(images_dir, ids)
    if (pred_dir is None or gt_dir is None) and not cfg.get("pred_dir") and images_dir is not None:
        if (images_dir.parent / "pred").is_dir() and (images_dir.parent / "gt").is_dir():
            pred_dir, gt_dir = images_dir.parent / "pred", images_dir.parent / "gt"
    if pred_dir is None or gt_dir is None:
        missing = [k for k, v in (("pred_dir", pred_dir), ("gt_dir", gt_dir)) if v is None]
        recorded = {k: cfg.get(k) for k in missing}
        src.reason = (
            "mask folders not found: " + ", ".join(f"{k}={recorded[k]!r}" for k in missing)
            + " (run the report from the folder `segscope evaluate` ran in)"
        )
        return src
    try:
        if ids is not None:
            for image_id in ids:
                pred = _direct(pred_dir, image_id, pred_sfx, MASK_SUFFIXES)
                gt = _direct(gt_dir, image_id, gt_sfx, MASK_SUFFIXES)
                if pred is not None and gt is not None:
                    src.pairs[image_id] = (pred, gt)
            if len(src.pairs) == len(ids):
                return src
        for role, folder in (("pred_dir", pred_dir), ("gt_dir", gt_dir)):
            why = unwalkable(folder)
            if why is not None:
                src.reason = f"{role} {folder} {why}: not searched for the masks of the pictures"
                return src
        pred = list_files(pred_dir, MASK_SUFFIXES, suffix=pred_sfx, allow_empty=True, what="prediction files")
        gt = list_files(gt_dir, MASK_SUFFIXES, suffix=gt_sfx, allow_empty=True, what="GT files")
    except (OSError, SegscopeError) as exc:
        src.reason = f"the mask folders cannot be read: {exc}"
        return src
    pred, gt = flatten_ids(pred, gt)
    for image_id in ids if ids is not None else sorted(set(pred) & set(gt)):
        if image_id not in src.pairs and image_id in pred and image_id in gt:
            src.pairs[image_id] = (pred[image_id], gt[image_id])
    if not src.pairs and (pred or gt):
        src.reason = "no prediction matches a GT file by name in the mask folders"
    return src


def _find_images(folder: Path, ids: list[str] | None) -> dict[str, Path]:
    """The images of ``ids`` in ``folder``: at their own paths, else from a listing of a folder
    that may be walked (see :func:`unwalkable`); {} when it cannot be read."""
    found: dict[str, Path] = {}
    try:
        if ids is not None:
            for image_id in ids:
                path = _direct(folder, image_id, "", IMAGE_SUFFIXES)
                if path is not None:
                    found[image_id] = path
            if len(found) == len(ids):
                return found
        if unwalkable(folder) is not None:
            return found
        return {**_image_index(folder), **found}
    except (OSError, SegscopeError):
        return found


# ---------------------------------------------------------------------- summary sentences
def _classes_kept(metrics: dict) -> list[tuple[str, dict]]:
    out = []
    for name, m in (metrics.get("per_class") or {}).items():
        if isinstance(m, dict) and not m.get("excluded"):
            out.append((name, m))
    return out


def worst_classes(metrics: dict, n: int = 3) -> list[dict]:
    """The ``n`` lowest-IoU classes (with GT or predicted pixels, not excluded)."""
    rows = [
        {"name": name, "iou": m["iou"], "gt_share": m.get("gt_share")}
        for name, m in _classes_kept(metrics) if is_number(m.get("iou"))
    ]
    rows.sort(key=lambda r: (r["iou"], r["name"]))
    return rows[:n]


def gap_sentence(metrics: dict) -> str | None:
    """One sentence explaining the gap between pixel accuracy and mIoU.

    >>> m = {"pixel_accuracy": 0.95, "miou": 0.6, "per_class": {
    ...     "road": {"iou": 0.94, "gt_share": 0.9}, "pole": {"iou": 0.26, "gt_share": 0.1}}}
    >>> print(gap_sentence(m))  # doctest: +NORMALIZE_WHITESPACE
    Pixel accuracy (0.950) is 0.350 above mIoU (0.600): it counts pixels, so the large classes
    (road: 90.0% of the labelled pixels) dominate it, while mIoU weighs every class equally and is
    pulled down by pole (IoU 0.260, 10.00% of the pixels).
    """
    pa, miou = metrics.get("pixel_accuracy"), metrics.get("miou")
    if not is_number(pa) or not is_number(miou):
        return None
    kept = [(n, m) for n, m in _classes_kept(metrics) if is_number(m.get("gt_share"))]
    gap = pa - miou
    if gap >= 0.02 and kept:
        big, cum = [], 0.0
        for name, m in sorted(kept, key=lambda kv: -kv[1]["gt_share"]):
            if cum >= 0.5 or len(big) == 3:
                break
            big.append(name)
            cum += m["gt_share"]
        worst = [w for w in worst_classes(metrics, 2) if w["name"] not in big] or worst_classes(metrics, 1)
        low = ", ".join(
            f"{w['name']} (IoU {w['iou']:.3f}, {100 * (w['gt_share'] or 0):.2f}% of the pixels)" for w in worst
        )
        return (
            f"Pixel accuracy ({pa:.3f}) is {gap:.3f} above mIoU ({miou:.3f}): it counts pixels, so the large "
            f"classes ({', '.join(big)}: {100 * cum:.1f}% of the labelled pixels) dominate it, while mIoU weighs "
            f"every class equally and is pulled down by {low}."
        )
    if gap <= -0.02:
        return (
            f"mIoU ({miou:.3f}) is above pixel accuracy ({pa:.3f}): the large classes, which dominate pixel "
            f"accuracy, are segmented worse than the small ones."
        )
    return (
        f"Pixel accuracy ({pa:.3f}) and mIoU ({miou:.3f}) agree within 0.02: errors are spread over classes of "
        f"all sizes rather than concentrated in small ones."
    )


# ---------------------------------------------------------------------- optional sections
def _bin_labels(bins) -> list[str]:
    if not isinstance(bins, (list, tuple)):
        return []
    if bins and all(is_number(b) for b in bins):
        edges = [float(b) for b in bins]

        def pct(x):
            return f"{100 * x:g}%"

        if edges and edges[0] > 0 and edges[-1] < 1:  # inner edges: n + 1 bins
            labels = [f"< {pct(edges[0])}"]
            labels += [f"{pct(a)}–{pct(b)}" for a, b in zip(edges[:-1], edges[1:])]
            labels.append(f"> {pct(edges[-1])}")
            return labels
        return [f"{pct(a)}–{pct(b)}" for a, b in zip(edges[:-1], edges[1:])]
    out = []
    for b in bins:
        if isinstance(b, dict):
            lab = b.get("label") or b.get("name") or b.get("range") or b.get("bin")
            if lab is None and ("lo" in b or "hi" in b):
                lab = f"{b.get('lo')}–{b.get('hi')}"
            out.append(str(lab))
        elif isinstance(b, (list, tuple)) and len(b) == 2:
            out.append(f"{b[0]}–{b[1]}")
        else:
            out.append(str(b))
    return out


def _series(entry) -> tuple[list, list, list] | None:
    """(labels, recall, counts) from one class's size-binned entry in any of the shapes read."""
    if isinstance(entry, list) and entry and all(isinstance(e, dict) for e in entry):
        if not any("recall" in e for e in entry):
            return None
        labels = _bin_labels(entry)
        rec = [e.get("recall") for e in entry]
        cnt = [e.get("segments", e.get("count", e.get("n"))) for e in entry]
        return labels, rec, cnt
    if isinstance(entry, dict):
        rec = entry.get("recall")
        if isinstance(rec, list):
            cnt = entry.get("segments", entry.get("count", entry.get("n")))
            return _bin_labels(entry.get("bins") or entry.get("labels") or []), rec, (cnt if isinstance(cnt, list) else [])
        for key in ("bins", "by_size", "size_bins"):
            if isinstance(entry.get(key), list):
                return _series(entry[key])
    return None


SEGMENT_KEYS = ("small_objects", "segment_recall", "segments", "recall_by_size", "size_bins", "segment_bins")


def segment_recall_table(metrics: dict, colors: dict | None = None) -> dict | None:
    """Recall by GT segment size, per class, normalised to ``{"bins": [labels], "classes":
    {name: {"recall": [...], "count": [...]}}}``; None when the analysis did not run.

    Read from a top-level ``small_objects`` / ``segment_recall`` / ``segments`` entry (with
    ``bins`` and ``per_class``) or from the same keys inside ``per_class[name]``.

    >>> m = {"per_class": {"pole": {"segments": [{"bin": "<0.1%", "recall": 0.2, "segments": 5},
    ...                                           {"bin": ">0.1%", "recall": 0.9, "segments": 2}]}}}
    >>> segment_recall_table(m)["classes"]["pole"]["recall"]
    [0.2, 0.9]
    """
    table: dict[str, Any] = {"bins": [], "classes": {}}
    for key in SEGMENT_KEYS:
        top = metrics.get(key)
        if not isinstance(top, dict):
            continue
        labels = _bin_labels(top.get("bin_labels") or top.get("labels") or top.get("bins") or [])
        per = top.get("per_class") or top.get("classes")
        if isinstance(per, dict):
            for name, entry in per.items():
                s = _series(entry)
                if s is None:
                    continue
                table["classes"][name] = {"recall": s[1], "count": s[2]}
                labels = labels or s[0]
            if table["classes"]:
                table["bins"] = labels
                break
    if not table["classes"]:
        for name, m in (metrics.get("per_class") or {}).items():
            if not table["classes"]:  # the pooled row of a top-level entry comes first
                for key in SEGMENT_KEYS:
                    top = metrics.get(key)
                    if isinstance(top, dict) and isinstance(top.get("by_size"), list):
                        s = _series(top["by_size"])
                        if s is not None:
                            table["classes"]["all classes"] = {"recall": s[1], "count": s[2]}
                            table["bins"] = s[0]
                            break
            if not isinstance(m, dict):
                continue
            for key in SEGMENT_KEYS:
                s = _series(m.get(key))
                if s is not None:
                    table["classes"][name] = {"recall": s[1], "count": s[2]}
                    table["bins"] = table["bins"] or s[0]
                    break
    if not table["classes"]:
        return None
    n = max(len(v["recall"]) for v in table["classes"].values())
    if len(table["bins"]) != n:
        table["bins"] = (table["bins"] + [f"bin {i + 1}" for i in range(n)])[:n]
    if colors:
        for name, v in table["classes"].items():
            if name in colors:
                v["color"] = colors[name]
    return table


_IMAGE_KEYS = ("image", "image_id", "id", "name")
_TYPE_KEYS = ("dominant", "dominant_error", "dominant_type", "error_type", "type", "kind", "category")
GROUP_ORDER = ("segment", "extent", "boundary", "confusion", "ambiguous")


def _image_of(item) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for k in _IMAGE_KEYS:
            if isinstance(item.get(k), str):
                return item[k]
    return None


def failure_groups(metrics: dict) -> dict[str, list[dict]] | None:
    """``failure_cases`` grouped by dominant error type: ``{type: [{"image": id, ...}]}`` in
    the order given; None when absent. Accepts a list of records (with an image and a type key)
    or a mapping type -> list.

    >>> failure_groups({"failure_cases": [{"image": "a", "dominant": "segment"},
    ...                                   {"image": "b", "dominant": "boundary"}]})
    {'segment': [{'image': 'a', 'dominant': 'segment'}], 'boundary': [{'image': 'b', 'dominant': 'boundary'}]}
    """
    fc = metrics.get("failure_cases")
    groups: dict[str, list[dict]] = {}
    if isinstance(fc, dict):
        for key, items in fc.items():
            if isinstance(items, list):
                for it in items:
                    img = _image_of(it)
                    if img is not None:
                        groups.setdefault(str(key), []).append(it if isinstance(it, dict) else {"image": img})
    elif isinstance(fc, list):
        for it in fc:
            img = _image_of(it)
            if img is None:
                continue
            kind = "other"
            if isinstance(it, dict):
                for k in _TYPE_KEYS:
                    if isinstance(it.get(k), str):
                        kind = it[k]
                        break
                rec = dict(it)
                rec.setdefault("image", img)
            else:
                rec = {"image": img}
            groups.setdefault(kind, []).append(rec)
    if not groups:
        return None
    order = [g for g in GROUP_ORDER if g in groups] + [g for g in groups if g not in GROUP_ORDER]
    return {g: groups[g] for g in order}


def recommendation_items(metrics: dict) -> list[dict] | None:
    """``recommendations`` as ``[{"text", "detail", "extra"}]``; None when absent."""
    recs = metrics.get("recommendations")
    if isinstance(recs, dict):
        recs = [dict(v, **{"class": k}) if isinstance(v, dict) else {"text": str(v), "class": k} for k, v in recs.items()]
    if not isinstance(recs, list) or not recs:
        return None
    out = []
    for r in recs:
        if isinstance(r, str):
            out.append({"text": r, "detail": None, "extra": {}})
        elif isinstance(r, dict):
            text = next((r[k] for k in ("text", "recommendation", "action", "message", "advice", "title", "summary")
                         if isinstance(r.get(k), str)), None)
            detail = next((r[k] for k in ("rule", "why", "reason", "evidence", "because", "detail")
                           if isinstance(r.get(k), str)), None)
            used = {"text", "recommendation", "action", "message", "advice", "title", "summary", "rule", "why",
                    "reason", "evidence", "because", "detail", "rank"}
            extra = {k: v for k, v in r.items() if k not in used and not isinstance(v, (dict, list))}
            out.append({"text": text or json.dumps(r, default=str), "detail": detail, "extra": extra})
        else:
            out.append({"text": str(r), "detail": None, "extra": {}})
    return out


def convention_rows(res: Results) -> list[dict] | None:
    """The table of ``segscope explain`` (:func:`segscope.conventions.explain_rows`) with the
    numbers formatted; None when the run has no ``conventions`` block."""
    if not isinstance(res.metrics.get("conventions"), dict):
        return None
    from ..conventions import explain_rows

    out = []
    for row in explain_rows(res):
        same = row["delta"] is not None and abs(row["delta"]) < 1e-12
        out.append({
            "convention": row["convention"],
            "miou": "—" if row["miou"] is None else f"{row['miou']:.4f}",
            "delta": "—" if row["delta"] is None else f"{row['delta']:+.4f}",
            "why": row["why"] or (["same as segscope"] if same else []),
        })
    return out


def confusion_pair_rows(metrics: dict, top: int = 12) -> list[dict]:
    """The most frequent GT→prediction confusions from the confusion matrix: pixels, share of the
    GT class's pixels and of its errors.

    >>> confusion_pair_rows({"classes": ["a", "b"], "confusion_matrix": [[8, 2], [0, 5]]})
    [{'gt': 'a', 'predicted': 'b', 'pixels': 2, 'share_of_gt': 0.2, 'share_of_errors': 1.0}]
    """
    cm = matrix_from_json(metrics)
    names = metrics.get("classes") or []
    if cm is None or cm.shape[0] != len(names):
        return []
    rows, cols = cm.coords()
    pixels = cm.values
    totals = np.zeros(len(names), np.int64)
    np.add.at(totals, rows, pixels)
    wrong = totals.copy()
    np.subtract.at(wrong, rows[rows == cols], pixels[rows == cols])
    cells = []
    for i, j, v in zip(rows.tolist(), cols.tolist(), pixels.tolist()):
        if i != j and v > 0:
            total, errors = int(totals[i]), int(wrong[i])
            cells.append({"gt": names[i], "predicted": names[j], "pixels": v,
                          "share_of_gt": v / total if total else None,
                          "share_of_errors": v / errors if errors else None})
    cells.sort(key=lambda c: -c["pixels"])
    return cells[:top]


def pair_rows(records, max_rows: int = 15) -> list[dict] | None:
    """Confusion pairs of the failure analysis (records with ``gt`` and ``pred``) as display rows:
    pixels, shares of the two classes' errors, the mIoU gain if resolved, the error types of the
    missed GT pixels and the images where the pair costs most; None for any other shape."""
    if not isinstance(records, list) or not records or not all(
            isinstance(r, dict) and "gt" in r and ("pred" in r or "predicted" in r) for r in records):
        return None
    out = []
    for r in records[:max_rows]:
        types = r.get("fn_types") if isinstance(r.get("fn_types"), dict) else {}
        total = sum(v for v in types.values() if is_number(v))
        type_text = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(types.items(), key=lambda kv: -kv[1])
                              if is_number(v) and v > 0) if total else ""
        imgs = r.get("images") if isinstance(r.get("images"), list) else []
        out.append({
            "gt": r.get("gt"), "pred": r.get("pred", r.get("predicted")), "pixels": r.get("pixels"),
            "share_gt": r.get("share_of_gt_errors"), "share_pred": r.get("share_of_pred_errors"),
            "gain": r.get("miou_gain"), "types": type_text,
            "images": ", ".join(str(_image_of(i)) for i in imgs[:3] if _image_of(i)),
        })
    return out


def _cell(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (dict, list)):
        text = json.dumps(v, default=str)
        return text if len(text) <= 80 else text[:77] + "…"
    return v


def records_table(records, max_rows: int = 25) -> dict | None:
    """A list of flat-ish dicts as ``{"columns": [...], "rows": [[...]], "more": n}`` (nested
    values shortened to JSON text); None when ``records`` is not such a list."""
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        return None
    cols: list[str] = []
    for r in records[:max_rows]:
        for k in r:
            if k not in cols:
                cols.append(k)
    rows = [[_cell(r.get(c)) for c in cols] for r in records[:max_rows]]
    return {"columns": cols, "rows": rows, "more": max(0, len(records) - max_rows)}
