"""Summary plots of a run: class imbalance, confusion, error breakdown, segment recall, trimap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._numbers import is_number
from ..metrics.confusion import DENSE_MATRIX_CLASSES, ClassSubset, matrix_from_json
from .masks import ERROR_COLORS, TYPE_NAMES
from .panels import fmt_number, save_rgb

__all__ = [
    "figure_rgb",
    "save_figure",
    "plot_class_imbalance",
    "plot_confusion",
    "error_shares",
    "plot_error_breakdown",
    "plot_segment_recall",
    "plot_trimap",
]


def _plain(names) -> list[str]:
    r"""Class names as matplotlib text: ``$`` escaped, so a name is never read as mathtext.

    >>> print(*_plain(["$\\frac{$", "road"]))
    \$\frac{\$ road
    """
    return [str(n).replace("$", r"\$") for n in names]


def _figure(width_in: float, height_in: float, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_rgb(fig) -> np.ndarray:
    """Draw a matplotlib figure and return its pixels (H×W×3 uint8)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically (drawn once, encoded by Pillow) and release it."""
    fig.set_facecolor("white")
    rgb = figure_rgb(fig)
    fig.clf()
    return save_rgb(path, rgb)


# ---------------------------------------------------------------------- plots of metrics.json
def _class_colors(metrics: dict, class_colors: dict | None) -> dict:
    if class_colors:
        return class_colors
    from ..classes import generate_palette

    names = list(metrics.get("classes") or metrics.get("per_class", {}).keys())
    return dict(zip(names, generate_palette(len(names) + 1)[1:]))


def plot_class_imbalance(metrics: dict, class_colors: dict | None = None, max_classes: int = 60):
    """Per-class IoU bars beside the GT pixel share on a log scale, largest classes at the top:
    the class-imbalance picture. Returns a figure, or None when there is nothing to draw."""
    pc = metrics.get("per_class") or {}
    rows = [(n, m.get("iou"), m.get("gt_share")) for n, m in pc.items() if isinstance(m, dict)]
    rows = [r for r in rows if is_number(r[2]) or is_number(r[1])]
    if not rows:
        return None
    note = ""
    if len(rows) > max_classes:
        rows = sorted(rows, key=lambda r: r[1] if is_number(r[1]) else 2.0)[:max_classes]
        note = f" ({max_classes} lowest-IoU of {len(pc)} classes)"
    rows.sort(key=lambda r: -(r[2] if is_number(r[2]) else 0.0))
    colors = _class_colors(metrics, class_colors)
    n = len(rows)
    height = 1.2 + 0.26 * n
    fig = _figure(9.0, height)
    rect = (0.75 / height, 1 - 1.2 / height)
    ax1 = fig.add_axes([0.2, rect[0], 0.37, rect[1]])
    ax2 = fig.add_axes([0.61, rect[0], 0.37, rect[1]], sharey=ax1)
    y = np.arange(n)
    ious = [r[1] if is_number(r[1]) else 0.0 for r in rows]
    shares = [r[2] if is_number(r[2]) and r[2] > 0 else np.nan for r in rows]
    cols = [np.array(colors.get(r[0], (120, 120, 120))) / 255.0 for r in rows]
    ax1.barh(y, ious, color=cols, edgecolor="0.25", linewidth=0.5)
    for yi, r in zip(y, rows):
        ax1.text(ious[yi] + 0.015, yi, fmt_number(r[1]) if is_number(r[1]) else "absent", va="center", fontsize=7.5)
    ax1.set_xlim(0, 1.14)
    ax1.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax1.set_yticks(y)
    ax1.set_yticklabels(_plain(r[0] for r in rows), fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel("IoU")
    ax1.set_title("IoU per class" + note, fontsize=9.5)
    ax1.axvline(metrics.get("miou") or 0, color="0.3", ls="--", lw=0.8)
    pos = [s for s in shares if np.isfinite(s)]
    ax2.barh(y, [s if np.isfinite(s) else 0 for s in shares], color="0.55", edgecolor="0.25", linewidth=0.5)
    ax2.set_xscale("log")
    if pos:
        ax2.set_xlim(min(pos) / 2, 1.0)
    ax2.set_xlabel("share of labelled pixels (log)")
    ax2.set_title("GT pixel share", fontsize=9.5)
    for yi, s in zip(y, shares):
        if np.isfinite(s):
            ax2.text(s * 1.08, yi, f"{100 * s:.2g}%", va="center", fontsize=7.5)
    for lab in ax2.get_yticklabels():
        lab.set_visible(False)
    return fig


def _confusion_selection(cm: np.ndarray, top_k: int) -> np.ndarray:
    k = cm.shape[0]
    if k <= top_k:
        return np.arange(k)
    off = cm.sum(0) + cm.sum(1) - 2 * np.diag(cm)
    return np.sort(np.argsort(-off, kind="stable")[:top_k])


def plot_confusion(metrics: dict, top_k: int = 20):
    """Row-normalised confusion matrix (rows = GT, each row sums to 1). With more than ``top_k``
    classes only the ``top_k`` with the most confused pixels are shown, plus an "other" column
    for predictions of the rest. Returns None without a confusion matrix."""
    matrix = matrix_from_json(metrics)
    names = list(metrics.get("classes") or [])
    if matrix is None or not names or matrix.shape[0] != len(names):
        return None
    if len(names) > DENSE_MATRIX_CLASSES:  # the classes present, not a K × K array of zeros
        present = np.unique(np.concatenate(matrix.coords()))
        sub = ClassSubset(present, len(names))
        cm = sub.gather(matrix, (0, 1)).astype(np.float64)
        names = [names[c] for c in present.tolist()]
    else:
        cm = np.asarray(matrix, dtype=np.float64)
    sel = _confusion_selection(cm, top_k)
    rows = cm[sel]
    shown = rows[:, sel]
    other = rows.sum(1) - shown.sum(1)
    cols = [names[i] for i in sel]
    if len(sel) < len(names):
        shown = np.concatenate([shown, other[:, None]], axis=1)
        cols.append("other")
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = shown / np.where(rows.sum(1, keepdims=True) > 0, rows.sum(1, keepdims=True), np.nan)
    n_r, n_c = norm.shape
    size = 1.6 + 0.38 * max(n_r, n_c)
    fig = _figure(size + 1.2, size)
    ax = fig.add_axes([0.22, 0.2, 0.66, 0.72])
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(n_c))
    ax.set_xticklabels(_plain(cols), rotation=55, ha="right", fontsize=8)
    ax.set_yticks(range(n_r))
    ax.set_yticklabels(_plain(names[i] for i in sel), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    title = "confusion (row-normalised)"
    if len(sel) < len(names):
        title += f": {len(sel)} most-confused of {len(names)} classes"
    ax.set_title(title, fontsize=9.5)
    if n_c <= 16:
        for i in range(n_r):
            for j in range(n_c):
                v = norm[i, j]
                if np.isfinite(v) and v >= 0.005:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                            color="white" if v > 0.55 else "0.15")
    cax = fig.add_axes([0.9, 0.2, 0.025, 0.72])
    fig.colorbar(im, cax=cax)
    return fig


def error_shares(entry: dict) -> dict | None:
    """``{iou, boundary, extent, segment}`` shares of a class's union (they sum to 1), from
    ``e_*_ou`` keys or from the ``errors`` counts; None when neither exists."""
    keys = ("e_boundary_ou", "e_extent_ou", "e_segment_ou")
    if all(is_number(entry.get(k)) for k in keys):
        iou = entry.get("iou")
        return {"iou": iou if is_number(iou) else 0.0, "boundary": entry["e_boundary_ou"],
                "extent": entry["e_extent_ou"], "segment": entry["e_segment_ou"]}
    e = entry.get("errors")
    if isinstance(e, dict) and all(is_number(e.get(k)) for k in
                                   ("tp", "fp_boundary", "fn_boundary", "fp_extent", "fn_extent",
                                    "fp_segment", "fn_segment")):
        union = sum(e[k] for k in ("tp", "fp_boundary", "fn_boundary", "fp_extent", "fn_extent",
                                   "fp_segment", "fn_segment"))
        if union <= 0:
            return None
        return {"iou": e["tp"] / union, "boundary": (e["fp_boundary"] + e["fn_boundary"]) / union,
                "extent": (e["fp_extent"] + e["fn_extent"]) / union,
                "segment": (e["fp_segment"] + e["fn_segment"]) / union}
    return None


def plot_error_breakdown(metrics: dict):
    """Stacked bars per class: IoU + boundary + extent + segment error shares of the union (= 1).
    Returns None when the failure analysis did not run."""
    pc = metrics.get("per_class") or {}
    rows = [(n, error_shares(m)) for n, m in pc.items() if isinstance(m, dict)]
    rows = [(n, s) for n, s in rows if s is not None]
    if not rows:
        return None
    rows.sort(key=lambda r: r[1]["iou"])
    rows = rows[:60]
    n = len(rows)
    fig = _figure(8.5, 1.2 + 0.26 * n)
    ax = fig.add_axes([0.2, 0.95 / (1.2 + 0.26 * n), 0.56, 1 - 1.25 / (1.2 + 0.26 * n)])
    y = np.arange(n)
    left = np.zeros(n)
    parts = [("iou", (90, 170, 90), "IoU")] + [(t, ERROR_COLORS[t], f"{t} error") for t in TYPE_NAMES]
    for key, col, label in parts:
        vals = np.array([r[1][key] for r in rows], dtype=np.float64)
        ax.barh(y, vals, left=left, color=np.array(col) / 255.0, edgecolor="white", linewidth=0.4, label=label)
        left += vals
    ax.set_yticks(y)
    ax.set_yticklabels(_plain(r[0] for r in rows), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the class's union (prediction ∪ GT)")
    ax.set_title("where each class's IoU went", fontsize=9.5)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return fig


def plot_segment_recall(table: dict):
    """Recall against segment size bin, one line per class, from the normalised table of
    :func:`segscope.report.data.segment_recall_table` (``{"bins": [...], "classes": {name:
    {"recall": [...]}}}``). Returns None when empty."""
    if not table or not table.get("classes"):
        return None
    bins = [str(b) for b in table.get("bins", [])]
    fig = _figure(7.5, 3.6)
    ax = fig.add_axes([0.1, 0.17, 0.62, 0.72])
    x = np.arange(len(bins))
    for name, entry in list(table["classes"].items())[:20]:
        rec = [v if is_number(v) else np.nan for v in entry.get("recall", [])][: len(bins)]
        if not any(np.isfinite(rec)):
            continue
        col = entry.get("color")
        ax.plot(x[: len(rec)], rec, marker="o", lw=1.4, label=_plain([name])[0],
                color=np.array(col) / 255.0 if col is not None else None)
    ax.set_xticks(x)
    ax.set_xticklabels(bins, fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("GT segment size (share of the image)")
    ax.set_ylabel("recall")
    ax.set_title("recall vs segment size", fontsize=9.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7.5, frameon=False)
    return fig


def plot_trimap(metrics: dict):
    """mIoU and pixel accuracy within ``w`` px of a GT label change (the trimap), with the
    whole-image values as dashed lines. Returns None without ``trimap``, or when no width holds a
    pixel."""
    tri = metrics.get("trimap")
    if not isinstance(tri, dict) or not tri:
        return None
    pts = []
    for w, v in tri.items():
        try:
            wi = float(w)
        except (TypeError, ValueError):
            continue
        if isinstance(v, dict) and wi > 0 and (is_number(v.get("miou")) or is_number(v.get("pixel_accuracy"))):
            pts.append((wi, v.get("miou"), v.get("pixel_accuracy")))
    pts.sort()
    if not pts:  # no pixel lies within any width of a GT boundary
        return None
    fig = _figure(6.5, 3.4)
    ax = fig.add_axes([0.11, 0.16, 0.6, 0.74])
    xs = [p[0] for p in pts]
    ax.plot(xs, [p[1] if is_number(p[1]) else np.nan for p in pts], marker="o", label="mIoU in the trimap", color="#1f6fb4")
    ax.plot(xs, [p[2] if is_number(p[2]) else np.nan for p in pts], marker="s", label="pixel acc. in the trimap", color="#d07a00")
    if is_number(metrics.get("miou")):
        ax.axhline(metrics["miou"], color="#1f6fb4", ls="--", lw=0.9, label="mIoU (all pixels)")
    if is_number(metrics.get("pixel_accuracy")):
        ax.axhline(metrics["pixel_accuracy"], color="#d07a00", ls="--", lw=0.9, label="pixel acc. (all pixels)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:g}" for x in xs])
    ax.set_xlabel("distance to a GT boundary (px)")
    ax.set_ylim(0, 1.02)
    ax.set_title("accuracy near boundaries", fontsize=9.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7.5, frameon=False)
    return fig
