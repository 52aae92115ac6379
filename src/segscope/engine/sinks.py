"""Sinks: where the per-image rows and records of a run go while it runs.

An :class:`~segscope.engine.evaluation.Evaluation` keeps only the additive states of its analyzers
(and bounded :class:`TopK` lists inside them); everything that grows with the number of images,
the ``per_image.csv`` rows and the analyzers' per-image records (per-class counts, missed
segments, confusion pairs, …), goes to a sink:

:class:`MemorySink`
    Python lists; the default, for small runs from Python.
:class:`DiskSink`
    append-only files in a folder, read back in image order when the outputs are written, so the
    memory of a run stays flat in the number of images.

Both give the same records in the same order, so the files written from either are identical
byte for byte. :func:`write_npz` assembles an ``.npz`` from chunks (with fixed zip timestamps, so a
run's files do not depend on the clock).
"""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
import struct
import tempfile
import weakref
import zipfile
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..io.results import atomic_write

__all__ = [
    "TopK",
    "Sink",
    "MemorySink",
    "DiskSink",
    "write_npz",
    "chunked",
    "CHUNK",
]

#: images per chunk when per-image arrays are assembled into an ``.npz``
CHUNK = 256

_ROWS = "rows"
_IDS = "ids"


# ---------------------------------------------------------------------- bounded lists
class TopK:
    """The ``k`` smallest ``(key, value)`` items seen: a state that merges by keeping the best.

    ``a + b`` keeps the ``k`` smallest keys of both, ``a``'s first among equal keys, so adding
    images one by one gives the same list as sorting all of them (a stable sort) and taking the
    first ``k``. Keys are tuples that end in the image id, so the order never depends on how
    states were merged.

    >>> a = TopK.of(2, (0.5, "b"), "b") + TopK.of(2, (0.2, "c"), "c") + TopK.of(2, (0.9, "a"), "a")
    >>> a.values()
    ['c', 'b']
    >>> TopK.of(2, None, "skipped").values()
    []
    """

    def __init__(self, k: int, items: Sequence[tuple] = ()):
        self.k = int(k)
        self.items = list(items)

    @classmethod
    def of(cls, k: int, key: tuple | None, value: Any) -> "TopK":
        """One item (none when ``key`` is None: the image does not take part in the ranking)."""
        return cls(k, [] if key is None else [(key, value)])

    def __add__(self, other: "TopK") -> "TopK":
        merged = sorted(self.items + other.items, key=itemgetter(0))
        return TopK(max(self.k, other.k), merged[: max(self.k, other.k)])

    def values(self) -> list:
        """The kept values, smallest key first."""
        return [v for _, v in self.items]

    def __eq__(self, other) -> bool:
        return isinstance(other, TopK) and self.k == other.k and self.items == other.items

    def __repr__(self) -> str:
        return f"TopK({self.k}, {self.items!r})"


# ---------------------------------------------------------------------- sinks
class Sink:
    """Per-image rows and records of one run, in arrival order, readable in image-id order.

    Each image adds its id, its ``per_image.csv`` row and a dict of records (analyzer name ->
    that analyzer's per-image record). ``order="sorted"`` reads them sorted by image id (a
    stable sort: repeated ids keep their arrival order), as the outputs are written.
    """

    def __init__(self) -> None:
        self._n = 0
        self._in_order = True
        self._last: str | None = None
        self._perm: np.ndarray | None = None
        self.max_id_len = 0

    def __len__(self) -> int:
        return self._n

    def add(self, image_id: str, row: dict, records: dict[str, Any]) -> None:
        """Append one image."""
        if self._last is not None and image_id < self._last:
            self._in_order = False
        self._last = image_id
        self._perm = None
        self.max_id_len = max(self.max_id_len, len(image_id))
        self._append(image_id, row, records)
        self._n += 1

    def ids(self, order: str = "arrival") -> Iterator[str]:
        """The image ids."""
        return self._read(_IDS, order)

    def rows(self, order: str = "arrival") -> Iterator[dict]:
        """The ``per_image.csv`` rows."""
        return self._read(_ROWS, order)

    def records(self, name: str, order: str = "arrival") -> Iterator[Any]:
        """The per-image records of analyzer ``name`` (None for an image without one)."""
        return self._read(name, order)

    def items(self) -> Iterator[tuple[str, dict, dict]]:
        """``(image id, row, records)`` in arrival order (to fold one sink into another)."""
        names = self._record_names()
        streams = [self._read(n, "arrival") for n in names]
        for image_id, row, *recs in zip(self._read(_IDS, "arrival"), self._read(_ROWS, "arrival"), *streams):
            yield image_id, row, {n: r for n, r in zip(names, recs) if r is not None}

    def view(self, what: str = _ROWS, order: str = "arrival") -> "SinkView":
        """A re-iterable, sized view of rows, ids or one analyzer's records."""
        return SinkView(self, what, order)

    def permutation(self) -> np.ndarray | None:
        """Arrival positions in image-id order; None when the images arrived sorted."""
        if self._in_order:
            return None
        if self._perm is None:
            ids = list(self._read(_IDS, "arrival"))
            self._perm = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
        return self._perm

    def _read(self, name: str, order: str) -> Iterator:
        if order not in ("arrival", "sorted"):
            raise ValueError(f"order must be 'arrival' or 'sorted', got {order!r}")
        perm = self.permutation() if order == "sorted" else None
        return self._stream(name) if perm is None else self._at(name, perm)

    # what a sink implements
    def _append(self, image_id: str, row: dict, records: dict[str, Any]) -> None:
        raise NotImplementedError

    def _stream(self, name: str) -> Iterator:
        raise NotImplementedError

    def _at(self, name: str, positions: np.ndarray) -> Iterator:
        raise NotImplementedError

    def _record_names(self) -> list[str]:
        raise NotImplementedError


class SinkView:
    """Rows, ids or records of a sink: sized and iterable again and again."""

    def __init__(self, sink: Sink, what: str, order: str):
        self.sink, self.what, self.order = sink, what, order

    def __len__(self) -> int:
        return len(self.sink)

    def __iter__(self) -> Iterator:
        return self.sink._read(self.what, self.order)


class MemorySink(Sink):
    """Rows and records in Python lists (the default of an Evaluation)."""

    def __init__(self) -> None:
        super().__init__()
        self._lists: dict[str, list] = {_IDS: [], _ROWS: []}

    def _append(self, image_id, row, records) -> None:
        self._lists[_IDS].append(image_id)
        self._lists[_ROWS].append(row)
        for name, rec in records.items():
            lst = self._lists.setdefault(name, [None] * self._n)
            lst.append(rec)
        for name, lst in self._lists.items():
            if len(lst) == self._n:  # an analyzer without a record for this image
                lst.append(None)

    def _stream(self, name):
        lst = self._lists.get(name)
        return itertools.repeat(None, self._n) if lst is None else iter(lst)

    def _at(self, name, positions):
        lst = self._lists.get(name)
        if lst is None:
            return itertools.repeat(None, len(positions))
        return (lst[i] for i in positions.tolist())

    def _record_names(self):
        return [n for n in self._lists if n not in (_IDS, _ROWS)]

    @property
    def row_list(self) -> list[dict]:
        """The rows themselves, in arrival order."""
        return self._lists[_ROWS]


class DiskSink(Sink):
    """Rows and records appended to files in ``folder/.segscope-records/`` as they arrive.

    Each stream (ids, rows, one per analyzer with records) is a file of pickled objects, one
    per image, with an index file of their byte offsets for reading in image-id order. Memory
    holds nothing per image. ``Evaluation.save`` into the sink's folder completes that folder:
    :meth:`release` moves the files out of it (they stay readable, so ``ev.rows`` still works,
    and are deleted when the sink is garbage-collected or the interpreter exits); :meth:`remove`
    deletes them at once.
    """

    DIRNAME = ".segscope-records"

    def __init__(self, folder: str | Path):
        super().__init__()
        self.folder = Path(folder)
        self.path = self.folder / self.DIRNAME
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self._files: dict[str, tuple] = {}
        self._closed = False
        self._finalizer: weakref.finalize | None = None
        self._open(_IDS)
        self._open(_ROWS)

    def _open(self, name: str) -> tuple:
        data = open(self.path / f"{name}.pkl", "ab")  # noqa: SIM115 - closed in remove()/close()
        index = open(self.path / f"{name}.idx", "ab")  # noqa: SIM115
        entry = self._files[name] = (data, index)
        for _ in range(self._n):  # images before this stream's first record
            self._put(entry, None)
        return entry

    @staticmethod
    def _put(entry: tuple, obj: Any) -> None:
        data, index = entry
        index.write(struct.pack("<q", data.tell()))
        pickle.dump(obj, data, protocol=pickle.HIGHEST_PROTOCOL)

    def _append(self, image_id, row, records) -> None:
        self._append_check()
        self._put(self._files[_IDS], image_id)
        self._put(self._files[_ROWS], row)
        for name, rec in records.items():
            entry = self._files.get(name) or self._open(name)
            self._put(entry, rec)
        for name, entry in self._files.items():
            if name not in records and name not in (_IDS, _ROWS):
                self._put(entry, None)

    def _flush(self, name: str) -> bool:
        entry = self._files.get(name)
        if entry is None:
            return False
        if not self._closed:
            entry[0].flush()
            entry[1].flush()
        return True

    def _stream(self, name):
        if not self._flush(name):
            return itertools.repeat(None, self._n)
        return self._load_all(self.path / f"{name}.pkl", self._n)

    @staticmethod
    def _load_all(path: Path, n: int) -> Iterator:
        with open(path, "rb") as fh:
            for _ in range(n):
                yield pickle.load(fh)

    def _at(self, name, positions):
        if not self._flush(name):
            return itertools.repeat(None, len(positions))
        return self._load_at(name, positions)

    def _load_at(self, name: str, positions: np.ndarray) -> Iterator:
        offsets = np.fromfile(self.path / f"{name}.idx", dtype="<i8", count=self._n)
        with open(self.path / f"{name}.pkl", "rb") as fh:
            for block in chunked(range(len(positions))):
                for off in offsets[positions[block[0]:block[-1] + 1]].tolist():
                    fh.seek(off)
                    yield pickle.load(fh)

    def _record_names(self):
        return [n for n in self._files if n not in (_IDS, _ROWS)]

    def _append_check(self) -> None:
        if self._closed:
            raise ValueError("this sink is complete: no image can be added")

    def close(self) -> None:
        """Close the files (they stay on disk and readable; nothing can be added)."""
        for data, index in self._files.values():
            data.close()
            index.close()
        self._closed = True

    def release(self) -> None:
        """Move the files out of :attr:`folder` (which is then complete); they stay readable
        until the sink is garbage-collected or the interpreter exits."""
        self.close()
        holder = Path(tempfile.mkdtemp(prefix=".segscope-records-", dir=self.folder.parent))
        try:
            os.replace(self.path, holder / "records")
        except OSError:  # another file system: move the files to the system's temporary folder
            shutil.rmtree(holder, ignore_errors=True)
            holder = Path(tempfile.mkdtemp(prefix="segscope-records-"))
            shutil.move(str(self.path), str(holder / "records"))
        self.path = holder / "records"
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(holder), True)

    def remove(self) -> None:
        """Close and delete the files."""
        self.close()
        self._files = {}
        if self._finalizer is not None:
            self._finalizer()
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------- writers
def write_npz(path: str | Path, arrays: Sequence[tuple[str, Any, tuple, Iterable]]) -> None:
    """Write an ``.npz`` (deflated, as ``np.savez_compressed``) from chunks, atomically.

    ``arrays``: ``(name, dtype, shape, chunks)`` with ``chunks`` an iterable of arrays whose
    concatenation along the first axis is the array of that shape (or a whole array). Entries
    carry a fixed timestamp, so equal arrays give equal files.
    """
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, dtype, shape, chunks in arrays:
            dtype = np.dtype(dtype)
            if isinstance(chunks, np.ndarray):
                chunks = (chunks,)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as out:
                header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                          "shape": tuple(int(s) for s in shape)}
                np.lib.format.write_array_header_1_0(out, header)
                rows = 0
                for chunk in chunks:
                    chunk = np.ascontiguousarray(chunk, dtype=dtype)
                    rows += chunk.shape[0] if chunk.ndim else 1
                    out.write(chunk.tobytes())
                expected = shape[0] if len(shape) else 1
                if rows != expected:
                    raise ValueError(f"{name}: {rows} rows written, the header says {expected}")


def chunked(values: Iterable, size: int | None = None) -> Iterator[list]:
    """Lists of up to ``size`` (default :data:`CHUNK`) consecutive values."""
    size = size or CHUNK
    it = iter(values)
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield block
