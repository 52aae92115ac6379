"""Writing outputs safely: atomic files, JSON with NaN written as null, manifests, and the
results folder that always holds exactly one complete run.

A run is written by :func:`staged_results`: into a hidden staging folder beside ``out``, under
a lock, and swapped in whole at the end, so ``out`` holds either the complete previous run or
the complete new one, whatever happens in between (an error, Ctrl-C, ``kill -9``, a full disk).

``out`` may be an fsspec URL (``s3://bucket/run``): an object store has no atomic rename, so the
run is staged in a local folder and uploaded, the previous manifest removed first and the new one
written last; a folder on a store is complete exactly when its manifest is there and lists files
that are (:func:`complete_remote`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np

from .._storage import is_url, url_fs
from .._version import __version__
from ..exceptions import SegscopeError

__all__ = [
    "MANIFEST",
    "RESUME_DIR",
    "complete_remote",
    "atomic_write",
    "cannot_write",
    "clean_json",
    "make_folder",
    "read_manifest",
    "staged_files",
    "staged_results",
    "write_json",
    "write_manifest",
]

#: the file, written last, that lists every file of a run (or of a report)
MANIFEST = "manifest.json"
#: the folder of a staging folder that ``--resume`` keeps (finished shards); never part of a run
RESUME_DIR = ".segscope-resume"


# ---------------------------------------------------------------------- safe output
#: what an output path that cannot be made gives (a full disk is not one: see ``_full_disk``)
_PATH_ERRNOS = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS,
                          errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT})


@contextlib.contextmanager
def cannot_write(path: str | Path, what: str = "output") -> Iterator[None]:
    """Turn an output path that cannot be made into a one-line :class:`SegscopeError` naming
    ``path``: a file where a folder must be, a folder where the file goes, no permission, a
    read-only disk, a name too long. Other errors (a full disk) pass unchanged.

    >>> import tempfile
    >>> blocker = Path(tempfile.mkdtemp()) / "taken"
    >>> _ = blocker.write_text("")
    >>> with cannot_write(blocker / "out", "results folder"):
    ...     (blocker / "out").mkdir(parents=True, exist_ok=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: .../taken/out: cannot write the results folder: .../taken is a file, not a folder
    """
    try:
        yield
    except OSError as exc:
        if exc.errno not in _PATH_ERRNOS:
            raise
        raise SegscopeError(f"cannot write the {what}: {_why_not(Path(path), exc)}", path) from None


def _why_not(path: Path, exc: OSError) -> str:
    if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.ENOENT):
        for folder in (*reversed(path.parents), path):
            if not folder.exists():
                break
            if not folder.is_dir():
                return "it is a file, not a folder" if folder == path else f"{folder} is a file, not a folder"
    if exc.errno == errno.EISDIR:
        return "a folder stands where the file goes"
    return exc.strerror or str(exc)


def make_folder(path: str | Path, what: str = "output folder") -> Path:
    """``mkdir -p path``, or a one-line :class:`SegscopeError` naming it (:func:`cannot_write`)."""
    path = Path(path)
    with cannot_write(path, what):
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``path`` and move it into place only on success (a path that
    cannot be written: one line, :func:`cannot_write`). A path that is not a regular file, such
    as ``/dev/stdout``, a named pipe or a device, is written through, never replaced."""
    path = Path(path)
    if _written_through(path):
        with cannot_write(path, "file"):
            fh = open(path, mode, **kwargs)
        try:
            with fh:
                yield fh
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise SegscopeError(f"cannot write: {exc.strerror or exc}", path) from None
        return
    with cannot_write(path, "file"):
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs follow the umask
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        with cannot_write(path, "file"):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _written_through(path: Path) -> bool:
    """Whether ``path`` (its link followed) is a device, a pipe or a socket: output that goes
    somewhere, not a file to swap."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def clean_json(value):
    """Replace NaN/inf floats by None recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def write_json(path: str | Path, data) -> None:
    """Write JSON atomically, with NaN written as null."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(clean_json(data), fh, indent=2, default=_json_default, allow_nan=False)
        fh.write("\n")


@contextlib.contextmanager
def staged_files(folder: str | Path, what: str = "output folder", manifest: str | None = None,
                 last: str | None = None) -> Iterator[Path]:
    """Yield a hidden folder beside ``folder`` to write a set of files into; on success move them
    into ``folder`` (``last`` after the others), so that an error or Ctrl-C before then leaves
    ``folder`` as it was. Files of ``folder`` this set does not hold are left alone, except, with
    ``manifest``, those the previous manifest of that name listed: the manifest is rewritten to
    list this set, and the files only the old one listed are removed.

    >>> import tempfile
    >>> out = make_folder(Path(tempfile.mkdtemp()) / "report")
    >>> with staged_files(out, manifest=".made.json") as stage:
    ...     _ = (stage / "a.txt").write_text("new")
    >>> sorted(p.name for p in out.iterdir())
    ['.made.json', 'a.txt']
    """
    folder = Path(folder)
    with cannot_write(folder, what):
        stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.staging-", dir=folder.parent))
    try:
        yield stage
        made = _files_under(stage)
        old = set(read_manifest(folder, manifest) or ()) - set(made) if manifest else set()
        with cannot_write(folder, what):
            for name in sorted(made, key=lambda n: n == last):
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / name, folder / name)
        if manifest:
            write_manifest(folder, made, manifest)
        for name in old:
            with contextlib.suppress(OSError):
                (folder / name).unlink()
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# ---------------------------------------------------------------------- manifests
def write_manifest(folder: str | Path, files: Iterable[str | Path], name: str = MANIFEST) -> Path:
    """Write the manifest ``folder/name`` listing ``files`` (paths relative to ``folder``)."""
    folder = Path(folder)
    names = sorted({Path(f).as_posix() for f in files} - {name})
    path = folder / name
    write_json(path, {"segscope_manifest": 1, "segscope_version": __version__, "files": names})
    return path


def read_manifest(folder: str | Path, name: str = MANIFEST) -> list[str] | None:
    """The files listed by the manifest ``folder/name`` (relative paths inside ``folder``), or
    None when there is no readable segscope manifest. Entries that would leave the folder are dropped.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_manifest(d, ["b.csv", "report/index.html", "a.json"])
    >>> read_manifest(d)
    ['a.json', 'b.csv', 'report/index.html']
    """
    try:
        data = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("segscope_manifest") != 1 or not isinstance(data.get("files"), list):
        return None
    out = []
    for entry in data["files"]:
        rel = Path(str(entry))
        if isinstance(entry, str) and entry and not rel.is_absolute() and ".." not in rel.parts:
            out.append(rel.as_posix())
    return out


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _complete(folder: Path) -> bool:
    files = read_manifest(folder)
    return files is not None and all((folder / f).is_file() for f in files)


# ---------------------------------------------------------------------- the results folder
@contextlib.contextmanager
def staged_results(out: str | Path, inputs: Mapping[str, str | Path | None] | None = None,
                   resume: bool = False) -> Iterator[Path]:
    """Write one complete run into ``out``: yield a fresh staging folder, swap it in on success.

    Parameters
    ----------
    out : the results folder, local or an fsspec URL. It may not exist yet; when it does, it
        must be a folder of an earlier run (or empty): its whole content is replaced.
    inputs : the run's input folders by role (``{"prediction": pred_dir, ...}``): ``out`` may
        neither lie inside one of them (it would be read as input) nor contain one (it would be
        replaced).
    resume : take over the staging folder a killed run left (its :data:`RESUME_DIR` is kept, the
        rest emptied), and keep the staging folder when this run fails too, for the next
        ``resume``.

    Yields
    ------
    Path of the staging folder (hidden, beside ``out``; for a URL, in the system's temporary
    folder) to write every file of the run into.

    Notes
    -----
    - A lock beside ``out`` makes a second run into the same folder fail at once (for a URL, a
      second run on the same machine).
    - Staging and old folders left by killed runs are removed first (unless ``resume``); a swap
      cut short between its two renames (where the atomic exchange is unavailable) is completed.
    - On success ``manifest.json`` is written last, listing every file, and the staging folder
      replaces ``out`` atomically (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two
      renames, made whole by the next run if cut short). For a URL the files are uploaded, the
      manifest last.
    - On any error, Ctrl-C included, the staging folder is removed (unless ``resume``) and
      ``out`` is left as it was. A full disk or a folder that cannot be written becomes a
      one-line :class:`SegscopeError`.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "results"
    >>> with staged_results(out) as stage:
    ...     _ = (stage / "metrics.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['manifest.json', 'metrics.json']
    """
    if is_url(out):
        with _staged_remote(str(out).rstrip("/"), inputs or {}, resume) as stage:
            yield stage
        return
    shown = Path(out)
    out = Path(os.path.abspath(shown))
    if out.is_symlink():
        out = out.resolve()
    _check_target(out, shown, inputs or {})
    with _full_disk(shown), contextlib.ExitStack() as held:
        with cannot_write(shown, "results folder"):
            held.enter_context(_lock(out, shown))
            stage = _recover(out, resume)
            if stage is None:
                stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
        try:
            _check_target(out, shown, inputs)
            os.chmod(stage, 0o777 & ~_umask())
            yield stage
            shutil.rmtree(stage / RESUME_DIR, ignore_errors=True)
            write_manifest(stage, _files_under(stage))
            _swap(stage, out)
        except BaseException:
            if not resume:
                _discard(stage)
            raise


def _emptied_but_resume(stage: Path) -> Path:
    """``stage`` with everything but its :data:`RESUME_DIR` removed (the manifest first)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(stage / MANIFEST)
    for entry in stage.iterdir():
        if entry.name == RESUME_DIR:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink()
    return stage


@contextlib.contextmanager
def _staged_remote(out: str, inputs: Mapping[str, str | Path | None], resume: bool) -> Iterator[Path]:
    """:func:`staged_results` for a URL: stage locally (a folder named after the URL, so that
    ``resume`` finds it), then upload, the previous manifest removed first, the new one last."""
    import hashlib

    for role, folder in inputs.items():
        if folder is None or not is_url(str(folder)):
            continue
        src = str(folder).rstrip("/")
        if out == src or out.startswith(src + "/"):
            raise SegscopeError(f"the results folder lies inside the {role} folder {folder}; choose another --out", out)
        if src.startswith(out + "/"):
            raise SegscopeError(f"the {role} folder {folder} lies inside the results folder; choose another --out", out)
    fs, root = url_fs(out)
    old = _remote_files(fs, root, out)
    base = Path(tempfile.gettempdir())
    stage = base / f"segscope-staging-{hashlib.sha256(out.encode()).hexdigest()[:16]}"
    with _lock(stage, Path(out)):
        if stage.is_dir() and resume:
            _emptied_but_resume(stage)
        else:
            _discard(stage)
            stage.mkdir()
        try:
            yield stage
            shutil.rmtree(stage / RESUME_DIR, ignore_errors=True)
            files = _files_under(stage)
            write_manifest(stage, files)
        except BaseException:
            if not resume:
                _discard(stage)
            raise
        try:
            if old is not None and fs.exists(f"{root}/{MANIFEST}"):
                fs.rm_file(f"{root}/{MANIFEST}")
            for name in files:
                fs.put_file(str(stage / name), f"{root}/{name}")
            fs.put_file(str(stage / MANIFEST), f"{root}/{MANIFEST}")
            for name in sorted(set(old or ()) - set(files)):
                with contextlib.suppress(FileNotFoundError):
                    fs.rm_file(f"{root}/{name}")
        except OSError as exc:
            raise SegscopeError(f"cannot write the results folder: {str(exc).splitlines()[0] if str(exc) else exc}",
                                out) from None
        finally:
            _discard(stage)


def _remote_files(fs, root: str, out: str) -> list[str] | None:
    """The files of the run at ``out`` (None where there is none); a folder of other files is an
    error, as for a local folder."""
    if not fs.exists(root):
        return None
    listed = complete_remote(out, fs, root)
    if listed is not None:
        return listed
    names = [n[len(root.rstrip("/")) + 1:] for n in fs.find(root, withdirs=False, detail=False)]
    if names and "metrics.json" not in names:
        raise SegscopeError("not a segscope results folder (it holds other files); choose another --out", out)
    return names


def complete_remote(out: str, fs=None, root: str | None = None) -> list[str] | None:
    """The files of the complete run at the URL ``out`` (its manifest, checked against the store),
    or None when no complete run is there."""
    if fs is None:
        fs, root = url_fs(out)
    root = str(root).rstrip("/")
    try:
        data = json.loads(fs.cat_file(f"{root}/{MANIFEST}").decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("segscope_manifest") != 1 or not isinstance(data.get("files"), list):
        return None
    files = [str(f) for f in data["files"] if isinstance(f, str) and f and ".." not in f.split("/")]
    present = {n[len(root) + 1:] for n in fs.find(root, withdirs=False, detail=False)}
    return files if set(files) <= present else None


def _check_target(out: Path, shown: Path, inputs: Mapping[str, str | Path | None] | None) -> None:
    """Refuse a results folder that is a file, holds other files, or overlaps the inputs or the
    working directory (``out``: absolute; ``shown``: as the user gave it)."""
    if out.exists() and not out.is_dir():
        raise SegscopeError("the results folder is a file, not a folder", shown)
    target = out.resolve()
    for role, folder in (inputs or {}).items():
        if folder is None:
            continue
        src = Path(folder).resolve()
        if target == src or src in target.parents:
            raise SegscopeError(f"the results folder lies inside the {role} folder {folder}; choose another --out", shown)
        if target in src.parents:
            raise SegscopeError(f"the {role} folder {folder} lies inside the results folder; choose another --out", shown)
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise SegscopeError("the results folder holds the working directory; choose another --out", shown)
    if out.is_dir() and read_manifest(out) is None and not (out / "metrics.json").is_file() and any(out.iterdir()):
        raise SegscopeError("not a segscope results folder (it holds other files); choose another --out", shown)


@contextlib.contextmanager
def _full_disk(out: Path) -> Iterator[None]:
    """Turn a full disk (or quota) into one line naming ``out``."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise SegscopeError("no space left on the device; the previous results are kept", out) from None
        raise


@contextlib.contextmanager
def _lock(out: Path, shown: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``out`` (flock) for the duration; fail at once if it is held."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise SegscopeError(f"another segscope run is writing {shown} (pid {pid})") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _leftovers(out: Path) -> list[Path]:
    prefixes = (f".{out.name}.staging-", f".{out.name}.old-")
    return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefixes))


def _recover(out: Path, resume: bool = False) -> Path | None:
    """Finish what a killed run left: complete a cut-short swap, remove staging and old folders.
    With ``resume``, the newest staging folder holding a :data:`RESUME_DIR` is kept (emptied of
    the rest) and returned."""
    left = _leftovers(out)
    if not out.exists():
        done = [p for p in left if p.name.startswith(f".{out.name}.staging-") and _complete(p)]
        if done:
            newest = max(done, key=lambda p: p.stat().st_mtime)
            os.rename(newest, out)
            left.remove(newest)
    kept = None
    if resume:
        resumable = [p for p in left if p.name.startswith(f".{out.name}.staging-") and (p / RESUME_DIR).is_dir()]
        if resumable:
            kept = max(resumable, key=lambda p: (p / RESUME_DIR).stat().st_mtime)
            left.remove(kept)
            _emptied_but_resume(kept)
    for p in left:
        _discard(p)
    return kept


def _discard(folder: Path) -> None:
    """Remove a staging or old folder; its manifest goes first, so a half-removed folder never
    looks complete."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        os.unlink(folder / MANIFEST)
    shutil.rmtree(folder, ignore_errors=True)


def _swap(stage: Path, out: Path) -> None:
    if not out.exists():
        os.rename(stage, out)
    elif _exchange(stage, out):
        _discard(stage)  # now holds the previous run
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old)  # replaces the empty placeholder folder
        os.rename(stage, out)
        _discard(old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    fn = _renameat2()
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    import ctypes

    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no glibc >= 2.28
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn
