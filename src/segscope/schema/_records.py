"""The records of the results schema: fields, sections and terms, and the names they use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..metrics.breakdown import ERROR_TYPES, FIX_SCENARIOS
from ..metrics.conventions import CITYSCAPES_CATEGORIES, FIGURES

#: the analyses that make results: the region metrics of every run, the boundary metrics, the
#: failure analysis (``--skip boundary``, ``--skip errors`` turn the last two off)
ANALYSES = ("core", "boundary", "errors", "conventions")

#: the files of a results folder the schema describes
FILES = (
    "metrics.json", "per_image.csv", "per_image_classes.csv", "confusion_matrix.csv", "missed_segments.csv",
    "invented_segments.csv", "suspect_labels.csv",
)

#: unit → what it means
UNITS = {
    "fraction": "a share in [0, 1] (null, or an empty CSV cell, when undefined)",
    "delta": "a difference of two fractions (an IoU or mIoU gain)",
    "probability": "a model probability in [0, 1]",
    "pixels": "a number of pixels (an area)",
    "px": "a length or distance in pixels",
    "count": "a number of images, segments, classes or places in a ranking",
    "id": "a label id as stored in the masks",
    "flag": "true or false",
    "text": "a name, an id or a sentence",
    "-": "a block: its entries are listed under it",
}

#: the value types, as in JSON (``object``: a mapping; ``list[object]``: a list of records)
TYPES = ("float", "int", "bool", "str", "object", "list[object]", "list[str]", "list[int]", "list[float]",
         "list[list[int]]")

#: pattern → (what it stands for, the values it takes; None: any)
PLACEHOLDERS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "<class>": ("a class name, as listed in `classes`", None),
    "<width>": ("a trimap width in px, as listed in `config.trimap`", None),
    "<type>": ("an error type of the failure analysis: " + ", ".join(ERROR_TYPES), ERROR_TYPES),
    "<scenario>": (
        "a repair of the failure analysis: `boundary` and `extent` (every pixel that is an error of that type "
        "for its GT or its predicted class), `missed_segments` (every FN-segment pixel), `invented_segments` "
        "(every FP-segment pixel); the repaired pixels are predicted as their GT class", FIX_SCENARIOS,
    ),
    "<convention>": ("a convention as named in `conventions` (`NAME` or `NAME:key=value,...`, see "
                     "[conventions.md](conventions.md))", None),
    "<figure>": ("a peer's headline figure, under the peer's own key name: " + ", ".join(FIGURES), FIGURES),
    "<category>": ("a Cityscapes category: " + ", ".join(CITYSCAPES_CATEGORIES), tuple(CITYSCAPES_CATEGORIES)),
}
VALUE_RE = {"<class>": ".+", "<width>": "[0-9]+", "<convention>": ".+"}


# ---------------------------------------------------------------------- the records
@dataclass(frozen=True)
class Field:
    """One result key or CSV column.

    Attributes
    ----------
    key : dotted path inside ``metrics.json`` (``per_class.<class>.iou``, ``worst_images[].image``)
        or the column name of a CSV file (``iou_<class>``).
    type : one of :data:`TYPES`.
    unit : one of :data:`UNITS`.
    label : the human label shown by the report (placeholders are filled in by :func:`label`).
    definition : one line: what the value is and how it is computed.
    analysis : one of :data:`ANALYSES`: the analysis that makes it.
    file : one of :data:`FILES`.
    nullable : null is a valid value (every float may be null: undefined).
    """

    key: str
    type: str
    unit: str
    label: str
    definition: str
    analysis: str
    file: str = "metrics.json"
    nullable: bool = False

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"{self.key}: unknown type {self.type!r}")
        if self.unit not in UNITS:
            raise ValueError(f"{self.key}: unknown unit {self.unit!r}")
        if self.analysis not in ANALYSES:
            raise ValueError(f"{self.key}: unknown analysis {self.analysis!r}")
        if self.file not in FILES:
            raise ValueError(f"{self.key}: unknown file {self.file!r}")
        if self.type == "float" and not self.nullable:
            object.__setattr__(self, "nullable", True)

    @property
    def parts(self) -> tuple[str, ...]:
        """The path as segments: ``worst_images[].image`` → ``("worst_images", "[]", "image")``."""
        if self.file != "metrics.json":
            return (self.key,)
        return split_key(self.key)


@dataclass(frozen=True)
class Section:
    """A group of fields as the docs page shows them: a heading, a sentence and a table."""

    title: str
    file: str
    text: str
    fields: tuple[Field, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Term:
    """A word the definitions use (an error type, the band width, ...), defined once."""

    term: str
    definition: str
    analysis: str


def split_key(key: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in key.split("."):
        name, brackets = re.fullmatch(r"(.*?)((?:\[\d*\])*)", part).groups()
        if name:
            out.append(name)
        out += ["[]"] * brackets.count("[")
    return tuple(out)
