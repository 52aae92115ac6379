"""Class definitions: ids, names, colours, an ignore label, and how raw mask values map to classes.

Internally every mask is turned into *class indices*: ``0 .. K-1`` for the K classes in id order,
``spec.index_ignore`` for ignored pixels, and any other value for an id the spec does not know.
When a spec's ids are already ``0 .. K-1`` and its ignore label lies outside that range, the raw
mask is used as it is (no copy).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ._yaml import safe_load
from .exceptions import SegscopeError

Color = tuple[int, int, int]

__all__ = ["ClassSpec", "load_spec", "generate_palette", "parse_label_map", "PRESETS", "CITYSCAPES_LABEL_TO_TRAIN"]


def generate_palette(n: int) -> list[Color]:
    """Return ``n`` distinct colours (the PASCAL VOC bit-interleaving palette).

    >>> generate_palette(3)
    [(0, 0, 0), (128, 0, 0), (0, 128, 0)]
    """
    colours = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours.append((r, g, b))
    return colours


#: Class ids and positive ignore labels: what a 16-bit PNG mask can hold.
MAX_ID = 65535

_HEX = re.compile(r"#?[0-9a-fA-F]{6}")


def _parse_colour(value, where: str, name: str = "") -> Color:
    """``'#rrggbb'`` or ``[r, g, b]`` with integers 0..255, strictly.

    >>> _parse_colour("#ff8000", "spec.yaml"), _parse_colour([1, 2, 3], "spec.yaml")
    ((255, 128, 0), (1, 2, 3))
    >>> _parse_colour("#-1-1-1", "spec.yaml", "road")
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: spec.yaml: class 'road': colour '#-1-1-1' must be '#rrggbb' (six hex digits) or [r, g, b] with integers 0..255
    """
    if isinstance(value, str) and _HEX.fullmatch(value):
        text = value.lstrip("#")
        return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value
    ):
        return tuple(int(v) for v in value)  # type: ignore[return-value]
    who = f"class {name!r}: " if name else ""
    raise SegscopeError(
        f"{who}colour {value!r} must be '#rrggbb' (six hex digits) or [r, g, b] with integers 0..255", where
    )


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise SegscopeError(f"class name {name!r} must be a non-empty string", where)
    bad = [c for c in name if unicodedata.category(c) == "Cc"]
    if bad:
        raise SegscopeError(f"class name {name!r} holds control character(s) {''.join(bad)!r}", where)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class ClassSpec:
    """The classes of a dataset.

    Parameters
    ----------
    names : class names, in id order.
    ids : the label id of each class as stored in masks.
    colors : an RGB colour per class (for colour-coded masks and pictures).
    ignore_index : the label of pixels that count nowhere, or None.
    gt_map, pred_map : optional raw-value -> class-id maps applied before lookup (e.g. Cityscapes
        labelIds -> trainIds); raw values not in the map become ``ignore`` (GT) or "no class" (pred).
    name : where the spec came from (preset name or file), for the record.
    transparent : what transparent pixels of RGBA/LA masks mean: None (such masks are refused)
        or "ignore" (they take the ignore label).
    label_map : raw GT value -> class id, applied to GT masks all at once (a swap such as
        ``{0: 1, 1: 0}`` works); raw values not in it keep their value.
    reduce_zero_label : GT raw 0 becomes the ignore label and every other raw value v the class
        id v - 1 (after ``label_map``), as in ADE20K; predictions are in the reduced ids.

    Examples
    --------
    >>> spec = ClassSpec.anonymous(3)
    >>> spec.names, spec.num_classes, spec.ignore_index
    (('0', '1', '2'), 3, None)
    """

    names: tuple[str, ...]
    ids: tuple[int, ...]
    colors: tuple[Color, ...]
    ignore_index: int | None = None
    gt_map: dict[int, int] | None = field(default=None, compare=False)
    pred_map: dict[int, int] | None = field(default=None, compare=False)
    name: str = "custom"
    colors_given: bool = field(default=True, compare=False)
    transparent: str | None = field(default=None, compare=False)
    label_map: dict[int, int] | None = field(default=None, compare=False)
    reduce_zero_label: bool = field(default=False, compare=False)

    def __post_init__(self):
        where = self.name
        if not self.names:
            raise SegscopeError("the class spec defines no classes", where)
        if len(self.names) != len(self.ids) or len(self.names) != len(self.colors):
            raise SegscopeError("names, ids and colours differ in number", where)
        for n in self.names:
            _check_name(n, where)
        for n, i in zip(self.names, self.ids):
            if not _is_int(i):
                raise SegscopeError(f"class {n!r} has a non-integer id {i!r}", where)
            if not 0 <= i <= MAX_ID:
                raise SegscopeError(
                    f"class {n!r} has id {i}: ids must lie in 0..{MAX_ID} (what a 16-bit PNG mask holds)", where
                )
        if self.ignore_index is not None and (not _is_int(self.ignore_index) or self.ignore_index > MAX_ID
                                              or self.ignore_index < -(1 << 31)):
            raise SegscopeError(
                f"ignore label {self.ignore_index!r} must be an integer <= {MAX_ID} (negative: -1 as in "
                "torchmetrics), or none", where,
            )
        if self.transparent not in (None, "ignore"):
            raise SegscopeError(f"transparent must be 'ignore' or absent, got {self.transparent!r}", where)
        dup_ids = sorted(i for i, n in Counter(self.ids).items() if n > 1)
        if dup_ids:
            raise SegscopeError(f"duplicate class id(s) {dup_ids}", where)
        dup_names = sorted(name for name, n in Counter(self.names).items() if n > 1)
        if dup_names:
            raise SegscopeError(f"duplicate class name(s) {dup_names}", where)
        if any(i < 0 for i in self.ids):
            raise SegscopeError("class ids must be >= 0", where)
        if self.ignore_index is not None and self.ignore_index in self.ids:
            name = self.names[self.ids.index(self.ignore_index)]
            raise SegscopeError(
                f"ignore label {self.ignore_index} collides with the id of class {name!r}", where
            )
        if list(self.ids) != sorted(self.ids):
            order = np.argsort(self.ids)
            object.__setattr__(self, "names", tuple(self.names[i] for i in order))
            object.__setattr__(self, "ids", tuple(self.ids[i] for i in order))
            object.__setattr__(self, "colors", tuple(self.colors[i] for i in order))
        if self.label_map is not None or self.reduce_zero_label:
            if self.gt_map is not None:
                raise SegscopeError("give label_map / reduce_zero_label or gt_map, not both", where)
            object.__setattr__(self, "gt_map", _gt_map(self.ids, self.ignore_index, self.label_map,
                                                       self.reduce_zero_label, where))

    # ----------------------------------------------------------------- construction
    @classmethod
    def anonymous(cls, num_classes: int, ignore_index: int | None = None) -> "ClassSpec":
        """Classes named "0".."N-1" with ids 0..N-1 and generated colours."""
        if not _is_int(num_classes) or not 1 <= num_classes <= MAX_ID + 1:
            raise SegscopeError(f"--num-classes must be in 1..{MAX_ID + 1}, got {num_classes!r}")
        return cls(
            names=tuple(str(i) for i in range(num_classes)),
            ids=tuple(range(num_classes)),
            colors=tuple(generate_palette(num_classes)),
            ignore_index=ignore_index,
            name=f"num_classes={num_classes}",
            colors_given=False,
        )

    @classmethod
    def from_dict(cls, data: dict, name: str = "custom") -> "ClassSpec":
        """Build a spec from the YAML/JSON structure documented in ``docs/classes.md``."""
        if not isinstance(data, dict):
            raise SegscopeError("a class spec must be a mapping with a 'classes' list", name)
        if "preset" in data:
            spec = preset(str(data["preset"]))
            if "ignore_index" in data:
                spec = spec.with_ignore(data["ignore_index"])
            return spec
        raw = data.get("classes")
        if not isinstance(raw, list) or not raw:
            raise SegscopeError("a class spec needs a non-empty 'classes' list", name)
        names, ids, colours = [], [], []
        for pos, entry in enumerate(raw):
            if isinstance(entry, str):
                entry = {"name": entry}
            if not isinstance(entry, dict) or "name" not in entry:
                raise SegscopeError(f"class entry #{pos} needs at least a 'name'", name)
            if isinstance(entry["name"], (dict, list)) or entry["name"] is None:
                raise SegscopeError(f"class entry #{pos}: name {entry['name']!r} must be a string", name)
            names.append(str(entry["name"]))
            _check_name(names[-1], name)
            cid = entry.get("id", pos)
            if not isinstance(cid, int) or isinstance(cid, bool):
                raise SegscopeError(f"class {entry['name']!r} has a non-integer id {cid!r}", name)
            ids.append(cid)
            colour = entry.get("color", entry.get("colour"))
            colours.append(None if colour is None else _parse_colour(colour, name, names[-1]))
        used = {c for c in colours if c is not None}
        fresh = (c for c in generate_palette(len(colours) + len(used) + 1)[1:] if c not in used)
        colours = [c if c is not None else next(fresh) for c in colours]
        dup_colours = sorted(c for c, n in Counter(colours).items() if n > 1)
        if dup_colours:
            raise SegscopeError(f"duplicate class colour(s) {dup_colours}", name)
        ignore = data.get("ignore_index", data.get("ignore_label"))
        if ignore is not None and (not isinstance(ignore, int) or isinstance(ignore, bool)):
            raise SegscopeError(f"ignore_index must be an integer or null, got {ignore!r}", name)
        given = any(entry.get("color", entry.get("colour")) is not None for entry in raw if isinstance(entry, dict))
        transparent = data.get("transparent")
        if transparent is not None and transparent != "ignore":
            raise SegscopeError(f"transparent must be 'ignore' or absent, got {transparent!r}", name)
        reduce = data.get("reduce_zero_label", False)
        if not isinstance(reduce, bool):
            raise SegscopeError(f"reduce_zero_label must be true or false, got {reduce!r}", name)
        return cls(tuple(names), tuple(ids), tuple(colours), ignore, name=name, colors_given=given,
                   transparent=transparent, label_map=parse_label_map(data.get("label_map"), name),
                   reduce_zero_label=reduce)

    def with_ignore(self, ignore_index: int | None) -> "ClassSpec":
        """The same classes with another ignore label (a negative one such as -1 too)."""
        return replace(self, ignore_index=ignore_index)

    # ----------------------------------------------------------------- queries
    @property
    def num_classes(self) -> int:
        return len(self.names)

    @functools.cached_property  # asked per image and mask; a spec is frozen
    def is_identity(self) -> bool:
        """True when raw masks already hold class indices (no lookup needed)."""
        return (
            self.ids == tuple(range(self.num_classes))
            and self.gt_map is None
            and self.pred_map is None
            and (self.ignore_index is None or not 0 <= self.ignore_index < self.num_classes)
        )

    @property
    def index_ignore(self) -> int:
        """The value ignored pixels take in class-index space (-1 when there is no ignore label
        and masks are used as they are)."""
        if self.is_identity:
            return -1 if self.ignore_index is None else self.ignore_index
        return 255 if self.num_classes < 254 else 65535

    @property
    def index_invalid(self) -> int:
        """The value an unknown id takes in class-index space (only when a lookup is used)."""
        return 254 if self.num_classes < 254 else 65534

    def index_of(self, name_or_id: str | int) -> int:
        """Class index of a class given by name or by id."""
        if isinstance(name_or_id, str) and name_or_id in self.names:
            return self.names.index(name_or_id)
        try:
            cid = int(name_or_id)
        except (TypeError, ValueError):
            raise SegscopeError(f"unknown class {name_or_id!r}; classes are {list(self.names)}") from None
        if cid not in self.ids:
            raise SegscopeError(f"unknown class {name_or_id!r}; classes are {list(self.names)}")
        return self.ids.index(cid)

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "ignore_index": self.ignore_index,
            "classes": [
                {"id": i, "name": n, "color": list(c)} for i, n, c in zip(self.ids, self.names, self.colors)
            ],
        }
        if self.transparent is not None:
            out["transparent"] = self.transparent
        if self.label_map is not None:
            out["label_map"] = {str(k): v for k, v in sorted(self.label_map.items())}
        if self.reduce_zero_label:
            out["reduce_zero_label"] = True
        return out

    def with_gt_mapping(self, label_map: dict[int, int] | None = None, reduce_zero_label: bool = False) -> "ClassSpec":
        """The same classes with a GT ``label_map`` and/or ``reduce_zero_label`` (the CLI's
        ``--label-map`` and ``--reduce-zero-label``)."""
        if label_map is None and not reduce_zero_label:
            return self
        return replace(self, gt_map=None, label_map=label_map, reduce_zero_label=reduce_zero_label)

    # ----------------------------------------------------------------- mapping masks
    def _lut(self, role: str, size: int) -> np.ndarray:
        dtype = np.uint8 if self.num_classes < 254 else np.uint16
        lut = np.full(size, self.index_invalid, dtype=dtype)
        raw_map = self.gt_map if role == "gt" else self.pred_map
        id_to_index = {cid: k for k, cid in enumerate(self.ids)}
        if raw_map is not None:
            for raw, cid in raw_map.items():
                if 0 <= raw < size:
                    lut[raw] = id_to_index.get(cid, self.index_ignore)
        else:
            for cid, k in id_to_index.items():
                if cid < size:
                    lut[cid] = k
        if self.ignore_index is not None and 0 <= self.ignore_index < size:
            lut[self.ignore_index] = self.index_ignore
        return lut

    def to_index(self, mask: np.ndarray, role: str = "gt") -> np.ndarray:
        """Map a raw label mask to class indices.

        ``role`` is "gt" or "pred" (the two may be stored in different id spaces, e.g. Cityscapes).
        Values the spec does not know become ``index_invalid`` and are reported by the metrics.

        >>> spec = ClassSpec(("a", "b"), (3, 7), ((0, 0, 0), (9, 9, 9)), ignore_index=0)
        >>> spec.to_index(np.array([[3, 7, 0, 5]], dtype=np.uint8)).tolist()
        [[0, 1, 255, 254]]
        """
        if self.is_identity:
            return self._negatives_unknown(mask)
        if mask.dtype == np.uint8:
            return self._cached_lut(role, 256)[mask]
        if mask.dtype == np.uint16:
            return self._cached_lut(role, 65536)[mask]
        lut = self._cached_lut(role, 65536)
        m = mask.astype(np.int64, copy=False)
        out = np.full(m.shape, self.index_invalid, dtype=lut.dtype)
        inside = (m >= 0) & (m < 65536)
        out[inside] = lut[m[inside]]
        if self.ignore_index is not None and self.ignore_index < 0:
            out[m == self.ignore_index] = self.index_ignore
        return out

    def _negatives_unknown(self, mask: np.ndarray) -> np.ndarray:
        """An identity spec uses masks as they are; negative values other than the ignore label
        become ``num_classes``, an unknown id (-1 with no ignore label must not pass as ignore)."""
        if mask.dtype.kind != "i" or not mask.size or mask.min() >= 0:
            return mask
        bad = mask < 0
        if self.ignore_index is not None:
            bad &= mask != self.ignore_index
        if not bad.any():
            return mask
        out = mask.astype(np.int64)
        out[bad] = self.num_classes
        return out

    def _cached_lut(self, role: str, size: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_lut_cache", {})
        key = (role, size)
        if key not in cache:
            cache[key] = self._lut(role, size)
        return cache[key]

    def describe_unknown(self, mask: np.ndarray, role: str = "gt", limit: int = 5) -> str:
        """Say which raw values of ``mask`` the spec does not know (for error messages)."""
        index = self.to_index(mask, role)
        if self.is_identity:
            bad = (index < 0) | (index >= self.num_classes)
            if self.ignore_index is not None:
                bad &= index != self.index_ignore
        else:
            bad = index == self.index_invalid
        values, counts = np.unique(np.asarray(mask)[bad], return_counts=True)
        parts = [f"{v} ({c} px)" for v, c in zip(values[:limit].tolist(), counts[:limit].tolist())]
        more = f" and {len(values) - limit} more" if len(values) > limit else ""
        return ", ".join(parts) + more


def parse_label_map(value, where: str = "") -> dict[int, int] | None:
    """A GT label map from a spec file (a mapping) or the CLI (``"raw:id,raw:id"``), checked.

    >>> parse_label_map("0:1,1:0"), parse_label_map({"3": 0})
    ({0: 1, 1: 0}, {3: 0})
    """
    if value is None:
        return None
    if isinstance(value, str):
        pairs = [p.partition(":")[::2] for p in value.split(",") if p.strip()]
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise SegscopeError(f"label_map must be a mapping raw value -> class id, got {value!r}", where)
    out: dict[int, int] = {}
    for raw, cid in pairs:
        try:
            r, c = int(str(raw).strip()), int(str(cid).strip())
        except ValueError:
            raise SegscopeError(f"label_map entry {raw!r}: {cid!r} must map an integer to an integer "
                                "(e.g. 0:1,1:0)", where) from None
        if not 0 <= r <= MAX_ID:
            raise SegscopeError(f"label_map key {r} must lie in 0..{MAX_ID}", where)
        if out.get(r, c) != c:
            raise SegscopeError(f"label_map maps raw value {r} twice: to {out[r]} and to {c}", where)
        out[r] = c
    return out


def _gt_map(ids, ignore, label_map, reduce_zero_label: bool, where: str) -> dict[int, int]:
    """Raw GT value -> class id for a ``label_map`` and/or ``reduce_zero_label``, computed once
    from the original values (so the map is applied all at once); a value mapped to something
    that is neither a class id nor the ignore label is left out (an unknown id)."""
    label_map = label_map or {}
    known = set(ids)
    domain = set(label_map) | known | {0}
    if reduce_zero_label:
        domain |= {i + 1 for i in ids if i + 1 <= MAX_ID}
    out: dict[int, int] = {}
    for raw in sorted(domain):
        value = label_map.get(raw, raw)
        if reduce_zero_label:
            if value == 0:
                out[raw] = -1  # no class id: the ignore label
                continue
            value -= 1
        if value in known:
            out[raw] = value
        elif value == ignore or (reduce_zero_label and value + 1 == ignore):
            out[raw] = -1
    return out


# ---------------------------------------------------------------------- presets
VOC_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)

CITYSCAPES = (  # (trainId name, labelId, colour)
    ("road", 7, (128, 64, 128)), ("sidewalk", 8, (244, 35, 232)), ("building", 11, (70, 70, 70)),
    ("wall", 12, (102, 102, 156)), ("fence", 13, (190, 153, 153)), ("pole", 17, (153, 153, 153)),
    ("traffic light", 19, (250, 170, 30)), ("traffic sign", 20, (220, 220, 0)),
    ("vegetation", 21, (107, 142, 35)), ("terrain", 22, (152, 251, 152)), ("sky", 23, (70, 130, 180)),
    ("person", 24, (220, 20, 60)), ("rider", 25, (255, 0, 0)), ("car", 26, (0, 0, 142)),
    ("truck", 27, (0, 0, 70)), ("bus", 28, (0, 60, 100)), ("train", 31, (0, 80, 100)),
    ("motorcycle", 32, (0, 0, 230)), ("bicycle", 33, (119, 11, 32)),
)
#: Cityscapes labelId -> trainId for the 19 evaluated classes; every other labelId is ignored.
CITYSCAPES_LABEL_TO_TRAIN = {label_id: train_id for train_id, (_, label_id, _) in enumerate(CITYSCAPES)}

ADE20K_NAMES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain",
    "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink",
    "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case",
    "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind",
    "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
    "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth",
    "television receiver", "airplane", "dirt track", "apparel", "pole", "land", "bannister",
    "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain",
    "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen",
    "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass",
    "clock", "flag",
)


def _voc() -> ClassSpec:
    return ClassSpec(VOC_NAMES, tuple(range(21)), tuple(generate_palette(21)), 255, name="voc")


def cityscapes(pred_ids: str = "train", gt_ids: str = "label") -> ClassSpec:
    """The 19 Cityscapes train classes.

    ``gt_ids``/``pred_ids`` say whether masks hold the official *labelIds* ("label") or
    *trainIds* ("train"). The official GT files (``*_gtFine_labelIds.png``) hold labelIds.
    """
    for what, value in (("pred_ids", pred_ids), ("gt_ids", gt_ids)):
        if value not in ("label", "train"):
            raise SegscopeError(f"{what} must be 'label' or 'train', got {value!r}")
    names = tuple(n for n, _, _ in CITYSCAPES)
    colours = tuple(c for _, _, c in CITYSCAPES)
    label_map = {raw: CITYSCAPES_LABEL_TO_TRAIN.get(raw, 255) for raw in range(-1, 34)}
    label_map = {k: v for k, v in label_map.items() if k >= 0}
    return ClassSpec(
        names,
        tuple(range(19)),
        colours,
        255,
        gt_map=label_map if gt_ids == "label" else None,
        pred_map=label_map if pred_ids == "label" else None,
        name=f"cityscapes(gt_ids={gt_ids},pred_ids={pred_ids})",
    )


def _ade20k() -> ClassSpec:
    # "reduce zero label": raw 0 (other) is ignored and raw v becomes class v-1 in GT;
    # predictions are expected in the reduced space 0..149.
    gt_map = {v: v - 1 for v in range(1, 151)}
    gt_map[0] = 255
    return ClassSpec(
        ADE20K_NAMES,
        tuple(range(150)),
        tuple(generate_palette(151)[1:]),
        255,
        gt_map=gt_map,
        name="ade20k",
    )


PRESETS = ("voc", "cityscapes", "ade20k")


def preset(name: str, pred_ids: str = "train", gt_ids: str = "label") -> ClassSpec:
    """A built-in class spec by name: ``voc``, ``cityscapes`` or ``ade20k``."""
    key = name.lower()
    if key == "voc":
        return _voc()
    if key == "cityscapes":
        return cityscapes(pred_ids=pred_ids, gt_ids=gt_ids)
    if key in ("ade20k", "ade"):
        return _ade20k()
    raise SegscopeError(f"unknown class preset {name!r}; presets are {', '.join(PRESETS)}")


def load_spec(
    source: str | Path | None = None,
    *,
    num_classes: int | None = None,
    ignore_index: int | None | str = "keep",
    pred_ids: str = "train",
    gt_ids: str = "label",
) -> ClassSpec:
    """Load a class spec from a preset name, a YAML/JSON file, or make an anonymous one.

    ``ignore_index`` overrides the spec's ignore label unless it is "keep".

    >>> load_spec(num_classes=2).names
    ('0', '1')
    >>> load_spec("voc").ignore_index
    255
    """
    if source is None and num_classes is None:
        raise SegscopeError("give the classes: --classes SPEC (a file or a preset) or --num-classes N")
    if source is not None and num_classes is not None:
        raise SegscopeError("give either --classes or --num-classes, not both")
    if num_classes is not None:
        spec = ClassSpec.anonymous(num_classes)
    elif str(source).lower() in PRESETS or str(source).lower() == "ade":
        spec = preset(str(source), pred_ids=pred_ids, gt_ids=gt_ids)
    else:
        from ._storage import location

        spec = _load_spec_file(location(source))
    if ignore_index != "keep":
        spec = spec.with_ignore(ignore_index)  # type: ignore[arg-type]
    return spec


def _load_spec_file(path: Path | str) -> ClassSpec:
    from ._storage import is_url, read_bytes

    url = is_url(path)
    if not url and not path.exists():
        raise SegscopeError(
            f"no such class spec file (presets are {', '.join(PRESETS)})", path
        )
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is not part of the text
        text = read_bytes(path).decode("utf-8-sig") if url else path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SegscopeError(f"no such class spec file (presets are {', '.join(PRESETS)})", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SegscopeError(f"cannot read class spec: {exc}", path) from None
    try:
        if str(path).lower().endswith(".json"):
            data = json.loads(text)
        else:
            data = safe_load(text)
    except Exception as exc:  # yaml and json raise several types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SegscopeError(f"not valid YAML/JSON: {first}", path) from None
    return ClassSpec.from_dict(data, name=str(path))


def validate_exclude(spec: ClassSpec, exclude: Sequence[str]) -> tuple[int, ...]:
    """Class indices of the classes named (or numbered) in ``exclude``."""
    return tuple(sorted({spec.index_of(x) for x in exclude}))
