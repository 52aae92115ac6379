"""Per-image panels: image | GT | prediction | errors, and the two-run comparison picture."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .masks import (
    _FONTS,
    ERROR_COLORS,
    GT_CONTOUR,
    PRED_CONTOUR,
    SIDE_COLORS,
    TYPE_NAMES,
    Color,
    as_rgb,
    muted,
    known_class_mask,
    boundary_comparison,
    colorize,
    error_map,
    error_types,
    image_class_iou,
    overlay,
    worst_window,
)

__all__ = [
    "PanelData",
    "panel_data",
    "panel_image",
    "save_rgb",
    "save_panel",
    "panel",
    "compare_image",
]


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
    from ..metrics.bands import band_width

    p = np.asarray(pred)
    g = np.asarray(gt)
    if p.shape != g.shape:
        raise ValueError(f"prediction size {p.shape} differs from GT size {g.shape}")
    k = len(names)
    img = _backdrop(image, g.shape)
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
    valid = known_class_mask(gi, k)
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
        worst, fp_t, fn_t, typed, band_width(g.shape, band_px, band_ratio), window, stats,
    )


def _backdrop(image, shape) -> np.ndarray | None:
    """The image as H×W×3 uint8 at the masks' size (resized bilinearly), or None without one."""
    if image is None:
        return None
    img = as_rgb(image)
    if img.shape[:2] != tuple(shape):
        from PIL import Image

        img = np.asarray(Image.fromarray(img).resize((int(shape[1]), int(shape[0])), Image.BILINEAR))
    return img


def fmt_number(x: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or "—" for None, NaN and non-numbers."""
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}f}"


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

    from ..io.files import printable

    title = printable(title)
    tiles = [(printable(caption), rgb) for caption, rgb in tiles]
    legend = [None if item is None else (item[0], printable(item[1])) for item in legend]

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
    title = f"{d.image_id}  ·  image mIoU {fmt_number(d.miou)}  ·  worst classes: {worst}{dom}"
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


def panel(pred, gt, classes, *, image=None, image_id: str = "", class_index: int | None = None,
          band_px: int | None = None, tile_width: int = 300):
    """The panel of one image as a PIL image, which a notebook shows inline (``.save(path)``
    writes it).

    ``pred`` and ``gt`` are class-index masks (arrays, nested lists or CPU tensors); ``classes``
    a :class:`~segscope.ClassSpec` (names, colours, ignore label) or an int for classes
    ``0..N-1``. ``class_index`` draws one class's false positives and negatives.

    >>> gt = np.zeros((32, 48), np.uint8); gt[8:20, 10:30] = 1
    >>> picture = panel(np.roll(gt, 2, axis=1), gt, 2, image_id="demo", band_px=1)
    >>> picture.mode, picture.width > 48
    ('RGB', True)
    """
    from PIL import Image

    from ..classes import ClassSpec

    spec = ClassSpec.anonymous(classes) if isinstance(classes, int) else classes
    ignore = spec.index_ignore if spec.ignore_index is not None else None
    data = panel_data(np.asarray(pred), np.asarray(gt), spec.names, spec.colors, image=image, image_id=image_id,
                      ignore_index=ignore, band_px=band_px)
    return Image.fromarray(np.ascontiguousarray(panel_image(data, class_index, tile_width)))


def save_rgb(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an H×W×3 uint8 picture as PNG, atomically."""
    from PIL import Image

    from ..io.results import atomic_write

    path = Path(path)
    with atomic_write(path, "wb") as fh:
        Image.fromarray(np.ascontiguousarray(rgb)).save(fh, format="PNG", compress_level=3)
    return path


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
    img = _backdrop(image, g.shape)
    show = (lambda m: overlay(img, m, colors, 0.6, ignore_index)) if img is not None else (
        lambda m: colorize(m, colors, ignore_index))
    valid = known_class_mask(g.astype(np.int64, copy=False), k)
    ok_a = valid & (a == g)
    ok_b = valid & (b == g)
    change = muted(img if img is not None else colorize(g, colors, ignore_index))
    change[~ok_a & ok_b] = (40, 200, 60)
    change[ok_a & ~ok_b] = (230, 30, 50)
    change[valid & ~ok_a & ~ok_b & (a != b)] = (255, 190, 0)
    tiles = ([("image", img)] if img is not None else []) + [
        ("GT", show(g)),
        (f"{label_a} (mIoU {fmt_number(miou_a)})", show(a)),
        (f"{label_b} (mIoU {fmt_number(miou_b)})", show(b)),
        (f"{label_a} → {label_b}", np.clip(np.round(change), 0, 255).astype(np.uint8)),
    ]
    delta = (miou_b - miou_a) if miou_a is not None and miou_b is not None else None
    title = f"{image_id}  ·  image mIoU {fmt_number(miou_a)} → {fmt_number(miou_b)}" + (
        f"  ({delta:+.3f})" if delta is not None and math.isfinite(delta) else "")
    present = [i for i in range(k) if np.any(g == i) or np.any(a == i) or np.any(b == i)]
    legend: list = [(colors[i], names[i]) for i in present[:40]] + [None]
    legend += [((40, 200, 60), f"fixed by {label_b}"), ((230, 30, 50), f"broken by {label_b}"),
               ((255, 190, 0), "wrong in both, changed")]
    return _compose(title, tiles, legend, tile_width)
