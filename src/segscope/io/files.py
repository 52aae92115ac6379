"""Listing and pairing files: the one lister of mask, image and auxiliary folders."""

from __future__ import annotations

import os
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..exceptions import SegscopeError

__all__ = [
    "MASK_SUFFIXES",
    "IMAGE_SUFFIXES",
    "list_masks",
    "list_images",
    "Pair",
    "pair_masks",
    "STRIP_SUFFIXES",
    "AuxIndex",
    "printable",
]

MASK_SUFFIXES = (".png", ".npy", ".bmp", ".tif", ".tiff")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# ---------------------------------------------------------------------- pairing
def _stem(path: Path, suffix: str) -> str:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    if suffix and stem.endswith(suffix):
        stem = stem[: -len(suffix)]
    return stem


def list_masks(
    folder: str | Path, suffix: str = "", recursive: bool = True,
    extensions: Sequence[str] = MASK_SUFFIXES, what: str = "mask files",
) -> dict[str, Path]:
    """Map image id -> file for the files under ``folder`` whose extension is in ``extensions``.

    The id is the path relative to ``folder`` without its extension and without ``suffix``
    (e.g. ``_gtFine_labelIds``). Nested folders are searched (Cityscapes keeps one per city).
    """
    folder = Path(folder)
    if not folder.exists():
        raise SegscopeError("no such folder", folder)
    if not folder.is_dir():
        raise SegscopeError("not a folder", folder)
    files = folder.rglob("*") if recursive else folder.iterdir()
    found: dict[str, Path] = {}
    for f in sorted(files):
        if not f.is_file() or f.suffix.lower() not in extensions or f.name.startswith("."):
            continue
        if suffix and not _stem(f, "").endswith(suffix):
            continue
        rel = f.relative_to(folder)
        key = str(rel.parent / _stem(f, suffix)) if rel.parent != Path(".") else _stem(f, suffix)
        key = key.replace(os.sep, "/")
        if key in found:
            raise SegscopeError(f"two {what} share the id {key!r}: {found[key].name} and {f.name}", folder)
        found[key] = f
    if not found:
        ending = f" ending in {suffix!r}" if suffix else ""
        raise SegscopeError(f"no {what}{ending} ({', '.join(extensions)}) found", folder)
    return found


def list_images(folder: str | Path, suffix: str = "") -> dict[str, Path]:
    """Map image id -> file for the images under ``folder``, named like :func:`list_masks`."""
    return list_masks(folder, suffix, extensions=IMAGE_SUFFIXES, what="images")


@dataclass(frozen=True)
class Pair:
    image_id: str
    pred: Path
    gt: Path


def _flatten_keys(pred: dict[str, Path], gt: dict[str, Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    """When the two folders are nested differently, fall back to pairing by file stem alone."""
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
) -> list[Pair]:
    """Pair prediction and GT files by id (relative path and stem, suffixes stripped).

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
    pred, gt = _flatten_keys(pred, gt)
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
            parts.append(f"{len(missing)} GT file(s) have no prediction: {_some(missing)}")
        if extra:
            parts.append(f"{len(extra)} prediction(s) have no GT: {_some(extra)}")
            jpegs = _jpegs(gt_dir)
            if jpegs:
                parts.append(f"the GT folder holds JPEG files, not read: {_jpeg_reason(jpegs)}")
        raise SegscopeError("; ".join(parts) + " (--allow-missing evaluates the pairs that exist)", pred_dir)
    if missing or extra:
        warnings.warn(
            f"{len(missing)} GT file(s) without prediction and {len(extra)} prediction(s) without GT "
            f"were skipped", stacklevel=2
        )
    return [Pair(k, pred[k], gt[k]) for k in common]


def _jpegs(folder: str | Path) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(f.relative_to(folder).as_posix() for f in folder.rglob("*")
                  if f.suffix.lower() in (".jpg", ".jpeg") and f.is_file())


def _jpeg_reason(jpegs: Sequence[str]) -> str:
    return (f"{_some(list(jpegs), 3)} cannot be label masks (JPEG's lossy compression changes label values); "
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


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")




STRIP_SUFFIXES = (
    "_gtFine_instanceIds", "_gtFine_labelIds", "_gtFine_labelTrainIds", "_instanceIds", "_labelIds",
    "_labelTrainIds", "_probs", "_prob", "_gtFine_color",
)


class AuxIndex:
    """Find the file of an image id in an auxiliary folder (instances, second GT, probabilities):
    same relative path and stem, known suffixes (e.g. ``_gtFine_instanceIds``) ignored, or the
    same stem anywhere in the folder."""

    def __init__(self, folder: str | Path, suffixes: tuple[str, ...], what: str):
        self.folder = Path(folder)
        self.what = what
        if not self.folder.is_dir():
            raise SegscopeError(f"{what} folder does not exist", self.folder)
        self.by_key: dict[str, Path] = {}
        self.by_stem: dict[str, list[Path]] = {}
        for root, _dirs, files in os.walk(self.folder):
            for name in sorted(files):
                f = Path(root) / name
                if f.suffix.lower() not in suffixes or name.startswith("."):
                    continue
                rel = f.relative_to(self.folder).with_suffix("").as_posix()
                key = _strip(rel)
                self.by_key.setdefault(key, f)
                self.by_stem.setdefault(key.rsplit("/", 1)[-1], []).append(f)

    def find(self, image_id: str) -> Path:
        key = _strip(image_id)
        if key in self.by_key:
            return self.by_key[key]
        stem = key.rsplit("/", 1)[-1]
        hits = self.by_stem.get(stem, [])
        if len(hits) == 1:
            return hits[0]
        raise SegscopeError(f"no {self.what} file for image {image_id!r}", self.folder)


def _strip(key: str) -> str:
    for s in STRIP_SUFFIXES:
        if key.endswith(s):
            return key[: -len(s)]
    return key
