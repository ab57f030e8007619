"""The server's Ed25519 audit key: signs checkpoints; its public key is published.

By default the private key is stored under ``data_dir/audit/`` as a sealed object
(envelope encryption under the server keyring), so it is protected at rest like every
other secret and follows key rotation. With ``keyring.audit_key: pkcs11`` it lives on
the HSM instead (:mod:`.pkcs11_signer`); :func:`.keys.open_audit_key` picks. The public key is written
beside it as PEM and printed by ``lineguard audit public-key``: give it to whoever
must verify exports (auditors, the SIEM), who then need nothing else from the server.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lineguard.contracts.errors import InputError, SignatureError
from lineguard.crypto import Envelope, KekProvider, SqliteDataKeyStore, atomic_write
from lineguard.server.keystore import signer_key_store_path

__all__ = [
    "AuditKey",
    "AuditSigner",
    "key_id_of",
    "load_public_key",
    "public_key_pem",
    "signer_key_store_path",
    "verify_ed25519",
]

_OBJECT_ID = "audit-signing-key"
_CATEGORY = "audit_key"


def key_id_of(public: Ed25519PublicKey) -> str:
    """Short stable name of a public key: the first 16 bytes of SHA-256 of its raw form, hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_key_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes, *, source: str = "public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; :class:`InputError` saying what was found instead."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        msg = f"{source} is not a PEM public key"
        raise InputError(msg) from None
    if not isinstance(key, Ed25519PublicKey):
        found = type(key).__name__.removesuffix("PublicKey") or "non-Ed25519"
        msg = f"{source} is a {found} key, expected Ed25519"
        raise InputError(msg)
    return key


class AuditKey(Protocol):
    """What signs checkpoints: the sealed :class:`AuditSigner` or the HSM's ``Pkcs11AuditSigner``."""

    @property
    def public(self) -> Ed25519PublicKey: ...

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class AuditSigner:
    """Holds the private audit key (sealed at rest); signs checkpoint statements."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id_of(self.public)

    @classmethod
    def generate(cls) -> AuditSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, directory: Path, keys: KekProvider) -> AuditSigner:
        """The server's audit key from ``directory`` (created, sealed and published on first use).

        Its data key lives in a small store beside it (``signing-key.keys.db``), so the
        key opens the same way whichever envelope the server uses for its data, and
        ``lineguard keys rotate`` re-wraps it with everything else. Replicas sharing one
        ``data_dir`` that start together take turns on a ``flock``: one creates the key, the
        others open it (two keys would make each other's checkpoints unverifiable).
        """
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / "signing-key.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return cls._load_or_create_locked(directory, keys)
        finally:
            os.close(fd)  # drops the flock

    @classmethod
    def _load_or_create_locked(cls, directory: Path, keys: KekProvider) -> AuditSigner:
        envelope = Envelope(keys, SqliteDataKeyStore(signer_key_store_path(directory)))
        sealed_path = directory / "signing-key.sealed"
        if sealed_path.exists():
            raw = envelope.open(sealed_path.read_bytes(), object_id=_OBJECT_ID, category=_CATEGORY)
            signer = cls(Ed25519PrivateKey.from_private_bytes(raw))
        else:
            signer = cls.generate()
            raw = signer._private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            atomic_write(sealed_path, envelope.seal(raw, object_id=_OBJECT_ID, category=_CATEGORY))
        atomic_write(directory / "signing-key.pub.pem", public_key_pem(signer.public), mode=0o644)
        return signer

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"AuditSigner(key_id={self.key_id!r})"


def verify_ed25519(public: Ed25519PublicKey, message: bytes, signature: bytes, *, what: str) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is ``public``'s over ``message``."""
    try:
        public.verify(signature, message)
    except InvalidSignature:
        msg = f"{what}: Ed25519 signature does not verify with key {key_id_of(public)}"
        raise SignatureError(msg) from None
