"""The results schema: every key of ``metrics.json`` and every column of the CSV files of a
results folder, described once.

Each :class:`Field` has a name (a dotted path inside ``metrics.json``, or a CSV column), a type,
a unit, a human label, a one-line definition and the analysis that makes it (``core``,
``boundary`` or ``errors``). Names that vary with the data are patterns: ``<class>`` (a class
name), ``<width>`` (a trimap width), ``<type>`` (an error type) and ``<scenario>`` (a repair of
the failure analysis); ``[]`` stands for the records of a list. The JSON writer checks every key
against it (:func:`check_metrics`), the report takes its labels from it (:func:`label`) and
``docs/results-schema.md`` is generated from it (``python -m segscope.schema docs/results-schema.md``).

>>> from segscope import schema
>>> schema.label("per_class.road.e_boundary_ou")
'boundary errors, share of the union'
>>> f = schema.describe("iou_car", "per_image.csv")
>>> f.key, f.type, f.unit, f.analysis
('iou_<class>', 'float', 'fraction', 'core')
>>> schema.label("trimap.4")
'within 4 px of a boundary'
>>> schema.check_metrics({"classes": ["a"], "miou": 0.5, "per_class": {"a": {"iou": 0.5, "mystery": 1}}})
Traceback (most recent call last):
...
segscope.exceptions.SegscopeError: metrics.json: key 'per_class.a.mystery' is not in the results schema (segscope.schema)
"""

from __future__ import annotations

import numbers
import re
import sys
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ..exceptions import SegscopeError
from ._fields import FIELDS, SECTIONS, TERMS
from ._records import (
    ANALYSES,
    FILES,
    PLACEHOLDERS,
    TYPES,
    UNITS,
    VALUE_RE,
    Field,
    Section,
    Term,
    split_key,
)

__all__ = [
    "ANALYSES",
    "FILES",
    "UNITS",
    "PLACEHOLDERS",
    "TYPES",
    "Field",
    "Section",
    "Term",
    "SECTIONS",
    "FIELDS",
    "TERMS",
    "fields",
    "describe",
    "label",
    "definition",
    "known",
    "check_metrics",
    "check_columns",
    "terms",
    "markdown",
    "main",
]


# ---------------------------------------------------------------------- lookup
class _Node:
    __slots__ = ("field", "literal", "patterns")

    def __init__(self):
        self.field: Field | None = None
        self.literal: dict[str, _Node] = {}
        self.patterns: list[tuple[re.Pattern, tuple[str, ...], _Node]] = []

    def child(self, name: str, classes: frozenset | None = None) -> tuple[_Node | None, dict]:
        node = self.literal.get(name)
        if node is not None:
            return node, {}
        for regex, holders, node in self.patterns:
            m = regex.fullmatch(name)
            if m is None:
                continue
            values = dict(zip(holders, m.groups()))
            if classes is not None and "<class>" in values and values["<class>"] not in classes:
                continue
            return node, values
        return None, {}


def _segment_regex(part: str) -> tuple[re.Pattern, tuple[str, ...]]:
    holders = tuple(re.findall(r"<\w+>", part))
    regex = ""
    for piece in re.split(r"(<\w+>)", part):
        if piece in PLACEHOLDERS:
            values = PLACEHOLDERS[piece][1]
            regex += "(" + ("|".join(map(re.escape, values)) if values else VALUE_RE[piece]) + ")"
        else:
            regex += re.escape(piece)
    return re.compile(regex), holders


def _build(file: str) -> _Node:
    root = _Node()
    for f in FIELDS:
        if f.file != file:
            continue
        node = root
        for part in f.parts:
            if "<" in part:
                found = next((n for r, _, n in node.patterns if r.pattern == _segment_regex(part)[0].pattern), None)
                if found is None:
                    regex, holders = _segment_regex(part)
                    found = _Node()
                    node.patterns.append((regex, holders, found))
                node = found
            else:
                node = node.literal.setdefault(part, _Node())
        if node.field is not None:
            raise ValueError(f"{file}: {f.key} is described twice")
        node.field = f
    return root


_TREES = {file: _build(file) for file in FILES}
_BY_KEY = {(f.file, f.key): f for f in FIELDS}


def _resolve(key: str, file: str) -> tuple[Field | None, dict]:
    f = _BY_KEY.get((file, key))
    if f is not None:
        return f, {}
    node = _TREES.get(file)
    if node is None:
        raise KeyError(f"{file!r} is not a file of the results schema; choose from {', '.join(FILES)}")
    values: dict = {}
    for part in (split_key(key) if file == "metrics.json" else (key,)):
        part = "[]" if re.fullmatch(r"\[\d*\]", part) else part
        node, found = node.child(part)
        if node is None:
            return None, {}
        values.update(found)
    return node.field, values


def fields(file: str | None = None, analysis: str | None = None) -> tuple[Field, ...]:
    """The fields of one file and/or one analysis (all by default)."""
    return tuple(f for f in FIELDS if (file is None or f.file == file) and (analysis is None or f.analysis == analysis))


def known(key: str, file: str = "metrics.json") -> bool:
    """Whether ``key`` (a concrete path, e.g. ``per_class.road.iou``, or a pattern) is in the schema."""
    return _resolve(key, file)[0] is not None


def describe(key: str, file: str = "metrics.json") -> Field:
    """The :class:`Field` describing ``key``: a path of ``metrics.json`` (``per_class.road.iou``,
    ``trimap.4.miou``, ``worst_images[].image``) or a column of ``file``.

    Raises
    ------
    KeyError
        when the schema does not describe it.
    """
    found, _ = _resolve(key, file)
    if found is None:
        raise KeyError(f"{key!r} is not in the results schema of {file}")
    return found


def label(key: str, file: str = "metrics.json", default: str | None = None) -> str:
    """The human label of ``key``, with its placeholders filled in; ``default`` (when given) for
    a key the schema does not describe, else KeyError.

    >>> label("error_breakdown.mfn_extent_ou")
    'mean false-negative extent errors, share of the union'
    >>> label("improvements.if_fixed.missed_segments")
    'missed segments fixed'
    >>> label("no_such_key", default="no such key")
    'no such key'
    """
    found, values = _resolve(key, file)
    if found is None:
        if default is not None:
            return default
        raise KeyError(f"{key!r} is not in the results schema of {file}")
    return _fill(found.label, values)


def definition(key: str, file: str = "metrics.json") -> str:
    """The definition of ``key``, with its placeholders filled in.

    >>> definition("per_class.road.fn_segment_ou")
    'FN segment errors / (tp + fp + fn)'
    """
    return _fill(describe(key, file).definition, _resolve(key, file)[1])


def _fill(text: str, values: dict) -> str:
    for holder, value in values.items():
        text = text.replace(holder, value if holder == "<class>" else value.replace("_", " "))
    return text


def terms(analyses: Iterable[str] | None = None) -> tuple[Term, ...]:
    """The terms of the given analyses (all by default)."""
    wanted = set(ANALYSES if analyses is None else analyses)
    return tuple(t for t in TERMS if t.analysis in wanted)


# ---------------------------------------------------------------------- checks
def _type_ok(type_: str, value) -> bool:
    if type_ == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if type_ == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if type_ == "bool":
        return isinstance(value, (bool, np.bool_))
    if type_ == "str":
        return isinstance(value, str)
    if type_ == "object":
        return isinstance(value, Mapping)
    return isinstance(value, (list, tuple, np.ndarray))


def _items_ok(type_: str, value) -> bool:
    inner = type_[5:-1]
    if inner in ("float", "int", "str"):
        return all((v is None and inner == "float") or _type_ok(inner, v) for v in value)
    if inner == "object":
        return all(isinstance(v, Mapping) for v in value)
    return all(isinstance(v, (list, tuple, np.ndarray)) for v in value)


def _check(node: _Node, value: Mapping, path: str, classes, problems: list[str]) -> None:
    for key, v in value.items():
        key = str(key)
        where = f"{path}.{key}" if path else key
        child, _ = node.child(key, classes)
        if child is None or child.field is None:
            problems.append(f"key {where!r} is not in the results schema (segscope.schema)")
            continue
        f = child.field
        if v is None:
            if not f.nullable:
                problems.append(f"key {where!r} is null; the schema says {f.type}")
            continue
        if not _type_ok(f.type, v):
            problems.append(f"key {where!r} holds {type(v).__name__} {_short(v)}; the schema says {f.type}")
            continue
        if f.type.startswith("list[") and not _items_ok(f.type, v):
            problems.append(f"key {where!r} holds items that are not {f.type[5:-1]}")
            continue
        if f.type == "object":
            _check(child, v, where, classes, problems)
        elif f.type == "list[object]":
            items = child.literal.get("[]")
            for i, item in enumerate(v):
                if items is not None:
                    _check(items, item, f"{where}[{i}]", classes, problems)


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def check_metrics(metrics: Mapping) -> None:
    """Check every key of a ``metrics.json`` dict against the schema: its name (per-class keys
    must name a class of ``metrics["classes"]``) and the type of its value.

    Raises
    ------
    SegscopeError
        naming the first keys that are not in the schema or hold the wrong type.
    """
    classes = metrics.get("classes")
    names = frozenset(str(c) for c in classes) if isinstance(classes, (list, tuple)) else None
    problems: list[str] = []
    _check(_TREES["metrics.json"], metrics, "", names, problems)
    _raise("metrics.json", problems)


def check_columns(columns: Iterable[str], file: str = "per_image.csv", classes: Iterable[str] | None = None) -> None:
    """Check the header of a CSV file of the results folder against the schema.

    >>> check_columns(["image", "miou", "iou_road"], classes=["road"])
    >>> check_columns(["image", "iou_cat"], classes=["road"])
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: per_image.csv: column 'iou_cat' is not in the results schema (segscope.schema)
    """
    tree = _TREES.get(file)
    if tree is None:
        raise KeyError(f"{file!r} is not a file of the results schema; choose from {', '.join(FILES)}")
    names = None if classes is None else frozenset(classes)
    problems = [f"column {c!r} is not in the results schema (segscope.schema)" for c in columns
                if (tree.child(c, names)[0] or _Node()).field is None]
    _raise(file, problems)


def _raise(file: str, problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise SegscopeError(f"{file}: " + "; ".join(problems[:3]) + more)


# ---------------------------------------------------------------------- the docs page
_HEADER = """# The results schema

<!-- Generated from src/segscope/schema.py by `python -m segscope.schema docs/results-schema.md`; edit the
schema, not this page (a test checks that they agree). -->

Every key of `metrics.json` and every column of the CSV files of a results folder, described once
in `segscope.schema`: its type, unit, label (as the report shows it), definition and the analysis
that makes it (`core` always runs; `boundary` and `errors` unless skipped with `--skip`). Keys of
the failure analysis marked "with --gt2", "with --probs" or "with --instances" appear only with
those inputs. `segscope evaluate` checks every key against the schema before it writes
`metrics.json`.

```text
>>> from segscope import schema
>>> schema.label("per_class.road.e_boundary_ou")
'boundary errors, share of the union'
>>> schema.describe("iou_car", "per_image.csv").unit
'fraction'
```
"""


def _cell(text: str) -> str:
    """Table-cell text: pipes escaped, placeholders as code (a bare ``<type>`` reads as an HTML tag)."""
    return re.sub(r"(<\w+>)", r"`\1`", text.replace("|", "\\|").replace("\n", " "))


def _type_text(f: Field) -> str:
    if f.nullable and f.type != "float":
        return f"{f.type} or null"
    return f.type


def markdown() -> str:
    """The text of ``docs/results-schema.md``."""
    lines = [_HEADER, "## Units", "", "| unit | meaning |", "|---|---|"]
    lines += [f"| {u} | {_cell(m)} |" for u, m in UNITS.items()]
    lines += ["", "Every `float` may be null (in a CSV: an empty cell) when the value is undefined, e.g. the IoU of "
              "a class with an empty union.", "", "## Patterns", "", "| pattern | stands for |", "|---|---|"]
    lines += [f"| `{p}` | {_cell(text)} |" for p, (text, _) in PLACEHOLDERS.items()]
    lines += ["| `[]` | each record of a list |", ""]
    current = None
    for s in SECTIONS:
        if s.file != current:
            current = s.file
            if s.file == "metrics.json":
                lines += ["## metrics.json", ""]
            elif s.file == "per_image.csv":
                lines += ["## The CSV files", ""]
        level = "###"
        lines += [f"{level} {s.title}", "", s.text, "", "| key | type | unit | label | definition | analysis |",
                  "|---|---|---|---|---|---|"]
        for f in s.fields:
            lines.append(f"| `{f.key}` | {_type_text(f)} | {f.unit} | {_cell(f.label)} | {_cell(f.definition)} "
                         f"| {f.analysis} |")
        lines.append("")
    lines += ["## Terms", "", "| term | definition | analysis |", "|---|---|---|"]
    lines += [f"| {t.term} | {_cell(t.definition)} | {t.analysis} |" for t in TERMS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m segscope.schema [--check] [PATH]``: write the docs page to PATH (stdout
    without one); with ``--check``, exit 1 when PATH differs from it."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    text = markdown()
    if not args:
        sys.stdout.write(text)
        return 0
    path = Path(args[0])
    if check:
        same = path.is_file() and path.read_text(encoding="utf-8") == text
        if not same:
            print(f"{path} is out of date: python -m segscope.schema {path}", file=sys.stderr)
        return 0 if same else 1
    path.write_text(text, encoding="utf-8")
    return 0
