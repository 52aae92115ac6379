"""The report as a person sees it: headless Chromium loads index.html from disk, with no console
errors, every picture decodes and shows, the tables sort, the image filter and the lightbox work.

Chromium is driven over the DevTools protocol through a pipe (``--remote-debugging-pipe``):
no extra package, no browser download. Skipped when the ``chromium`` package is not installed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
    "--mute-audio", "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe (fds 3 and 4)."""

    def __init__(self, exe: str, width: int = 1280, height: int = 900):
        self.profile = tempfile.mkdtemp(prefix="segscope-chromium-")
        cmd_r, self._w = os.pipe()  # we write commands, the browser reads fd 3
        self._r, ev_w = os.pipe()  # the browser writes fd 4, we read
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(ev_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(ev_w)

        def wire():  # runs in the child, before exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
        )
        os.close(child_in)
        os.close(child_out)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.width, self.height = width, height

    # -- protocol
    def _read(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe:\n" + self.tail())
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(max(0.0, deadline - time.monotonic()))
            if reply is None:
                raise TimeoutError(f"no reply to {method}:\n{self.tail()}")
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str | None = None, timeout: float = 60) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            ev = self._read(max(0.0, deadline - time.monotonic()))
            if ev is None:
                raise TimeoutError(f"no {method} event")
            if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                return ev
            self.events.append(ev)

    def tail(self) -> str:
        try:
            self.log.flush()
            return Path(self.profile, "chromium.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- a page
    def open(self, url: str) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False}, session)
        self.send("Page.navigate", {"url": url}, session)
        self.wait_event("Page.loadEventFired", session)
        return page


class Page:
    def __init__(self, browser: Browser, session: str):
        self.b = browser
        self.session = session

    def eval(self, expression: str, timeout: float = 60):
        res = self.b.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                               "returnByValue": True}, self.session, timeout)
        if "exceptionDetails" in res:
            raise AssertionError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def click(self, selector: str) -> None:
        """Scroll ``selector`` into view and click its centre with the mouse."""
        box = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center', behavior: 'instant'});"
            " const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        assert box is not None, f"nothing matches {selector}"
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none"}
            if kind != "mouseMoved":
                params["clickCount"] = 1
            self.b.send("Input.dispatchMouseEvent", params, self.session)

    def key(self, key: str) -> None:
        for kind in ("keyDown", "keyUp"):
            self.b.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key}, self.session)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for ev in self.b.events:
            if ev.get("sessionId") != self.session:
                continue
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    def screenshot(self, path: Path, full: bool = True, clip: dict | None = None) -> Path:
        params: dict = {"format": "png", "captureBeyondViewport": full}
        if clip is not None:
            params["clip"] = dict(clip, scale=1)
        elif full:
            h = self.eval("Math.ceil(document.documentElement.scrollHeight)")
            params["clip"] = {"x": 0, "y": 0, "width": self.b.width, "height": min(int(h), 16000), "scale": 1}
        data = self.b.send("Page.captureScreenshot", params, self.session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@pytest.fixture(scope="module")
def browser():
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    b = Browser(exe)
    try:
        b.send("Browser.getVersion", timeout=60)
    except Exception as exc:  # pragma: no cover - a broken install
        b.close()
        pytest.skip(f"chromium does not start: {exc}")
    yield b
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
