"""Read one mask *raw* (before any class mapping) and summarise everything the checks need.

A :class:`MaskProfile` is small (histograms and counts, no pixels), so a process pool can send it
back cheaply; the checks then look at the profiles of the whole dataset.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from ..io.masks import npy_labels, open_image, read_npy
from ..io.files import JPEG_SUFFIXES
from ._kernels import scan_mask

__all__ = ["CheckOptions", "MaskProfile", "profile_mask", "classify_values"]

WHITE = 0xFFFFFF

#: class-index codes used by :func:`classify_values`
IGNORE = -1
UNKNOWN = -2


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds of ``segscope check`` (all have command-line options).

    Parameters
    ----------
    min_fragment : regions smaller than this many pixels are "tiny fragments".
    sliver_fraction : a region of at least ``min_fragment`` pixels is a "sliver" when this share of
        its pixels is one pixel thick.
    max_ignore : a mask with a larger share of ignored pixels is "mostly ignore".
    min_images : a class found in fewer images than this is a small sample.
    max_imbalance : largest / smallest class pixel count above this is "extreme imbalance".
    skip : check ids not to run.
    suffix, image_suffix : stem suffixes stripped to pair masks with images
        (e.g. ``_gtFine_labelIds`` and ``_leftImg8bit``).
    """

    min_fragment: int = 4
    sliver_fraction: float = 0.8
    max_ignore: float = 0.5
    min_images: int = 5
    max_imbalance: float = 1000.0
    skip: tuple[str, ...] = ()
    suffix: str = ""
    image_suffix: str = ""


@dataclass
class MaskProfile:
    """What one mask file holds, read raw.

    ``kind`` is how it is stored: ``index8``, ``index16``, ``index32``, ``bilevel``, ``palette``,
    ``rgb``, ``rgba``, ``npy`` or ``jpeg`` (any mode, saved as JPEG). ``values`` maps each raw value
    to its pixel count (for colour masks: the class id of each known colour, plus the ignore label
    for white). ``class_pixels`` counts pixels per class index; ``ignore_pixels`` and
    ``unknown_pixels`` the rest.
    """

    image_id: str
    path: str
    error: str | None = None
    kind: str = ""
    mode: str = ""
    dtype: str = ""
    shape: tuple[int, int] = (0, 0)
    palette: dict[int, tuple[int, int, int]] | None = None  # used index -> colour (palette PNGs)
    values: dict[int, int] = field(default_factory=dict)
    unknown_colours: dict[int, int] = field(default_factory=dict)  # colour code -> pixels
    transparent_pixels: int = 0
    class_pixels: np.ndarray | None = None
    ignore_pixels: int = 0
    unknown_pixels: int = 0
    content_hash: str = ""
    # lossy-compression evidence
    edge_pixels: int = 0
    between_pixels: int = 0
    tiny_regions: int = 0
    stray_values: list[int] = field(default_factory=list)  # unknown values with no interior pixel
    # annotation noise, per class index
    fragments: dict[int, int] = field(default_factory=dict)
    slivers: dict[int, int] = field(default_factory=dict)
    # the paired image
    image_path: str | None = None
    image_shape: tuple[int, int] | None = None
    image_hash: str = ""
    image_error: str | None = None

    @property
    def total_pixels(self) -> int:
        return int(self.shape[0]) * int(self.shape[1])

    @property
    def name(self) -> str:
        return Path(self.path).name


def classify_values(spec: ClassSpec, values, colour_ids: bool = False) -> np.ndarray:
    """Class index of each raw label value: ``0..K-1``, ``-1`` for ignored, ``-2`` for unknown.

    Follows :meth:`ClassSpec.to_index` exactly (including a spec's raw-value map such as Cityscapes
    labelIds). With ``colour_ids`` the values are class ids decoded from colours, so the raw map is
    not applied.

    >>> from segscope.classes import ClassSpec
    >>> spec = ClassSpec(("a", "b"), (3, 7), ((0, 0, 0), (9, 9, 9)), ignore_index=0)
    >>> classify_values(spec, [3, 7, 0, 5]).tolist()
    [0, 1, -1, -2]
    """
    vals = np.asarray(values, dtype=np.int64).reshape(-1)
    out = np.full(vals.shape, UNKNOWN, dtype=np.int64)
    if colour_ids or spec.is_identity:
        id_to_index = {cid: k for k, cid in enumerate(spec.ids)}
        for i, v in enumerate(vals.tolist()):
            if v in id_to_index:
                out[i] = id_to_index[v]
            elif spec.ignore_index is not None and v == spec.ignore_index:
                out[i] = IGNORE
        return out
    inside = (vals >= 0) & (vals < 65536)
    index = spec.to_index(vals[inside].astype(np.int64)).astype(np.int64)
    res = np.where(index == spec.index_ignore, IGNORE, np.where(index == spec.index_invalid, UNKNOWN, index))
    out[inside] = res
    return out


# ---------------------------------------------------------------------- reading raw
def _read_raw(path: Path, spec: ClassSpec, prof: MaskProfile):
    """Return the raw 2-D label array (for colour masks: the 24-bit colour code), or None when
    the file cannot be read (``prof.error`` says why)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = read_npy(path)
            prof.kind, prof.mode, prof.dtype = "npy", f"npy {arr.dtype}", str(arr.dtype)
            return npy_labels(arr, path)
        except SegscopeError as exc:
            prof.error = _reason(exc)
            return None
    try:
        with open_image(path) as im:
            mode = im.mode
            prof.mode = mode
            if mode == "P":
                arr = np.asarray(im)
                raw_pal = im.getpalette() or []
                pal = np.zeros((256, 3), np.int64)
                flat = np.asarray(raw_pal[:768], dtype=np.int64)
                pal.reshape(-1)[: flat.size] = flat
                prof.kind = "palette"
                used = np.flatnonzero(np.bincount(arr.reshape(-1), minlength=256))
                prof.palette = {int(i): tuple(int(c) for c in pal[i]) for i in used}
            elif mode in ("L", "I;16", "I;16B", "I;16L", "I", "1"):
                arr = np.asarray(im)
                prof.kind = {"L": "index8", "1": "bilevel", "I": "index32"}.get(mode, "index16")
            elif mode in ("RGB", "RGBA"):
                arr = np.asarray(im)
                prof.kind = mode.lower()
            elif mode == "LA":
                arr = np.asarray(im.getchannel(0))
                prof.kind = "index8"
            else:
                prof.error = f"unsupported mask mode {mode!r}"
                return None
    except SegscopeError as exc:
        prof.error = _reason(exc)
        return None
    except FileNotFoundError:
        prof.error = "no such file"
        return None
    except Exception as exc:  # PIL raises many types on corrupt data
        prof.error = f"cannot read mask: {_one_line(exc)}"
        return None
    if arr.size == 0:
        prof.error = "the mask is empty"
        return None
    if suffix in JPEG_SUFFIXES:
        prof.kind = "jpeg"
    prof.dtype = str(arr.dtype)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            prof.transparent_pixels = int((arr[..., 3] < 255).sum())
        rgb = arr[..., :3].astype(np.uint32)
        return rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    return arr


def _colour_table(spec: ClassSpec) -> dict[int, int]:
    """Colour code -> class id (white -> the ignore label, as :func:`segscope.io.rgb_to_ids`)."""
    table = {(r << 16) | (g << 8) | b: cid for (r, g, b), cid in zip(spec.colors, spec.ids)}
    if spec.ignore_index is not None and WHITE not in table:
        table[WHITE] = spec.ignore_index
    return table


def profile_mask(
    image_id: str, path: str | Path, spec: ClassSpec, options: CheckOptions, image_path: str | Path | None = None
) -> MaskProfile:
    """Read one mask raw and summarise it (never raises on bad input: ``error`` says why)."""
    path = Path(path)
    prof = MaskProfile(image_id=image_id, path=str(path))
    if image_path is not None:
        _profile_image(Path(image_path), prof)
    raw = _read_raw(path, spec, prof)
    if raw is None:
        return prof
    prof.shape = (int(raw.shape[0]), int(raw.shape[1]))
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((raw.shape, prof.kind)).encode())
    digest.update(np.ascontiguousarray(raw).tobytes())
    prof.content_hash = digest.hexdigest()
    scan = scan_mask(raw)
    colour = prof.kind in ("rgb", "rgba") or (prof.kind == "jpeg" and prof.mode in ("RGB", "RGBA"))
    if colour:
        table = _colour_table(spec) if spec.colors_given else {}
        ids = np.array([table.get(int(c), -1) for c in scan.values.tolist()], dtype=np.int64)
        known = ids >= 0
        for c, n in zip(scan.values[~known].tolist(), scan.count[~known].tolist()):
            prof.unknown_colours[int(c)] = int(n)
        for cid, n in zip(ids[known].tolist(), scan.count[known].tolist()):
            prof.values[int(cid)] = prof.values.get(int(cid), 0) + int(n)
        cls_of_value = np.full(scan.values.shape, UNKNOWN, dtype=np.int64)
        cls_of_value[known] = classify_values(spec, ids[known], colour_ids=True)
    else:
        prof.values = {int(v): int(n) for v, n in zip(scan.values.tolist(), scan.count.tolist())}
        cls_of_value = classify_values(spec, scan.values)
    k = spec.num_classes
    class_pixels = np.zeros(k, dtype=np.int64)
    valid = cls_of_value >= 0
    np.add.at(class_pixels, cls_of_value[valid], scan.count[valid])
    prof.class_pixels = class_pixels
    prof.ignore_pixels = int(scan.count[cls_of_value == IGNORE].sum())
    prof.unknown_pixels = int(scan.count[cls_of_value == UNKNOWN].sum())
    # lossy compression: pixels strictly between their neighbours' values, tiny regions, and
    # unknown values that never form an interior pixel
    prof.edge_pixels = int((scan.count - scan.interior).sum())
    prof.between_pixels = 0 if colour else int(scan.between.sum())
    prof.tiny_regions = int((scan.comp_size <= 2).sum())
    stray = (cls_of_value == UNKNOWN) & (scan.interior == 0)
    prof.stray_values = [int(v) for v in scan.values[stray].tolist()]
    # annotation noise per class
    pos = np.searchsorted(scan.values, scan.comp_value)
    comp_cls = cls_of_value[pos]
    is_class = comp_cls >= 0
    small = is_class & (scan.comp_size < options.min_fragment)
    sliver = is_class & ~small & (scan.comp_thin >= options.sliver_fraction * scan.comp_size)
    for cls in comp_cls[small].tolist():
        prof.fragments[int(cls)] = prof.fragments.get(int(cls), 0) + 1
    for cls in comp_cls[sliver].tolist():
        prof.slivers[int(cls)] = prof.slivers.get(int(cls), 0) + 1
    return prof


def _profile_image(path: Path, prof: MaskProfile) -> None:
    prof.image_path = str(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
        prof.image_shape = (int(h), int(w))
        prof.image_hash = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except Exception as exc:
        prof.image_error = f"cannot read image: {_one_line(exc)}"


def _reason(exc: SegscopeError) -> str:
    """The message of an error without the file name (a profile names its file itself)."""
    text = str(exc)
    prefix = f"{exc.path}: " if exc.path else ""
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
