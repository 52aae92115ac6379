"""The report as a person sees it: headless Chromium loads index.html from disk, with no console
errors, every picture decodes and shows, the tables sort, the image filter and the lightbox work.

Chromium is driven by Playwright with the system's Chromium as its executable (no browser
download). Skipped when Playwright or the ``chromium`` package is not installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """A Playwright page with the few verbs these tests use, recording console errors."""

    def __init__(self, page):
        self.p = page
        self._errors: list[str] = []
        page.on("console", lambda m: self._errors.append(m.text) if m.type in ("error", "assert") else None)
        page.on("pageerror", lambda e: self._errors.append(str(e)))
        page.on("requestfailed", lambda r: self._errors.append(f"failed to load {r.url}"))

    def eval(self, expression: str):
        return self.p.evaluate(expression)

    def click(self, selector: str) -> None:
        self.p.click(selector)

    def key(self, key: str) -> None:
        self.p.keyboard.press(key)

    def errors(self) -> list[str]:
        return list(self._errors)

    def screenshot(self, path: Path) -> Path:
        self.p.screenshot(path=str(path), full_page=True)
        return path


class Browser:
    def __init__(self, browser):
        self.b = browser

    def open(self, url: str) -> Page:
        page = self.b.new_page(viewport={"width": 1280, "height": 900})
        wrapped = Page(page)
        page.goto(url, wait_until="load")
        return wrapped


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield Browser(b)
        b.close()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """A small synthetic run with images, evaluated by the command line with --report."""
    from segscope import synth
    from segscope.cli import main

    root = tmp_path_factory.mktemp("browser")
    paths = synth.write_dataset(root / "data", num_images=6, height=64, width=128, seed=3)
    out = root / "results"
    code = main(["evaluate", str(paths["pred"]), str(paths["gt"]), "--classes", str(paths["classes"]),
                 "--images", str(paths["images"]), "--out", str(out), "--report", "--quiet", "--jobs", "1"])
    assert code == 0
    return out / "report" / "index.html"


IMAGES_OK = """
(async () => {
  const imgs = Array.from(document.images).filter(i => i.getAttribute('src'));
  const results = await Promise.all(imgs.map(i => new Promise(res => {
    const probe = new Image();
    probe.onload = () => res([i.getAttribute('src'), probe.naturalWidth]);
    probe.onerror = () => res([i.getAttribute('src'), 0]);
    probe.src = i.src;
  })));
  return results;
})()
"""


def test_report_in_chromium(browser, demo_report, tmp_path):
    page = browser.open(demo_report.as_uri())
    assert page.eval("document.title").startswith("segscope report")
    # every section of a run with images and boundary metrics is there
    for section in ("summary", "classes", "confusion", "boundaries", "gallery", "images", "config"):
        assert page.eval(f"!!document.getElementById('{section}')"), section
    # pictures: every <img> decodes, and the ones above the fold are displayed
    imgs = page.eval(IMAGES_OK)
    assert len(imgs) >= 4  # three plots and at least one panel
    assert all(w > 0 for _, w in imgs), imgs
    page.eval("new Promise(r => { const i = document.querySelector('#summary img'); "
              "if (i.complete) r(); else i.onload = r; })")
    assert page.eval("document.querySelector('#summary img').naturalWidth") > 0
    assert page.eval("document.querySelectorAll('#gallery a.lightbox-link').length") >= 1

    # sorting the per-class table by IoU with the mouse
    ious = "Array.from(document.querySelectorAll('#class-table tbody tr')).map(r => Number(r.cells[1].dataset.v))"
    before = page.eval(ious)
    page.click("#class-table th[data-key='iou']")
    first = page.eval(ious)
    assert page.eval("document.querySelector(\"#class-table th[data-key='iou']\").getAttribute('aria-sort')") == "descending"
    assert first == sorted(before, reverse=True)
    page.click("#class-table th[data-key='iou']")
    assert page.eval(ious) == sorted(before)

    # the per-image table: sorted by image mIoU, worst first; a class filter keeps its images only
    col = "Array.from(document.querySelectorAll('#image-table tbody tr')).map(r => r.cells[%d].textContent)"
    mious = [float(v) for v in page.eval(col % 1)]
    assert mious == sorted(mious) and len(mious) == 6
    page.click("#image-table th[data-key='1']")
    assert [float(v) for v in page.eval(col % 1)] == sorted(mious, reverse=True)
    n_with_sign = page.eval("JSON.parse(document.getElementById('image-data').textContent).class_iou"
                            ".filter(r => r[8] !== null).length")
    page.eval("(() => { const s = document.getElementById('image-class'); s.value = '8';"
              " s.dispatchEvent(new Event('change')); })()")
    assert page.eval("document.querySelectorAll('#image-table tbody tr').length") == n_with_sign
    assert page.eval("document.querySelector('#image-table thead th:nth-child(2)').textContent") == "IoU of sign"

    # the lightbox opens on a click and closes with Escape
    page.click("#gallery a.lightbox-link")
    assert page.eval("document.getElementById('lightbox').hidden") is False
    page.eval("new Promise(r => { const i = document.getElementById('lightbox-img');"
              " if (i.complete) r(); else i.onload = r; })")
    assert page.eval("document.getElementById('lightbox-img').naturalWidth") > 0
    page.key("Escape")
    assert page.eval("document.getElementById('lightbox').hidden") is True

    shot = page.screenshot(tmp_path / "report.png")
    assert shot.stat().st_size > 10_000
    assert page.errors() == []


def test_report_without_optional_sections_in_chromium(browser, tmp_path):
    """A bare metrics.json (no per-image table, no boundary or failure keys) still renders cleanly."""
    from segscope.report import build_report

    res = tmp_path / "results"
    res.mkdir()
    metrics = {
        "classes": ["bg", "fg"], "num_images": 1, "pixel_accuracy": 0.9, "mean_accuracy": 0.85, "miou": 0.8,
        "per_class": {"bg": {"iou": 0.9, "gt_pixels": 9, "gt_share": 0.9}, "fg": {"iou": 0.7, "gt_pixels": 1, "gt_share": 0.1}},
        "confusion_matrix": [[8, 1], [0, 1]],
    }
    (res / "metrics.json").write_text(json.dumps(metrics))
    index = build_report(res)
    page = browser.open(index.as_uri())
    assert page.eval("!!document.getElementById('boundaries')") is False
    assert page.eval("document.querySelectorAll('#class-table tbody tr').length") == 2
    page.click("#class-table th[data-key='iou']")
    assert page.eval("document.querySelector('#class-table tbody tr td').dataset.v") == "bg"
    assert page.errors() == []
