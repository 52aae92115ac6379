"""Reading a finished results folder: its metrics, its per-image rows and the class spec of the run."""

from __future__ import annotations

import csv
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..classes import PRESETS, ClassSpec, generate_palette, load_spec, preset
from ..exceptions import SegscopeError
from .files import is_url, url_fs
from .results import complete_remote, read_manifest

__all__ = ["Results", "read_rows", "load_results", "run_spec", "metrics_html"]


@dataclass
class Results:
    """One results folder, as written by ``segscope evaluate``."""

    dir: Path
    metrics: dict
    rows: list[dict]
    names: list[str]
    colors: dict[str, tuple[int, int, int]]
    spec: ClassSpec | None
    spec_note: str | None = None

    @property
    def config(self) -> dict:
        cfg = self.metrics.get("config")
        return cfg if isinstance(cfg, dict) else {}

    def row_by_id(self) -> dict[str, dict]:
        return {str(r.get("image")): r for r in self.rows}

    def _repr_html_(self) -> str:
        return metrics_html(self.metrics, self.colors, title=str(self.dir))


#: the cards of :func:`metrics_html`: top-level keys of metrics.json and their short labels
HTML_CARDS = (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy"), ("mean_accuracy", "mean accuracy"),
              ("mdice", "mean Dice"), ("miou_image", "image mIoU"), ("mboundary_iou", "mean Boundary IoU"),
              ("mbf_score", "mean BF score"))
#: the columns of its per-class table
HTML_COLUMNS = (("iou", "IoU"), ("dice", "Dice"), ("precision", "precision"), ("recall", "recall"),
                ("boundary_iou", "Boundary IoU"), ("gt_share", "GT share"))


def _html_number(v, pct: bool = False) -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        return "–"
    return f"{100 * v:.2f} %" if pct else f"{v:.4f}"


def metrics_html(metrics: dict, colors: dict | None = None, title: str | None = None) -> str:
    """A ``metrics.json`` dict as a small HTML fragment for notebooks: the summary cards and
    the per-class table (classes by IoU, lowest first, with their colours).

    >>> "<table" in metrics_html({"miou": 0.5, "num_images": 1, "per_class": {"a": {"iou": 0.5}}})
    True
    """
    colors = colors or {}
    esc = html.escape
    cards = [(label, _html_number(metrics.get(key))) for key, label in HTML_CARDS if key in metrics]
    cards.insert(0, ("images", str(metrics.get("num_images", "–"))))
    per_class = metrics.get("per_class") if isinstance(metrics.get("per_class"), dict) else {}
    columns = [(k, label) for k, label in HTML_COLUMNS if any(k in e for e in per_class.values())]

    def order(item):
        v = item[1].get("iou")
        return (not isinstance(v, (int, float)) or v is None, v if isinstance(v, (int, float)) else 0.0)

    out = ['<div class="segscope-results" style="font-family:sans-serif">']
    if title:
        out.append(f"<div style=\"font-weight:bold;margin-bottom:4px\">{esc(title)}</div>")
    out.append('<div style="display:flex;flex-wrap:wrap;gap:6px;margin-bottom:8px">')
    for label, value in cards:
        out.append('<div style="border:1px solid #ccc;border-radius:4px;padding:4px 8px">'
                   f'<div style="font-size:11px;color:#666">{esc(label)}</div>'
                   f'<div style="font-size:16px;font-weight:bold">{esc(value)}</div></div>')
    out.append("</div>")
    out.append('<table style="border-collapse:collapse;font-size:12px"><thead><tr><th style="text-align:left">class</th>')
    out.extend(f'<th style="text-align:right;padding:0 6px">{esc(label)}</th>' for _, label in columns)
    out.append("</tr></thead><tbody>")
    for name, entry in sorted(per_class.items(), key=order):
        rgb = colors.get(name)
        swatch = ("" if rgb is None else
                  f'<span style="display:inline-block;width:10px;height:10px;margin-right:4px;'
                  f'background:rgb({int(rgb[0])},{int(rgb[1])},{int(rgb[2])})"></span>')
        out.append(f"<tr><td>{swatch}{esc(str(name))}</td>")
        out.extend(f'<td style="text-align:right;padding:0 6px">{_html_number(entry.get(k), k == "gt_share")}</td>'
                   for k, _ in columns)
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _parse_cell(v: str):
    if v is None or v == "":
        return None
    try:
        if re.fullmatch(r"[-+]?\d+", v):
            return int(v)
        f = float(v)
        return f if math.isfinite(f) else None
    except ValueError:
        return v


def read_rows(path: Path) -> list[dict]:
    """``per_image.csv`` as a list of dicts with numbers parsed (empty cells -> None).

    A table with no ``image`` column, or a line whose number of cells differs from the header's
    (a file cut short or edited by hand), is a :class:`SegscopeError` naming the line.
    """
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            if "image" not in header:
                raise SegscopeError("damaged per-image table: its header has no 'image' column", path)
            rows = []
            for row in reader:
                extra = row.pop(None, None) or ()
                missing = sum(v is None for v in row.values())
                if extra or missing:
                    cells = len(header) + len(extra) - missing
                    raise SegscopeError(f"damaged per-image table: line {reader.line_num} has {cells} cells, "
                                        f"the header {len(header)}", path)
                rows.append({k: (v if k == "image" else _parse_cell(v)) for k, v in row.items()})
            return rows
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise SegscopeError(f"cannot read per-image table: {exc}", path) from None


def load_results(results_dir: str | Path) -> Results:
    """Read ``metrics.json`` (required), ``per_image.csv`` and ``class_spec.json`` of a run.

    A folder with a manifest must hold every file it lists. ``results_dir`` may be an fsspec
    URL: the run there must be complete (its manifest written last); its files are fetched into a
    temporary folder, which :attr:`Results.dir` then names.
    """
    if is_url(results_dir):
        results_dir = _fetched(str(results_dir).rstrip("/"))
    d = Path(results_dir)
    if not d.is_dir():
        raise SegscopeError("results folder does not exist", d)
    listed = read_manifest(d)
    missing = [f for f in listed or () if not (d / f).is_file()]
    if missing:
        raise SegscopeError(f"incomplete results folder: {len(missing)} file(s) of its manifest are missing "
                            f"({', '.join(missing[:3])})", d)
    mpath = d / "metrics.json"
    if not mpath.exists():
        raise SegscopeError("no metrics.json here (run `segscope evaluate ... --out DIR` first)", d)
    try:
        metrics = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SegscopeError(f"not valid JSON: {exc}", mpath) from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("per_class"), dict):
        raise SegscopeError("metrics.json has no per_class table", mpath)
    names = [str(n) for n in (metrics.get("classes") or list(metrics["per_class"]))]
    metrics.setdefault("classes", names)
    rows = read_rows(d / "per_image.csv")
    counted = metrics.get("num_images")
    if rows and isinstance(counted, int) and not isinstance(counted, bool) and len(rows) != counted:
        raise SegscopeError(f"per_image.csv has {len(rows):,} rows, metrics.json counts {counted:,} images "
                            "(cut short, or from another run)", d / "per_image.csv")
    spec, note = None, None
    try:
        spec = run_spec(d, metrics)
    except SegscopeError as exc:
        note = str(exc)
    if spec is not None and list(spec.names) == names:
        colors = {n: tuple(int(v) for v in c) for n, c in zip(spec.names, spec.colors)}
    else:
        if spec is not None:
            note = "the class spec does not match metrics.json"
            spec = None
        colors = dict(zip(names, generate_palette(len(names) + 1)[1:]))
    return Results(d, metrics, rows, names, colors, spec, note)


def _fetched(url: str) -> Path:
    """The complete run at ``url`` copied into a temporary folder (removed at exit)."""
    import atexit
    import shutil
    import tempfile

    files = complete_remote(url)
    if files is None:
        raise SegscopeError("no complete segscope run here (no manifest, or it lists files that are missing)", url)
    local = Path(tempfile.mkdtemp(prefix="segscope-results-"))
    atexit.register(shutil.rmtree, local, True)
    fs, root = url_fs(url)
    for name in files + ["manifest.json"]:
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(f"{root.rstrip('/')}/{name}", str(local / name))
    return local


def run_spec(results_dir: Path, metrics: dict) -> ClassSpec:
    """The class spec a run was evaluated with (presets are rebuilt with their id maps, so
    masks re-read for pictures map exactly as they did in ``evaluate``)."""
    cfg = metrics.get("config") if isinstance(metrics.get("config"), dict) else {}
    name = str(cfg.get("class_spec") or "")
    ignore = cfg.get("ignore_index", "keep")
    spec = None
    low = name.lower()
    if low.startswith("cityscapes"):
        gt_ids = re.search(r"gt_ids=(\w+)", low)
        pred_ids = re.search(r"pred_ids=(\w+)", low)
        spec = preset(
            "cityscapes",
            pred_ids=(pred_ids.group(1) if pred_ids else cfg.get("pred_ids") or "train"),
            gt_ids=(gt_ids.group(1) if gt_ids else cfg.get("gt_ids") or "label"),
        )
    elif low in PRESETS or low == "ade":
        spec = preset(low)
    if spec is None:
        path = Path(results_dir) / "class_spec.json"
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SegscopeError(f"not valid JSON: {exc}", path) from None
            spec = ClassSpec.from_dict(data, name=str(data.get("name") or path) if isinstance(data, dict) else str(path))
            if isinstance(data, dict) and "classes" in data and "ignore_index" in data:
                ignore = data["ignore_index"]
        elif name and Path(name).exists():
            spec = load_spec(name)
        else:
            names = metrics.get("classes") or list(metrics.get("per_class", {}))
            ids = cfg.get("class_ids") or list(range(len(names)))
            spec = ClassSpec(tuple(names), tuple(ids), tuple(generate_palette(len(names))),
                             None, name=name or "from metrics.json", colors_given=False)
    if ignore != "keep" and (ignore is None or isinstance(ignore, int)) and ignore != spec.ignore_index:
        spec = spec.with_ignore(ignore)
    return spec
