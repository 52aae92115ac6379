"""Where files live: local paths or fsspec URLs, and the storage options that reach them.

A location is a local path (a :class:`~pathlib.Path`; ``file://`` URLs become one) or, for any
other ``scheme://`` (``s3://``, ``gs://``, ``az://``, ``https://``, ``memory://``), the URL as a
string, reached through fsspec with the options of :func:`set_storage_options`. Local paths never
go through fsspec, so local runs cost what they always did; fsspec is imported on first use.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .exceptions import SegscopeError

__all__ = [
    "is_url",
    "location",
    "join",
    "is_folder",
    "url_fs",
    "read_bytes",
    "storage_options",
    "set_storage_options",
    "parse_storage_options",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")
_OPTIONS_ENV = "SEGSCOPE_STORAGE_OPTIONS"
_OPTIONS: dict | None = None


def is_url(path: object) -> bool:
    """Whether ``path`` is an fsspec URL other than ``file://`` (a string ``scheme://...``).

    >>> is_url("s3://bucket/preds"), is_url("file:///data"), is_url("preds"), is_url(Path("a"))
    (True, False, False, False)
    """
    return isinstance(path, str) and bool(_URL.match(path)) and not path.lower().startswith("file://")


def location(path: str | Path) -> Path | str:
    """A local :class:`~pathlib.Path` (``file://`` URLs included), or the URL itself without a
    trailing slash.

    >>> location("file:///data/preds"), location("s3://bucket/preds/"), location("preds")
    (PosixPath('/data/preds'), 's3://bucket/preds', PosixPath('preds'))
    """
    if isinstance(path, str) and path.lower().startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(path).path))
    if is_url(path):
        return path.rstrip("/")  # type: ignore[union-attr]
    return Path(path)


def join(folder: Path | str, rel: str) -> Path | str:
    """``folder / rel`` for a local folder or a URL (``rel``: ``/``-separated)."""
    if isinstance(folder, str):
        return f"{folder.rstrip('/')}/{rel}"
    return folder / rel


def parse_storage_options(text: str | None) -> dict:
    """``--storage-options``: a JSON object of fsspec options (as pandas takes them).

    >>> parse_storage_options('{"anon": true}')
    {'anon': True}
    """
    if text is None or not str(text).strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SegscopeError(f"--storage-options takes a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise SegscopeError(f"--storage-options takes a JSON object, got {text!r}")
    return value


def storage_options() -> dict:
    """The fsspec options in force: those set by :func:`set_storage_options`, else
    ``SEGSCOPE_STORAGE_OPTIONS`` from the environment (so worker processes see them)."""
    if _OPTIONS is not None:
        return _OPTIONS
    return parse_storage_options(os.environ.get(_OPTIONS_ENV))


def set_storage_options(options: dict | None) -> None:
    """Set the fsspec options of this process and of the worker processes it starts
    (None or ``{}``: none)."""
    global _OPTIONS
    _OPTIONS = dict(options or {})
    if _OPTIONS:
        os.environ[_OPTIONS_ENV] = json.dumps(_OPTIONS)
    else:
        os.environ.pop(_OPTIONS_ENV, None)


def url_fs(url: str):
    """``(filesystem, path)`` of an fsspec URL, with the storage options in force; a missing
    implementation is one line naming the extra to install."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - fsspec comes with dask
        raise SegscopeError("reading URLs needs fsspec: pip install fsspec", url) from None
    try:
        return url_to_fs(url, **storage_options())
    except (ImportError, ValueError) as exc:
        scheme = url.split("://", 1)[0]
        extra = {"s3": "s3", "gs": "gcs", "gcs": "gcs"}.get(scheme)
        hint = f" (pip install 'segscope[{extra}]')" if extra else ""
        raise SegscopeError(f"cannot open {scheme}:// URLs: {str(exc).splitlines()[0] if str(exc) else exc}{hint}",
                            url) from None


def read_bytes(url: str) -> bytes:
    """The whole content of the file at ``url`` (one request on an object store)."""
    fs, path = url_fs(url)
    return fs.cat_file(path)


def is_folder(folder: Path | str) -> bool:
    """Whether ``folder`` (a local path or a URL) is a folder."""
    if isinstance(folder, str) and is_url(folder):
        fs, path = url_fs(folder)
        return fs.isdir(path)
    return Path(folder).is_dir()
