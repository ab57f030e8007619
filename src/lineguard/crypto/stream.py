"""Authenticated encryption of large files in chunks (the STREAM construction).

Used for backup archives, which may be larger than memory. The plaintext is cut into
1 MiB chunks; chunk *i* is sealed with AES-256-GCM under nonce
``prefix(7) ‖ i(4) ‖ last(1)`` and the caller's header as associated data. Reordering,
dropping or duplicating a chunk fails its tag; cutting the stream at a chunk boundary
fails because the new last chunk was not sealed as last. A fresh random key or prefix
per stream keeps nonces unique.

:class:`EncryptingWriter` and :class:`DecryptingReader` are file objects, so a
``tarfile`` in stream mode can write into or read out of an encrypted archive without
plaintext touching the disk. A reader hands out only authenticated bytes, but the
stream as a whole is proven intact only when it has been read to the end.
"""

from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.errors import CryptoError

__all__ = ["CHUNK_BYTES", "DecryptingReader", "EncryptingWriter", "decrypt_stream", "encrypt_stream"]

CHUNK_BYTES = 1 << 20
_TAG = 16
_PREFIX_BYTES = 7
_MAX_CHUNKS = 2**32 - 1


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= _MAX_CHUNKS:
        msg = "stream too long: more than 2^32 chunks"
        raise CryptoError(msg)
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class EncryptingWriter(io.RawIOBase):
    """Write plaintext, get sealed chunks in ``dst``; :meth:`close` seals the last chunk."""

    def __init__(self, dst: BinaryIO, key: bytes, header: bytes) -> None:
        super().__init__()
        self._dst, self._aead, self._header = dst, AESGCM(key), header
        self._prefix = os.urandom(_PREFIX_BYTES)
        self._buffer = bytearray()
        self._index = 0
        self.plaintext_bytes = 0
        dst.write(self._prefix)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        self.plaintext_bytes += len(data)
        # Keep at least one byte back: the final chunk must be sealed as "last".
        while len(self._buffer) > CHUNK_BYTES:
            self._seal(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        self._dst.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk, self._header))
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


class DecryptingReader(io.RawIOBase):
    """Read authenticated plaintext from a sealed stream; :class:`CryptoError` on any change."""

    def __init__(self, src: BinaryIO, key: bytes, header: bytes) -> None:
        super().__init__()
        self._src, self._aead, self._header = src, AESGCM(key), header
        self._prefix = src.read(_PREFIX_BYTES)
        if len(self._prefix) != _PREFIX_BYTES:
            msg = "encrypted stream is truncated: no nonce prefix"
            raise CryptoError(msg)
        self._index = 0
        self._pending = src.read(CHUNK_BYTES + _TAG)
        self._plain = b""
        self._pos = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> None:
        sealed = self._pending
        following = self._src.read(CHUNK_BYTES + _TAG) if len(sealed) == CHUNK_BYTES + _TAG else b""
        last = not following
        if len(sealed) < _TAG:
            msg = f"encrypted stream is truncated at chunk {self._index}"
            raise CryptoError(msg)
        try:
            self._plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self._header)
        except InvalidTag:
            msg = (
                f"encrypted stream failed authentication at chunk {self._index}: wrong key, or the data "
                "was altered, reordered or truncated"
            )
            raise CryptoError(msg) from None
        self._pos, self._pending, self._index = 0, following, self._index + 1
        self.finished = last

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._pos >= len(self._plain):
            if self.finished:
                return 0
            self._next_chunk()
        n = min(len(buffer), len(self._plain) - self._pos)
        buffer[:n] = self._plain[self._pos : self._pos + n]
        self._pos += n
        return n

    def drain(self) -> None:
        """Read to the end, so the whole stream is authenticated."""
        while self.read(CHUNK_BYTES):
            pass


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, header: bytes) -> int:
    """Encrypt all of ``src`` into ``dst``; return the plaintext length."""
    writer = EncryptingWriter(dst, key, header)
    while chunk := src.read(CHUNK_BYTES):
        writer.write(chunk)
    writer.close()
    return writer.plaintext_bytes


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, header: bytes) -> int:
    """Decrypt and authenticate ``src`` into ``dst``; :class:`CryptoError` on any change.

    Chunks are written as they authenticate; a caller must treat ``dst`` as untrusted
    until this returns.
    """
    reader = DecryptingReader(src, key, header)
    total = 0
    while chunk := reader.read(CHUNK_BYTES):
        dst.write(chunk)
        total += len(chunk)
    return total
