"""Crafted hostile files shared by the hostile-input and fuzz tests."""

from __future__ import annotations

import struct
import zlib

import pytest

from segscope.io import masks


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, colour_type: int = 0, idat: bytes | None = None) -> bytes:
    """A PNG whose header declares ``width``×``height`` (8-bit), with ``idat`` as its only data
    (default: one compressed zero byte, far too little for a large size)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    idat = zlib.compress(b"\x00") if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@pytest.fixture
def default_limit(monkeypatch):
    """The default pixel limit, whatever the environment or an earlier in-process CLI run set."""
    monkeypatch.setattr(masks, "MAX_PIXELS", None)
    monkeypatch.setenv("SEGSCOPE_MAX_PIXELS", "")
    yield
