"""Writing CSV tables: the one CSV writer, with names escaped against spreadsheet formulas.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return) as a formula. File and class names come from users' folders and specs, so every *text*
cell that starts so is written with a leading single quote, which spreadsheets read as "this is
text". Numbers are never touched: ``-0.5`` written from a float stays ``-0.5``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .results import atomic_write

__all__ = ["FORMULA_STARTS", "csv_text", "csv_cell", "write_csv", "round_repr"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A text cell safe to open in a spreadsheet: a leading ``'`` when it starts like a formula.

    >>> csv_text("=HYPERLINK(1)"), csv_text("street_0001"), csv_text("-1")
    ("'=HYPERLINK(1)", 'street_0001', "'-1")
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def round_repr(digits: int, nonfinite: str | None = "") -> Callable[[float], str]:
    """A float formatter: ``repr(round(v, digits))``, and ``nonfinite`` for NaN and infinities
    (None: ``repr`` of them too).

    >>> round_repr(3)(-0.12345), round_repr(3)(float("nan")), round_repr(3, None)(float("nan"))
    ('-0.123', '', 'nan')
    """

    def fmt(v: float) -> str:
        if nonfinite is not None and not math.isfinite(v):
            return nonfinite
        return repr(round(v, digits))

    return fmt


def csv_cell(value: Any, number: Callable[[float], str] = repr) -> Any:
    """One cell: text escaped by :func:`csv_text`, floats written by ``number``, None empty,
    anything else (ints) as it is.

    >>> csv_cell("@sum"), csv_cell(-0.5), csv_cell(3), csv_cell(None)
    ("'@sum", '-0.5', 3, '')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, float):
        return number(value)
    return value


def write_csv(
    path: str | Path, header: Sequence[Any], rows: Iterable[Sequence[Any]],
    number: Callable[[float], str] = repr,
) -> None:
    """Write a CSV table atomically (``\\n`` line ends, UTF-8); every cell, header included,
    goes through :func:`csv_cell`.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> write_csv(f"{d}/t.csv", ["name", "x"], [["=1+1", -0.5], ["a", 2]])
    >>> print(open(f"{d}/t.csv").read(), end="")
    name,x
    '=1+1,-0.5
    a,2
    """
    with atomic_write(path, "w", encoding="utf-8") as fh:  # rows stream: memory does not follow them
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([csv_cell(v, number) for v in header])
        for row in rows:
            w.writerow([csv_cell(v, number) for v in row])
