"""Chunked authenticated encryption (backup archives): any change or cut is refused."""

from __future__ import annotations

import io
import os

import pytest

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import decrypt_stream, encrypt_stream
from lineguard.crypto.stream import CHUNK_BYTES

KEY = bytes(range(32))
HEADER = b"backup header v1"


def _seal(data: bytes) -> bytes:
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), out, KEY, HEADER) == len(data)
    return out.getvalue()


def _open(blob: bytes, header: bytes = HEADER) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, KEY, header)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    assert _open(_seal(data)) == data


def test_cut_at_a_chunk_boundary_is_detected() -> None:
    blob = _seal(os.urandom(2 * CHUNK_BYTES + 10))
    with pytest.raises(CryptoError, match="chunk 1"):
        _open(blob[: 7 + 2 * (CHUNK_BYTES + 16)])


def test_reordered_chunks_are_detected() -> None:
    blob = _seal(os.urandom(2 * CHUNK_BYTES + 10))
    n = CHUNK_BYTES + 16
    swapped = blob[:7] + blob[7 + n : 7 + 2 * n] + blob[7 : 7 + n] + blob[7 + 2 * n :]
    with pytest.raises(CryptoError, match="chunk 0"):
        _open(swapped)


def test_wrong_header_or_flipped_bit_is_detected() -> None:
    blob = _seal(b"manifest and tables")
    with pytest.raises(CryptoError):
        _open(blob, b"another header")
    flipped = bytearray(blob)
    flipped[-3] ^= 1
    with pytest.raises(CryptoError):
        _open(bytes(flipped))
    with pytest.raises(CryptoError, match="truncated"):
        _open(blob[:5])
