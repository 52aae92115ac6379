"""Convert label masks between storage conventions, losslessly unless told otherwise.

Formats
-------
``index``
    single-channel masks (8/16-bit PNG, TIFF, BMP or ``.npy``) whose pixel values are label ids;
    a palette PNG read as ``index`` gives its raw palette indices.
``rgb``
    colour-coded masks: each class has the colour of the class spec (``--classes``), ignored
    pixels are white.
``palette``
    palette PNGs; read through the palette's colours (each pixel's colour is looked up in the
    class spec), written with the class spec's colours at each class id and white at the ignore
    label.
``labelids`` / ``trainids``
    Cityscapes ids: the official 34 labelIds, or the 19 trainIds (255 = ignore).
``zero-label`` / ``reduced``
    ADE-style ids where 0 means "other" and classes count from 1, or the reduced form where
    classes count from 0 and "other" is the ignore label (mmsegmentation's ``reduce_zero_label``).

A conversion is: decode the source format to ids, apply the format change (e.g. labelIds ->
trainIds), then the optional ``mapping`` (in the target's id space), and encode. It is *lossless*
when no two different source values end up as the same target value and every value has a place
in the target; otherwise it is refused unless ``force_lossy`` (values with no place become the
ignore label). The one exception is ``labelids -> trainids``, whose definition sends the
Cityscapes void labels to 255; the summary counts them.

>>> import numpy as np
>>> from segscope.convert import convert_values
>>> convert_values([0, 1, 2, 255], "zero-label", "reduced").tolist()
[255, 0, 1, 255]
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
from PIL import Image

from ._numbers import compact_labels
from ._yaml import safe_load
from .classes import CITYSCAPES_LABEL_TO_TRAIN, ClassSpec
from .exceptions import SegscopeError
from .io.files import JPEG_SUFFIXES, MASK_SUFFIXES, list_files
from .io.masks import open_image, read_npy_mask, reading, split_alpha
from .io.results import atomic_write

__all__ = [
    "FORMATS", "ConversionPlan", "plan_conversion", "run_conversion", "convert", "convert_values",
    "load_mapping", "decode_mask", "encode_mask", "list_sources",
]

FORMATS = ("index", "rgb", "palette", "labelids", "trainids", "zero-label", "reduced")
SINGLE = ("index", "labelids", "trainids", "zero-label", "reduced")
COLOUR = ("rgb", "palette")
#: format pairs that change ids (any other pair keeps them; rgb/palette/index mix freely)
ID_CHANGES = {("labelids", "trainids"), ("trainids", "labelids"), ("zero-label", "reduced"), ("reduced", "zero-label")}
WHITE = (255, 255, 255)
UNKNOWN = -1  # decoded id of a colour the spec does not know
NO_PLACE = None
TRAIN_TO_LABEL = {t: label for label, t in CITYSCAPES_LABEL_TO_TRAIN.items()}


def check_formats(src: str, dst: str) -> None:
    """Raise unless ``src -> dst`` is a supported conversion."""
    for name, f in (("--from", src), ("--to", dst)):
        if f not in FORMATS:
            raise SegscopeError(f"{name}: unknown format {f!r}; formats are {', '.join(FORMATS)}")
    if (src, dst) in ID_CHANGES or src == dst:
        return
    plain = ("index",) + COLOUR
    if src in plain and dst in plain:
        return
    raise SegscopeError(
        f"no conversion from {src} to {dst}; supported: index/rgb/palette among themselves, labelids <-> trainids, "
        "zero-label <-> reduced, and any format to itself (with --mapping)"
    )


# ---------------------------------------------------------------------- mapping files
def _parse_key(value, spec: ClassSpec | None, where):
    if isinstance(value, bool):
        raise SegscopeError(f"mapping: {value!r} is not a label id", where)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if spec is not None and text in spec.names:
        return spec.ids[spec.names.index(text)]
    raise SegscopeError(f"mapping: {value!r} is neither an id nor a class name", where)


def load_mapping(source: str | Path | Mapping, spec: ClassSpec | None = None) -> dict[int, int | None]:
    """Read an id mapping ``old -> new`` (``None``/``ignore`` for the ignore label).

    ``source`` is a YAML/JSON file holding a mapping (optionally under a ``mapping`` key), an
    inline ``"old:new,old:new"`` string, or a dict. Class names may stand for ids when ``spec`` is
    given.

    >>> load_mapping("255:1")
    {255: 1}
    >>> load_mapping({"3": "ignore", 4: 2})
    {3: None, 4: 2}
    """
    where = None
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        path = Path(source)
        text = str(source)
        if path.exists():
            where = path
            try:
                raw = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no part of the text
                if path.suffix.lower() == ".json":
                    data = json.loads(raw)
                else:
                    data = safe_load(raw)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise SegscopeError(f"cannot read mapping: {str(exc).splitlines()[0]}", path) from None
            except Exception as exc:  # yaml errors
                raise SegscopeError(f"not valid YAML/JSON: {str(exc).splitlines()[0]}", path) from None
        elif ":" in text:
            data = {}
            for part in text.split(","):
                if not part.strip():
                    continue
                if part.count(":") != 1:
                    raise SegscopeError(f"mapping: {part!r} is not old:new")
                k, v = (t.strip() for t in part.split(":"))
                if data.get(k, v) != v:
                    raise SegscopeError(f"mapping: {k!r} is mapped twice, to {data[k]!r} and to {v!r}")
                data[k] = v
        else:
            raise SegscopeError("no such mapping file (an inline mapping looks like '255:1,3:ignore')", path)
    if isinstance(data, dict) and set(data) == {"mapping"}:
        data = data["mapping"]
    if not isinstance(data, dict) or not data:
        raise SegscopeError("a mapping must be a non-empty map of old id -> new id", where)
    out: dict[int, int | None] = {}
    for k, v in data.items():
        key = _parse_key(k, spec, where)
        if v is None or (isinstance(v, str) and v.strip().lower() in ("ignore", "null", "none", "drop")):
            new = None
        else:
            new = _parse_key(v, spec, where)
        if key in out and out[key] != new:
            was, now = ("ignore" if x is None else x for x in (out[key], new))
            raise SegscopeError(f"mapping: id {key} is mapped twice, to {was} and to {now} ({k!r}: {v!r})", where)
        out[key] = new
        if key < 0 or (out[key] is not None and out[key] < 0):
            raise SegscopeError(f"mapping: ids must be >= 0 ({k!r}: {v!r})", where)
    return out


# ---------------------------------------------------------------------- value maps
def _base_value(v: int, src: str, dst: str, ignore: int) -> tuple[int | None, bool]:
    """(target value or None when it has no place, whether a merge into ignore is by definition)."""
    if (src, dst) == ("labelids", "trainids"):
        if v in CITYSCAPES_LABEL_TO_TRAIN:
            return CITYSCAPES_LABEL_TO_TRAIN[v], False
        if 0 <= v <= 33 or v == ignore:
            return ignore, True
        return NO_PLACE, False
    if (src, dst) == ("trainids", "labelids"):
        if v in TRAIN_TO_LABEL:
            return TRAIN_TO_LABEL[v], False
        if v == ignore:
            return 0, False
        return NO_PLACE, False
    if (src, dst) == ("zero-label", "reduced"):
        if v == 0 or v == ignore:
            return ignore, False
        return (v - 1 if v > 0 else NO_PLACE), False
    if (src, dst) == ("reduced", "zero-label"):
        if v == ignore:
            return 0, False
        return (v + 1 if v >= 0 else NO_PLACE), False
    if v == UNKNOWN:
        return NO_PLACE, False
    return v, False


def convert_values(
    values: Iterable[int], src: str, dst: str, mapping: Mapping[int, int | None] | None = None,
    ignore_index: int = 255,
) -> np.ndarray:
    """Target value of each source id (-1 where it has no place) — the id arithmetic alone.

    >>> convert_values([7, 26, 0, 3], "labelids", "trainids").tolist()
    [0, 13, 255, 255]
    >>> convert_values([1, 2, 3], "index", "index", mapping={1: 2, 3: None}).tolist()
    [2, 2, 255]
    """
    out = []
    for v in values:
        t, _ = _base_value(int(v), src, dst, ignore_index)
        if t is not None and mapping is not None and t in mapping:
            t = mapping[t]
            t = ignore_index if t is None else t
        out.append(-1 if t is None else t)
    return np.asarray(out, dtype=np.int64)


# ---------------------------------------------------------------------- decoding / encoding
def _hex(c) -> str:
    return "#%02x%02x%02x" % tuple(c)


def colour_table(spec: ClassSpec, ignore: int | None) -> dict[tuple[int, int, int], int]:
    """Colour -> id of the spec's classes; white -> the ignore label unless a class is white."""
    table = {tuple(c): i for c, i in zip(spec.colors, spec.ids)}
    if ignore is not None and WHITE not in table:
        table[WHITE] = ignore
    return table


def _need_colours(spec: ClassSpec | None, fmt: str) -> ClassSpec:
    if spec is None or not spec.colors_given:
        raise SegscopeError(f"the {fmt} format needs a class spec with a colour per class (--classes FILE)")
    return spec


def _open(path: Path):
    if path.suffix.lower() == ".npy":
        return "npy", read_npy_mask(path, allow_integral_floats=False), None
    with reading(path, "mask"):
        with open_image(path) as im:
            mode = im.mode
            palette = im.getpalette() if mode == "P" else None
            arr = np.asarray(im)
            if mode in ("RGBA", "LA"):
                arr, _ = split_alpha(arr, path)
    if arr.size == 0:
        raise SegscopeError("the mask is empty", path)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return mode, arr, palette


def decode_mask(path: str | Path, fmt: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Read a mask stored in ``fmt``: ``(arr, palette, mode)``.

    For single-channel formats ``arr`` holds the label values; for ``rgb`` it is H×W×3; for
    ``palette`` it holds the palette indices and ``palette`` is the 256×3 colour table.
    """
    path = Path(path)
    if path.suffix.lower() in JPEG_SUFFIXES:
        raise SegscopeError("JPEG masks are lossy already (segscope check explains); convert reads lossless masks only", path)
    mode, arr, palette = _open(path)
    if fmt == "rgb":
        if arr.ndim != 3:
            raise SegscopeError(f"not a colour mask (mode {mode}); use --from index or --from palette", path)
        return arr, None, mode
    if arr.ndim == 3:
        raise SegscopeError(f"a colour mask (mode {mode}); use --from rgb", path)
    if fmt == "palette":
        if mode != "P":
            raise SegscopeError(f"not a palette PNG (mode {mode}); use --from index", path)
        pal = np.zeros(768, np.int64)
        flat = np.asarray((palette or [])[:768], dtype=np.int64)
        pal[: flat.size] = flat
        return arr, pal.reshape(256, 3), mode
    return arr, None, mode


def _symbols(arr: np.ndarray, palette, fmt: str) -> tuple[list, np.ndarray, np.ndarray]:
    """(symbols, counts, inverse): the distinct source symbols of one decoded mask, their pixel
    counts, and each pixel's position among them. Symbols are ints (single-channel), colour strings
    ``#rrggbb`` (rgb) or ``(index, "#rrggbb")`` (palette)."""
    if fmt == "rgb":
        code = arr[..., 0].astype(np.uint32) << 16 | arr[..., 1].astype(np.uint32) << 8 | arr[..., 2].astype(np.uint32)
        values, lab = compact_labels(code)
        symbols = ["#%06x" % int(c) for c in values.tolist()]
    else:
        values, lab = compact_labels(arr)
        if fmt == "palette":
            symbols = [(int(v), _hex(palette[int(v)])) for v in values.tolist()]
        else:
            symbols = [int(v) for v in values.tolist()]
    counts = np.bincount(lab.reshape(-1), minlength=len(symbols))
    return symbols, counts, lab


def _decode_symbol(sym, fmt: str, table: dict | None) -> int:
    """The id a source symbol stands for (UNKNOWN for a colour the spec lacks)."""
    if fmt == "rgb":
        c = tuple(int(sym[i : i + 2], 16) for i in (1, 3, 5))
        return table.get(c, UNKNOWN)
    if fmt == "palette":
        c = tuple(int(sym[1][i : i + 2], 16) for i in (1, 3, 5))
        return table.get(c, UNKNOWN)
    return int(sym)


def encode_mask(path: str | Path, ids: np.ndarray, fmt: str, spec: ClassSpec | None, ignore: int | None,
                like_dtype=None) -> None:
    """Write ``ids`` (already in the target id space) atomically in format ``fmt``."""
    path = Path(path)
    ids = np.asarray(ids)
    if fmt in COLOUR:
        spec = _need_colours(spec, fmt)
        colour_of = {i: c for c, i in colour_table(spec, ignore).items()}
        if fmt == "rgb":
            values, lab = np.unique(ids, return_inverse=True)
            lut = np.array([colour_of[int(v)] for v in values.tolist()], dtype=np.uint8).reshape(-1, 3)
            rgb = lut[lab.reshape(ids.shape)]
            with atomic_write(path, "wb") as fh:
                Image.fromarray(rgb, mode="RGB").save(fh, format="PNG")
            return
        pal = [0] * 768
        for i, c in colour_of.items():
            if 0 <= i < 256:
                pal[3 * i : 3 * i + 3] = list(c)
        im = Image.fromarray(ids.astype(np.uint8), mode="L")
        im.putpalette(pal)  # an L image with a palette becomes a P image, indices unchanged
        with atomic_write(path, "wb") as fh:
            im.save(fh, format="PNG")
        return
    if path.suffix.lower() == ".npy":
        dtype = like_dtype if like_dtype is not None else _min_dtype(ids)
        if ids.size and (ids.min() < np.iinfo(dtype).min or ids.max() > np.iinfo(dtype).max):
            dtype = _min_dtype(ids)
        with atomic_write(path, "wb") as fh:
            np.save(fh, ids.astype(dtype))
        return
    if ids.size and (ids.min() < 0 or ids.max() > 65535):
        raise SegscopeError("values must lie in 0..65535 to be written as PNG (write .npy instead)", path)
    im = Image.fromarray(ids.astype(np.uint8), mode="L") if ids.max(initial=0) < 256 else Image.fromarray(ids.astype(np.uint16))
    with atomic_write(path, "wb") as fh:
        im.save(fh, format="PNG")


def _min_dtype(ids: np.ndarray):
    lo, hi = (int(ids.min()), int(ids.max())) if ids.size else (0, 0)
    for dt in (np.uint8, np.uint16, np.int32, np.int64) if lo >= 0 else (np.int16, np.int32, np.int64):
        if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return dt
    return np.int64


# ---------------------------------------------------------------------- the plan
@dataclass
class Row:
    """One source value of the dry-run summary."""

    source: object  # int, "#rrggbb" or (index, "#rrggbb")
    decoded: int
    target: int | None
    pixels: int
    files: int
    note: str = ""

    def source_text(self) -> str:
        if isinstance(self.source, tuple):
            return f"{self.source[0]} ({self.source[1]})"
        return str(self.source)

    def to_dict(self) -> dict:
        return {"source": self.source_text(), "target": self.target, "pixels": self.pixels, "files": self.files,
                "note": self.note}


@dataclass
class ConversionPlan:
    """What a conversion would do: the files, the value table and what it would lose."""

    src: Path
    dst: Path
    from_format: str
    to_format: str
    spec: ClassSpec | None
    mapping: dict[int, int | None] | None
    ignore_index: int | None
    files: list[tuple[Path, Path]]
    rows: list[Row] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    table: dict = field(default_factory=dict)  # source symbol -> target value (None: no place)
    ignore_encodable: bool = True

    @property
    def lossless(self) -> bool:
        return not self.losses

    def changed_pixels(self) -> int:
        """Pixels whose id changes (or that have no place in the target)."""
        return sum(r.pixels for r in self.rows if r.target is None or r.target != r.decoded)

    def to_dict(self) -> dict:
        return {
            "src": str(self.src), "dst": str(self.dst), "from": self.from_format, "to": self.to_format,
            "num_files": len(self.files), "lossless": self.lossless, "losses": self.losses,
            "existing_outputs": [str(p) for p in self.existing], "values": [r.to_dict() for r in self.rows],
        }


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def list_sources(src: str | Path, suffix: str = "") -> list[Path]:
    """The mask files convert reads under the folder ``src`` (a JPEG mask among them is an error:
    JPEG is lossy already)."""
    jpeg = list_files(src, JPEG_SUFFIXES, suffix=suffix, allow_empty=True, duplicates="extension")
    if jpeg:
        first = next(iter(jpeg.values()))
        raise SegscopeError(
            f"{len(jpeg)} JPEG mask(s) (e.g. {first.relative_to(src)}): JPEG is lossy already "
            "(segscope check explains); convert reads lossless masks only", src,
        )
    return sorted(list_files(src, MASK_SUFFIXES, suffix=suffix, duplicates="extension").values())


def _out_name(src_file: Path, to_format: str) -> str:
    if src_file.suffix.lower() == ".npy" and to_format in SINGLE:
        return src_file.name
    return src_file.stem + ".png"


def _pairs(src: Path, dst: Path, to_format: str, suffix: str) -> list[tuple[Path, Path]]:
    src_r = src.resolve()
    dst_r = dst.resolve()
    if src.is_dir():
        if dst_r == src_r or _inside(dst_r, src_r):
            raise SegscopeError("the destination lies inside the source folder; convert never writes among its sources", dst)
        if dst.exists() and not dst.is_dir():
            raise SegscopeError("the source is a folder, so the destination must be a folder", dst)
        pairs = []
        for f in list_sources(src, suffix):
            rel = f.relative_to(src)
            pairs.append((f, dst / rel.parent / _out_name(f, to_format)))
        seen: dict[Path, Path] = {}
        for s, o in pairs:
            if o in seen:
                raise SegscopeError(f"{seen[o].name} and {s.name} would both be written to {o.name}", src)
            seen[o] = s
        sources = {s.resolve() for s, _ in pairs}
        for s, o in pairs:
            if o.resolve() in sources:
                raise SegscopeError("an output would replace a source file; choose another destination", o)
        return pairs
    if not src.exists():
        raise SegscopeError("no such file or folder", src)
    out = dst / _out_name(src, to_format) if dst.is_dir() else dst
    if out.resolve() == src_r:
        raise SegscopeError("the destination is the source; convert never overwrites its sources", dst)
    suffix_ok = (".png",) if to_format in COLOUR else (".png", ".npy")
    if out.suffix.lower() not in suffix_ok:
        raise SegscopeError(f"the output must be {' or '.join(suffix_ok)} for --to {to_format}", out)
    return [(src, out)]


def _scan_file(path: str, from_format: str):
    arr, palette, _ = decode_mask(path, from_format)
    symbols, counts, _ = _symbols(arr, palette, from_format)
    return dict(zip(symbols, counts.tolist()))


def plan_conversion(
    src: str | Path, dst: str | Path, from_format: str, to_format: str, spec: ClassSpec | None = None,
    mapping: Mapping[int, int | None] | str | Path | None = None, ignore_index: int | None | str = "keep",
    suffix: str = "", jobs: int | None = 1, advance: Callable[[int], None] | None = None,
) -> ConversionPlan:
    """Read every source once and work out what the conversion does; writes nothing.

    ``ignore_index``: the ignore label ("keep": the spec's, or 255 without a spec).
    """
    check_formats(from_format, to_format)
    if (from_format in COLOUR or to_format in COLOUR):
        spec = _need_colours(spec, from_format if from_format in COLOUR else to_format)
    if ignore_index == "keep":
        ignore = spec.ignore_index if spec is not None else 255
    else:
        ignore = ignore_index  # type: ignore[assignment]
    if from_format in ("labelids", "trainids", "zero-label", "reduced") and from_format != to_format and ignore is None:
        raise SegscopeError(f"--from {from_format} --to {to_format} needs an ignore label (--ignore-index)")
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping, spec)
    src, dst = Path(src), Path(dst)
    pairs = _pairs(src, dst, to_format, suffix)
    plan = ConversionPlan(src, dst, from_format, to_format, spec, dict(mapping) if mapping else None, ignore, pairs)
    plan.existing = [o for _, o in pairs if o.exists()]
    from .engine.pool import pool_map

    pixels: Counter = Counter()
    files: Counter = Counter()
    for hist in pool_map(_scan_file, [(str(s), from_format) for s, _ in pairs], (), jobs, advance, method="forkserver"):
        pixels.update(hist)
        files.update(hist.keys())
    table = colour_table(spec, ignore) if from_format in COLOUR else None
    encodable = _encodable(to_format, spec, ignore)
    by_target: dict = defaultdict(list)
    for sym in sorted(pixels, key=_sort_key):
        decoded = _decode_symbol(sym, from_format, table)
        target, by_definition = _base_value(decoded, from_format, to_format, ignore if ignore is not None else -2)
        if decoded == UNKNOWN:
            target = None
        if target is not None and plan.mapping and target in plan.mapping:
            target = plan.mapping[target]
            target = ignore if target is None else target
            if target is None:
                raise SegscopeError("the mapping drops ids to the ignore label, but there is none (--ignore-index)")
        if target is not None and not encodable(target):
            target = None
        row = Row(sym, decoded, target, int(pixels[sym]), int(files[sym]))
        if decoded == UNKNOWN:
            row.note = "colour not in the class spec"
        elif target is None:
            row.note = f"no place in {to_format}"
        elif by_definition and target == ignore and decoded != ignore:
            row.note = "void label -> ignore (by definition)"
        plan.rows.append(row)
        plan.table[sym] = target
        if target is not None and not (by_definition and target == ignore):
            by_target[target].append(row)
    no_place = [r for r in plan.rows if r.target is None]
    if no_place:
        plan.losses.append(
            f"{len(no_place)} source value(s) have no place in {to_format} "
            f"({', '.join(r.source_text() for r in no_place[:5])}{' …' if len(no_place) > 5 else ''}; "
            f"{sum(r.pixels for r in no_place):,} px) and would become the ignore label"
        )
    for target, rows in sorted(by_target.items(), key=lambda kv: kv[0]):
        if len(rows) > 1:
            for r in rows:
                r.note = r.note or f"merged into {target}"
            plan.losses.append(
                f"{len(rows)} source values ({', '.join(r.source_text() for r in rows[:5])}) would all become {target}"
            )
    plan.ignore_encodable = ignore is not None and encodable(ignore)
    return plan


def _sort_key(sym):
    if isinstance(sym, tuple):
        return (0, sym[0], sym[1])
    if isinstance(sym, str):
        return (1, 0, sym)
    return (0, sym, "")


def _encodable(fmt: str, spec: ClassSpec | None, ignore: int | None):
    if fmt in COLOUR:
        ids = set(colour_table(spec, ignore).values())
        if fmt == "palette":
            return lambda v: v in ids and 0 <= v < 256
        return lambda v: v in ids
    return lambda v: v >= 0


def _convert_file(src: str, out: str, from_format: str, to_format: str, spec, ignore, table: dict) -> int:
    arr, palette, _ = decode_mask(src, from_format)
    symbols, _, lab = _symbols(arr, palette, from_format)
    lut = np.array([ignore if table.get(s) is None else table[s] for s in symbols], dtype=np.int64)
    ids = lut[lab]
    like = arr.dtype if (Path(src).suffix.lower() == ".npy" and from_format in SINGLE) else None
    encode_mask(out, ids, to_format, spec, ignore, like_dtype=like)
    return 1


def run_conversion(
    plan: ConversionPlan, force_lossy: bool = False, overwrite: bool = False, jobs: int | None = 1,
    advance: Callable[[int], None] | None = None,
) -> int:
    """Write every output of ``plan`` (atomically, file by file); returns the number written.

    Refuses (before writing anything) a lossy plan unless ``force_lossy``, and existing outputs
    unless ``overwrite``.
    """
    refuse = refusal(plan, force_lossy, overwrite)
    if refuse:
        raise SegscopeError(refuse, plan.dst)
    tasks = [(str(s), str(o)) for s, o in plan.files]
    args = (plan.from_format, plan.to_format, plan.spec, plan.ignore_index, plan.table)
    from .engine.pool import pool_map

    return sum(pool_map(_convert_file, tasks, args, jobs, advance, method="forkserver"))


def refusal(plan: ConversionPlan, force_lossy: bool = False, overwrite: bool = False) -> str | None:
    """Why ``plan`` would be refused, or None."""
    if plan.losses and not force_lossy:
        return "this conversion loses information: " + "; ".join(plan.losses) + " (--force-lossy to go ahead)"
    if any(r.target is None for r in plan.rows) and not plan.ignore_encodable:
        return f"values without a place need an ignore label that {plan.to_format} can hold (--ignore-index)"
    if plan.existing and not overwrite:
        names = ", ".join(str(p) for p in plan.existing[:3])
        more = f" and {len(plan.existing) - 3} more" if len(plan.existing) > 3 else ""
        return f"{len(plan.existing)} output file(s) exist already: {names}{more} (--overwrite to replace them)"
    return None


def convert(
    src: str | Path, dst: str | Path, from_format: str, to_format: str, spec: ClassSpec | None = None,
    mapping=None, ignore_index: int | None | str = "keep", force_lossy: bool = False, overwrite: bool = False,
    dry_run: bool = False, suffix: str = "", jobs: int | None = 1,
) -> ConversionPlan:
    """Plan and (unless ``dry_run``) run a conversion; returns the plan.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from segscope.io import write_mask, read_mask
    >>> d = tempfile.mkdtemp()
    >>> write_mask(f"{d}/m.png", np.array([[0, 255], [255, 0]], dtype=np.uint8))
    >>> plan = convert(f"{d}/m.png", f"{d}/fixed.png", "index", "index", mapping="255:1")
    >>> read_mask(f"{d}/fixed.png").tolist()
    [[0, 1], [1, 0]]
    """
    plan = plan_conversion(src, dst, from_format, to_format, spec, mapping, ignore_index, suffix, jobs)
    if not dry_run:
        run_conversion(plan, force_lossy, overwrite, jobs)
    return plan
