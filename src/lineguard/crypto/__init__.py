"""Cryptography shared by the edge node and the plant server.

The picture: a **keyring** holds key-encryption keys (KEKs) protected by a passphrase
(:class:`Keyring`) or inside an HSM (:class:`~lineguard.crypto.pkcs11.Pkcs11Keyring`).
An :class:`Envelope` seals each object under its own fresh data key (DEK), wraps the
DEK under the active KEK and stores it in a :class:`DataKeyStore`; deleting the DEK
crypto-shreds the object. Rotation adds a KEK and re-wraps DEKs in batches
(:func:`rewrap_all`) while everything keeps running. :func:`canonical_json` gives the
byte-exact encoding that hashes and signatures are computed over, and
:func:`encrypt_stream` seals files too large for memory (backups).

Key material never appears in a ``repr`` or a log line. Formats are versioned and
documented in ``docs/data-protection.md``.
"""

from lineguard.crypto._files import FilesSignature, atomic_write, exclusive_lock, files_signature
from lineguard.crypto.canonical import b64d, b64e, canonical_json, utc_text
from lineguard.crypto.datakeys import DataKeyStore, SqliteDataKeyStore, WrappedKey, dek_aad
from lineguard.crypto.digested import digest_json, read_digested, write_digested
from lineguard.crypto.envelope import Envelope
from lineguard.crypto.kdf import KdfParams
from lineguard.crypto.kek import KekProvider, KeyEncryptionKey, SoftwareKek
from lineguard.crypto.keyring import KekInfo, Keyring, keyring_path
from lineguard.crypto.rewrap import RewrapReport, rewrap_all
from lineguard.crypto.sealed import SealedHeader, parse_sealed
from lineguard.crypto.stream import DecryptingReader, EncryptingWriter, decrypt_stream, encrypt_stream

__all__ = [
    "DataKeyStore",
    "DecryptingReader",
    "EncryptingWriter",
    "Envelope",
    "FilesSignature",
    "KdfParams",
    "KekInfo",
    "KekProvider",
    "KeyEncryptionKey",
    "Keyring",
    "RewrapReport",
    "SealedHeader",
    "SoftwareKek",
    "SqliteDataKeyStore",
    "WrappedKey",
    "atomic_write",
    "b64d",
    "b64e",
    "canonical_json",
    "decrypt_stream",
    "dek_aad",
    "digest_json",
    "encrypt_stream",
    "exclusive_lock",
    "files_signature",
    "keyring_path",
    "parse_sealed",
    "read_digested",
    "rewrap_all",
    "utc_text",
    "write_digested",
]
