"""Training data: images paired with masks by file name, targets in class-index space, paired
augmentations in NumPy (random scaled crop, flips, photometric jitter; masks always
nearest-neighbour) and class-aware crop sampling.

Nothing here imports torch: batches are NumPy arrays (images N×H×W×3 float32 in 0..255, targets
N×H×W int64 with ``-1`` for ignored pixels).

Examples
--------
>>> import numpy as np
>>> img = np.zeros((8, 8, 3), np.uint8); tgt = np.arange(64).reshape(8, 8) % 3
>>> x, y = scaled_crop(img, tgt, (4, 4), top=2, left=2, height=4, width=4)
>>> y.tolist() == tgt[2:6, 2:6].tolist()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.files import flatten_ids, some_names, list_images
from ..io.masks import read_image, read_mask

__all__ = [
    "IGNORE", "Dataset", "CropSampler", "list_images", "pair_images", "load_target", "split_ids",
    "scaled_crop", "photometric_jitter", "index_to_raw_lut",
]

#: the value ignored pixels take in training targets
IGNORE = -1
#: fill colour of crop padding (about the mean colour, so it normalises to ~0)
PAD_COLOUR = (124, 116, 104)


# ---------------------------------------------------------------------- files
@dataclass(frozen=True)
class Sample:
    image_id: str
    image: Path
    mask: Path


def pair_images(
    images_dir: str | Path, masks_dir: str | Path, image_suffix: str = "", mask_suffix: str = "",
) -> list[Sample]:
    """Pair images with masks by id, like ``segscope evaluate`` pairs predictions with GT.

    Every mask needs an image (an error names the ones missing); images without a mask are
    skipped with a warning (unlabelled images are common).
    """
    from ..io.files import list_masks

    images = list_images(images_dir, image_suffix)
    masks = list_masks(masks_dir, mask_suffix)
    masks, images = flatten_ids(masks, images)
    missing = sorted(set(masks) - set(images))
    if missing:
        raise SegscopeError(f"{len(missing)} mask(s) have no image: {some_names(missing)}", masks_dir)
    unlabelled = sorted(set(images) - set(masks))
    if unlabelled:
        import warnings

        warnings.warn(f"{len(unlabelled)} image(s) without a mask were skipped: {some_names(unlabelled)}", stacklevel=2)
    return [Sample(k, images[k], masks[k]) for k in sorted(masks)]


def load_target(path: str | Path, spec: ClassSpec) -> np.ndarray:
    """Read a GT mask as a training target: class indices ``0..K-1`` and :data:`IGNORE` (-1).

    Ids the spec does not know are an error naming the file and the values.
    """
    raw = read_mask(path, spec)
    index = spec.to_index(raw, "gt")
    k = spec.num_classes
    target = index.astype(np.int64)
    known = (target >= 0) & (target < k)
    ignored = target == spec.index_ignore
    if not (known | ignored).all():
        raise SegscopeError(f"GT has ids not in the class spec: {spec.describe_unknown(raw, 'gt')}", path)
    target[ignored] = IGNORE
    return target.astype(np.int16 if k < 32767 else np.int32)


def index_to_raw_lut(spec: ClassSpec) -> np.ndarray:
    """Class index -> the raw id a prediction file should hold (the inverse of the spec's
    prediction map when there is one, e.g. Cityscapes predictions in labelIds)."""
    ids = list(spec.ids)
    if spec.pred_map:
        inverse: dict[int, int] = {}
        for raw, cid in sorted(spec.pred_map.items()):
            inverse.setdefault(cid, raw)
        ids = [inverse.get(cid, cid) for cid in ids]
    return np.array(ids, dtype=np.uint8 if max(ids) < 256 else np.uint16)


def split_ids(ids: Sequence[str], val_split: float, seed: int) -> tuple[list[str], list[str]]:
    """A seeded train/validation split of ``ids`` (sorted lists; at least one image on each side
    when ``0 < val_split < 1`` and there are two or more images).

    >>> split_ids(["a", "b", "c", "d"], 0.25, seed=0)[1]
    ['c']
    """
    if not 0 <= val_split < 1:
        raise SegscopeError(f"--val-split must lie in [0, 1), got {val_split}")
    ids = sorted(ids)
    n_val = int(round(val_split * len(ids)))
    if val_split > 0 and len(ids) >= 2:
        n_val = min(max(n_val, 1), len(ids) - 1)
    order = np.random.default_rng(seed).permutation(len(ids))
    val = sorted(ids[i] for i in order[:n_val])
    train = sorted(ids[i] for i in order[n_val:])
    return train, val


# ---------------------------------------------------------------------- data in memory
@dataclass
class Dataset:
    """Images (H×W×3 uint8) and targets (H×W int, -1 ignored) held in memory."""

    ids: list[str]
    images: list[np.ndarray]
    targets: list[np.ndarray]
    num_classes: int
    paths: dict[str, Sample] = field(default_factory=dict)

    @classmethod
    def load(
        cls, samples: Sequence[Sample], spec: ClassSpec, advance: Callable[[], None] | None = None,
    ) -> "Dataset":
        ids, images, targets = [], [], []
        for s in samples:
            img = read_image(s.image)
            tgt = load_target(s.mask, spec)
            if img.shape[:2] != tgt.shape:
                raise SegscopeError(
                    f"image size {img.shape[1]}×{img.shape[0]} differs from its mask's "
                    f"{tgt.shape[1]}×{tgt.shape[0]} ({s.mask})", s.image,
                )
            ids.append(s.image_id)
            images.append(img)
            targets.append(tgt)
            if advance is not None:
                advance()
        return cls(ids, images, targets, spec.num_classes, {s.image_id: s for s in samples})

    def class_pixels(self) -> np.ndarray:
        """Labelled pixels per class over the whole set (for loss weights)."""
        k = self.num_classes
        total = np.zeros(k, dtype=np.int64)
        for t in self.targets:
            v = t[t >= 0]
            total += np.bincount(v.astype(np.int64), minlength=k)[:k]
        return total

    def __len__(self) -> int:
        return len(self.ids)


# ---------------------------------------------------------------------- augmentations
def _resize_image(window: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    if window.shape[:2] == tuple(out_hw):
        return window.astype(np.float32)
    from PIL import Image

    im = Image.fromarray(window).resize((out_hw[1], out_hw[0]), Image.BILINEAR)
    return np.asarray(im, dtype=np.float32)


def _resize_nearest(target: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    h, w = target.shape
    if (h, w) == tuple(out_hw):
        return target
    rows = np.minimum(((np.arange(out_hw[0]) + 0.5) * h / out_hw[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(out_hw[1]) + 0.5) * w / out_hw[1]).astype(np.int64), w - 1)
    return target[rows[:, None], cols[None, :]]


def scaled_crop(
    image: np.ndarray, target: np.ndarray, out_hw: tuple[int, int], top: int, left: int, height: int, width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the window ``[top:top+height, left:left+width]`` (padding outside the picture: image
    with :data:`PAD_COLOUR`, target with :data:`IGNORE`) and resize it to ``out_hw`` — the image
    bilinearly, the target nearest-neighbour. Returns (float32 H×W×3, int H×W)."""
    h, w = target.shape
    win_img = np.empty((height, width, 3), dtype=np.uint8)
    win_img[:] = PAD_COLOUR
    win_tgt = np.full((height, width), IGNORE, dtype=target.dtype)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(h, top + height), min(w, left + width)
    if y1 > y0 and x1 > x0:
        win_img[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
        win_tgt[y0 - top : y1 - top, x0 - left : x1 - left] = target[y0:y1, x0:x1]
    return _resize_image(win_img, out_hw), _resize_nearest(win_tgt, out_hw)


def photometric_jitter(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Brightness, contrast, saturation, colour balance and noise, in place on float32 0..255."""
    if strength <= 0:
        return img
    s = strength
    img *= rng.uniform(1 - 0.3 * s, 1 + 0.3 * s)  # brightness
    mean = img.mean()
    img -= mean
    img *= rng.uniform(1 - 0.3 * s, 1 + 0.3 * s)  # contrast
    img += mean
    grey = img.mean(axis=2, keepdims=True)
    sat = rng.uniform(1 - 0.3 * s, 1 + 0.3 * s)
    img *= sat
    img += (1 - sat) * grey
    img *= (1 + rng.normal(0, 0.05 * s, 3)).astype(np.float32)  # colour balance
    sigma = rng.uniform(0, 5 * s)
    if sigma > 0.5:
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    np.clip(img, 0, 255, out=img)
    return img


class CropSampler:
    """Draws augmented training crops from a :class:`Dataset`.

    Each crop: pick an image (uniformly; or, with probability ``class_aware_p`` when class-aware
    sampling is on, pick a class uniformly among the classes present, then an image holding it and
    one of its pixels, and place the crop so that pixel lies inside), a scale from
    ``scale_range``, the window of ``size / scale`` pixels, a horizontal flip with probability 0.5,
    and photometric jitter.

    Parameters
    ----------
    data : the training images and targets.
    size : (height, width) of the crops.
    scale_range : zoom factors; 2.0 shows objects twice as large.
    class_aware : oversample crops that contain rare classes.
    class_aware_p : share of crops placed on a chosen class.
    jitter : strength of the photometric jitter (0 = none).
    seed : seeds the per-image pixel index used by class-aware sampling.
    """

    def __init__(
        self, data: Dataset, size: tuple[int, int], scale_range: tuple[float, float] = (0.75, 1.5),
        class_aware: bool = False, class_aware_p: float = 0.5, jitter: float = 1.0, hflip: bool = True,
        seed: int = 0,
    ):
        if len(data) == 0:
            raise SegscopeError("no training images")
        self.data, self.size = data, (int(size[0]), int(size[1]))
        self.scale_range = scale_range
        self.class_aware, self.class_aware_p = class_aware, class_aware_p
        self.jitter, self.hflip = jitter, hflip
        self.where: dict[int, list[tuple[int, np.ndarray]]] = {}
        if class_aware:
            rng = np.random.default_rng([seed, 7])
            for i, t in enumerate(data.targets):
                flat = t.reshape(-1)
                for c in np.unique(flat[flat >= 0]).tolist():
                    pos = np.flatnonzero(flat == c)
                    if len(pos) > 64:
                        pos = np.sort(rng.choice(pos, 64, replace=False))
                    self.where.setdefault(int(c), []).append((i, pos))

    def crop(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One augmented crop: (float32 H×W×3, int H×W)."""
        oh, ow = self.size
        scale = float(np.exp(rng.uniform(np.log(self.scale_range[0]), np.log(self.scale_range[1]))))
        ch, cw = max(1, int(round(oh / scale))), max(1, int(round(ow / scale)))
        centre = None
        if self.class_aware and self.where and rng.random() < self.class_aware_p:
            classes = sorted(self.where)
            c = classes[rng.integers(len(classes))]
            i, pos = self.where[c][rng.integers(len(self.where[c]))]
            p = int(pos[rng.integers(len(pos))])
            w = self.data.targets[i].shape[1]
            centre = (p // w, p % w)
        else:
            i = int(rng.integers(len(self.data)))
        img, tgt = self.data.images[i], self.data.targets[i]
        h, w = tgt.shape
        if centre is None:
            top = int(rng.integers(0, h - ch + 1)) if h >= ch else -int(rng.integers(0, ch - h + 1))
            left = int(rng.integers(0, w - cw + 1)) if w >= cw else -int(rng.integers(0, cw - w + 1))
        else:
            top = centre[0] - int(rng.uniform(0.2, 0.8) * ch)
            left = centre[1] - int(rng.uniform(0.2, 0.8) * cw)
        x, y = scaled_crop(img, tgt, (oh, ow), top, left, ch, cw)
        if self.hflip and rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        x = photometric_jitter(np.ascontiguousarray(x), rng, self.jitter)
        return x, np.ascontiguousarray(y)

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch: images N×H×W×3 float32 (0..255) and targets N×H×W int64 (-1 ignored)."""
        xs, ys = zip(*(self.crop(rng) for _ in range(batch_size)))
        return np.stack(xs), np.stack(ys).astype(np.int64)
