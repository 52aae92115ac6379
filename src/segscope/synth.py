"""Built-in data: seeded synthetic street scenes and predictions with controlled, recorded errors.

Every scene has large classes (road, building, sky, vegetation, sidewalk) and small ones (person,
car, pole, sign) with realistic imbalance, an RGB image and an ignore region. The pictures are
learnable but not trivial: facades, foliage, paving and asphalt have their own textures; cars and
clothes come in random colours, so colour alone does not give the class; the light changes from
scene to scene (brightness, colour cast, a gradient, cast shadows); poles are one or two pixels
wide; people and signs are small; and objects occlude each other in depth order (a person in front
of a car, a pole in front of a facade, a tree in front of a building).

Predictions copy the GT and then inject errors of known kind and place, listed in a record per
image, so a test can check that each error lands in the category it should.

>>> scene = make_scene(0, height=64, width=96)
>>> scene.image.shape, scene.mask.shape, scene.mask.dtype
((64, 96, 3), (64, 96), dtype('uint8'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from .classes import ClassSpec
from .io.masks import write_mask
from .io.results import write_json

__all__ = [
    "STREET_SPEC", "Scene", "make_scene", "make_prediction", "write_dataset", "street_spec", "write_spec_yaml",
]

IGNORE = 255
CLASSES = (
    ("road", (128, 64, 128)),
    ("sidewalk", (244, 35, 232)),
    ("building", (70, 70, 70)),
    ("vegetation", (107, 142, 35)),
    ("sky", (70, 130, 180)),
    ("person", (220, 20, 60)),
    ("car", (0, 0, 142)),
    ("pole", (153, 153, 153)),
    ("sign", (220, 220, 0)),
)
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, PERSON, CAR, POLE, SIGN = range(len(CLASSES))
SMALL_CLASSES = (PERSON, POLE, SIGN)


def street_spec() -> ClassSpec:
    """The class spec of the built-in street scenes (ignore label 255).

    >>> street_spec().names[:3]
    ('road', 'sidewalk', 'building')
    """
    return ClassSpec(
        tuple(n for n, _ in CLASSES), tuple(range(len(CLASSES))), tuple(c for _, c in CLASSES), IGNORE,
        name="segscope-street",
    )


STREET_SPEC = street_spec()


@dataclass
class Scene:
    """One synthetic scene: ``image`` (H×W×3 uint8), ``mask`` (H×W uint8 label ids) and the small
    objects placed (``{"class": name, "bbox": [y0, x0, y1, x1]}``, painted in this order)."""

    image: np.ndarray
    mask: np.ndarray
    objects: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------------- painting helpers
class _Canvas:
    """A label mask and a float RGB picture painted together, layer by layer."""

    def __init__(self, h: int, w: int, rng: np.random.Generator):
        self.h, self.w, self.rng = h, w, rng
        self.mask = np.full((h, w), SKY, dtype=np.uint8)
        self.img = np.zeros((h, w, 3), dtype=np.float32)

    def paint(self, sel: np.ndarray, cls: int, colour, y0: int = 0, x0: int = 0) -> None:
        """Paint boolean ``sel`` (a window whose top-left corner is ``(y0, x0)``) with ``cls`` and a
        colour: an RGB triple or an array of the window's shape + (3,)."""
        y0, x0 = int(y0), int(x0)
        hh, ww = sel.shape
        ys, xs = slice(max(0, y0), min(self.h, y0 + hh)), slice(max(0, x0), min(self.w, x0 + ww))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            return
        sub = sel[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        self.mask[ys, xs][sub] = cls
        colour = np.asarray(colour, dtype=np.float32)
        if colour.ndim == 3:
            colour = colour[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0][sub]
        self.img[ys, xs][sub] = colour


def _noise(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Smooth noise with unit standard deviation (roughly)."""
    n = ndi.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), sigma, mode="wrap")
    s = n.std()
    return n / s if s > 0 else n


def _box(h: int, w: int) -> np.ndarray:
    return np.ones((max(1, h), max(1, w)), dtype=bool)


def _disc(r: float) -> np.ndarray:
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    return (yy**2 + xx**2) <= r * r + 0.25


def _random_colour(rng: np.random.Generator, dark: float = 0.0) -> np.ndarray:
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.2, 0.9)
    val = rng.uniform(0.25 + dark, 0.95)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
    rgb = val - val * sat * np.clip(np.minimum(k, 4 - k), 0, 1)
    return (rgb * 255).astype(np.float32)


# ---------------------------------------------------------------------- the scene
def make_scene(seed: int, height: int = 128, width: int = 256) -> Scene:
    """One street scene: RGB image, label mask and the list of small objects placed.

    Parameters
    ----------
    seed : the scene's seed (same seed, same scene).
    height, width : the size in pixels (the proportions are meant for width ≈ 2 × height).

    Returns
    -------
    Scene
        ``image`` H×W×3 uint8, ``mask`` H×W uint8 (class ids 0..8, 255 = ignore), ``objects``.

    Examples
    --------
    >>> a, b = make_scene(3, 32, 64), make_scene(3, 32, 64)
    >>> bool((a.mask == b.mask).all() and (a.image == b.image).all())
    True
    """
    rng = np.random.default_rng(seed)
    h, w = height, width
    cv = _Canvas(h, w, rng)
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    fine = _noise(rng, h, w, 0.7)
    coarse = _noise(rng, h, w, max(2.0, h / 24))

    horizon = int(h * rng.uniform(0.42, 0.55))

    # sky: a vertical gradient, sometimes hazy or with clouds
    top_c = np.array([60, 110, 190], np.float32) + rng.normal(0, 15, 3)
    low_c = np.array([170, 195, 225], np.float32) + rng.normal(0, 15, 3)
    t = np.clip(yy / max(1, horizon), 0, 1)[..., None]
    sky = top_c * (1 - t) + low_c * t + np.zeros((1, w, 1), np.float32)
    if rng.random() < 0.6:
        clouds = np.clip(coarse - 0.6, 0, None)[..., None]
        sky = sky + clouds * rng.uniform(40, 90)
    cv.img[:] = sky

    # buildings: a skyline of facades with random colours and window grids
    x = int(-rng.integers(0, max(2, w // 20)))
    while x < w:
        bw = int(rng.integers(max(4, w // 10), max(6, w // 4)))
        top = int(rng.uniform(0.06, 0.35) * h)
        fh = horizon + 1 - top
        if fh > 1:
            base = rng.choice([[120, 118, 115], [165, 140, 110], [140, 80, 65], [95, 95, 105], [185, 180, 170]])
            base = np.asarray(base, np.float32) + rng.normal(0, 12, 3)
            facade = np.broadcast_to(base, (fh, bw, 3)).copy()
            facade += rng.normal(0, 6, (fh, bw, 1)).astype(np.float32)
            step_y = max(3, int(rng.integers(max(3, h // 22), max(4, h // 12) + 1)))
            step_x = max(3, int(rng.integers(max(3, w // 40), max(4, w // 22) + 1)))
            wy = (np.arange(fh)[:, None] % step_y) < max(1, step_y // 2)
            wx = (np.arange(bw)[None, :] % step_x) < max(1, step_x // 2)
            win = wy & wx & (np.arange(fh)[:, None] > 1)
            glass = rng.choice([0.45, 0.6, 1.35])
            facade[win] *= glass
            cv.paint(_box(fh, bw), BUILDING, facade, top, x)
        x += bw + int(rng.integers(0, max(2, w // 20)))

    # vegetation on the building line: tree crowns with ragged edges, trunks, hedges
    green = np.array([70, 115, 40], np.float32) + rng.normal(0, 10, 3)
    leaves = green[None, None, :] * (1 + 0.25 * fine[..., None]) + 18 * coarse[..., None]
    for _ in range(rng.integers(1, 5)):
        cx, cy = rng.uniform(0, w), rng.uniform(0.25 * h, horizon)
        ry, rx = rng.uniform(0.06, 0.15) * h, rng.uniform(0.04, 0.11) * w
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 + 0.35 * coarse
        crown = (d <= 1.0) & (yy < horizon + 2)
        cv.mask[crown] = VEGETATION
        cv.img[crown] = leaves[crown]
        tw = max(1, int(round(rx * 0.15)))
        trunk = (np.abs(xx - cx) <= tw / 2) & (yy >= cy) & (yy < horizon + 2) & ~crown
        cv.mask[trunk] = VEGETATION
        cv.img[trunk] = (90, 65, 45)

    # road, sidewalk and roadside green: a trapezoid widening towards the bottom
    centre = w * rng.uniform(0.4, 0.6)
    half_top = w * 0.08
    tt = np.clip((yy - horizon) / max(1, h - horizon), 0, 1)
    half = half_top + tt * (w * 0.55)
    below = (yy >= horizon) & np.ones((1, w), bool)
    road_sel = below & (np.abs(xx - centre) <= half)
    verge = below & (np.abs(xx - centre) > half + w * 0.12 + tt * w * 0.1)
    side_sel = below & ~road_sel & ~verge
    asphalt = np.array([75, 75, 80], np.float32) + rng.normal(0, 10, 3)
    road_img = asphalt * (1 + 0.08 * fine[..., None]) + 10 * coarse[..., None]
    # lane markings belong to the road
    dash = (np.abs(xx - centre) <= 0.6 + tt * w * 0.006) & ((yy.astype(int) // max(2, h // 24)) % 2 == 0)
    road_img = np.where(dash[..., None], np.float32(200), road_img)
    cv.mask[road_sel] = ROAD
    cv.img[road_sel] = road_img[road_sel]
    paving = np.array([175, 160, 150], np.float32) + rng.normal(0, 12, 3)
    tile = max(2, h // 20)
    joints = ((yy.astype(int) % tile) == 0) | (((xx.astype(int) + (yy.astype(int) // tile) * (tile // 2)) % (2 * tile)) == 0)
    side_img = paving * (1 + 0.05 * fine[..., None]) * np.where(joints, 0.8, 1.0)[..., None]
    cv.mask[side_sel] = SIDEWALK
    cv.img[side_sel] = side_img[side_sel]
    cv.mask[verge] = VEGETATION
    cv.img[verge] = leaves[verge] * 0.9 + 10

    # objects: cars, poles (with signs) and people, painted far to near so near ones occlude
    items = []
    for _ in range(rng.integers(1, 5)):
        cy = int(rng.uniform(horizon + 0.08 * h, h - 0.04 * h))
        items.append((cy, "car"))
    for _ in range(rng.integers(1, 5)):
        items.append((int(rng.uniform(horizon + 2, min(h - 1, horizon + 0.35 * h))), "pole"))
    for _ in range(rng.integers(2, 9)):
        items.append((int(rng.uniform(horizon + 1, h - 1)), "person"))
    items.sort(key=lambda it: it[0])
    objects: list[dict] = []
    span = max(1, h - horizon)
    for foot, kind in items:
        depth = (foot - horizon) / span  # 0 far .. 1 near
        if kind == "car":
            scale = 0.3 + depth
            cw, ch = int(w * 0.12 * scale) + 3, int(h * 0.08 * scale) + 2
            cx = int(centre + rng.uniform(-0.8, 0.8) * (half_top + depth * w * 0.5))
            y0, x0 = foot - ch, cx - cw // 2
            roof = max(1, ch // 3 + 1)
            body = np.zeros((ch + roof, cw), bool)
            body[roof:] = True
            body[:roof, cw // 5 : cw - cw // 5] = True
            paint = np.broadcast_to(_random_colour(rng), body.shape + (3,)).copy()
            paint[: roof + 1, cw // 5 + 1 : cw - cw // 5 - 1] = (40, 50, 60)  # windows
            wheel = max(1, ch // 4)
            paint[-wheel:, : max(1, cw // 4)] = 25
            paint[-wheel:, cw - max(1, cw // 4) :] = 25
            cv.paint(body, CAR, paint, y0 - roof, x0)
            objects.append({"class": "car", "bbox": _clip_bbox(y0 - roof, x0, foot, x0 + cw, h, w)})
        elif kind == "pole":
            px = int(rng.uniform(0.03, 0.97) * w)
            top = max(0, foot - int(rng.uniform(0.3, 0.5) * h))
            pw = max(1, int(round(w / 160)))
            grey = rng.uniform(110, 170)
            cv.paint(_box(foot - top, pw), POLE, (grey, grey, grey * 1.02), top, px)
            objects.append({"class": "pole", "bbox": _clip_bbox(top, px, foot, px + pw, h, w)})
            if rng.random() < 0.75:
                s = max(2, int(round(h * rng.uniform(0.045, 0.075))))
                sy, sx = top, px - s // 2
                shape = rng.integers(0, 3)
                if shape == 0:
                    sel = _box(s, s + pw)
                elif shape == 1:
                    sel = _disc((s + pw) / 2)[: s + pw, : s + pw]
                else:
                    sel = np.tri(s, s + pw, k=0, dtype=bool)[::-1] | np.tri(s, s + pw, k=0, dtype=bool)[::-1][:, ::-1]
                colour = np.asarray(rng.choice([[210, 40, 40], [40, 80, 200], [230, 200, 30], [240, 240, 240]]), np.float32)
                cv.paint(sel, SIGN, colour, sy, sx)
                objects.append({"class": "sign", "bbox": _clip_bbox(sy, sx, sy + sel.shape[0], sx + sel.shape[1], h, w)})
        else:
            scale = 0.4 + depth
            ph, pw = max(3, int(h * 0.13 * scale)), max(1, int(w * 0.016 * scale) + 1)
            px = int(rng.uniform(0.02, 0.98) * w)
            r = max(0.8, pw * 0.6)
            head = _disc(r)
            hd = head.shape[0]
            total = ph + hd - 1
            ww = max(pw, hd)
            sel = np.zeros((total, ww), bool)
            off = (ww - pw) // 2
            sel[hd - 1 :, off : off + pw] = True
            hoff = (ww - hd) // 2
            sel[:hd, hoff : hoff + hd] |= head
            paint = np.empty((total, ww, 3), np.float32)
            paint[:] = _random_colour(rng)
            legs = hd - 1 + int(ph * 0.55)
            paint[legs:] = _random_colour(rng, dark=-0.1) * 0.7
            paint[:hd] = np.asarray([200, 160, 130], np.float32) * rng.uniform(0.5, 1.05)
            y0, x0 = foot - total, px - ww // 2
            cv.paint(sel, PERSON, paint, y0, x0)
            objects.append({"class": "person", "bbox": _clip_bbox(y0, x0, foot, x0 + ww, h, w)})

    # ignore: the bonnet of the recording car along the bottom edge in some frames
    if rng.random() < 0.5:
        bonnet = ((yy - (h + h * 0.02)) / (h * 0.1)) ** 2 + ((xx - w / 2) / (w * 0.45)) ** 2 <= 1.0
        cv.mask[bonnet] = IGNORE
        shade = np.broadcast_to(np.clip(1 - (h - yy) / (h * 0.12), 0, 1), (h, w))[bonnet]
        cv.img[bonnet] = np.asarray([40, 40, 45], np.float32) + 25 * shade[:, None]

    image = _light(cv.img, rng, coarse, yy, xx, horizon)
    return Scene(image, cv.mask, objects)


def _clip_bbox(y0, x0, y1, x1, h, w) -> list[int]:
    return [int(max(0, y0)), int(max(0, x0)), int(min(h, y1)), int(min(w, x1))]


def _light(img: np.ndarray, rng: np.random.Generator, coarse: np.ndarray, yy, xx, horizon: int) -> np.ndarray:
    """Scene lighting: brightness, contrast, colour cast, a gradient, cast shadows, noise and blur."""
    h, w, _ = img.shape
    gain = rng.uniform(0.65, 1.25)
    cast = 1 + rng.normal(0, 0.06, 3).astype(np.float32)
    ramp = np.linspace(rng.uniform(0.75, 1.05), rng.uniform(0.9, 1.2), w, dtype=np.float32)[None, :, None]
    out = img * gain * cast * ramp
    # a cast shadow: a slanted band over the lower half (buildings across the street)
    if rng.random() < 0.6:
        slope = rng.uniform(-0.8, 0.8)
        x_edge = rng.uniform(0.1, 0.9) * w + slope * (yy - horizon)
        side = (xx < x_edge) if rng.random() < 0.5 else (xx > x_edge)
        shadow = side & (yy > horizon - 0.15 * h)
        out = np.where(shadow[..., None], out * rng.uniform(0.5, 0.75), out)
    contrast = rng.uniform(0.8, 1.2)
    mean = out.mean()
    out = (out - mean) * contrast + mean + rng.normal(0, 5, size=(h, w, 3)).astype(np.float32)
    out = ndi.uniform_filter(out, size=(2, 2, 1)) if rng.random() < 0.3 else out
    return np.clip(out, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------- predictions with errors
def make_prediction(scene: Scene, seed: int, severity: float = 1.0) -> tuple[np.ndarray, list[dict]]:
    """A prediction of ``scene`` with controlled errors; returns (mask, record of injected errors).

    Injected, each with probability scaled by ``severity``: boundary shifts of large classes,
    missed small objects (painted with the class around them), a class swap of a car to building,
    and an invented vegetation blob in the sky.

    >>> scene = make_scene(1, 32, 64)
    >>> pred, record = make_prediction(scene, 1, severity=0.0)
    >>> record, bool((pred[scene.mask != 255] == scene.mask[scene.mask != 255]).all())
    ([], True)
    """
    rng = np.random.default_rng(10_000 + seed)
    gt = scene.mask
    pred = gt.copy()
    record: list[dict] = []
    h, w = gt.shape
    valid = gt != IGNORE
    # boundary shift: grow one large class by 1-2 px into its neighbours
    for cls in (ROAD, BUILDING, SKY):
        if rng.random() < 0.8 * severity:
            px = int(rng.integers(1, 3))
            grown = ndi.binary_dilation(pred == cls, iterations=px) & valid & ~np.isin(gt, SMALL_CLASSES)
            changed = grown & (pred != cls)
            pred[grown] = cls
            record.append({"type": "boundary_shift", "class": CLASSES[cls][0], "px": px, "pixels": int(changed.sum())})
    # missed small objects: fill with the most common surrounding label
    for obj in scene.objects:
        if obj["class"] in ("person", "sign", "pole") and rng.random() < 0.35 * severity:
            cls = [n for n, _ in CLASSES].index(obj["class"])
            y0, x0, y1, x1 = obj["bbox"]
            region = np.zeros_like(valid)
            region[max(0, y0) : y1, max(0, x0) : x1] = True
            target = region & (pred == cls)
            if not target.any():
                continue
            ring = ndi.binary_dilation(target, iterations=2) & ~target & valid
            around = pred[ring]
            around = around[around < len(CLASSES)]
            fill = np.bincount(around, minlength=len(CLASSES)).argmax() if around.size else ROAD
            pred[target] = fill
            record.append({"type": "missed_object", "class": obj["class"], "bbox": obj["bbox"], "pixels": int(target.sum())})
    # class swap: a car predicted as building
    cars = [o for o in scene.objects if o["class"] == "car"]
    if cars and rng.random() < 0.3 * severity:
        y0, x0, y1, x1 = cars[0]["bbox"]
        sel = np.zeros_like(valid)
        sel[y0:y1, x0:x1] = True
        sel &= gt == CAR
        if sel.any():
            pred[sel] = BUILDING
            record.append({"type": "class_swap", "class": "car", "as": "building", "bbox": cars[0]["bbox"], "pixels": int(sel.sum())})
    # invented blob: vegetation in the sky
    if rng.random() < 0.4 * severity:
        sky = np.argwhere(gt == SKY)
        if len(sky):
            cy, cx = sky[rng.integers(len(sky))]
            yy, xx = np.ogrid[:h, :w]
            ry, rx = h * 0.03 + 1, w * 0.02 + 1
            blob = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0) & (gt == SKY)
            pred[blob] = VEGETATION
            ys, xs = np.nonzero(blob)
            record.append({
                "type": "invented_blob", "class": "vegetation",
                "bbox": [int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1], "pixels": int(blob.sum()),
            })
    pred[pred == IGNORE] = ROAD  # a model never predicts the ignore label
    return pred, record


# ---------------------------------------------------------------------- writing a data set
def write_dataset(
    out: str | Path, num_images: int = 24, height: int = 128, width: int = 256, seed: int = 0,
    severity: float = 1.0, predictions: bool = True, *, prefix: str = "street", start: int = 0,
) -> dict[str, Path]:
    """Write ``images/``, ``gt/``, ``pred/`` (index PNGs), ``classes.yaml`` and
    ``injected_errors.json`` under ``out``; returns the paths.

    Scene ``i`` is named ``{prefix}_{start + i:04d}`` and drawn from seed
    ``seed * 100_003 + start + i``, so sets written with different ``start`` do not share scenes.
    With ``predictions=False`` the ``pred/`` folder stays empty.

    >>> import tempfile
    >>> paths = write_dataset(tempfile.mkdtemp(), num_images=2, height=32, width=64)
    >>> sorted(p.name for p in paths["gt"].iterdir())
    ['street_0000.png', 'street_0001.png']
    """
    out = Path(out)
    paths = {k: out / k for k in ("images", "gt", "pred")}
    for p in paths.values():
        p.mkdir(parents=True, exist_ok=True)
    spec = street_spec()
    records = {}
    for i in range(start, start + num_images):
        name = f"{prefix}_{i:04d}"
        scene = make_scene(seed * 100_003 + i, height, width)
        _write_png(paths["images"] / f"{name}.png", scene.image)
        write_mask(paths["gt"] / f"{name}.png", scene.mask)
        if predictions:
            pred, record = make_prediction(scene, seed * 100_003 + i, severity)
            write_mask(paths["pred"] / f"{name}.png", pred)
            records[name] = record
    write_spec_yaml(out / "classes.yaml", spec)
    write_json(out / "injected_errors.json", records)
    paths["classes"] = out / "classes.yaml"
    return paths


def _write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    from .io.results import atomic_write

    with atomic_write(path, "wb") as fh:
        Image.fromarray(rgb).save(fh, format="PNG")


def write_spec_yaml(path: str | Path, spec: ClassSpec) -> None:
    """Write a class spec as YAML (the format ``--classes`` reads)."""
    import yaml

    from .io.results import atomic_write

    data = {
        "ignore_index": spec.ignore_index,
        "classes": [
            {"id": i, "name": n, "color": "#%02x%02x%02x" % c} for i, n, c in zip(spec.ids, spec.names, spec.colors)
        ],
    }
    with atomic_write(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
