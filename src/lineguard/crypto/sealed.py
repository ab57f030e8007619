"""The sealed-object format: self-describing, versioned, bound to its record.

Layout (all integers big-endian)::

    magic  b"LGSEAL"  (6 bytes)
    ver    1          (1 byte)
    hlen   uint16     length of the header
    header canonical JSON {"alg": "A256GCM", "category": c, "key_id": k, "object_id": o}
    nonce  12 bytes   random
    body   AES-256-GCM ciphertext ‖ 16-byte tag

The associated data is everything before the nonce, so the header (which names the
object and its data key) is authenticated with the body. Opening checks the header
against the record the caller is reading; a ciphertext pasted into another record
fails before decryption, and a forged header fails the tag.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from json.encoder import encode_basestring

from lineguard.contracts.errors import CryptoError

__all__ = ["SEALED_MAGIC", "SealedHeader", "encode_header", "parse_sealed"]

SEALED_MAGIC = b"LGSEAL"
SEALED_VERSION = 1
ALG = "A256GCM"
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_HEADER = 2048
_PREFIX = struct.Struct(">6sBH")
_FIELDS = {"alg", "category", "key_id", "object_id"}


@dataclass(frozen=True)
class SealedHeader:
    """What a sealed object says about itself (no secret in it)."""

    key_id: str
    category: str
    object_id: str

    def encode(self) -> bytes:
        return encode_header(self.key_id, self.category, self.object_id)


def encode_header(key_id: str, category: str, object_id: str) -> bytes:
    """Everything before the nonce (prefix and header): what the tag authenticates.

    The header is formatted in sorted-key order, which is byte-for-byte the canonical
    JSON of the four fields (``canonical_strings``; a property test holds the two
    together) at a sixth of the cost: every sealed field of an ingest batch builds one.
    ``encode_basestring`` is the C string encoder canonical JSON uses.
    """
    e = encode_basestring
    header = (
        f'{{"alg":"{ALG}","category":{e(category)},"key_id":{e(key_id)},"object_id":{e(object_id)}}}'
    ).encode()
    if len(header) > MAX_HEADER:
        msg = f"sealed header is {len(header)} bytes, at most {MAX_HEADER} allowed (ids too long)"
        raise CryptoError(msg)
    return _PREFIX.pack(SEALED_MAGIC, SEALED_VERSION, len(header)) + header


@dataclass(frozen=True)
class ParsedSealed:
    header: SealedHeader
    aad: bytes
    nonce: bytes
    body: bytes


def parse_sealed(blob: bytes) -> ParsedSealed:
    """Split a sealed object into its parts; :class:`CryptoError` saying what is wrong."""
    if len(blob) < _PREFIX.size:
        msg = f"not a sealed object: {len(blob)} bytes, shorter than the {_PREFIX.size}-byte prefix"
        raise CryptoError(msg)
    magic, version, hlen = _PREFIX.unpack_from(blob)
    if magic != SEALED_MAGIC:
        msg = f"not a sealed object: magic is {magic!r}, expected {SEALED_MAGIC!r}"
        raise CryptoError(msg)
    if version != SEALED_VERSION:
        msg = f"sealed object version {version} is not supported (expected {SEALED_VERSION})"
        raise CryptoError(msg)
    end = _PREFIX.size + hlen
    if hlen > MAX_HEADER or len(blob) < end + NONCE_BYTES + TAG_BYTES:
        msg = f"sealed object truncated or malformed: {len(blob)} bytes with a {hlen}-byte header"
        raise CryptoError(msg)
    try:
        fields = json.loads(blob[_PREFIX.size : end])
    except (ValueError, UnicodeDecodeError):
        fields = None
    if (
        not isinstance(fields, dict)
        or set(fields) != _FIELDS
        or fields["alg"] != ALG
        or not all(isinstance(fields[k], str) and fields[k] for k in _FIELDS)
    ):
        msg = f"sealed object header is malformed (expected the fields {sorted(_FIELDS)} with alg {ALG})"
        raise CryptoError(msg)
    header = SealedHeader(fields["key_id"], fields["category"], fields["object_id"])
    if header.encode() != blob[:end]:
        msg = "sealed object header is not in canonical form"
        raise CryptoError(msg)
    return ParsedSealed(header, blob[:end], blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :])
