"""The results folder holds exactly one complete run: reruns, kills, a second writer, a full disk,
and the report's own files."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import segscope
from segscope.cli import main
from segscope.io import results as results_mod
from segscope.io.results import read_manifest, staged_results

SRC = Path(segscope.__file__).resolve().parents[1]
REDUCED = ["--skip", "errors", "--skip", "boundary", "--skip", "conventions"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from segscope.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data"), num_images=6, height=48, width=80, seed=3)


def _args(data, out, *extra):
    return ["evaluate", str(data["pred"]), str(data["gt"]), "--classes", str(data["classes"]), "--out", str(out),
            "--quiet", "--jobs", "1", *extra]


def _digest(path: Path) -> str:
    if path.suffix == ".npz":  # the zip entries carry their write time: compare the arrays
        h = hashlib.sha256()
        with np.load(path, allow_pickle=False) as z:
            for key in sorted(z.files):
                h.update(key.encode() + str(z[key].dtype).encode() + str(z[key].shape).encode() + z[key].tobytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict | None:
    """Every file of a run folder and its content (None when the folder is missing)."""
    if not folder.is_dir():
        return None
    return {p.relative_to(folder).as_posix(): _digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def refs(data, tmp_path_factory):
    """Reference runs: every analysis (``full``) and the core metrics only (``reduced``)."""
    root = tmp_path_factory.mktemp("refs")
    assert main(_args(data, root / "full")) == 0
    assert main(_args(data, root / "reduced", *REDUCED)) == 0
    return {"full": root / "full", "reduced": root / "reduced",
            "snap": {"full": snapshot(root / "full"), "reduced": snapshot(root / "reduced")}}


def _env():
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_manifest_lists_every_file(refs):
    for name in ("full", "reduced"):
        files = set(refs["snap"][name]) - {"manifest.json"}
        assert set(read_manifest(refs[name])) == files
    assert {"confusion_pairs.json", "missed_segments.csv"} <= set(refs["snap"]["full"])


def test_rerun_with_fewer_analyses_leaves_nothing_of_the_old_run(data, refs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_args(data, out, "--report")) == 0
    assert (out / "report" / "index.html").is_file() and (out / "confusion_pairs.json").is_file()
    assert main(_args(data, out, *REDUCED)) == 0
    assert snapshot(out) == refs["snap"]["reduced"]
    assert not (out / "report").exists() and not (out / "missed_segments.csv").exists()
    assert _leftovers(out) == []


def test_python_report_has_the_same_panels_as_the_cli(data, tmp_path, capsys):
    cli_out, py_out = tmp_path / "cli", tmp_path / "py"
    assert main(_args(data, cli_out, "--report", "--images", str(data["images"]))) == 0
    run = segscope.evaluate_folders(data["pred"], data["gt"], str(data["classes"]), out=py_out,
                                    images=data["images"], report=True, jobs=1)
    assert run.report == py_out / "report" / "index.html" and run.report.is_file()
    cli_panels, py_panels = snapshot(cli_out / "report" / "panels"), snapshot(py_out / "report" / "panels")
    assert len(py_panels) == 6 and py_panels == cli_panels
    assert _json(py_out / "metrics.json")["config"] == _json(cli_out / "metrics.json")["config"]
    assert "mask folders not found" not in run.report.read_text()
    assert ".py.staging" not in run.report.read_text()


def _json(path):
    import json

    return json.loads(path.read_text())


def test_kill_9_at_random_moments_leaves_the_old_or_the_new_run(data, refs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(refs["full"], out)
    env = _env()

    def start(target):
        extra = REDUCED if target == "reduced" else []
        return subprocess.Popen([sys.executable, "-m", "segscope", *_args(data, out, *extra)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    durations = {}
    for target in ("reduced", "full"):  # how long a whole run takes, to spread the kills over it
        t0 = time.perf_counter()
        assert start(target).wait() == 0
        durations[target] = time.perf_counter() - t0
        assert snapshot(out) == refs["snap"][target]
        state = target
    rng = np.random.default_rng(20261201)
    outcomes = []
    for fraction in rng.uniform(0.4, 1.2, size=16):
        target = "full" if state == "reduced" else "reduced"
        delay = fraction * durations[target]
        proc = start(target)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        now = snapshot(out)
        assert now in (refs["snap"][state], refs["snap"][target]), f"killed after {delay:.2f} s: {sorted(now or [])}"
        state = target if now == refs["snap"][target] else state
        outcomes.append((round(delay, 2), state))
    target = "full" if state == "reduced" else "reduced"
    assert start(target).wait() == 0
    assert snapshot(out) == refs["snap"][target]
    assert _leftovers(out) == [], outcomes


def _crash_at(n: int, run) -> int:
    """Run ``run()`` in a forked child that dies (``os._exit``, no cleanup) at its n-th file-system
    change; its exit status: 0 done, 9 killed, 1 failed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            calls = [0]

            def dying(fn):
                def wrapper(*a, **k):
                    calls[0] += 1
                    if calls[0] == n:
                        os._exit(9)
                    return fn(*a, **k)
                return wrapper

            for name in ("rename", "replace", "unlink", "rmdir", "mkdir"):
                setattr(os, name, dying(getattr(os, name)))
            results_mod._exchange = dying(results_mod._exchange)
            run()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_crash_at_every_step_leaves_one_complete_run(data, refs, tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(results_mod, "_renameat2", lambda: None)
    spec = segscope.load_spec(data["classes"])
    out = tmp_path / "out"
    shutil.copytree(refs["full"], out)
    old = refs["snap"]["full"]
    new_run = lambda: segscope.evaluate_folders(data["pred"], data["gt"], spec, out=out, jobs=1, analyses=())
    n = 1
    while (code := _crash_at(n, new_run)) == 9:
        now = snapshot(out)
        if now is None and not exchange:  # cut between the two renames: the next run completes the swap
            with pytest.raises(RuntimeError), staged_results(out):
                raise RuntimeError("a later run that fails")
            now = snapshot(out)
        assert now in (old, refs["snap"]["reduced"]), (n, now and sorted(now))
        for p in tmp_path.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        shutil.copytree(refs["full"], out)
        n += 1
    assert code == 0 and n > 5
    assert snapshot(out) == refs["snap"]["reduced"] and _leftovers(out) == []


def test_a_second_run_into_the_same_folder_fails_at_once(data, refs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(refs["full"], out)
    with staged_results(out) as stage:
        proc = subprocess.run([sys.executable, "-m", "segscope", *_args(data, out)], env=_env(),
                              capture_output=True, text=True)
        assert snapshot(out) == refs["snap"]["full"]
        for f in refs["reduced"].iterdir():
            if f.name != "manifest.json":
                shutil.copy(f, stage / f.name)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"segscope: error: another segscope run is writing {out} (pid {os.getpid()})"]
    assert snapshot(out) == refs["snap"]["reduced"] and _leftovers(out) == []


def test_a_full_disk_keeps_the_old_run(data, refs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    shutil.copytree(refs["full"], out)
    real = os.fdopen

    def full(fd, *a, **k):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path / ".out.staging-")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, *a, **k)

    monkeypatch.setattr(os, "fdopen", full)
    code = main(_args(data, out, *REDUCED))
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [f"segscope: error: {out}: no space left on the device; the previous results are kept"]
    assert snapshot(out) == refs["snap"]["full"] and _leftovers(out) == []


@pytest.mark.parametrize("where", ["file", "inside", "holds_input", "foreign", "cwd"])
def test_bad_out_is_one_line(data, tmp_path, capsys, monkeypatch, where):
    if where == "file":
        out = tmp_path / "results"
        out.write_text("not a folder")
        message = "the results folder is a file"
    elif where == "inside":
        out = data["gt"] / "results"
        message = "lies inside the GT folder"
    elif where == "holds_input":
        out = data["gt"].parent
        message = "lies inside the results folder"
    elif where == "foreign":
        out = tmp_path / "mine"
        out.mkdir()
        (out / "thesis.tex").write_text("mine")
        message = "not a segscope results folder"
    else:
        out = tmp_path / "results"
        (out / "here").mkdir(parents=True)
        monkeypatch.chdir(out / "here")
        message = "holds the working directory"
    before = snapshot(out) if out.is_dir() else None
    assert main(_args(data, out)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert (snapshot(out) if out.is_dir() else None) == before
    assert not (data["gt"] / "results").exists()


def test_report_out_keeps_the_users_files(data, refs, tmp_path, capsys):
    folder = tmp_path / "rep"
    (folder / "panels").mkdir(parents=True)
    (folder / "panels" / "mine.png").write_bytes(b"my own picture")
    (folder / "notes.txt").write_text("mine")
    run = tmp_path / "run"
    assert main(_args(data, run, "--images", str(data["images"]))) == 0
    assert main(["report", str(run), "--out", str(folder), "--jobs", "1"]) == 0
    first = set(read_manifest(folder, ".segscope-report.json"))
    assert len([f for f in first if f.startswith("panels/")]) == 6
    assert main(["report", str(run), "--out", str(folder), "--jobs", "1", "--max-panels", "1", "--worst-k", "0"]) == 0
    second = set(read_manifest(folder, ".segscope-report.json"))
    panels = {f"panels/{p.name}" for p in (folder / "panels").iterdir()}
    assert panels == {f for f in second if f.startswith("panels/")} | {"panels/mine.png"}
    assert len(panels) == 2
    assert (folder / "panels" / "mine.png").read_bytes() == b"my own picture"
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("cut_at", ["render_all", "render_page"])
def test_a_report_cut_short_keeps_the_previous_report(refs, tmp_path, monkeypatch, cut_at):
    from segscope.report import build as build_mod

    run = tmp_path / "run"
    shutil.copytree(refs["full"], run)
    assert main(["report", str(run), "--jobs", "1"]) == 0
    before = snapshot(run / "report")
    assert "index.html" in before and any(name.startswith("panels/") for name in before)

    def cut(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_mod, cut_at, cut)
    with pytest.raises(KeyboardInterrupt):
        build_mod.build_report(run, jobs=1, max_panels=1, worst_k=0)
    assert snapshot(run / "report") == before
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


def test_ctrl_c_keeps_the_old_run(data, refs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(refs["full"], out)

    def interrupt(done, total):
        if done == total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        segscope.evaluate_folders(data["pred"], data["gt"], str(data["classes"]), out=out, jobs=1,
                                  analyses=(), progress=interrupt)
    assert snapshot(out) == refs["snap"]["full"] and _leftovers(out) == []


def test_a_folder_that_cannot_be_written_is_one_line(data, refs, tmp_path, monkeypatch, capsys):
    import tempfile

    out = tmp_path / "out"
    shutil.copytree(refs["full"], out)

    def read_only(*a, **k):
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    assert main(_args(data, out)) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"segscope: error: {out}: cannot write the results folder: {os.strerror(errno.EROFS)}"]
    assert snapshot(out) == refs["snap"]["full"] and _leftovers(out) == []


def test_outputs_to_a_pipe_or_a_device_are_written_through(tmp_path, capsys):
    import stat
    import threading

    from segscope.exceptions import SegscopeError
    from segscope.io.results import write_json

    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_text()), daemon=True)
    reader.start()
    write_json(pipe, {"miou": 0.5})
    reader.join(10)
    assert got and '"miou": 0.5' in got[0]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)  # not replaced by a file
    assert os.listdir(tmp_path) == ["pipe.json"]
    if os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode):
        with pytest.raises(SegscopeError, match="^/dev/full: cannot write: No space left on device"):
            write_json("/dev/full", {"miou": 0.5})
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
        from segscope.io.masks import write_mask

        write_mask(tmp_path / "masks" / "a.png", np.zeros((4, 4), np.uint8))
        assert main(["check", str(tmp_path / "masks"), "-n", "2", "--json", "/dev/full"]) == 1
        assert capsys.readouterr().err.splitlines()[-1] == ("segscope: error: /dev/full: cannot write: "
                                                            "No space left on device")
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
