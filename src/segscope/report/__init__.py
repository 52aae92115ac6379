"""The HTML report: one ``report/index.html`` that opens from disk (no server, no network),
built from a results folder.

>>> from segscope.report import build_report  # build_report("results/") -> results/report/index.html
"""

from __future__ import annotations

from .build import build_compare_report, build_report, render_page

__all__ = ["build_report", "build_compare_report", "render_page"]
