"""Mask pictures: colourised masks, overlays, label edges, error maps and boundary comparisons.

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

from typing import Sequence

import numpy as np

__all__ = [
    "IGNORE_COLORS",
    "UNKNOWN_COLORS",
    "ERROR_COLORS",
    "SIDE_COLORS",
    "TYPE_NAMES",
    "GT_CONTOUR",
    "PRED_CONTOUR",
    "BOTH_CONTOUR",
    "colorize",
    "overlay",
    "label_edges",
    "error_types",
    "band_outline",
    "error_map",
    "worst_window",
    "boundary_comparison",
    "image_class_iou",
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


def as_rgb(image) -> np.ndarray:
    """An H×W, H×W×3 or H×W×4 image as H×W×3 uint8."""
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
    img = as_rgb(image)
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
def known_class_mask(gt: np.ndarray, num_classes: int) -> np.ndarray:
    """True where ``gt`` holds a class index ``0 .. num_classes-1``."""
    return (gt >= 0) & (gt < num_classes)


def error_types(
    pred, gt, num_classes: int, ignore_index: int | None = None, band_px: int | None = None,
    band_ratio: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-pixel error types ``(fp_type, fn_type, typed)``: two uint8 maps with 0 none,
    1 boundary, 2 extent, 3 segment.

    Uses :func:`segscope.metrics.breakdown.error_type_maps` when available; otherwise (``typed`` False) every
    wrong valid pixel is marked 2 on both sides, without a type. Predicted ids outside the spec
    count as misses.
    """
    p = np.asarray(pred)
    g = np.asarray(gt)
    try:
        from ..metrics.breakdown import error_type_maps
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
    valid = known_class_mask(g.astype(np.int64), num_classes)
    if ignore_index is not None:
        valid &= g != ignore_index
    wrong = (valid & (p != g)).astype(np.uint8) * 2
    return wrong, wrong.copy(), False


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


def muted(base_rgb: np.ndarray) -> np.ndarray:
    """A dim grey version of an RGB picture, as float64 (the backdrop of error maps)."""
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
    band_px, band_ratio : the error band (as in :func:`segscope.metrics.breakdown.error_counts`).
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
    valid = known_class_mask(gi, num_classes)
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        valid &= gi != ignore_index
    if image is not None:
        base = as_rgb(image)
        if base.shape[:2] != g.shape:
            base = None
    else:
        base = None
    if base is None:
        pal = colors if colors is not None else [(128, 128, 128)] * num_classes
        base = colorize(g, pal, ignore_index)
    out = muted(base)
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
        from ..metrics.bands import band_width

        d = band_width(g.shape, band_px, band_ratio)
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
    if image is not None and as_rgb(image).shape[:2] == g.shape:
        base = as_rgb(image).astype(np.float64) * 0.8
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
    from ..metrics.confusion import confusion_counts
    from ..metrics.region import per_class_metrics

    ign = ignore_index if ignore_index is not None and ignore_index >= 0 else None
    pc = per_class_metrics(confusion_counts(np.asarray(pred), np.asarray(gt), int(num_classes), ign))
    return pc["iou"], pc["gt_pixels"]


_FONTS: dict = {}
