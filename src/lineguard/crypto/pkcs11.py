"""KEKs inside a PKCS#11 token (an HSM, or SoftHSM for testing): the keys never leave it.

Each KEK is a non-extractable, sensitive AES-256 secret key on the token, labelled
``lineguard-kek:<kek_id>``. Wrapping and unwrapping run *inside* the token with
``CKM_AES_GCM`` (random 96-bit nonce, the DEK's associated data), so the process
only ever sees wrapped bytes and the DEKs it asked for. KEK ids are UUIDv7-based and
sort by creation time: the newest is the active one, the others are retired and kept
for unwrapping until re-wrap finishes and ``destroy`` removes them.

Tested against SoftHSM v2 (``apt-get install softhsm2``, library
``/usr/lib/softhsm/libsofthsm2.so``). ``python-pkcs11`` is imported only when this
backend is used, so the software keyring needs nothing beyond ``cryptography``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError
from lineguard.contracts.ids import new_id
from lineguard.crypto.kek import check_pairs

__all__ = ["LABEL_PREFIX", "Pkcs11Kek", "Pkcs11Keyring"]

LABEL_PREFIX = "lineguard-kek:"
_NONCE = 12


class Pkcs11Kek:
    """One AES-256 KEK on the token; implements :class:`~lineguard.crypto.kek.KeyEncryptionKey`."""

    def __init__(self, kek_id: str, key: Any, lock: threading.Lock) -> None:
        self._kek_id = kek_id
        self._key = key
        self._lock = lock

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism, PKCS11Error
        from pkcs11.mechanisms import GCMParams

        nonce = os.urandom(_NONCE)
        try:
            with self._lock:
                body = self._key.encrypt(
                    dek, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad)
                )
        except PKCS11Error as exc:
            msg = f"PKCS#11 KEK {self._kek_id}: wrap failed ({type(exc).__name__})"
            raise CryptoError(msg) from None
        return nonce + bytes(body)

    def wrap_many(self, deks: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
        """One token call per key: the token draws its own nonces, nothing is batched."""
        check_pairs(deks, aads)
        return [self.wrap(dek, aad) for dek, aad in zip(deks, aads, strict=True)]

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism, PKCS11Error
        from pkcs11.mechanisms import GCMParams

        if len(wrapped) < _NONCE + 16:
            msg = f"PKCS#11 KEK {self._kek_id}: wrapped key is {len(wrapped)} bytes, expected at least 28"
            raise CryptoError(msg)
        try:
            with self._lock:
                return bytes(
                    self._key.decrypt(
                        wrapped[_NONCE:],
                        mechanism=Mechanism.AES_GCM,
                        mechanism_param=GCMParams(wrapped[:_NONCE], aad),
                    )
                )
        except PKCS11Error:
            msg = (
                f"PKCS#11 KEK {self._kek_id}: cannot unwrap "
                "(wrong key, or the wrapped key or its record was altered)"
            )
            raise CryptoError(msg) from None

    def __repr__(self) -> str:
        return f"Pkcs11Kek(kek_id={self._kek_id!r})"


class Pkcs11Keyring:
    """KEKs on a PKCS#11 token; implements :class:`~lineguard.crypto.kek.KekProvider`."""

    def __init__(self, library_path: str, token_label: str, pin: SecretStr) -> None:
        try:
            import pkcs11
        except ImportError:
            msg = "the PKCS#11 keyring needs the python-pkcs11 package (pip install python-pkcs11)"
            raise CryptoError(msg) from None
        try:
            lib = pkcs11.lib(library_path)
            token = lib.get_token(token_label=token_label)
            self._session: Any = token.open(user_pin=pin.get_secret_value(), rw=True)
        except (pkcs11.PKCS11Error, RuntimeError) as exc:
            msg = f"cannot open PKCS#11 token {token_label!r} via {library_path} ({type(exc).__name__})"
            raise CryptoError(msg) from None
        self.token_label = token_label
        self._lock = threading.Lock()
        self._keys: dict[str, Pkcs11Kek] = {}
        self._refresh()
        if not self._keys:
            self.rotate()

    def _refresh(self) -> None:
        from pkcs11 import Attribute, ObjectClass

        with self._lock:
            found = self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
            keys = {}
            for obj in found:
                label = str(obj.label)
                if label.startswith(LABEL_PREFIX):
                    kek_id = label.removeprefix(LABEL_PREFIX)
                    keys[kek_id] = Pkcs11Kek(kek_id, obj, self._lock)
        self._keys = keys

    def rotate(self) -> str:
        """Generate a new KEK on the token; it becomes the active one."""
        from pkcs11 import Attribute, KeyType

        kek_id = new_id("kek")
        template = {
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.TOKEN: True,
            Attribute.ENCRYPT: True,
            Attribute.DECRYPT: True,
        }
        with self._lock:
            self._session.generate_key(
                KeyType.AES, 256, label=LABEL_PREFIX + kek_id, store=True, template=template
            )
        self._refresh()
        return kek_id

    def destroy(self, kek_id: str) -> None:
        """Delete a retired KEK from the token (the caller checked no data key needs it)."""
        if kek_id == self.active().kek_id:
            msg = f"KEK {kek_id} is active; only a retired KEK can be destroyed"
            raise CryptoError(msg)
        kek = self.get(kek_id)
        with self._lock:
            kek._key.destroy()
        self._refresh()

    def kek_ids(self) -> list[str]:
        return sorted(self._keys)

    def active(self) -> Pkcs11Kek:
        return self._keys[max(self._keys)]

    def get(self, kek_id: str) -> Pkcs11Kek:
        if kek_id not in self._keys:
            self._refresh()  # rotated by another process
        try:
            return self._keys[kek_id]
        except KeyError:
            msg = f"KEK {kek_id} is not on PKCS#11 token {self.token_label!r}"
            raise CryptoError(msg) from None

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def __repr__(self) -> str:
        return f"Pkcs11Keyring(token={self.token_label!r}, keks={len(self._keys)})"
