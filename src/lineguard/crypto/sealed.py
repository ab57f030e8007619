"""The sealed-object format: self-describing, versioned, bound to its record.

Version 2 (written since 2026-12; all integers big-endian)::

    magic  b"LGSEAL"  (6 bytes)
    ver    2          (1 byte)
    key    16 bytes   the data key's id (a UUIDv7: the key row ``dek_`` + its 32 hex digits)
    nonce  12 bytes   random
    body   AES-256-GCM ciphertext ‖ 16-byte tag

    associated data = magic ‖ ver ‖ key ‖ canonical JSON {"category": c, "object_id": o}

The record the object belongs to is not stored: the reader always knows it (it is the
row or file it is reading), so it is bound in the associated data instead. A
ciphertext pasted into another record is refused before decryption (its data key
belongs to the first record) and could not authenticate anyway (the record in the
associated data differs). The 16-byte key id replaces v1's JSON header: ~140 bytes
less per sealed field, in the row, the WAL and every backup.

Version 1 (written until 2026-12, read forever: old databases, backups, exports)::

    magic  b"LGSEAL"  (6 bytes)
    ver    1          (1 byte)
    hlen   uint16     length of the header
    header canonical JSON {"alg": "A256GCM", "category": c, "key_id": k, "object_id": o}
    nonce  12 bytes   random
    body   AES-256-GCM ciphertext ‖ 16-byte tag

    associated data = everything before the nonce

Opening a v1 object checks its header against the record the caller is reading. The
version byte is part of the associated data of both versions, so an object relabelled
as the other version (or a v1 header forged onto v2 bytes) fails the tag.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from json.encoder import encode_basestring

from lineguard.contracts.errors import CryptoError

__all__ = [
    "SEALED_MAGIC",
    "V2_AAD_END",
    "ParsedSealed",
    "SealedHeader",
    "encode_header",
    "encode_v2_prefix",
    "parse_sealed",
    "record_binding",
    "v2_aad",
    "v2_aad_head",
]

SEALED_MAGIC = b"LGSEAL"
SEALED_VERSION = 2
VERSION_1 = 1
ALG = "A256GCM"
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_HEADER = 2048
#: The data-key ids v2 carries as 16 bytes: ``dek_`` + 32 lowercase hex digits (``new_ids("dek")``).
KEY_ID_PREFIX = "dek_"
KEY_ID_BYTES = 16
_PREFIX = struct.Struct(">6sBH")
#: magic ‖ version of every v2 object.
V2_HEAD = SEALED_MAGIC + bytes([SEALED_VERSION])
#: magic ‖ version ‖ key id: everything before the nonce in v2.
V2_PREFIX_BYTES = len(V2_HEAD) + KEY_ID_BYTES
_FIELDS = {"alg", "category", "key_id", "object_id"}


@dataclass(frozen=True)
class SealedHeader:
    """What a version-1 sealed object says about itself (no secret in it)."""

    key_id: str
    category: str
    object_id: str

    def encode(self) -> bytes:
        return encode_header(self.key_id, self.category, self.object_id)


def encode_header(key_id: str, category: str, object_id: str) -> bytes:
    """Version 1: everything before the nonce (prefix and header), what the tag authenticates.

    Kept to check that a v1 header is canonical when it is read (and for tests that
    build v1 objects as old servers wrote them); nothing writes v1 any more. The header
    is formatted in sorted-key order, which is byte-for-byte the canonical JSON of the
    four fields (``canonical_strings``; a property test holds the two together).
    """
    e = encode_basestring
    header = (
        f'{{"alg":"{ALG}","category":{e(category)},"key_id":{e(key_id)},"object_id":{e(object_id)}}}'
    ).encode()
    if len(header) > MAX_HEADER:
        msg = f"sealed header is {len(header)} bytes, at most {MAX_HEADER} allowed (ids too long)"
        raise CryptoError(msg)
    return _PREFIX.pack(SEALED_MAGIC, VERSION_1, len(header)) + header


def encode_v2_prefix(key_id: str) -> bytes:
    """Version 2: everything before the nonce (magic, version, the key id as 16 bytes)."""
    digits = key_id[len(KEY_ID_PREFIX) :]
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if (
        len(raw) != KEY_ID_BYTES
        or len(digits) != 2 * KEY_ID_BYTES  # bytes.fromhex skips whitespace
        or not key_id.startswith(KEY_ID_PREFIX)
        or digits != digits.lower()
    ):
        msg = (
            f"a sealed v2 key id is {KEY_ID_PREFIX!r} + {2 * KEY_ID_BYTES} lowercase hex digits, "
            f"got {key_id[:48]!r}"
        )
        raise CryptoError(msg)
    return V2_HEAD + raw


def record_binding(category: str) -> str:
    """The start of the v2 record binding for one category (a batch seals many objects of one)."""
    return f'{{"category":{encode_basestring(category)},"object_id":'


def v2_aad(prefix: bytes, binding: str, object_id: str) -> bytes:
    """v2 associated data: the prefix, then the canonical JSON of ``{category, object_id}``
    (``binding`` from :func:`record_binding`). The prefix has a fixed length and JSON
    strings are escaped, so no two records give the same bytes."""
    return prefix + f"{binding}{encode_basestring(object_id)}}}".encode()


#: How every v2 associated data ends: the record binding's closing quote and brace.
V2_AAD_END = b'"}'


def v2_aad_head(prefix: bytes, binding: str) -> bytes:
    """What the v2 associated data of every record under ``prefix`` and ``binding`` starts with.

    For a record id that JSON leaves as it is (every valid record id: ``[A-Za-z0-9_.:/#-]``,
    no quote, backslash or control character), ``v2_aad(prefix, binding, object_id) ==
    head + object_id.encode() + V2_AAD_END``: a batch sealed under one key builds each
    record's associated data with two concatenations instead of a call and a JSON escape
    (~2k instructions a record under callgrind). A test holds the two together."""
    return prefix + f'{binding}"'.encode()


@dataclass(frozen=True)
class ParsedSealed:
    """A sealed object split into its parts (no secret in them).

    ``header`` is what a v1 object says about its record; v2 objects do not store it
    (``None``): the reader's record is bound through :meth:`aad`.
    """

    version: int
    key_id: str
    prefix: bytes
    nonce: bytes
    body: bytes
    header: SealedHeader | None = None

    def aad(self, category: str, object_id: str) -> bytes:
        """The associated data the tag was computed over, for the record ``(category, object_id)``."""
        if self.version == VERSION_1:
            return self.prefix
        return v2_aad(self.prefix, record_binding(category), object_id)


def parse_sealed(blob: bytes) -> ParsedSealed:
    """Split a sealed object (v1 or v2) into its parts; :class:`CryptoError` saying what is wrong."""
    if len(blob) < len(V2_HEAD):
        msg = (
            f"not a sealed object: {len(blob)} bytes, shorter than the {len(V2_HEAD)}-byte magic and version"
        )
        raise CryptoError(msg)
    magic, version = blob[: len(SEALED_MAGIC)], blob[len(SEALED_MAGIC)]
    if magic != SEALED_MAGIC:
        msg = f"not a sealed object: magic is {bytes(magic)!r}, expected {SEALED_MAGIC!r}"
        raise CryptoError(msg)
    if version == SEALED_VERSION:
        return _parse_v2(blob)
    if version == VERSION_1:
        return _parse_v1(blob)
    msg = f"sealed object version {version} is not supported (expected {VERSION_1} or {SEALED_VERSION})"
    raise CryptoError(msg)


def _parse_v2(blob: bytes) -> ParsedSealed:
    end = V2_PREFIX_BYTES
    if len(blob) < end + NONCE_BYTES + TAG_BYTES:
        msg = (
            f"sealed object truncated: {len(blob)} bytes, a version-2 object has at least "
            f"{end + NONCE_BYTES + TAG_BYTES}"
        )
        raise CryptoError(msg)
    prefix = bytes(blob[:end])
    key_id = KEY_ID_PREFIX + prefix[len(V2_HEAD) :].hex()
    return ParsedSealed(
        SEALED_VERSION, key_id, prefix, bytes(blob[end : end + NONCE_BYTES]), bytes(blob[end + NONCE_BYTES :])
    )


def _parse_v1(blob: bytes) -> ParsedSealed:
    if len(blob) < _PREFIX.size:
        msg = f"not a sealed object: {len(blob)} bytes, shorter than the {_PREFIX.size}-byte v1 prefix"
        raise CryptoError(msg)
    _, _, hlen = _PREFIX.unpack_from(blob)
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
    return ParsedSealed(
        VERSION_1,
        header.key_id,
        bytes(blob[:end]),
        bytes(blob[end : end + NONCE_BYTES]),
        bytes(blob[end + NONCE_BYTES :]),
        header,
    )
