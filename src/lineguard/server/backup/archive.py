"""The backup archive's outer format: a small authenticated header, then the encrypted stream.

Layout::

    b"LGBACKUP"  magic (8 bytes)
    uint8        version (1)
    uint32       header length, big-endian
    header       canonical JSON {"format": "lineguard-backup", "version": 1, "backup_id", "created_at",
                 "site_id", "kdf": {scrypt parameters and salt}, "cipher": "A256GCM-STREAM-1MiB"}
    stream       lineguard.crypto.stream over an uncompressed tar (see service.py)

The key is derived from the *backup passphrase* with the scrypt parameters in the
header, not taken from the keyring: the archive must be restorable after the disk
holding the keyring is gone (the keyring file itself travels inside the archive,
still protected by its own passphrase). The header is the associated data of every
chunk, so editing it (id, site, KDF parameters) fails authentication.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from lineguard.contracts.errors import IntegrityError
from lineguard.crypto import KdfParams, canonical_json

__all__ = ["ARCHIVE_MAGIC", "ArchiveHeader", "read_header", "write_header"]

ARCHIVE_MAGIC = b"LGBACKUP"
ARCHIVE_VERSION = 1
FORMAT = "lineguard-backup"
CIPHER = "A256GCM-STREAM-1MiB"
_PREFIX = struct.Struct(">8sBI")
_MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class ArchiveHeader:
    backup_id: str
    created_at: str
    site_id: str
    kdf: KdfParams

    def encode(self) -> bytes:
        body = canonical_json(
            {
                "format": FORMAT,
                "version": ARCHIVE_VERSION,
                "backup_id": self.backup_id,
                "created_at": self.created_at,
                "site_id": self.site_id,
                "kdf": self.kdf.to_json(),
                "cipher": CIPHER,
            }
        )
        return _PREFIX.pack(ARCHIVE_MAGIC, ARCHIVE_VERSION, len(body)) + body


def write_header(out: BinaryIO, header: ArchiveHeader) -> bytes:
    """Write the header; return its bytes (the stream's associated data)."""
    encoded = header.encode()
    out.write(encoded)
    return encoded


def read_header(src: BinaryIO, *, source: str) -> tuple[ArchiveHeader, bytes]:
    """Parse the header (still unauthenticated: the stream's tags vouch for it)."""
    prefix = src.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        msg = f"{source} is not a LineGuard backup (too short)"
        raise IntegrityError(msg)
    magic, version, length = _PREFIX.unpack(prefix)
    if magic != ARCHIVE_MAGIC:
        msg = f"{source} is not a LineGuard backup: magic is {magic!r}, expected {ARCHIVE_MAGIC!r}"
        raise IntegrityError(msg)
    if version != ARCHIVE_VERSION:
        msg = f"{source}: backup format version {version} is not supported (expected {ARCHIVE_VERSION})"
        raise IntegrityError(msg)
    if length > _MAX_HEADER:
        msg = f"{source}: header of {length} bytes is larger than the {_MAX_HEADER} allowed"
        raise IntegrityError(msg)
    body = src.read(length)
    try:
        doc: Any = json.loads(body)
        header = ArchiveHeader(
            doc["backup_id"], doc["created_at"], doc["site_id"], KdfParams.from_json(doc["kdf"])
        )
        ok = doc["format"] == FORMAT and doc["cipher"] == CIPHER
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        msg = f"{source}: malformed backup header ({type(exc).__name__})"
        raise IntegrityError(msg) from None
    if not ok:
        msg = f"{source}: unknown format or cipher in the backup header"
        raise IntegrityError(msg)
    return header, prefix + body
