"""Reading and writing masks, pairing prediction and GT files, and writing outputs safely."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from .classes import ClassSpec
from .errors_base import SegscopeError

__all__ = [
    "MASK_SUFFIXES",
    "read_mask",
    "read_image",
    "write_mask",
    "rgb_to_ids",
    "list_masks",
    "pair_masks",
    "Pair",
    "atomic_write",
    "write_json",
]

MASK_SUFFIXES = (".png", ".npy", ".bmp", ".tif", ".tiff")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

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


# ---------------------------------------------------------------------- pairing
def _stem(path: Path, suffix: str) -> str:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    if suffix and stem.endswith(suffix):
        stem = stem[: -len(suffix)]
    return stem


def list_masks(
    folder: str | Path, suffix: str = "", recursive: bool = True,
    extensions: Sequence[str] = MASK_SUFFIXES, what: str = "mask files",
) -> dict[str, Path]:
    """Map image id -> file for the files under ``folder`` whose extension is in ``extensions``.

    The id is the path relative to ``folder`` without its extension and without ``suffix``
    (e.g. ``_gtFine_labelIds``). Nested folders are searched (Cityscapes keeps one per city).
    """
    folder = Path(folder)
    if not folder.exists():
        raise SegscopeError("no such folder", folder)
    if not folder.is_dir():
        raise SegscopeError("not a folder", folder)
    files = folder.rglob("*") if recursive else folder.iterdir()
    found: dict[str, Path] = {}
    for f in sorted(files):
        if not f.is_file() or f.suffix.lower() not in extensions or f.name.startswith("."):
            continue
        if suffix and not _stem(f, "").endswith(suffix):
            continue
        rel = f.relative_to(folder)
        key = str(rel.parent / _stem(f, suffix)) if rel.parent != Path(".") else _stem(f, suffix)
        key = key.replace(os.sep, "/")
        if key in found:
            raise SegscopeError(f"two {what} share the id {key!r}: {found[key].name} and {f.name}", folder)
        found[key] = f
    if not found:
        ending = f" ending in {suffix!r}" if suffix else ""
        raise SegscopeError(f"no {what}{ending} ({', '.join(extensions)}) found", folder)
    return found


def list_images(folder: str | Path, suffix: str = "") -> dict[str, Path]:
    """Map image id -> file for the images under ``folder``, named like :func:`list_masks`."""
    return list_masks(folder, suffix, extensions=IMAGE_SUFFIXES, what="images")


@dataclass(frozen=True)
class Pair:
    image_id: str
    pred: Path
    gt: Path


def _flatten_keys(pred: dict[str, Path], gt: dict[str, Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    """When the two folders are nested differently, fall back to pairing by file stem alone."""
    if set(pred) & set(gt):
        return pred, gt
    flat_p = {k.rsplit("/", 1)[-1]: v for k, v in pred.items()}
    flat_g = {k.rsplit("/", 1)[-1]: v for k, v in gt.items()}
    if len(flat_p) == len(pred) and len(flat_g) == len(gt):
        return flat_p, flat_g
    return pred, gt


def pair_masks(
    pred_dir: str | Path,
    gt_dir: str | Path,
    pred_suffix: str = "",
    gt_suffix: str = "",
    allow_missing: bool = False,
) -> list[Pair]:
    """Pair prediction and GT files by id (relative path and stem, suffixes stripped).

    Every GT needs a prediction: missing ones are an error naming them (unless ``allow_missing``,
    which evaluates the pairs that exist). Predictions with no GT are an error too.
    """
    pred = list_masks(pred_dir, pred_suffix)
    gt = list_masks(gt_dir, gt_suffix)
    pred, gt = _flatten_keys(pred, gt)
    missing = sorted(set(gt) - set(pred))
    extra = sorted(set(pred) - set(gt))
    common = sorted(set(gt) & set(pred))
    if not common:
        raise SegscopeError(
            f"no prediction matches a GT file by name (e.g. GT {next(iter(gt))!r}, "
            f"prediction {next(iter(pred))!r}); use --pred-suffix/--gt-suffix to strip suffixes",
            pred_dir,
        )
    if (missing or extra) and not allow_missing:
        parts = []
        if missing:
            parts.append(f"{len(missing)} GT file(s) have no prediction: {_some(missing)}")
        if extra:
            parts.append(f"{len(extra)} prediction(s) have no GT: {_some(extra)}")
        raise SegscopeError("; ".join(parts) + " (--allow-missing evaluates the pairs that exist)", pred_dir)
    if missing or extra:
        warnings.warn(
            f"{len(missing)} GT file(s) without prediction and {len(extra)} prediction(s) without GT "
            f"were skipped", stacklevel=2
        )
    return [Pair(k, pred[k], gt[k]) for k in common]


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ---------------------------------------------------------------------- safe output
@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``path`` and move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs follow the umask
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def clean_json(value):
    """Replace NaN/inf floats by None recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def write_json(path: str | Path, data) -> None:
    """Write JSON atomically, with NaN written as null."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(clean_json(data), fh, indent=2, default=_json_default, allow_nan=False)
        fh.write("\n")
