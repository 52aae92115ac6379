"""Dataset statistics: per-class pixel counts, frequencies, images per class, imbalance."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .classes import ClassSpec

__all__ = ["class_counts", "ClassCountState", "class_weights"]


def class_counts(mask, ignore_index: int | None = None) -> dict[int, int]:
    """Pixel count of every label value in ``mask`` (the ignore label left out when given).

    >>> class_counts([[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    {0: 14, 1: 2}
    """
    arr = np.asarray(mask)
    values, counts = np.unique(arr, return_counts=True)
    return {
        int(v): int(c) for v, c in zip(values.tolist(), counts.tolist()) if ignore_index is None or v != ignore_index
    }


class ClassCountState:
    """Mergeable per-class statistics over a dataset of class-index masks."""

    def __init__(self, spec: ClassSpec):
        self.spec = spec
        k = spec.num_classes
        self.pixels = np.zeros(k, dtype=np.int64)
        self.images_with = np.zeros(k, dtype=np.int64)
        self.ignore_pixels = 0
        self.unknown_pixels = 0
        self.total_pixels = 0
        self.num_images = 0

    def update(self, index_mask: np.ndarray) -> None:
        k = self.spec.num_classes
        flat = np.asarray(index_mask).reshape(-1)
        size = max(k + 1, int(flat.max(initial=0)) + 1) if flat.size else k + 1
        counts = np.bincount(flat.astype(np.int64, copy=False) if flat.dtype.kind == "i" else flat, minlength=size)
        self.pixels += counts[:k]
        self.images_with += counts[:k] > 0
        ign = self.spec.index_ignore
        ignore = int(counts[ign]) if 0 <= ign < len(counts) else 0
        self.ignore_pixels += ignore
        self.unknown_pixels += int(counts[k:].sum()) - ignore
        self.total_pixels += int(flat.size)
        self.num_images += 1

    def merge(self, other: "ClassCountState") -> "ClassCountState":
        self.pixels += other.pixels
        self.images_with += other.images_with
        self.ignore_pixels += other.ignore_pixels
        self.unknown_pixels += other.unknown_pixels
        self.total_pixels += other.total_pixels
        self.num_images += other.num_images
        return self

    def compute(self) -> dict:
        names = list(self.spec.names)
        labelled = int(self.pixels.sum())
        freq = self.pixels / labelled if labelled else np.zeros_like(self.pixels, dtype=float)
        nonzero = self.pixels[self.pixels > 0]
        imbalance = float(nonzero.max() / nonzero.min()) if nonzero.size else None
        return {
            "classes": names,
            "num_images": self.num_images,
            "total_pixels": self.total_pixels,
            "labelled_pixels": labelled,
            "class_counts": {n: int(c) for n, c in zip(names, self.pixels)},
            "frequency": {n: float(f) for n, f in zip(names, freq)},
            "images_with_class": {n: int(c) for n, c in zip(names, self.images_with)},
            "imbalance_ratio": imbalance,
            "ignore_pixels": int(self.ignore_pixels),
            "unknown_pixels": int(self.unknown_pixels),
            "absent_classes": [n for n, c in zip(names, self.pixels) if c == 0],
            "median_frequency_weights": {
                n: w for n, w in zip(names, class_weights(self.pixels, "median-frequency").tolist())
            },
        }


def class_weights(pixel_counts: Iterable[int], method: str = "median-frequency") -> np.ndarray:
    """Loss weights from per-class pixel counts.

    ``median-frequency``: median(freq) / freq_c (Eigen & Fergus); ``inverse``: 1/freq normalised
    to mean 1; ``inverse-sqrt``: 1/sqrt(freq) normalised to mean 1. Absent classes get weight 0.

    >>> class_weights([300, 100, 0]).round(3).tolist()
    [0.667, 2.0, 0.0]
    """
    counts = np.asarray(list(pixel_counts), dtype=np.float64)
    present = counts > 0
    out = np.zeros_like(counts)
    if not present.any():
        return out
    freq = counts[present] / counts[present].sum()
    if method == "median-frequency":
        w = np.median(freq) / freq
    elif method == "inverse":
        w = 1.0 / freq
        w = w / w.mean()
    elif method == "inverse-sqrt":
        w = 1.0 / np.sqrt(freq)
        w = w / w.mean()
    else:
        raise ValueError(f"unknown weighting {method!r}; use median-frequency, inverse or inverse-sqrt")
    out[present] = w
    return out
