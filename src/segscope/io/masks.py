"""Reading and writing masks and images; colour masks decode to the role's id space."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from .results import atomic_write

__all__ = [
    "rgb_to_ids",
    "read_mask",
    "read_pair",
    "read_npy_mask",
    "read_image",
    "write_mask",
    "load_probs",
]

# PIL refuses huge images by default; masks of real datasets can be large but are trusted files.
Image.MAX_IMAGE_PIXELS = None


def rgb_to_ids(rgb: np.ndarray, spec: ClassSpec, path: str | Path | None = None, role: str = "gt") -> np.ndarray:
    """Map an H×W×3 colour-coded mask to label ids through the spec's colours.

    The ids are those the spec expects for ``role`` ("gt" or "pred"): class ids, or for a spec
    that maps raw ids (Cityscapes labelIds), the raw id of each class.

    An unknown colour is an error naming the colour, its pixel count and the file.

    >>> from segscope.classes import ClassSpec
    >>> spec = ClassSpec(("bg", "fg"), (0, 1), ((0, 0, 0), (255, 0, 0)))
    >>> rgb_to_ids(np.array([[[0, 0, 0], [255, 0, 0]]], dtype=np.uint8), spec).tolist()
    [[0, 1]]
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise SegscopeError(f"expected an H×W×3 colour mask, got shape {rgb.shape}", path)
    code = (
        rgb[..., 0].astype(np.uint32) << 16 | rgb[..., 1].astype(np.uint32) << 8 | rgb[..., 2].astype(np.uint32)
    )
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in spec.colors], dtype=np.uint32)
    ids = np.array(spec.ids, dtype=np.int64)
    raw_map = spec.gt_map if role == "gt" else spec.pred_map
    if raw_map is not None:
        raw_of = {}
        for raw, cid in sorted(raw_map.items()):
            raw_of.setdefault(cid, raw)
        ids = np.array([raw_of.get(cid, spec.ignore_index if spec.ignore_index is not None else cid) for cid in spec.ids],
                       dtype=np.int64)
    if spec.ignore_index is not None:
        # White is the conventional colour of ignored pixels in colour-coded masks.
        if (255 << 16 | 255 << 8 | 255) not in keys.tolist():
            keys = np.append(keys, np.uint32(0xFFFFFF))
            ids = np.append(ids, spec.ignore_index)
    order = np.argsort(keys)
    keys, ids = keys[order], ids[order]
    pos = np.searchsorted(keys, code)
    pos = np.minimum(pos, len(keys) - 1)
    found = keys[pos] == code
    if not found.all():
        colours, counts = np.unique(code[~found], return_counts=True)
        top = np.argsort(-counts)[:3]
        desc = ", ".join(
            f"#{int(colours[i]):06x} ({int(counts[i])} px)" for i in top
        )
        more = f" and {len(colours) - 3} more" if len(colours) > 3 else ""
        raise SegscopeError(f"colour(s) not in the class spec: {desc}{more}", path)
    dtype = np.uint8 if ids.max(initial=0) < 256 else np.int32
    return ids.astype(dtype)[pos]


def read_mask(path: str | Path, spec: ClassSpec | None = None, role: str = "gt") -> np.ndarray:
    """Read a label mask as a 2-D integer array of raw label ids.

    Supported: single-channel PNG (modes L, P, I;16, I; for a palette PNG the index is the label),
    RGB colour-coded PNG (mapped through ``spec``'s colours), and ``.npy`` arrays.

    ``role`` ("gt" or "pred") says which id space a colour mask is decoded into.
    Raises :class:`SegscopeError` naming the file on anything unreadable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_npy_mask(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("L", "P", "I;16", "I;16B", "I;16L", "I", "1"):
                arr = np.asarray(im)
            elif mode in ("RGB", "RGBA"):
                if spec is None or not spec.colors_given:
                    raise SegscopeError(
                        "an RGB colour mask needs a class spec with colours (--classes)", path
                    )
                arr = np.asarray(im.convert("RGB"))
            elif mode == "LA":
                arr = np.asarray(im.getchannel(0))
            else:
                raise SegscopeError(f"unsupported mask mode {mode!r}", path)
    except SegscopeError:
        raise
    except FileNotFoundError:
        raise SegscopeError("no such file", path) from None
    except Exception as exc:  # PIL raises many types on corrupt data
        raise SegscopeError(f"cannot read mask: {_one_line(exc)}", path) from None
    if arr.ndim == 3:
        return rgb_to_ids(arr, spec, path, role)  # type: ignore[arg-type]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def read_pair(pair, spec: ClassSpec, gt: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a prediction and its GT as class indices, each in its own id space.

    The GT is read and mapped with role "gt", the prediction with role "pred" (a spec may store
    the two differently: Cityscapes labelIds GT beside trainIds or colour predictions, ``pred_map``).

    Parameters
    ----------
    pair : a :class:`~segscope.io.files.Pair` (or anything with ``pred`` and ``gt`` paths), or
        the prediction's path when ``gt`` is given.
    spec : the class spec.
    gt : the GT's path, when ``pair`` is a path.

    Returns
    -------
    ``(pred, gt)`` class-index arrays (see :meth:`ClassSpec.to_index`). Sizes are not compared
    here; the caller decides what a size mismatch means.
    """
    pred_path, gt_path = (pair, gt) if gt is not None else (pair.pred, pair.gt)
    g = spec.to_index(read_mask(gt_path, spec, "gt"), "gt")
    p = spec.to_index(read_mask(pred_path, spec, "pred"), "pred")
    return p, g


def read_npy_mask(path: str | Path, allow_integral_floats: bool = True) -> np.ndarray:
    """Read a ``.npy`` label mask: a 2-D (or H×W×1) array of integers (bool becomes uint8;
    floats holding whole numbers become int64 when ``allow_integral_floats``)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise SegscopeError(f"cannot read .npy mask: {_one_line(exc)}", path) from None
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise SegscopeError(f"a mask must be 2-D, this array has shape {arr.shape}", path)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        if (allow_integral_floats and np.issubdtype(arr.dtype, np.floating)
                and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            return arr.astype(np.int64)
        raise SegscopeError(f"a mask must hold integer labels, this array is {arr.dtype}", path)
    return arr


def read_image(path: str | Path) -> np.ndarray:
    """Read an RGB image as H×W×3 uint8."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise SegscopeError("no such file", path) from None
    except Exception as exc:
        raise SegscopeError(f"cannot read image: {_one_line(exc)}", path) from None


def write_mask(path: str | Path, mask: np.ndarray, palette: Sequence[tuple[int, int, int]] | None = None) -> None:
    """Write a label mask atomically: ``.npy`` as is, PNG as 8-bit (palette when given) or 16-bit."""
    path = Path(path)
    mask = np.asarray(mask)
    if path.suffix.lower() == ".npy":
        with atomic_write(path, "wb") as fh:
            np.save(fh, mask)
        return
    if mask.min(initial=0) < 0 or mask.max(initial=0) > 65535:
        raise SegscopeError("mask values must lie in 0..65535 to be written as PNG", path)
    if mask.max(initial=0) < 256:
        im = Image.fromarray(mask.astype(np.uint8), mode="L")
        if palette is not None:
            im = im.convert("P")
            flat = [v for c in palette for v in c][: 768]
            im.putpalette(flat + [0] * (768 - len(flat)))
    else:
        im = Image.fromarray(mask.astype(np.uint16))
    with atomic_write(path, "wb") as fh:
        im.save(fh, format="PNG")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__




def load_probs(path: Path, num_classes: int, shape: tuple[int, int]) -> np.ndarray:
    """Read a K×H×W probability array from ``.npy`` or ``.npz`` (key ``probs`` or the first)."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                key = "probs" if "probs" in data.files else data.files[0]
                arr = data[key]
        else:
            arr = data
    except Exception as exc:  # numpy raises several types on bad files
        raise SegscopeError(f"cannot read probabilities: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                            path) from None
    want = (num_classes, *shape)
    if arr.shape != want:
        raise SegscopeError(f"probabilities must have shape K×H×W = {want}, got {arr.shape}", path)
    if not np.issubdtype(arr.dtype, np.floating):
        raise SegscopeError(f"probabilities must be floats, got {arr.dtype}", path)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if lo < -1e-3 or hi > 1 + 1e-3 or not (math.isfinite(lo) and math.isfinite(hi)):
        raise SegscopeError(f"probabilities must lie in [0, 1] (softmax, not logits); found {lo:g}..{hi:g}", path)
    return arr
