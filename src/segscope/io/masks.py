"""Reading and writing masks and images; colour masks decode to the role's id space."""

from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from ..classes import ClassSpec
from ..exceptions import SegscopeError
from .files import is_url, read_bytes
from .results import atomic_write

__all__ = [
    "reading",
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS",
    "max_pixels",
    "set_max_pixels",
    "check_pixels",
    "opened",
    "open_image",
    "split_alpha",
    "read_npy",
    "npy_labels",
    "rgb_to_ids",
    "read_mask",
    "read_pair",
    "decode_png",
    "png_layout",
    "read_npy_mask",
    "read_image",
    "write_mask",
    "load_probs",
]

# segscope checks the declared size of every file itself (check_pixels), with its own limit.
Image.MAX_IMAGE_PIXELS = None

#: The default largest image or mask decoded, in pixels: 2**28 = 16384 × 16384.
DEFAULT_MAX_PIXELS = 1 << 28
#: The largest image or mask decoded, in pixels (0: no limit). None: ``SEGSCOPE_MAX_PIXELS`` from
#: the environment, or :data:`DEFAULT_MAX_PIXELS`.
MAX_PIXELS: int | None = None
_ENV = "SEGSCOPE_MAX_PIXELS"


def parse_max_pixels(value: object, what: str = "--max-pixels") -> int:
    """A pixel limit: an integer >= 0 (0: no limit), or "none" for no limit.

    >>> parse_max_pixels("1_000_000"), parse_max_pixels("none")
    (1000000, 0)
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("none", "unlimited"):
            return 0
        try:
            value = int(text)
        except ValueError:
            raise SegscopeError(f"{what} must be a whole number of pixels or 'none', got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise SegscopeError(f"{what} must be a whole number of pixels >= 0 (0: no limit), got {value!r}")
    return int(value)


def max_pixels() -> int:
    """The pixel limit in force: :data:`MAX_PIXELS`, else ``SEGSCOPE_MAX_PIXELS``, else the default."""
    if MAX_PIXELS is not None:
        return MAX_PIXELS
    env = os.environ.get(_ENV)
    if env is not None and env.strip():
        return parse_max_pixels(env, _ENV)
    return DEFAULT_MAX_PIXELS


def set_max_pixels(limit: int | str | None) -> None:
    """Set the pixel limit of this process and of the worker processes it starts
    (None: back to ``SEGSCOPE_MAX_PIXELS`` or the default)."""
    global MAX_PIXELS
    if limit is None:
        MAX_PIXELS = None
        return
    MAX_PIXELS = parse_max_pixels(limit)
    os.environ[_ENV] = str(MAX_PIXELS)


def check_pixels(width: int, height: int, path: str | Path | None) -> None:
    """Refuse a file whose declared size is over the pixel limit, before anything is decoded.

    >>> check_pixels(60000, 60000, "bomb.png")
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: bomb.png: declares 60000×60000 = 3,600,000,000 pixels, over the limit of 268,435,456 (raise it with --max-pixels or SEGSCOPE_MAX_PIXELS)
    """
    limit = max_pixels()
    if limit and int(width) * int(height) > limit:
        raise SegscopeError(
            f"declares {int(width)}×{int(height)} = {int(width) * int(height):,} pixels, over the limit of "
            f"{limit:,} (raise it with --max-pixels or {_ENV})", path,
        )


def opened(path: str | Path):
    """What a decoder opens for ``path``: the local path itself, or for an fsspec URL
    (:func:`segscope.io.files.is_url`) its bytes, fetched in one request."""
    return io.BytesIO(read_bytes(path)) if is_url(path) else path


def _open_binary(path: str | Path):
    return io.BytesIO(read_bytes(path)) if is_url(path) else open(path, "rb")  # noqa: SIM115


def _file_size(fh) -> int:
    if isinstance(fh, io.BytesIO):
        return fh.getbuffer().nbytes
    return os.fstat(fh.fileno()).st_size


def _suffix(path: str | Path) -> str:
    name = path.rsplit("/", 1)[-1] if isinstance(path, str) else path.name
    return os.path.splitext(name)[1].lower()


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """``PIL.Image.open`` with the declared size checked against the pixel limit first."""
    with Image.open(opened(path)) as im:
        check_pixels(im.size[0], im.size[1], path)
        yield im


def split_alpha(arr: np.ndarray, path: str | Path | None, transparent: str | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an H×W×2 (LA) or H×W×4 (RGBA) mask into its colour channels and where it is
    transparent.

    A mask with transparent pixels is refused (they would count as labelled), unless
    ``transparent="ignore"``: then the second value marks them, for the caller to set to the
    ignore label.
    """
    colour, alpha = arr[..., :-1], arr[..., -1]
    see_through = alpha != np.iinfo(alpha.dtype).max if alpha.dtype.kind in "ui" else alpha != 1
    if not see_through.any():
        return (colour[..., 0] if colour.shape[-1] == 1 else colour), None
    if transparent != "ignore":
        raise SegscopeError(
            f"{int(see_through.sum())} pixel(s) are transparent (alpha < opaque); a label mask must be "
            "opaque: flatten it, or set 'transparent: ignore' in the class spec to read them as ignore", path,
        )
    return (colour[..., 0] if colour.shape[-1] == 1 else colour), see_through


def _set_ignore(ids: np.ndarray, where: np.ndarray, spec: ClassSpec | None, path) -> np.ndarray:
    ignore = None if spec is None else spec.ignore_index
    if ignore is None:
        raise SegscopeError("transparent pixels are read as ignore, but the class spec has no ignore label", path)
    if not np.can_cast(np.min_scalar_type(ignore), ids.dtype):
        ids = ids.astype(np.int32 if -(1 << 31) <= ignore < (1 << 31) else np.int64)
    ids = ids.copy()
    ids[where] = ignore
    return ids


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
    dtype = np.uint8 if ids.min(initial=0) >= 0 and ids.max(initial=0) < 256 else np.int32
    return ids.astype(dtype)[pos]


@contextlib.contextmanager
def reading(path, what: str) -> Iterator[None]:
    """Turn what goes wrong while opening and decoding ``path`` into one-line errors:
    ``no such file``, or ``cannot read WHAT: <the first line of the error>`` (decoders raise many
    types on corrupt data); a :class:`SegscopeError` passes unchanged.

    >>> with reading("missing.png", "mask"):
    ...     open("missing.png", "rb")
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: missing.png: no such file
    """
    try:
        yield
    except SegscopeError:
        raise
    except FileNotFoundError:
        raise SegscopeError("no such file", path) from None
    except Exception as exc:  # noqa: BLE001 - PIL and numpy raise many types on bad data
        raise SegscopeError(f"cannot read {what}: {_one_line(exc)}", path) from None


def read_mask(path: str | Path, spec: ClassSpec | None = None, role: str = "gt",
              transparent: str | None = None) -> np.ndarray:
    """Read a label mask as a 2-D integer array of raw label ids.

    Supported: single-channel PNG (modes L, P, I;16, I; for a palette PNG the index is the label),
    RGB colour-coded PNG (mapped through ``spec``'s colours), and ``.npy`` arrays.

    ``role`` ("gt" or "pred") says which id space a colour mask is decoded into. An RGBA or LA
    mask with transparent pixels is refused unless ``transparent="ignore"`` (default: the spec's
    ``transparent`` setting) reads them as the ignore label. Files over the pixel limit
    (:func:`max_pixels`) are refused before they are decoded.
    Raises :class:`SegscopeError` naming the file on anything unreadable.
    """
    path = path if is_url(path) else Path(path)
    if _suffix(path) == ".npy":
        return read_npy_mask(path)
    if transparent is None and spec is not None:
        transparent = spec.transparent
    see_through = None
    with reading(path, "mask"):
        decoded = decode_png(path) if _suffix(path) == ".png" else None
        if decoded is not None:
            mode, arr = decoded
            _check_mode(mode, spec, path)
        else:
            with open_image(path) as im:
                mode = im.mode
                _check_mode(mode, spec, path)
                arr = np.asarray(im)
        if mode in ("RGBA", "LA"):
            arr, see_through = split_alpha(arr, path, transparent)
    _not_empty(arr, path)
    if arr.ndim == 3:
        arr = rgb_to_ids(arr, spec, path, role)  # type: ignore[arg-type]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if see_through is not None:
        arr = _set_ignore(arr, see_through, spec, path)
    return arr


def _check_mode(mode: str, spec: ClassSpec | None, path) -> None:
    if mode in ("RGB", "RGBA"):
        if spec is None or not spec.colors_given:
            raise SegscopeError("an RGB colour mask needs a class spec with colours (--classes)", path)
    elif mode not in ("L", "P", "I;16", "I;16B", "I;16L", "I", "1", "LA"):
        raise SegscopeError(f"unsupported mask mode {mode!r}", path)


# ---------------------------------------------------------------------- the fast PNG decoder
#: PNG (colour type, bit depth) -> Pillow's mode, for the files :func:`decode_png` decodes itself:
#: 8-bit grey, RGB, grey + alpha and RGBA, and 16-bit grey. Palette, 1/2/4-bit, 16-bit colour
#: and files with a ``tRNS`` chunk are left to Pillow, which gives what it always gave (indices of
#: a palette PNG, Pillow's own reductions).
_FAST_PNG_MODES = {(0, 8): "L", (0, 16): "I;16", (2, 8): "RGB", (4, 8): "LA", (6, 8): "RGBA"}
_FAST_PNG_CHANNELS = {"L": 0, "I;16": 0, "RGB": 3, "LA": 2, "RGBA": 4}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_decoder():
    """imagecodecs' libpng decoder, or None when imagecodecs (or its PNG codec) is not installed."""
    try:
        import imagecodecs
    except ImportError:
        return None
    return getattr(imagecodecs, "png_decode", None) if getattr(imagecodecs, "PNG", None) else None


def png_layout(data: bytes) -> tuple[int, int, str] | None:
    """Width, height and the Pillow mode of a PNG :func:`decode_png` decodes itself, from its
    header and the chunks before the image data; None for any other file.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (5, 3)).save(buf, format="PNG")
    >>> png_layout(buf.getvalue())
    (5, 3, 'L')
    """
    if len(data) < 33 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    mode = _FAST_PNG_MODES.get((data[25], data[24]))
    if mode is None or data[26] != 0 or data[27] != 0:
        return None
    at = 33
    while at + 8 <= len(data):
        kind = data[at + 4:at + 8]
        if kind == b"IDAT":
            return width, height, mode
        if kind in (b"tRNS", b"PLTE"):
            return None
        at += 12 + int.from_bytes(data[at:at + 4], "big")
    return None


def decode_png(path: str | Path, decoder=None) -> tuple[str, np.ndarray] | None:
    """Decode a PNG mask with imagecodecs (libpng; about twice as fast as Pillow on masks), as
    ``(Pillow's mode, the array Pillow would give)``; or None, and the caller decodes it with
    Pillow: imagecodecs not installed, a layout left to Pillow (see :func:`png_layout`), or a file
    the fast decoder cannot decode (Pillow then says what is wrong with it).

    The declared size is checked against the pixel limit first (:func:`check_pixels`).
    ``decoder``: the decoding function (default: imagecodecs' ``png_decode``).
    """
    decoder = decoder or _png_decoder()
    if decoder is None:
        return None
    with _open_binary(path) as fh:
        data = fh.read()
    layout = png_layout(data)
    if layout is None:
        return None
    width, height, mode = layout
    check_pixels(width, height, path)
    try:
        arr = np.asarray(decoder(data))
    except Exception:  # noqa: BLE001 - any failure: Pillow decodes it, or reports the problem
        return None
    channels = _FAST_PNG_CHANNELS[mode]
    shape = (height, width, channels) if channels else (height, width)
    dtype = np.uint16 if mode == "I;16" else np.uint8
    if arr.shape != shape or arr.dtype != dtype:
        return None
    return mode, arr


def _not_empty(arr: np.ndarray, path) -> None:
    if arr.size == 0:
        raise SegscopeError(f"the mask is empty ({'×'.join(str(n) for n in arr.shape)} pixels)", path)


def _npy_header(fh, path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an open ``.npy`` file's header (left positioned at the data)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version in ((2, 0), (3, 0)):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise SegscopeError(f"unsupported .npy format version {version}", path)
    return tuple(int(n) for n in shape), dtype


def _npy_shape(path, what: str) -> tuple[int, ...]:
    with reading(path, what):
        with _open_binary(path) as fh:
            return _npy_header(fh, path)[0]


def read_npy(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` file as stored, after checking its header: a plain numeric array, within
    the pixel limit, with as many bytes as the header declares (no pickles)."""
    with reading(path, ".npy mask"):
        with _open_binary(path) as fh:
            shape, dtype = _npy_header(fh, path)
            offset = fh.tell()
            size = _file_size(fh)
            if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
                raise SegscopeError(f"a mask must hold integer labels, this array is {dtype}", path)
            count = math.prod(shape)
            if len(shape) >= 2:
                check_pixels(shape[1], shape[0], path)
            else:
                check_pixels(count, 1, path)
            if size - offset < count * dtype.itemsize:
                raise SegscopeError(
                    f"truncated .npy: the header declares {count * dtype.itemsize:,} bytes of data, "
                    f"the file holds {size - offset:,}", path,
                )
            fh.seek(0)
            return np.load(fh, allow_pickle=False)


#: Float masks may hold whole numbers in this range (the int32 ids).
_FLOAT_ID_RANGE = (-(1 << 31), (1 << 31) - 1)


def npy_labels(arr: np.ndarray, path: str | Path | None, allow_integral_floats: bool = True) -> np.ndarray:
    """The label array of a loaded ``.npy`` mask: 2-D (H×W×1 squeezed), not empty, integers
    (bool becomes uint8; floats holding whole numbers in the int32 range become int64 when
    ``allow_integral_floats``).

    >>> npy_labels(np.array([[0.0, 2.5]]), "m.npy")
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: m.npy: a mask must hold integer labels: this float64 array holds float values that are not whole numbers (e.g. 2.5)
    """
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise SegscopeError(f"a mask must be 2-D, this array has shape {arr.shape}", path)
    _not_empty(arr, path)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if not (allow_integral_floats and np.issubdtype(arr.dtype, np.floating)):
        raise SegscopeError(f"a mask must hold integer labels, this array is {arr.dtype}", path)
    whole = np.isfinite(arr) & (arr == np.round(arr))
    if not whole.all():
        bad = float(arr[~whole].flat[0])
        raise SegscopeError(
            f"a mask must hold integer labels: this {arr.dtype} array holds float values that are not "
            f"whole numbers (e.g. {bad!r})", path,
        )
    lo, hi = _FLOAT_ID_RANGE
    outside = (arr < np.float64(lo)) | (arr > np.float64(hi))  # float64 bounds: float16 cannot hold them
    if outside.any():
        bad = float(arr[outside].flat[0])
        raise SegscopeError(
            f"a mask must hold integer labels: this {arr.dtype} array holds float values outside the id "
            f"range {lo}..{hi} (e.g. {bad!r})", path,
        )
    return arr.astype(np.int64)
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
    return npy_labels(read_npy(path), path, allow_integral_floats)


def read_image(path: str | Path) -> np.ndarray:
    """Read an RGB image as H×W×3 uint8 (refused over the pixel limit)."""
    with reading(path, "image"):
        with open_image(path) as im:
            arr = np.asarray(im.convert("RGB"))
    if arr.size == 0:
        raise SegscopeError("the image is empty", path)
    return arr


def write_mask(path: str | Path, mask: np.ndarray, palette: Sequence[tuple[int, int, int]] | None = None) -> None:
    """Write a label mask atomically: ``.npy`` as is, ``.png`` as 8-bit (palette when given) or
    16-bit. A PNG mask must be 2-D (H×W×1 squeezed) and hold integers 0..65535 (bool, and floats
    holding whole numbers, are converted); anything else, or another suffix, is a
    :class:`SegscopeError` naming ``path``."""
    path = Path(path)
    mask = np.asarray(mask)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with atomic_write(path, "wb") as fh:
            np.save(fh, mask)
        return
    if suffix != ".png":
        raise SegscopeError(f"masks are written as .png or .npy, not {suffix or 'a name without a suffix'}", path)
    mask = npy_labels(mask, path)
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
    want = (num_classes, *shape)
    if _suffix(path) == ".npy":
        declared = _npy_shape(path, "probabilities")
        if declared != want:
            raise SegscopeError(f"probabilities must have shape K×H×W = {want}, got {declared}", path)
    try:
        data = np.load(opened(path), allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                key = "probs" if "probs" in data.files else data.files[0]
                arr = data[key]
        else:
            arr = data
    except Exception as exc:  # numpy raises several types on bad files
        raise SegscopeError(f"cannot read probabilities: {_one_line(exc)}", path) from None
    if arr.shape != want:
        raise SegscopeError(f"probabilities must have shape K×H×W = {want}, got {arr.shape}", path)
    if not np.issubdtype(arr.dtype, np.floating):
        raise SegscopeError(f"probabilities must be floats, got {arr.dtype}", path)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if lo < -1e-3 or hi > 1 + 1e-3 or not (math.isfinite(lo) and math.isfinite(hi)):
        raise SegscopeError(f"probabilities must lie in [0, 1] (softmax, not logits); found {lo:g}..{hi:g}", path)
    return arr
