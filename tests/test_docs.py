"""Every ```python block of docs/*.md runs (in order, one namespace per file, in a temp dir), and
every `$ ` line of a ```console block runs as a shell command that must exit 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
DOC_FILES = sorted(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]


def blocks(path: Path):
    for match in FENCE.finditer(path.read_text(encoding="utf-8")):
        yield match.group(1).lower(), match.group(2)


def test_docs_exist():
    assert list(DOCS.glob("*.md")), "docs/ has no guides"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_doc_code_runs(path: Path, tmp_path: Path, monkeypatch):
    runnable = [(lang, code) for lang, code in blocks(path) if lang in ("python", "console")]
    if not runnable:
        pytest.skip("no runnable blocks")
    monkeypatch.chdir(tmp_path)
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    namespace: dict = {"__name__": f"doc_{path.stem}"}
    for i, (lang, code) in enumerate(runnable):
        if lang == "python":
            try:
                exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the message is the point
                raise AssertionError(f"{path.name} python block {i} failed: {exc!r}\n{code}") from exc
        else:
            for line in code.splitlines():
                if not line.startswith("$ "):
                    continue
                cmd = line[2:]
                proc = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
                assert proc.returncode == 0, f"{path.name}: `{cmd}` exited {proc.returncode}\n{proc.stderr[-2000:]}"
