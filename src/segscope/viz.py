"""Pictures: colourised masks, overlays, error maps, per-image panels and summary plots.

Everything here works on *class-index* masks (``0 .. K-1``, see :mod:`segscope.classes`) and
returns NumPy RGB arrays or matplotlib figures; figures are drawn on the Agg canvas (no display,
no global pyplot state), so the functions are safe in worker processes.

Colour conventions
------------------
- classes take the spec's colours; **ignored** pixels are light grey/white diagonal stripes;
  ids the spec does not know are black/magenta stripes;
- in an **error map**, correct pixels are a muted grey copy of the image (or of the GT) and error
  pixels are coloured by type: boundary (amber), extent (blue), segment (crimson). A wrong pixel is
  at once a false positive of its predicted class and a false negative of its GT class; the
  all-class map shows the more severe of its two types (segment > extent > boundary). The
  per-class map (``class_index=c``) separates the two sides: false positives of ``c`` in warm
  shades, false negatives in cool shades. The error band (pixels within the band width of a GT
  label change) is outlined in white.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "IGNORE_COLORS",
    "ERROR_COLORS",
    "SIDE_COLORS",
    "colorize",
    "overlay",
    "label_edges",
    "error_types",
    "error_map",
    "band_outline",
    "worst_window",
    "boundary_comparison",
    "image_class_iou",
    "PanelData",
    "panel_data",
    "panel_image",
    "save_panel",
    "save_rgb",
    "compare_image",
    "plot_class_imbalance",
    "plot_confusion",
    "plot_error_breakdown",
    "plot_segment_recall",
    "plot_trimap",
    "save_figure",
    "figure_rgb",
    "error_shares",
]

Color = tuple[int, int, int]

IGNORE_COLORS: tuple[Color, Color] = ((255, 255, 255), (205, 205, 205))
UNKNOWN_COLORS: tuple[Color, Color] = ((0, 0, 0), (255, 0, 255))
#: all-class error map: colour of each error type (index 1..3 = boundary, extent, segment)
ERROR_COLORS: dict[str, Color] = {
    "boundary": (255, 190, 0),
    "extent": (30, 144, 255),
    "segment": (230, 20, 70),
    "error": (230, 20, 70),  # when no type is known
}
#: per-class error map: (side, type) -> colour; false positives warm, false negatives cool
SIDE_COLORS: dict[tuple[str, str], Color] = {
    ("fp", "boundary"): (255, 215, 70),
    ("fp", "extent"): (255, 130, 0),
    ("fp", "segment"): (215, 25, 25),
    ("fn", "boundary"): (120, 225, 255),
    ("fn", "extent"): (40, 110, 255),
    ("fn", "segment"): (140, 50, 210),
    ("fp", "error"): (255, 130, 0),
    ("fn", "error"): (40, 110, 255),
}
TYPE_NAMES = ("boundary", "extent", "segment")
GT_CONTOUR: Color = (0, 255, 90)
PRED_CONTOUR: Color = (255, 40, 255)
BOTH_CONTOUR: Color = (255, 255, 255)


# ---------------------------------------------------------------------- masks
def _stripes(shape: tuple[int, int], period: int = 4) -> np.ndarray:
    yy, xx = np.indices(shape, sparse=True)
    return ((yy + xx) // max(1, period // 2)) % 2 == 0


def colorize(mask, colors: Sequence[Color], ignore_index: int | None = None) -> np.ndarray:
    """An H×W×3 uint8 picture of a class-index mask.

    Class ``k`` takes ``colors[k]``; pixels equal to ``ignore_index`` are white/grey stripes; any
    other value (an id the spec does not know) is black/magenta stripes.

    Examples
    --------
    >>> rgb = colorize(np.array([[0, 1, 255]]), [(10, 20, 30), (200, 0, 0)], ignore_index=255)
    >>> rgb[0, 0].tolist(), rgb[0, 1].tolist(), rgb[0, 2].tolist()
    ([10, 20, 30], [200, 0, 0], [205, 205, 205])
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {m.shape}")
    k = len(colors)
    lut = np.zeros((k + 2, 3), np.uint8)
    lut[:k] = np.asarray(colors, dtype=np.uint8).reshape(k, 3)
    idx = m.astype(np.int64, copy=False)
    known = (idx >= 0) & (idx < k)
    is_ignore = (idx == ignore_index) if ignore_index is not None else np.zeros(m.shape, bool)
    code = np.where(known, idx, k + 1)
    code = np.where(is_ignore & ~known, k, code)
    out = lut[code]
    stripes = _stripes(m.shape)
    special = ~known
    if special.any():
        ign = special & is_ignore
        unk = special & ~is_ignore
        out[ign & stripes] = IGNORE_COLORS[0]
        out[ign & ~stripes] = IGNORE_COLORS[1]
        out[unk & stripes] = UNKNOWN_COLORS[0]
        out[unk & ~stripes] = UNKNOWN_COLORS[1]
    return out


def _as_rgb(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"an image must be H×W, H×W×3 or H×W×4, got shape {img.shape}")
    img = img[..., :3]
    if img.dtype != np.uint8:
        f = img.astype(np.float64)
        if f.size and f.max() <= 1.0:
            f = f * 255.0
        img = np.clip(np.round(f), 0, 255).astype(np.uint8)
    return img


def overlay(image, mask, colors: Sequence[Color], alpha: float = 0.5, ignore_index: int | None = None) -> np.ndarray:
    """The image with the colourised mask blended on top (``alpha`` = weight of the mask).

    Ignored pixels keep the image, striped lightly so they stay recognisable.

    Examples
    --------
    >>> img = np.full((1, 2, 3), 100, np.uint8)
    >>> overlay(img, np.array([[0, 1]]), [(0, 0, 0), (200, 200, 200)], alpha=0.5)[0].tolist()
    [[50, 50, 50], [150, 150, 150]]
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = _as_rgb(image)
    m = np.asarray(mask)
    if img.shape[:2] != m.shape:
        raise ValueError(f"image size {img.shape[:2]} differs from mask size {m.shape}")
    col = colorize(m, colors, ignore_index).astype(np.float64)
    out = (1.0 - alpha) * img.astype(np.float64) + alpha * col
    if ignore_index is not None:
        ign = m == ignore_index
        if ign.any():
            light = 0.75 * img.astype(np.float64) + 0.25 * 255.0
            stripes = _stripes(m.shape)
            out[ign] = np.where(stripes[ign][:, None], light[ign], img[ign].astype(np.float64))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def label_edges(labels) -> np.ndarray:
    """True where a pixel has a 4-neighbour with another label (both sides of every label change;
    the image border is not an edge).

    >>> label_edges(np.array([[0, 0, 1, 1]])).astype(int).tolist()
    [[0, 1, 1, 0]]
    """
    lab = np.asarray(labels)
    e = np.zeros(lab.shape, bool)
    if lab.ndim != 2 or lab.size == 0:
        return e
    dv = lab[1:] != lab[:-1]
    dh = lab[:, 1:] != lab[:, :-1]
    e[1:] |= dv
    e[:-1] |= dv
    e[:, 1:] |= dh
    e[:, :-1] |= dh
    return e


# ---------------------------------------------------------------------- error maps
def _valid(gt: np.ndarray, num_classes: int) -> np.ndarray:
    return (gt >= 0) & (gt < num_classes)


def error_types(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-pixel error types ``(fp_type, fn_type, typed)``: two uint8 maps with 0 none,
    1 boundary, 2 extent, 3 segment.

    Uses :func:`segscope.errors.error_type_maps` when available; otherwise (``typed`` False) every
    wrong valid pixel is marked 2 on both sides, without a type. Predicted ids outside the spec
    count as misses.
    """
    p = np.asarray(pred)
    g = np.asarray(gt)
    try:
        from .errors import error_type_maps
    except ImportError:  # the failure-analysis module is optional
        error_type_maps = None
    if error_type_maps is not None:
        try:
            fp, fn = error_type_maps(
                p, g, num_classes, ignore_index=ignore_index, band_px=band_px, band_ratio=band_ratio,
                allow_unknown_pred=True,
            )
            return np.asarray(fp, np.uint8), np.asarray(fn, np.uint8), True
        except TypeError:  # an older signature without allow_unknown_pred
            try:
                fp, fn = error_type_maps(p, g, num_classes, ignore_index=ignore_index, band_px=band_px,
                                         band_ratio=band_ratio)
                return np.asarray(fp, np.uint8), np.asarray(fn, np.uint8), True
            except Exception:
                pass
        except Exception:
            pass
    valid = _valid(g.astype(np.int64), num_classes)
    if ignore_index is not None:
        valid &= g != ignore_index
    wrong = (valid & (p != g)).astype(np.uint8) * 2
    return wrong, wrong.copy(), False


def _band_width(shape, band_px: int | None, band_ratio: float) -> int:
    if band_px is not None:
        return int(band_px)
    h, w = int(shape[0]), int(shape[1])
    return int(round(band_ratio * math.sqrt(float(h * h + w * w))))


def band_outline(gt, width: int, valid: np.ndarray | None = None) -> np.ndarray:
    """The outline of the error band: pixels within ``width`` (Euclidean) of a GT label change,
    reduced to the band's own edge pixels.

    >>> gt = np.zeros((1, 9), int); gt[0, 5:] = 1
    >>> band_outline(gt, 1).astype(int).tolist()
    [[0, 0, 0, 1, 0, 0, 1, 0, 0]]
    """
    g = np.asarray(gt)
    edges = label_edges(g)
    if valid is not None:
        edges &= valid
    if width <= 0:
        return np.zeros(g.shape, bool)
    if not edges.any():
        return edges
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(~edges)
    band = dist <= width
    return band & label_edges(band)


def _muted(base_rgb: np.ndarray) -> np.ndarray:
    grey = base_rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    grey = 35.0 + 0.45 * grey
    return np.repeat(grey[..., None], 3, axis=2)


def error_map(
    pred, gt, num_classes: int, ignore_index: int | None = None, image=None,
    colors: Sequence[Color] | None = None, class_index: int | None = None,
    band_px: int | None = None, band_ratio: float = 0.01, types: tuple | None = None,
    outline: bool = True,
) -> np.ndarray:
    """An H×W×3 error map: correct pixels muted, errors coloured by type.

    Parameters
    ----------
    pred, gt : class-index masks (H×W).
    num_classes : K.
    ignore_index : the ignore value of ``gt`` in class-index space (striped in the map).
    image : the original image (muted under correct pixels); without it the muted GT colours.
    colors : class colours, used for the muted background when there is no image.
    class_index : draw one class's view (its false positives warm, false negatives cool);
        ``None`` draws every class (each wrong pixel takes the more severe of its two types).
    band_px, band_ratio : the error band (as in :func:`segscope.errors.error_counts`).
    types : precomputed ``(fp_type, fn_type, typed)`` from :func:`error_types`.
    outline : outline the error band.

    Examples
    --------
    >>> gt = np.zeros((8, 8), np.uint8); gt[2:6, 2:6] = 1
    >>> pred = gt.copy(); pred[0, 0] = 1
    >>> m = error_map(pred, gt, 2, band_px=1, outline=False)
    >>> m[0, 0].tolist() != m[7, 7].tolist()
    True
    """
    p = np.asarray(pred)
    g = np.asarray(gt)
    if p.shape != g.shape:
        raise ValueError(f"prediction size {p.shape} differs from GT size {g.shape}")
    gi = g.astype(np.int64, copy=False)
    valid = _valid(gi, num_classes)
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        valid &= gi != ignore_index
    if image is not None:
        base = _as_rgb(image)
        if base.shape[:2] != g.shape:
            base = None
    else:
        base = None
    if base is None:
        pal = colors if colors is not None else [(128, 128, 128)] * num_classes
        base = colorize(g, pal, ignore_index)
    out = _muted(base)
    if ignore_index is not None:
        ign = ~valid
        stripes = _stripes(g.shape)
        out[ign & stripes] = (235, 235, 235)
    fp_t, fn_t, typed = types if types is not None else error_types(
        p, g, num_classes, ignore_index, band_px, band_ratio
    )
    names = TYPE_NAMES if typed else ("error", "error", "error")
    if class_index is None:
        t = np.maximum(fp_t, fn_t)
        t[~valid] = 0
        for code in (1, 2, 3):
            sel = t == code
            if sel.any():
                out[sel] = ERROR_COLORS[names[code - 1]]
    else:
        c = int(class_index)
        fp_sel = valid & (p == c) & (gi != c)
        fn_sel = valid & (gi == c) & (p != c)
        for code in (1, 2, 3):
            sel = fp_sel & (fp_t == code)
            if sel.any():
                out[sel] = SIDE_COLORS[("fp", names[code - 1])]
            sel = fn_sel & (fn_t == code)
            if sel.any():
                out[sel] = SIDE_COLORS[("fn", names[code - 1])]
        tp = valid & (p == c) & (gi == c)
        out[tp] = 0.5 * out[tp] + 0.5 * np.array([90.0, 200.0, 90.0])
    if outline:
        d = _band_width(g.shape, band_px, band_ratio)
        if d > 0:
            line = band_outline(g, d, valid if ignore_index is not None else None)
            out[line] = 0.45 * out[line] + 0.55 * 255.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def worst_window(errors: np.ndarray, frac: float = 0.5, min_size: int = 24) -> tuple[slice, slice]:
    """The window (``frac`` of each side, at least ``min_size`` px) holding the most error pixels,
    found with a summed-area table; ties go to the top-left window.

    >>> e = np.zeros((10, 10), bool); e[8, 8] = True
    >>> ys, xs = worst_window(e, frac=0.3, min_size=1)
    >>> (ys.start <= 8 < ys.stop, xs.start <= 8 < xs.stop)
    (True, True)
    """
    e = np.asarray(errors, dtype=np.int64)
    h, w = e.shape
    wh = min(h, max(min_size, int(round(h * frac))))
    ww = min(w, max(min_size, int(round(w * frac))))
    if h == 0 or w == 0:
        return slice(0, h), slice(0, w)
    sat = np.zeros((h + 1, w + 1), np.int64)
    sat[1:, 1:] = e.cumsum(0).cumsum(1)
    sums = sat[wh:, ww:] - sat[:-wh, ww:] - sat[wh:, :-ww] + sat[:-wh, :-ww]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return slice(int(y), int(y) + wh), slice(int(x), int(x) + ww)


def boundary_comparison(
    pred, gt, image=None, colors: Sequence[Color] | None = None, ignore_index: int | None = None,
    window: tuple[slice, slice] | None = None,
) -> np.ndarray:
    """GT contours (green) and predicted contours (magenta) over the image (white where both
    agree), cropped to ``window`` (e.g. from :func:`worst_window`)."""
    p = np.asarray(pred)
    g = np.asarray(gt)
    if image is not None and _as_rgb(image).shape[:2] == g.shape:
        base = _as_rgb(image).astype(np.float64) * 0.8
    else:
        pal = colors if colors is not None else [(128, 128, 128)] * (int(max(g.max(initial=0), p.max(initial=0))) + 1)
        base = colorize(g, pal, ignore_index).astype(np.float64) * 0.6
    eg = label_edges(g)
    ep = label_edges(p)
    if ignore_index is not None:
        ign = g == ignore_index
        ep &= ~ign
    out = base
    out[eg & ~ep] = GT_CONTOUR
    out[ep & ~eg] = PRED_CONTOUR
    out[ep & eg] = BOTH_CONTOUR
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if window is not None:
        out = out[window[0], window[1]]
    return out


# ---------------------------------------------------------------------- per-image panels
def image_class_iou(pred, gt, num_classes: int, ignore_index: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-class IoU of one image and the GT pixel count of each class, from the evaluation's own
    confusion counts (ignored pixels and GT ids outside ``0..K-1`` count nowhere; predictions
    outside the spec count as misses).

    >>> iou, n = image_class_iou(np.array([[0, 0, 1], [0, 1, 1], [0, 0, 1]]),
    ...                          np.array([[0, 0, 1], [0, 1, 1], [0, 1, 1]]), 2)
    >>> [round(float(v), 4) for v in iou], n.tolist()
    ([0.8, 0.8], [4, 5])
    """
    from .confusion import confusion_counts
    from .metrics import per_class_metrics

    ign = ignore_index if ignore_index is not None and ignore_index >= 0 else None
    pc = per_class_metrics(confusion_counts(np.asarray(pred), np.asarray(gt), int(num_classes), ign))
    return pc["iou"], pc["gt_pixels"]


@dataclass
class PanelData:
    """Everything a per-image panel shows, computed once (see :func:`panel_data`)."""

    image_id: str
    pred: np.ndarray
    gt: np.ndarray
    image: np.ndarray | None
    names: Sequence[str]
    colors: Sequence[Color]
    ignore_index: int | None
    iou: np.ndarray
    gt_pixels: np.ndarray
    miou: float
    worst: list[tuple[str, float]]
    fp_type: np.ndarray
    fn_type: np.ndarray
    typed: bool
    band_px: int
    window: tuple[slice, slice]
    stats: dict = field(default_factory=dict)


def panel_data(
    pred, gt, names: Sequence[str], colors: Sequence[Color], *, image=None, image_id: str = "",
    ignore_index: int | None = None, band_px: int | None = None, band_ratio: float = 0.01,
    exclude: Sequence[int] = (), worst_n: int = 3,
) -> PanelData:
    """Compute a panel's content: image mIoU (classes present in the GT, as in ``per_image.csv``),
    the worst classes, the error types, and the window with the most errors.

    ``stats`` holds the number of error pixels of each type (each wrong pixel counted once, by
    the more severe of its two types) and ``dominant`` = the type with the most pixels.
    """
    p = np.asarray(pred)
    g = np.asarray(gt)
    if p.shape != g.shape:
        raise ValueError(f"prediction size {p.shape} differs from GT size {g.shape}")
    k = len(names)
    img = None
    if image is not None:
        img = _as_rgb(image)
        if img.shape[:2] != g.shape:
            img = _resize_rgb(img, g.shape)
    iou, gt_n = image_class_iou(p, g, k, ignore_index)
    keep = gt_n > 0
    keep[list(exclude)] = False
    vals = iou[keep & np.isfinite(iou)]
    miou = float(vals.mean()) if vals.size else float("nan")
    order = [i for i in np.argsort(np.where(np.isfinite(iou), iou, np.inf), kind="stable")
             if np.isfinite(iou[i]) and i not in set(exclude) and iou[i] < 1.0]
    worst = [(names[i], float(iou[i])) for i in order[:worst_n]]
    fp_t, fn_t, typed = error_types(p, g, k, ignore_index, band_px, band_ratio)
    gi = g.astype(np.int64, copy=False)
    valid = _valid(gi, k)
    t = np.maximum(fp_t, fn_t)
    t[~valid] = 0
    counts = np.bincount(t.ravel(), minlength=4)
    stats = {"error_pixels": int(counts[1:].sum()), "valid_pixels": int(valid.sum())}
    if typed:
        stats.update({name: int(counts[i + 1]) for i, name in enumerate(TYPE_NAMES)})
        dominant = TYPE_NAMES[int(np.argmax(counts[1:]))] if counts[1:].sum() else None
    else:
        dominant = None
    stats["dominant"] = dominant
    window = worst_window(t > 0)
    return PanelData(
        image_id, p, g, img, tuple(names), tuple(tuple(c) for c in colors), ignore_index, iou, gt_n, miou,
        worst, fp_t, fn_t, typed, _band_width(g.shape, band_px, band_ratio), window, stats,
    )


def _resize_rgb(img: np.ndarray, shape) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((int(shape[1]), int(shape[0])), Image.BILINEAR))


def _figure(width_in: float, height_in: float, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}f}"


_FONTS: dict = {}


def _font(size: int):
    """DejaVu Sans (shipped with matplotlib) at ``size`` px, or Pillow's default font."""
    if size not in _FONTS:
        from PIL import ImageFont

        try:
            import matplotlib

            path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
            _FONTS[size] = ImageFont.truetype(str(path), size)
        except Exception:  # pragma: no cover - a matplotlib without its fonts
            try:
                _FONTS[size] = ImageFont.load_default(size)
            except TypeError:
                _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def _fit(rgb: np.ndarray, width: int, max_height: int):
    """Scale a tile to ``width`` (keeping its aspect, at most ``max_height``): nearest-neighbour
    when enlarging (crisp pixels), area averaging when shrinking."""
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = min(width / max(w, 1), max_height / max(h, 1))
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    im = Image.fromarray(np.ascontiguousarray(rgb))
    return im.resize(size, Image.NEAREST if scale >= 1 else Image.BOX)


def _compose(title: str, tiles: list, legend: list, tile_width: int = 300, gap: int = 6,
             frames: dict | None = None) -> np.ndarray:
    """Lay tiles out in a row under a title, each with its own caption, and a flowing legend of
    ``(colour, label)`` swatches below (``None`` starts a new group)."""
    from PIL import Image, ImageDraw

    h0, w0 = next((t[1].shape[:2] for t in tiles), (1, 1))
    tile_h = int(min(max(tile_width * h0 / max(w0, 1), 60), 2.2 * tile_width))
    f_title, f_small = _font(15), _font(12)
    n = len(tiles)
    width = n * tile_width + (n + 1) * gap
    # legend layout first, to know the height
    x, rows = gap, []
    line: list = []
    for item in legend:
        if item is None:
            x += 18
            continue
        colour, label = item
        w_item = 16 + int(f_small.getlength(label)) + 14
        if x + w_item > width - gap and line:
            rows.append(line)
            line, x = [], gap
        line.append((x, colour, label))
        x += w_item
    if line:
        rows.append(line)
    top = 30
    cap = 18
    legend_top = top + cap + tile_h + 8
    height = legend_top + 18 * len(rows) + 6
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    tw = draw.textlength(title, font=f_title)
    draw.text(((width - tw) / 2, 7), title, fill=(20, 20, 20), font=f_title)
    for i, (caption, rgb) in enumerate(tiles):
        x0 = gap + i * (tile_width + gap)
        im = _fit(rgb, tile_width, tile_h)
        ox = x0 + (tile_width - im.width) // 2
        oy = top + cap + (tile_h - im.height) // 2
        canvas.paste(im, (ox, oy))
        edge = (frames or {}).get(i, (90, 90, 90))
        draw.rectangle([ox - 1, oy - 1, ox + im.width, oy + im.height], outline=edge)
        text = caption
        while draw.textlength(text, font=f_small) > tile_width and len(text) > 4:
            text = text[:-2] + "…" if not text.endswith("…") else text[:-3] + "…"
        cw = draw.textlength(text, font=f_small)
        draw.text((x0 + (tile_width - cw) / 2, top + 1), text, fill=(30, 30, 30), font=f_small)
    for r, items in enumerate(rows):
        yy = legend_top + 18 * r
        for x, colour, label in items:
            draw.rectangle([x, yy + 2, x + 11, yy + 13], fill=tuple(int(c) for c in colour), outline=(80, 80, 80))
            draw.text((x + 16, yy), label, fill=(30, 30, 30), font=f_small)
    return np.asarray(canvas)


def panel_image(data: PanelData, class_index: int | None = None, tile_width: int = 300) -> np.ndarray:
    """original | GT | prediction | error map | boundary comparison (zoomed to the worst region),
    titled with the image mIoU and its worst classes, with a legend; an H×W×3 uint8 picture.

    ``class_index`` draws the error map of one class (false positives warm, false negatives cool).
    Without an image the first tile is left out and the masks are drawn alone.
    """
    d = data
    k = len(d.names)
    h, w = d.gt.shape
    tiles = []
    if d.image is not None:
        tiles.append(("image", d.image))
        tiles.append(("GT", overlay(d.image, d.gt, d.colors, 0.6, d.ignore_index)))
        tiles.append(("prediction", overlay(d.image, d.pred, d.colors, 0.6, d.ignore_index)))
    else:
        tiles.append(("GT", colorize(d.gt, d.colors, d.ignore_index)))
        tiles.append(("prediction", colorize(d.pred, d.colors, d.ignore_index)))
    err_title = "errors" if class_index is None else f"errors of '{d.names[class_index]}'"
    tiles.append((err_title, error_map(
        d.pred, d.gt, k, d.ignore_index, d.image, d.colors, class_index, band_px=d.band_px,
        types=(d.fp_type, d.fn_type, d.typed),
    )))
    ys, xs = d.window
    zoom = ys.stop - ys.start < h or xs.stop - xs.start < w
    bc_title = "boundaries" + (f" (zoom y{ys.start}-{ys.stop}, x{xs.start}-{xs.stop})" if zoom else "")
    tiles.append((bc_title, boundary_comparison(d.pred, d.gt, d.image, d.colors, d.ignore_index, d.window)))
    worst = ", ".join(f"{n_} {v:.2f}" for n_, v in d.worst) or "none"
    if d.stats.get("dominant_error"):  # the failure analysis's verdict, when given
        dom = f"  ·  dominant error: {d.stats['dominant_error']}"
    elif d.stats.get("dominant"):
        dom = f"  ·  most error pixels: {d.stats['dominant']}"
    else:
        dom = ""
    title = f"{d.image_id}  ·  image mIoU {_fmt(d.miou)}  ·  worst classes: {worst}{dom}"
    present = [i for i in range(k) if d.gt_pixels[i] > 0 or bool(np.any(d.pred == i))]
    legend: list = [(d.colors[i], d.names[i]) for i in present[:40]]
    legend.append(None)
    kinds = TYPE_NAMES if d.typed else ("error",)
    if class_index is None:
        legend += [(ERROR_COLORS[t], f"{t} error" if t != "error" else "wrong") for t in kinds]
    else:
        legend += [(SIDE_COLORS[(s, t)], f"{s.upper()} {t}" if t != "error" else s.upper())
                   for s in ("fp", "fn") for t in kinds]
    legend += [((255, 255, 255), "error band"), None, (GT_CONTOUR, "GT contour"), (PRED_CONTOUR, "predicted contour")]
    frames = {len(tiles) - 1: (224, 160, 0)} if zoom else None
    return _compose(title, tiles, legend, tile_width, frames=frames)


def save_rgb(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an H×W×3 uint8 picture as PNG, atomically."""
    from PIL import Image

    from .io import atomic_write

    path = Path(path)
    with atomic_write(path, "wb") as fh:
        Image.fromarray(np.ascontiguousarray(rgb)).save(fh, format="PNG", compress_level=3)
    return path


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


def save_panel(path: str | Path, data: PanelData, class_index: int | None = None) -> Path:
    """Render :func:`panel_image` to ``path`` (PNG).

    Examples
    --------
    >>> import tempfile, os
    >>> gt = np.zeros((32, 48), np.uint8); gt[8:20, 10:30] = 1
    >>> pred = np.roll(gt, 2, axis=1)
    >>> data = panel_data(pred, gt, ["bg", "box"], [(0, 0, 0), (200, 40, 40)], image_id="demo", band_px=1)
    >>> round(data.miou, 3), data.worst[0][0]
    (0.891, 'box')
    >>> out = save_panel(os.path.join(tempfile.mkdtemp(), "demo.png"), data)
    >>> out.stat().st_size > 0
    True
    """
    return save_rgb(path, panel_image(data, class_index=class_index))


def compare_image(
    image_id: str, gt, pred_a, pred_b, names: Sequence[str], colors: Sequence[Color], *, image=None,
    ignore_index: int | None = None, label_a: str = "A", label_b: str = "B",
    miou_a: float | None = None, miou_b: float | None = None, tile_width: int = 300,
) -> np.ndarray:
    """Side by side: [image] | GT | A | B | change (green: B fixed a wrong pixel of A, red: B broke
    a right one, amber: wrong in both but changed); an H×W×3 uint8 picture."""
    g = np.asarray(gt)
    a = np.asarray(pred_a)
    b = np.asarray(pred_b)
    k = len(names)
    img = None
    if image is not None:
        img = _as_rgb(image)
        if img.shape[:2] != g.shape:
            img = _resize_rgb(img, g.shape)
    show = (lambda m: overlay(img, m, colors, 0.6, ignore_index)) if img is not None else (
        lambda m: colorize(m, colors, ignore_index))
    valid = _valid(g.astype(np.int64, copy=False), k)
    ok_a = valid & (a == g)
    ok_b = valid & (b == g)
    change = _muted(img if img is not None else colorize(g, colors, ignore_index))
    change[~ok_a & ok_b] = (40, 200, 60)
    change[ok_a & ~ok_b] = (230, 30, 50)
    change[valid & ~ok_a & ~ok_b & (a != b)] = (255, 190, 0)
    tiles = ([("image", img)] if img is not None else []) + [
        ("GT", show(g)),
        (f"{label_a} (mIoU {_fmt(miou_a)})", show(a)),
        (f"{label_b} (mIoU {_fmt(miou_b)})", show(b)),
        (f"{label_a} → {label_b}", np.clip(np.round(change), 0, 255).astype(np.uint8)),
    ]
    delta = (miou_b - miou_a) if miou_a is not None and miou_b is not None else None
    title = f"{image_id}  ·  image mIoU {_fmt(miou_a)} → {_fmt(miou_b)}" + (
        f"  ({delta:+.3f})" if delta is not None and math.isfinite(delta) else "")
    present = [i for i in range(k) if np.any(g == i) or np.any(a == i) or np.any(b == i)]
    legend: list = [(colors[i], names[i]) for i in present[:40]] + [None]
    legend += [((40, 200, 60), f"fixed by {label_b}"), ((230, 30, 50), f"broken by {label_b}"),
               ((255, 190, 0), "wrong in both, changed")]
    return _compose(title, tiles, legend, tile_width)


# ---------------------------------------------------------------------- plots of metrics.json
def _class_colors(metrics: dict, class_colors: dict | None) -> dict:
    if class_colors:
        return class_colors
    from .classes import generate_palette

    names = list(metrics.get("classes") or metrics.get("per_class", {}).keys())
    return dict(zip(names, generate_palette(len(names) + 1)[1:]))


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def plot_class_imbalance(metrics: dict, class_colors: dict | None = None, max_classes: int = 60):
    """Per-class IoU bars beside the GT pixel share on a log scale, largest classes at the top:
    the class-imbalance picture. Returns a figure, or None when there is nothing to draw."""
    pc = metrics.get("per_class") or {}
    rows = [(n, m.get("iou"), m.get("gt_share")) for n, m in pc.items() if isinstance(m, dict)]
    rows = [r for r in rows if _finite(r[2]) or _finite(r[1])]
    if not rows:
        return None
    note = ""
    if len(rows) > max_classes:
        rows = sorted(rows, key=lambda r: r[1] if _finite(r[1]) else 2.0)[:max_classes]
        note = f" ({max_classes} lowest-IoU of {len(pc)} classes)"
    rows.sort(key=lambda r: -(r[2] if _finite(r[2]) else 0.0))
    colors = _class_colors(metrics, class_colors)
    n = len(rows)
    height = 1.2 + 0.26 * n
    fig = _figure(9.0, height)
    rect = (0.75 / height, 1 - 1.2 / height)
    ax1 = fig.add_axes([0.2, rect[0], 0.37, rect[1]])
    ax2 = fig.add_axes([0.61, rect[0], 0.37, rect[1]], sharey=ax1)
    y = np.arange(n)
    ious = [r[1] if _finite(r[1]) else 0.0 for r in rows]
    shares = [r[2] if _finite(r[2]) and r[2] > 0 else np.nan for r in rows]
    cols = [np.array(colors.get(r[0], (120, 120, 120))) / 255.0 for r in rows]
    ax1.barh(y, ious, color=cols, edgecolor="0.25", linewidth=0.5)
    for yi, r in zip(y, rows):
        ax1.text(ious[yi] + 0.015, yi, _fmt(r[1]) if _finite(r[1]) else "absent", va="center", fontsize=7.5)
    ax1.set_xlim(0, 1.14)
    ax1.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax1.set_yticks(y)
    ax1.set_yticklabels([r[0] for r in rows], fontsize=8)
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
    cm = metrics.get("confusion_matrix")
    names = list(metrics.get("classes") or [])
    if not cm or not names:
        return None
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(names):
        return None
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
    ax.set_xticklabels(cols, rotation=55, ha="right", fontsize=8)
    ax.set_yticks(range(n_r))
    ax.set_yticklabels([names[i] for i in sel], fontsize=8)
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
    if all(_finite(entry.get(k)) for k in keys):
        iou = entry.get("iou")
        return {"iou": iou if _finite(iou) else 0.0, "boundary": entry["e_boundary_ou"],
                "extent": entry["e_extent_ou"], "segment": entry["e_segment_ou"]}
    e = entry.get("errors")
    if isinstance(e, dict) and all(_finite(e.get(k)) for k in
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
    ax.set_yticklabels([r[0] for r in rows], fontsize=8)
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
        rec = [v if _finite(v) else np.nan for v in entry.get("recall", [])][: len(bins)]
        if not any(np.isfinite(rec)):
            continue
        col = entry.get("color")
        ax.plot(x[: len(rec)], rec, marker="o", lw=1.4, label=name,
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
    whole-image values as dashed lines. Returns None without ``trimap``."""
    tri = metrics.get("trimap")
    if not isinstance(tri, dict) or not tri:
        return None
    pts = []
    for w, v in tri.items():
        try:
            wi = float(w)
        except (TypeError, ValueError):
            continue
        if isinstance(v, dict):
            pts.append((wi, v.get("miou"), v.get("pixel_accuracy")))
    pts.sort()
    if not pts:
        return None
    fig = _figure(6.5, 3.4)
    ax = fig.add_axes([0.11, 0.16, 0.6, 0.74])
    xs = [p[0] for p in pts]
    ax.plot(xs, [p[1] if _finite(p[1]) else np.nan for p in pts], marker="o", label="mIoU in the trimap", color="#1f6fb4")
    ax.plot(xs, [p[2] if _finite(p[2]) else np.nan for p in pts], marker="s", label="pixel acc. in the trimap", color="#d07a00")
    if _finite(metrics.get("miou")):
        ax.axhline(metrics["miou"], color="#1f6fb4", ls="--", lw=0.9, label="mIoU (all pixels)")
    if _finite(metrics.get("pixel_accuracy")):
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
