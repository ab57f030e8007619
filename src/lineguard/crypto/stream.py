"""Authenticated encryption of large files in chunks (the STREAM construction).

Used for backup archives, which may be larger than memory. The plaintext is cut into
1 MiB chunks; chunk *i* is sealed with AES-256-GCM under nonce
``prefix(7) ‖ i(4) ‖ last(1)`` and the caller's header as associated data. Reordering,
dropping or duplicating a chunk fails its tag; cutting the stream at a chunk boundary
fails because the new last chunk was not sealed as last. A fresh random key or prefix
per stream keeps nonces unique.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.errors import CryptoError

__all__ = ["CHUNK_BYTES", "decrypt_stream", "encrypt_stream"]

CHUNK_BYTES = 1 << 20
_TAG = 16
_PREFIX_BYTES = 7
_MAX_CHUNKS = 2**32 - 1


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= _MAX_CHUNKS:
        msg = "stream too long: more than 2^32 chunks"
        raise CryptoError(msg)
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, header: bytes) -> int:
    """Encrypt all of ``src`` into ``dst``; return the plaintext length."""
    aead = AESGCM(key)
    prefix = os.urandom(_PREFIX_BYTES)
    dst.write(prefix)
    total, index = 0, 0
    chunk = src.read(CHUNK_BYTES)
    while True:
        following = src.read(CHUNK_BYTES) if len(chunk) == CHUNK_BYTES else b""
        last = not following
        dst.write(aead.encrypt(_nonce(prefix, index, last), chunk, header))
        total += len(chunk)
        if last:
            return total
        chunk, index = following, index + 1


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, header: bytes) -> int:
    """Decrypt and authenticate ``src`` into ``dst``; :class:`CryptoError` on any change.

    Chunks are written as they authenticate; a caller must treat ``dst`` as untrusted
    until this returns (write to a temporary file, act on it afterwards).
    """
    aead = AESGCM(key)
    prefix = src.read(_PREFIX_BYTES)
    if len(prefix) != _PREFIX_BYTES:
        msg = "encrypted stream is truncated: no nonce prefix"
        raise CryptoError(msg)
    total, index = 0, 0
    sealed = src.read(CHUNK_BYTES + _TAG)
    while True:
        following = src.read(CHUNK_BYTES + _TAG) if len(sealed) == CHUNK_BYTES + _TAG else b""
        last = not following
        if len(sealed) < _TAG:
            msg = f"encrypted stream is truncated at chunk {index}"
            raise CryptoError(msg)
        try:
            plain = aead.decrypt(_nonce(prefix, index, last), sealed, header)
        except InvalidTag:
            msg = (
                f"encrypted stream failed authentication at chunk {index}: wrong key, or the data was "
                "altered, reordered or truncated"
            )
            raise CryptoError(msg) from None
        dst.write(plain)
        total += len(plain)
        if last:
            return total
        sealed, index = following, index + 1
