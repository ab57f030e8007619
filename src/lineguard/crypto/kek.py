"""Key-encryption keys (KEKs): the seam where a software key or an HSM plugs in.

A KEK never encrypts data itself: it wraps the per-object data keys (DEKs). Every
wrap binds the DEK to *associated data* naming the record it belongs to, so a wrapped
DEK copied onto another record does not unwrap. :class:`KeyEncryptionKey` is the
protocol; :class:`SoftwareKek` is the AES-256-GCM implementation held by the file
keyring, and ``lineguard.crypto.pkcs11`` the one whose key stays inside a PKCS#11
token. A :class:`KekProvider` hands out the active KEK for new wraps and any known KEK
(active or retired) for unwraps.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.errors import CryptoError

__all__ = ["KekProvider", "KeyEncryptionKey", "SoftwareKek", "check_pairs"]

NONCE_BYTES = 12
KEY_BYTES = 32


@runtime_checkable
class KeyEncryptionKey(Protocol):
    """Wraps and unwraps 32-byte data keys; implementations never expose key material."""

    @property
    def kek_id(self) -> str: ...

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        """Encrypt ``dek`` bound to ``aad``; the result is self-contained (nonce included)."""
        ...

    def wrap_many(self, deks: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
        """:meth:`wrap` of each ``(dek, aad)`` pair, in order (see :func:`check_pairs`)."""
        ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        """Inverse of :meth:`wrap`; raise :class:`CryptoError` if ``wrapped`` or ``aad`` differ."""
        ...


def check_pairs(deks: Sequence[bytes], aads: Sequence[bytes]) -> None:
    """What every ``wrap_many`` checks first: one associated data per key."""
    if len(deks) != len(aads):
        msg = f"wrap_many got {len(deks)} keys and {len(aads)} associated data"
        raise CryptoError(msg)


class KekProvider(Protocol):
    """Where KEKs come from: a keyring file, or an HSM."""

    def active(self) -> KeyEncryptionKey:
        """The KEK new data keys are wrapped under."""
        ...

    def get(self, kek_id: str) -> KeyEncryptionKey:
        """Any KEK still held (active or retired); :class:`CryptoError` if unknown."""
        ...


def gcm_wrap(key: bytes | AESGCM, dek: bytes, aad: bytes, *, nonce: bytes | None = None) -> bytes:
    """``dek`` under ``key`` (raw bytes, or an ``AESGCM`` built once for a key used often).

    ``nonce``: 12 fresh bytes from ``os.urandom`` that the caller drew in bulk (see
    :meth:`SoftwareKek.wrap_many`); by default drawn here.
    """
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    if nonce is None:
        nonce = os.urandom(NONCE_BYTES)
    elif len(nonce) != NONCE_BYTES:
        msg = f"a wrap nonce is {NONCE_BYTES} bytes, got {len(nonce)}"
        raise CryptoError(msg)
    return nonce + aead.encrypt(nonce, dek, aad)


def gcm_unwrap(key: bytes | AESGCM, wrapped: bytes, aad: bytes, *, what: str) -> bytes:
    if len(wrapped) < NONCE_BYTES + 16:
        msg = f"{what}: wrapped key is {len(wrapped)} bytes, expected at least {NONCE_BYTES + 16}"
        raise CryptoError(msg)
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
    except InvalidTag:
        msg = f"{what}: cannot unwrap (wrong key, or the wrapped key or its record was altered)"
        raise CryptoError(msg) from None


class SoftwareKek:
    """An AES-256 KEK held in process memory (loaded from the passphrase-protected keyring)."""

    # The AESGCM object is built once per KEK, not per wrap: every sealed field wraps a key.
    __slots__ = ("__aead", "__key", "_kek_id")

    def __init__(self, kek_id: str, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            msg = f"KEK {kek_id}: expected a {KEY_BYTES}-byte key, got {len(key)} bytes"
            raise CryptoError(msg)
        self._kek_id = kek_id
        self.__key = key
        self.__aead = AESGCM(key)

    @classmethod
    def generate(cls, kek_id: str) -> SoftwareKek:
        return cls(kek_id, AESGCM.generate_key(bit_length=256))

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        return gcm_wrap(self.__aead, dek, aad)

    def wrap_many(self, deks: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
        """:meth:`wrap` of each ``(dek, aad)``: every wrap gets its own random nonce, all
        drawn with one ``os.urandom`` call (a call per wrap released and retook the GIL
        a hundred times per ingest batch). Nothing is kept between calls."""
        check_pairs(deks, aads)
        nonces = os.urandom(NONCE_BYTES * len(deks))
        # gcm_wrap's layout (nonce ‖ ciphertext ‖ tag) inlined: an ingest batch wraps a
        # hundred keys, and the call per key cost a third of the wrap.
        encrypt = self.__aead.encrypt
        out = []
        for i, (dek, aad) in enumerate(zip(deks, aads, strict=True)):
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            out.append(nonce + encrypt(nonce, dek, aad))
        return out

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return gcm_unwrap(self.__aead, wrapped, aad, what=f"KEK {self._kek_id}")

    def export_wrapped(self, wrapping_key: bytes, aad: bytes) -> bytes:
        """This KEK wrapped under ``wrapping_key`` (the keyring's passphrase-derived key)."""
        return gcm_wrap(wrapping_key, self.__key, aad)

    def __repr__(self) -> str:
        return f"SoftwareKek(kek_id={self._kek_id!r})"
