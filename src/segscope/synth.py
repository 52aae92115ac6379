"""Built-in data: seeded synthetic street scenes and predictions with controlled, recorded errors.

Every scene has large classes (road, building, sky, vegetation), small ones (person, car, pole,
sign) with realistic imbalance, an RGB image, and an ignore region. Predictions copy the GT and
then inject errors of known kind and place, listed in a record per image, so a test can check
that each error lands in the category it should.

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
from .io import write_json, write_mask

__all__ = ["STREET_SPEC", "Scene", "make_scene", "make_prediction", "write_dataset", "street_spec"]

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
    """The class spec of the built-in street scenes (ignore label 255)."""
    return ClassSpec(
        tuple(n for n, _ in CLASSES), tuple(range(len(CLASSES))), tuple(c for _, c in CLASSES), IGNORE,
        name="segscope-street",
    )


STREET_SPEC = street_spec()


@dataclass
class Scene:
    image: np.ndarray
    mask: np.ndarray
    objects: list[dict] = field(default_factory=list)


def _ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.ogrid[:h, :w]
    return ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0


def make_scene(seed: int, height: int = 128, width: int = 256) -> Scene:
    """One street scene: RGB image, label mask and the list of small objects placed."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    mask = np.full((h, w), SKY, dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]

    horizon = int(h * rng.uniform(0.42, 0.55))
    # buildings: a skyline of rectangles above the horizon
    x = 0
    while x < w:
        bw = int(rng.integers(max(4, w // 10), max(6, w // 4)))
        top = int(rng.uniform(0.08, 0.35) * h)
        mask[top:horizon, x : x + bw] = BUILDING
        x += bw + int(rng.integers(0, max(2, w // 20)))
    # vegetation: a few tree crowns and hedges on the building line
    for _ in range(rng.integers(1, 4)):
        cx, cy = rng.uniform(0, w), rng.uniform(0.25 * h, horizon)
        mask[_ellipse(h, w, cy, cx, rng.uniform(0.06, 0.14) * h, rng.uniform(0.05, 0.12) * w) & (yy < horizon + 2)] = VEGETATION
    # road and sidewalks: a trapezoid widening towards the bottom
    centre = w * rng.uniform(0.4, 0.6)
    half_top = w * 0.08
    t = np.clip((yy - horizon) / max(1, h - horizon), 0, 1)
    half = half_top + t * (w * 0.55)
    below = yy >= horizon
    mask[below] = SIDEWALK
    mask[below & (np.abs(xx - centre) <= half)] = ROAD
    mask[below & (np.abs(xx - centre) > half + w * 0.12 + t * w * 0.1)] = VEGETATION

    objects: list[dict] = []
    # cars on the road
    for _ in range(rng.integers(1, 4)):
        cy = int(rng.uniform(horizon + 0.1 * h, h - 0.08 * h))
        scale = 0.3 + (cy - horizon) / max(1, h - horizon)
        cw, ch = int(w * 0.12 * scale) + 3, int(h * 0.08 * scale) + 2
        cx = int(centre + rng.uniform(-0.8, 0.8) * (half_top + (cy - horizon) / max(1, h - horizon) * w * 0.5))
        y0, x0 = max(0, cy - ch), max(0, cx - cw // 2)
        mask[y0:cy, x0 : x0 + cw] = CAR
        mask[max(0, y0 - ch // 3) : y0, x0 + cw // 5 : x0 + cw - cw // 5] = CAR
        objects.append({"class": "car", "bbox": [int(max(0, y0 - ch // 3)), x0, cy, x0 + cw]})
    # poles with signs on the sidewalk
    for _ in range(rng.integers(1, 4)):
        px = int(rng.uniform(0.03, 0.97) * w)
        bottom = int(rng.uniform(horizon + 2, min(h - 1, horizon + 0.35 * h)))
        top = max(0, bottom - int(rng.uniform(0.25, 0.45) * h))
        pw = max(1, int(round(w / 200)))
        mask[top:bottom, px : px + pw] = POLE
        objects.append({"class": "pole", "bbox": [top, px, bottom, px + pw]})
        if rng.random() < 0.7:
            s = max(2, int(h * 0.04))
            sy, sx = top, max(0, px - s // 2)
            mask[sy : sy + s, sx : sx + s + pw] = SIGN
            objects.append({"class": "sign", "bbox": [sy, sx, sy + s, sx + s + pw]})
    # people: small and numerous
    for _ in range(rng.integers(2, 7)):
        fy = int(rng.uniform(horizon + 1, h - 2))
        scale = 0.4 + (fy - horizon) / max(1, h - horizon)
        ph, pw = max(3, int(h * 0.09 * scale)), max(1, int(w * 0.012 * scale) + 1)
        px = int(rng.uniform(0.02, 0.98) * w)
        body = (yy >= fy - ph) & (yy < fy) & (np.abs(xx - px) <= pw // 2)
        head = _ellipse(h, w, fy - ph - pw * 0.6, px, pw * 0.7, pw * 0.7)
        mask[body | head] = PERSON
        objects.append({"class": "person", "bbox": [int(max(0, fy - ph - 2 * pw)), int(px - pw), fy, int(px + pw + 1)]})
    # ignore: the bonnet of the recording car along the bottom edge in some frames
    if rng.random() < 0.5:
        bonnet = _ellipse(h, w, h + h * 0.02, w / 2, h * 0.1, w * 0.45)
        mask[bonnet] = IGNORE

    image = render_image(mask, rng)
    return Scene(image, mask, objects)


def render_image(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour a label mask into a plausible RGB image: class colours, texture, light and noise."""
    h, w = mask.shape
    palette = np.array([c for _, c in CLASSES] + [(20, 20, 20)] * (256 - len(CLASSES)), dtype=np.float32)
    palette[IGNORE] = (40, 40, 45)
    base = palette[mask]
    jitter = rng.normal(0, 12, size=(len(CLASSES), 3)).astype(np.float32)
    jitter = np.vstack([jitter, np.zeros((256 - len(CLASSES), 3), np.float32)])
    base += jitter[mask]
    texture = ndi.gaussian_filter(rng.normal(0, 1, size=(h, w)).astype(np.float32), 1.5) * 18
    light = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(0.9, 1.15), w, dtype=np.float32)[None, :]
    img = base * light[..., None] + texture[..., None] + rng.normal(0, 6, size=(h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_prediction(scene: Scene, seed: int, severity: float = 1.0) -> tuple[np.ndarray, list[dict]]:
    """A prediction of ``scene`` with controlled errors; returns (mask, record of injected errors).

    Injected, each with probability scaled by ``severity``: boundary shifts of large classes,
    missed small objects (painted with the class around them), a class swap of a car to building,
    and an invented vegetation blob in the sky.
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
            ring = ndi.binary_dilation(target, iterations=2) & ~target & valid
            around = pred[ring]
            fill = np.bincount(around[around < len(CLASSES)], minlength=len(CLASSES)).argmax() if around.size else ROAD
            pred[target] = fill
            record.append({"type": "missed_object", "class": obj["class"], "bbox": obj["bbox"], "pixels": int(target.sum())})
    # class swap: a car predicted as building
    cars = [o for o in scene.objects if o["class"] == "car"]
    if cars and rng.random() < 0.3 * severity:
        y0, x0, y1, x1 = cars[0]["bbox"]
        sel = np.zeros_like(valid)
        sel[y0:y1, x0:x1] = True
        sel &= gt == CAR
        pred[sel] = BUILDING
        record.append({"type": "class_swap", "class": "car", "as": "building", "bbox": cars[0]["bbox"], "pixels": int(sel.sum())})
    # invented blob: vegetation in the sky
    if rng.random() < 0.4 * severity:
        sky = np.argwhere(gt == SKY)
        if len(sky):
            cy, cx = sky[rng.integers(len(sky))]
            blob = _ellipse(h, w, cy, cx, h * 0.03 + 1, w * 0.02 + 1) & (gt == SKY)
            pred[blob] = VEGETATION
            ys, xs = np.nonzero(blob)
            record.append({
                "type": "invented_blob", "class": "vegetation",
                "bbox": [int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1], "pixels": int(blob.sum()),
            })
    pred[pred == IGNORE] = ROAD  # a model never predicts the ignore label
    return pred, record


def write_dataset(
    out: str | Path, num_images: int = 24, height: int = 128, width: int = 256, seed: int = 0,
    severity: float = 1.0, predictions: bool = True,
) -> dict[str, Path]:
    """Write ``images/``, ``gt/``, ``pred/`` (index PNGs), ``classes.yaml`` and
    ``injected_errors.json`` under ``out``; returns the paths."""
    out = Path(out)
    paths = {k: out / k for k in ("images", "gt", "pred")}
    for p in paths.values():
        p.mkdir(parents=True, exist_ok=True)
    spec = street_spec()
    records = {}
    for i in range(num_images):
        name = f"street_{i:04d}"
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

    from .io import atomic_write

    with atomic_write(path, "wb") as fh:
        Image.fromarray(rgb).save(fh, format="PNG")


def write_spec_yaml(path: str | Path, spec: ClassSpec) -> None:
    """Write a class spec as YAML (the format ``--classes`` reads)."""
    import yaml

    from .io import atomic_write

    data = {
        "ignore_index": spec.ignore_index,
        "classes": [
            {"id": i, "name": n, "color": "#%02x%02x%02x" % c} for i, n, c in zip(spec.ids, spec.names, spec.colors)
        ],
    }
    with atomic_write(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
