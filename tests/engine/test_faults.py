"""Faults and signals of a ``--jobs 2`` run: a killed worker, a killed or terminated parent,
Ctrl-C, errors on a Dask cluster, and the warm-up of uint16 masks. Each runs the command line in a
child process and watches its workers through /proc (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segscope
from segscope.engine import pool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches processes through /proc")

SRC = Path(segscope.__file__).resolve().parents[1]
#: seconds a worker may take to notice its parent died (the polling fallback looks once a second)
GONE_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Enough images that a ``--jobs 2`` run is still going when its workers are first seen."""
    from segscope.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data"), num_images=200, height=128, width=256, seed=5)


@pytest.fixture(scope="module")
def previous(data, tmp_path_factory):
    """A complete earlier run (without the boundary analysis, so that it differs from the runs the
    tests stop), copied into each test's results folder."""
    out = tmp_path_factory.mktemp("previous") / "run"
    proc = subprocess.run(_cmd(data, out, "--jobs", "1", "--skip", "boundary"), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _env() -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("SEGSCOPE_START_METHOD", None)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cmd(data, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "segscope", "evaluate", str(data["pred"]), str(data["gt"]),
            "--classes", str(data["classes"]), "--out", str(out), "--quiet", *extra]


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie waits for pid 1 to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return sorted(set(out))


def _workers(proc: subprocess.Popen, n: int = 2) -> list[int]:
    """The pids of the ``n`` forked pool workers of ``proc`` (children running its command line)."""
    while proc.poll() is None:
        me = _cmdline(proc.pid)  # read each time: right after the start it may not have exec'd yet
        found = [c for c in _children(proc.pid) if me and _cmdline(c) == me]
        if len(found) >= n:
            return found
        time.sleep(0.005)
    raise AssertionError(f"the run ended (exit {proc.returncode}) before its workers were seen: {proc.stderr.read()}")


def _wait_gone(pids: list[int]) -> list[int]:
    """Poll until none of ``pids`` runs; the ones still running after :data:`GONE_WITHIN_S`."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _kill_all(pids: list[int]) -> None:
    for p in pids:
        if _alive(p):
            os.kill(p, signal.SIGKILL)


def _snapshot(folder: Path) -> dict | None:
    if not folder.is_dir():
        return None
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _copy(previous: Path, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(previous, out)
    return out


# ---------------------------------------------------------------------- a killed worker
def test_a_worker_killed_with_sigkill_ends_the_run_with_one_line(data, previous, tmp_path):
    out = _copy(previous, tmp_path)
    before = _snapshot(out)
    proc = _start(_cmd(data, out, "--jobs", "2"))
    workers = _workers(proc)
    os.kill(proc.pid, signal.SIGSTOP)  # the run cannot finish before the kill lands
    os.kill(workers[0], signal.SIGKILL)
    os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    lines = err.splitlines()
    assert proc.returncode == 1, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("segscope: error: a worker process died (killed by signal 9"), err
    assert "while evaluating street_0" in lines[0], err
    assert _wait_gone(workers) == []
    assert _snapshot(out) == before and _leftovers(out) == []


def _die(x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return x


def test_pool_map_names_the_task_of_a_worker_that_died():
    with pytest.raises(pool.WorkerDied, match=r"killed by signal 9.* while squaring 3"):
        list(pool.pool_map(_die, [(i,) for i in range(8)], jobs=2, window_per_job=1,
                           describe=lambda task: f"squaring {task[0]}"))


# ---------------------------------------------------------------------- a killed or terminated parent
def test_workers_die_with_a_parent_killed_with_sigkill(data, previous, tmp_path):
    out = _copy(previous, tmp_path)
    proc = _start(_cmd(data, out, "--jobs", "2"))
    workers = _workers(proc)
    proc.kill()
    proc.wait(timeout=60)
    try:
        assert _wait_gone(workers) == []
    finally:
        _kill_all(workers)
    proc = subprocess.run(_cmd(data, out, "--jobs", "1"), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _leftovers(out) == []  # the next run removed what the killed one left


@pytest.mark.parametrize(("sig", "code", "line"), [(signal.SIGTERM, 143, "segscope: terminated"),
                                                   (signal.SIGINT, 130, "segscope: interrupted")])
def test_sigterm_and_ctrl_c_end_the_run_with_one_line(data, previous, tmp_path, sig, code, line):
    out = _copy(previous, tmp_path)
    before = _snapshot(out)
    proc = _start(_cmd(data, out, "--jobs", "2"))
    workers = _workers(proc)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
        assert _wait_gone(workers) == []
    finally:
        _kill_all(workers)
    assert proc.returncode == code, err
    assert err.splitlines() == [line], err
    assert _snapshot(out) == before and _leftovers(out) == []


_HALF_BUILT = """
import atexit, os, signal, sys, time, weakref
import segscope.cli as cli

class Owner:
    pass

class Finalizer:  # like multiprocessing.util.Finalize: the weak reference comes before the key
    def __init__(self, obj):
        self._ref = weakref.ref(obj, self)
        os.kill(os.getpid(), signal.{sig})
        time.sleep(30)  # the signal's exception leaves the constructor here
        self._key = 1

    def __call__(self, ref):
        del {{}}[self._key]

kept = []

def run(**kwargs):
    owner = Owner()
    kept.append(owner)
    try:
        Finalizer(owner)
    finally:
        if {during}:
            kept.clear()  # collected while the run unwinds

atexit.register(kept.clear)  # or collected as the process ends
cli.app = run
cli.main()
"""


@pytest.mark.parametrize("during", [True, False])
@pytest.mark.parametrize(("sig", "code", "line"), [("SIGTERM", 143, "segscope: terminated"),
                                                   ("SIGINT", 130, "segscope: interrupted")])
def test_what_a_signal_left_half_built_stays_silent(sig, code, line, during):
    proc = subprocess.run([sys.executable, "-c", _HALF_BUILT.format(sig=sig, during=during)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.splitlines() == [line], proc.stderr


def test_unraisable_errors_of_a_run_not_stopped_are_still_shown():
    script = _HALF_BUILT.replace("os.kill(os.getpid(), signal.{sig})", "raise ValueError('cut')")
    script = script.replace("cli.app = run", "def quiet(**kwargs):\n"
                            "    try:\n        run()\n    except ValueError:\n        return 0\n"
                            "cli.app = quiet")
    proc = subprocess.run([sys.executable, "-c", script.format(sig="SIGTERM", during=False)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "AttributeError: 'Finalizer' object has no attribute '_key'" in proc.stderr


def _sleep_in_orphan(ready) -> None:
    pool.watch_parent(death_signal=False)  # the polling thread alone, as where prctl is missing
    ready.set()
    time.sleep(120)


def test_the_polling_watch_ends_a_worker_whose_parent_died(tmp_path):
    """A middle process starts a child that watches it by polling, prints the child's pid and is
    killed: the child must end too."""
    code = (
        "import multiprocessing as mp, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tests.engine.test_faults import _sleep_in_orphan\n"
        "if __name__ == '__main__':\n"
        "    ready = mp.get_context('fork').Event()\n"
        "    p = mp.get_context('fork').Process(target=_sleep_in_orphan, args=(ready,))\n"
        "    p.start(); ready.wait(60)\n"
        "    print(p.pid, flush=True)\n"
        "    import time; time.sleep(120)\n"
    )
    middle = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, text=True)
    child = int(middle.stdout.readline())
    try:
        assert _alive(child)
        middle.kill()
        middle.wait(timeout=30)
        assert _wait_gone([child]) == []
    finally:
        _kill_all([child])
        middle.stdout.close()


# ---------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def bad_data(tmp_path_factory):
    """Six good pairs and one whose prediction is not an image."""
    from segscope.synth import write_dataset

    d = write_dataset(tmp_path_factory.mktemp("bad"), num_images=7, height=32, width=48, seed=6)
    (d["pred"] / "street_0003.png").write_bytes(b"not a png")
    return d


def test_a_bad_mask_on_a_dask_cluster_gives_one_line(bad_data, tmp_path):
    pytest.importorskip("dask.distributed")
    proc = subprocess.run(_cmd(bad_data, tmp_path / "run", "--scheduler", "dask", "--jobs", "2"), env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("segscope: error")]
    assert len(errors) == 1 and "street_0003" in errors[0], proc.stderr
    assert not (tmp_path / "run").exists() and _leftovers(tmp_path / "run") == []


# ---------------------------------------------------------------------- uint16 masks
def test_uint16_masks_with_ignore_65535_run_on_two_workers(data, tmp_path):
    """An identity spec keeps the masks' uint16 type; the warm-up must use it too."""
    from segscope.io.masks import read_mask

    for role in ("pred", "gt"):
        (tmp_path / role).mkdir()
        for i in range(4):
            mask = read_mask(data[role] / f"street_{i:04d}.png").astype(np.uint16)
            mask[mask == 255] = 65535  # the synthetic set's ignore label
            if role == "gt":
                mask[:3] = 65535
            Image.fromarray(mask).save(tmp_path / role / f"street_{i:04d}.png")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "segscope", "evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"),
           "--classes", str(data["classes"]), "--ignore-index", "65535", "--out", str(out), "--quiet", "--jobs", "2"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr, proc.stderr
    serial = subprocess.run([*cmd[:-4], str(tmp_path / "serial"), "--quiet", "--jobs", "1"], env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert serial.returncode == 0, serial.stderr
    assert (out / "metrics.json").read_text() == (tmp_path / "serial" / "metrics.json").read_text()
