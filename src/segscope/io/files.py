"""Listing and pairing files: the one lister of mask, image and auxiliary folders, local or at
an fsspec URL (the locations of :mod:`segscope._storage`, re-exported here)."""

from __future__ import annotations

import errno
import os
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from collections.abc import Sequence

import numpy as np

from .._storage import (
    is_folder,
    is_url,
    join,
    location,
    parse_storage_options,
    read_bytes,
    set_storage_options,
    storage_options,
    url_fs,
)
from ..exceptions import SegscopeError

__all__ = [
    "MASK_SUFFIXES",
    "IMAGE_SUFFIXES",
    "JPEG_SUFFIXES",
    "STRIP_SUFFIXES",
    "list_files",
    "list_masks",
    "list_images",
    "Pair",
    "PairTable",
    "pair_masks",
    "AuxIndex",
    "printable",
    "is_url",
    "location",
    "join",
    "relative",
    "is_folder",
    "url_fs",
    "read_bytes",
    "storage_options",
    "set_storage_options",
    "parse_storage_options",
]

MASK_SUFFIXES = (".png", ".npy", ".bmp", ".tif", ".tiff")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


JPEG_SUFFIXES = (".jpg", ".jpeg")

#: Endings of auxiliary and Cityscapes-style file names that are not part of an image id.
STRIP_SUFFIXES = (
    "_gtFine_instanceIds", "_gtFine_labelIds", "_gtFine_labelTrainIds", "_instanceIds", "_labelIds",
    "_labelTrainIds", "_probs", "_prob", "_gtFine_color",
)


def _url_files(folder: str, recursive: bool) -> list[tuple[PurePosixPath, str]]:
    """``(path relative to folder, URL)`` of the files under a URL folder, sorted as a local
    listing is."""
    fs, root = url_fs(folder)
    if not fs.isdir(root):
        raise SegscopeError("not a folder" if fs.exists(root) else "no such folder", folder)
    root = root.rstrip("/")
    if recursive:
        names = fs.find(root, withdirs=False, detail=False)
    else:
        names = [e["name"] for e in fs.ls(root, detail=True) if e.get("type") == "file"]
    out = []
    for name in names:
        rel = name[len(root):].lstrip("/") if name.startswith(root) else name.rsplit("/", 1)[-1]
        if rel:
            out.append((PurePosixPath(rel), join(folder, rel)))
    return sorted(out, key=lambda e: e[0])


# ---------------------------------------------------------------------- listing
def _strip_known(key: str, strip: Sequence[str]) -> str:
    for s in strip:
        if key.endswith(s):
            return key[: -len(s)]
    return key


def list_files(
    folder: str | Path,
    extensions: Sequence[str] = MASK_SUFFIXES,
    *,
    suffix: str = "",
    strip: Sequence[str] = (),
    recursive: bool = True,
    duplicates: str = "error",
    allow_empty: bool = False,
    what: str = "mask files",
) -> dict[str, Path]:
    """Map image id -> file for the files under ``folder`` whose extension is in ``extensions``.

    The id is the path relative to ``folder`` (``/``-separated) without its extension. Hidden files
    are skipped. ``folder`` may be an fsspec URL (:func:`location`): the files are then URLs.

    Parameters
    ----------
    folder : the folder to list; a missing folder or a file is an error.
    extensions : lower-case extensions to keep (``.png``, …).
    suffix : keep only files whose stem ends with it, and drop it from the id
        (e.g. ``_gtFine_labelIds``).
    strip : known endings dropped from the id when present (the first that matches), files
        without one are kept (e.g. :data:`STRIP_SUFFIXES` for auxiliary folders).
    recursive : search nested folders (Cityscapes keeps one per city).
    duplicates : when two files share an id: ``"error"``, ``"first"`` (keep the first in sorted
        order) or ``"extension"`` (the later file's id gets its extension appended).
    allow_empty : return ``{}`` instead of raising when nothing matches.
    what : what the files are, for error messages.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a_labelIds.png", "b.npy", "notes.txt"):
    ...     _ = (d / name).write_bytes(b"")
    >>> sorted(list_files(d, strip=STRIP_SUFFIXES))
    ['a', 'b']
    >>> sorted(list_files(d, suffix="_labelIds"))
    ['a']
    """
    found: dict = {}

    def add(parent: str, name: str, ext: str, f) -> None:
        stem = name[: -len(ext)] if ext else name
        if suffix:
            if not stem.endswith(suffix):
                return
            stem = stem[: -len(suffix)]
        key = _strip_known(f"{parent}/{stem}" if parent else stem, strip)
        _check_utf8(f"{parent}/{name}" if parent else name, folder)
        if key in found:
            if duplicates == "first":
                return
            if duplicates == "extension":
                key = f"{key}{ext}"
            else:
                raise SegscopeError(f"two {what} share the id {key!r}: {_name(found[key])} and {name}", folder)
        found[key] = f

    folder = location(folder)
    if isinstance(folder, str):
        for rel, url in _url_files(folder, recursive):
            if rel.suffix.lower() in extensions and not rel.name.startswith("."):
                parent = rel.parent.as_posix()
                add("" if parent == "." else parent, rel.name, rel.suffix, url)
    else:
        if not folder.exists():
            raise SegscopeError("no such folder", folder)
        if not folder.is_dir():
            raise SegscopeError("not a folder", folder)
        files = folder.rglob("*") if recursive else folder.iterdir()
        for f in sorted(files):
            if f.suffix.lower() not in extensions or f.name.startswith(".") or f.is_dir():
                continue
            if not f.is_file():
                shown = printable(f.relative_to(folder).as_posix())
                raise SegscopeError(f"'{shown}' is {_not_a_file(f)}, not one of the {what}; remove or replace it",
                                    folder)
            parent = f.parent.relative_to(folder)
            add(parent.as_posix() if parent != Path(".") else "", f.name, f.suffix, f)
    if not found and not allow_empty:
        ending = f" ending in {suffix!r}" if suffix else ""
        raise SegscopeError(f"no {what}{ending} ({', '.join(extensions)}) found", folder)
    return found


def _not_a_file(f: Path) -> str:
    """What stands at ``f``, a path named like a file that is not a regular file."""
    import stat

    try:
        mode = f.stat().st_mode
    except OSError as exc:
        if f.is_symlink():
            return "a link in a loop" if exc.errno == errno.ELOOP else "a link to nothing"
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def _check_utf8(name: str, folder) -> None:
    """Refuse a file name that is not UTF-8 (its undecodable bytes arrive as surrogates): image ids
    go into UTF-8 CSV, JSON and HTML."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        raise SegscopeError(f"the file name '{printable(shown)}' is not valid UTF-8; rename the file", folder) from None


def _name(f: Path | str) -> str:
    return f.name if isinstance(f, Path) else f.rsplit("/", 1)[-1]


def relative(f: Path | str, folder: Path | str) -> str:
    """The ``/``-separated path of ``f`` (listed under ``folder``) relative to ``folder``."""
    if isinstance(folder, str):
        return str(f)[len(folder.rstrip("/")) + 1:]
    return Path(f).relative_to(folder).as_posix()


def list_masks(
    folder: str | Path, suffix: str = "", recursive: bool = True,
    extensions: Sequence[str] = MASK_SUFFIXES, what: str = "mask files",
) -> dict[str, Path]:
    """Map image id -> mask file under ``folder``: :func:`list_files` with an error on two files
    of one id and on an empty folder.

    The id is the path relative to ``folder`` without its extension and without ``suffix``
    (e.g. ``_gtFine_labelIds``). Nested folders are searched (Cityscapes keeps one per city).
    """
    return list_files(folder, extensions, suffix=suffix, recursive=recursive, what=what)


def list_images(folder: str | Path, suffix: str = "") -> dict[str, Path]:
    """Map image id -> file for the images under ``folder``, named like :func:`list_masks`."""
    return list_masks(folder, suffix, extensions=IMAGE_SUFFIXES, what="images")


@dataclass(frozen=True)
class Pair:
    """One prediction and its GT, by image id."""

    image_id: str
    pred: Path | str
    gt: Path | str


def _packed(texts: Sequence[str]) -> np.ndarray:
    return np.array([t.encode("utf-8", "surrogateescape") for t in texts], dtype=np.bytes_)


def _unpacked(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


class PairTable(Sequence):
    """The pairs of a run, sorted by image id, stored compactly: ids and paths relative to the two
    folders as fixed-width byte arrays (tens of bytes per pair, not the ~1 KB of two ``Path``
    objects), so a run of a million images holds its list of pairs in tens of MB. Indexing gives a
    :class:`Pair`; slicing gives a table.

    >>> t = PairTable("p", "g", ["a", "b/c"], ["a.png", "b/c.png"], ["a.png", "b/c_gt.png"])
    >>> len(t), t[1], [p.image_id for p in t[:1]]
    (2, Pair(image_id='b/c', pred=PosixPath('p/b/c.png'), gt=PosixPath('g/b/c_gt.png')), ['a'])
    """

    __slots__ = ("pred_dir", "gt_dir", "_ids", "_pred", "_gt")

    def __init__(self, pred_dir, gt_dir, ids: Sequence[str], pred: Sequence[str], gt: Sequence[str]):
        self.pred_dir, self.gt_dir = location(pred_dir), location(gt_dir)
        self._ids, self._pred, self._gt = (a if isinstance(a, np.ndarray) else _packed(a) for a in (ids, pred, gt))

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return PairTable(self.pred_dir, self.gt_dir, self._ids[i], self._pred[i], self._gt[i])
        return Pair(_unpacked(self._ids[i]), join(self.pred_dir, _unpacked(self._pred[i])),
                    join(self.gt_dir, _unpacked(self._gt[i])))

    def __repr__(self) -> str:
        return f"<PairTable of {len(self)} pairs: {self.pred_dir} ~ {self.gt_dir}>"

    @property
    def ids(self) -> list[str]:
        """The image ids, in order."""
        return [_unpacked(b) for b in self._ids]

    def resolved(self) -> "PairTable":
        """The same pairs with local folders made absolute (URLs unchanged), for workers that
        run elsewhere than in this working directory."""
        def absolute(folder):
            return folder if isinstance(folder, str) else Path(os.path.abspath(folder))

        return PairTable(absolute(self.pred_dir), absolute(self.gt_dir), self._ids, self._pred, self._gt)

    def same_files(self) -> int:
        """How many pairs name one file as both their prediction and their GT (the two folders
        are one folder, and the two suffixes strip to the same names).

        >>> PairTable("masks", "masks", ["a", "b"], ["a.png", "b_pred.png"], ["a.png", "b.png"]).same_files()
        1
        """
        a, b = self.pred_dir, self.gt_dir
        if isinstance(a, str) or isinstance(b, str):
            one = str(a).rstrip("/") == str(b).rstrip("/")
        else:
            try:
                one = os.path.samefile(a, b)
            except OSError:
                one = a == b
        return int(np.count_nonzero(self._pred == self._gt)) if one else 0

    def fingerprint(self) -> str:
        """A digest of the folders, ids and files of the table (equal tables, equal digests)."""
        import hashlib

        h = hashlib.sha256(f"{self.pred_dir}\0{self.gt_dir}\0{len(self)}".encode("utf-8", "surrogateescape"))
        for a in (self._ids, self._pred, self._gt):
            h.update(str(a.dtype).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def flatten_ids(pred: dict[str, Path], gt: dict[str, Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    """The two listings keyed so that they can be paired: as they are when some ids match, else
    (two folders nested differently) by file stem alone when stems are unique in each."""
    if set(pred) & set(gt):
        return pred, gt
    flat_p = {k.rsplit("/", 1)[-1]: v for k, v in pred.items()}
    flat_g = {k.rsplit("/", 1)[-1]: v for k, v in gt.items()}
    if len(flat_p) == len(pred) and len(flat_g) == len(gt):
        return flat_p, flat_g
    return pred, gt


def pair_masks(
    pred_dir: str | Path,
    gt_dir: str | Path,
    pred_suffix: str = "",
    gt_suffix: str = "",
    allow_missing: bool = False,
) -> PairTable:
    """Pair prediction and GT files by id (relative path and stem, suffixes stripped), sorted by id.

    Every GT needs a prediction: missing ones are an error naming them (unless ``allow_missing``,
    which evaluates the pairs that exist). Predictions with no GT are an error too.
    """
    pred = list_masks(pred_dir, pred_suffix)
    try:
        gt = list_masks(gt_dir, gt_suffix)
    except SegscopeError:
        jpegs = _jpegs(gt_dir)
        if not jpegs:
            raise
        raise SegscopeError(f"no GT mask files found, only JPEG: {_jpeg_reason(jpegs)}", gt_dir) from None
    pred, gt = flatten_ids(pred, gt)
    missing = sorted(set(gt) - set(pred))
    extra = sorted(set(pred) - set(gt))
    common = sorted(set(gt) & set(pred))
    if not common:
        raise SegscopeError(
            f"no prediction matches a GT file by name (e.g. GT {next(iter(gt))!r}, "
            f"prediction {next(iter(pred))!r}); use --pred-suffix/--gt-suffix to strip suffixes",
            pred_dir,
        )
    if (missing or extra) and not allow_missing:
        parts = []
        if missing:
            parts.append(f"{len(missing)} GT file(s) have no prediction: {some_names(missing)}")
        if extra:
            parts.append(f"{len(extra)} prediction(s) have no GT: {some_names(extra)}")
            jpegs = _jpegs(gt_dir)
            if jpegs:
                parts.append(f"the GT folder holds JPEG files, not read: {_jpeg_reason(jpegs)}")
        raise SegscopeError("; ".join(parts) + " (--allow-missing evaluates the pairs that exist)", pred_dir)
    if missing or extra:
        warnings.warn(
            f"{len(missing)} GT file(s) without prediction and {len(extra)} prediction(s) without GT "
            f"were skipped", stacklevel=2
        )
    pred_dir, gt_dir = location(pred_dir), location(gt_dir)
    return PairTable(pred_dir, gt_dir, common, [relative(pred[k], pred_dir) for k in common],
                     [relative(gt[k], gt_dir) for k in common])


def _jpegs(folder: str | Path) -> list[str]:
    folder = location(folder)
    if not is_folder(folder):
        return []
    found = list_files(folder, JPEG_SUFFIXES, duplicates="extension", allow_empty=True, what="JPEG files")
    return sorted(relative(f, folder) for f in found.values())


def _jpeg_reason(jpegs: Sequence[str]) -> str:
    return (f"{some_names(list(jpegs), 3)} cannot be label masks (JPEG's lossy compression changes label values); "
            "export the GT as PNG")


def printable(text: str) -> str:
    r"""``text`` with control characters (newline, tab, ...) written as ``\xNN`` escapes, for an
    image id or file name shown as one line of text or used in a file name.

    >>> printable("street\n01"), printable("plain")
    ('street\\x0a01', 'plain')
    """
    if text.isprintable():
        return text
    return "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in text)


def some_names(names: Sequence[str], limit: int = 5) -> str:
    """The first ``limit`` names and how many more, for error messages.

    >>> some_names(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


#: how many class names a terminal line lists before "and N more"
LISTED_NAMES = 20


class AuxIndex:
    """Find the file of an image id in an auxiliary folder (instances, second GT, probabilities):
    same relative path and stem, known suffixes (e.g. ``_gtFine_instanceIds``) ignored, or the
    same stem anywhere in the folder."""

    def __init__(self, folder: str | Path, suffixes: tuple[str, ...], what: str):
        self.folder = location(folder)
        self.what = what
        if not is_folder(self.folder):
            raise SegscopeError(f"{what} folder does not exist", self.folder)
        self.by_key = list_files(self.folder, suffixes, strip=STRIP_SUFFIXES, duplicates="first",
                                 allow_empty=True, what=f"{what} files")
        self.by_stem: dict[str, list] = {}
        for key, f in self.by_key.items():
            self.by_stem.setdefault(key.rsplit("/", 1)[-1], []).append(f)

    def find(self, image_id: str) -> Path | str:
        key = _strip_known(image_id, STRIP_SUFFIXES)
        if key in self.by_key:
            return self.by_key[key]
        stem = key.rsplit("/", 1)[-1]
        hits = self.by_stem.get(stem, [])
        if len(hits) == 1:
            return hits[0]
        raise SegscopeError(f"no {self.what} file for image {image_id!r}", self.folder)

