"""The audit checkpoint key on a PKCS#11 token (an HSM; SoftHSM v2 in the tests).

``keyring.audit_key: pkcs11`` puts the Ed25519 key that signs checkpoints on the token
of ``keyring.pkcs11``: generated there on first use (``CKM_EC_EDWARDS_KEY_PAIR_GEN``,
private half sensitive and non-extractable, labelled ``keyring.audit_key_label``) and
used there (``CKM_EDDSA``), so the process never holds the private key and a copy of
the data directory or the database cannot sign a checkpoint. The signatures are plain
Ed25519: exports verify with the published public key exactly as with the sealed key.
python-pkcs11 is imported only when this backend is used.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import atomic_write
from lineguard.server.audit.signing import key_id_of, public_key_pem

__all__ = ["Pkcs11AuditSigner"]

#: DER of the Ed25519 curve OID (1.3.101.112): the key pair's CKA_EC_PARAMS.
_ED25519_PARAMS = bytes.fromhex("06032b6570")


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        msg = "an audit key on PKCS#11 needs the python-pkcs11 package (pip install python-pkcs11)"
        raise CryptoError(msg) from None
    return pkcs11


def _raw_point(ec_point: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 key: the 32-byte point, DER OCTET STRING-wrapped or bare."""
    if len(ec_point) == 34 and ec_point[:2] == b"\x04\x20":
        return ec_point[2:]
    if len(ec_point) == 32:
        return ec_point
    msg = f"PKCS#11 audit key: unexpected public point of {len(ec_point)} bytes (expected Ed25519)"
    raise CryptoError(msg)


class Pkcs11AuditSigner:
    """Signs checkpoint statements inside the token; same interface as ``AuditSigner``."""

    def __init__(self, library_path: str, token_label: str, pin: SecretStr, key_label: str) -> None:
        pkcs11 = _pkcs11()
        try:
            token = pkcs11.lib(library_path).get_token(token_label=token_label)
            try:
                self._session: Any = token.open(user_pin=pin.get_secret_value(), rw=True)
            except pkcs11.UserAlreadyLoggedIn:  # PKCS#11 logs in per process, not per session
                self._session = token.open(rw=True)
        except (pkcs11.PKCS11Error, RuntimeError) as exc:
            msg = f"cannot open PKCS#11 token {token_label!r} via {library_path} ({type(exc).__name__})"
            raise CryptoError(msg) from None
        self.key_label = key_label
        self._lock = threading.Lock()
        try:
            self._private, public = self._find_or_create(pkcs11)
        except pkcs11.PKCS11Error as exc:
            self._session.close()
            msg = (
                f"PKCS#11 token {token_label!r}: cannot find or create the audit key {key_label!r} "
                f"({type(exc).__name__})"
            )
            raise CryptoError(msg) from None
        self.public = Ed25519PublicKey.from_public_bytes(_raw_point(bytes(public[pkcs11.Attribute.EC_POINT])))
        self.key_id = key_id_of(self.public)

    def _find_or_create(self, pkcs11: Any) -> tuple[Any, Any]:
        found = {
            kind: list(
                self._session.get_objects(
                    {pkcs11.Attribute.CLASS: kind, pkcs11.Attribute.LABEL: self.key_label}
                )
            )
            for kind in (pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.ObjectClass.PUBLIC_KEY)
        }
        private, public = found[pkcs11.ObjectClass.PRIVATE_KEY], found[pkcs11.ObjectClass.PUBLIC_KEY]
        if len(private) == 1 and len(public) == 1:
            return private[0], public[0]
        if private or public:
            msg = (
                f"PKCS#11 token holds {len(private)} private and {len(public)} public keys labelled "
                f"{self.key_label!r}; expected one pair (or none, to create it)"
            )
            raise CryptoError(msg)
        A = pkcs11.Attribute  # noqa: N806 - the PKCS#11 attribute namespace
        public_key, private_key = self._session.generate_keypair(
            pkcs11.KeyType.EC_EDWARDS,
            mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            store=True,
            label=self.key_label,
            public_template={A.EC_PARAMS: _ED25519_PARAMS},
            private_template={A.SENSITIVE: True, A.EXTRACTABLE: False, A.SIGN: True},
        )
        return private_key, public_key

    def publish(self, directory: Path) -> None:
        """Write the public key beside the other audit files, as the sealed key does."""
        atomic_write(directory / "signing-key.pub.pem", public_key_pem(self.public), mode=0o644)

    def sign(self, message: bytes) -> bytes:
        pkcs11 = _pkcs11()
        try:
            with self._lock:
                return bytes(self._private.sign(message, mechanism=pkcs11.Mechanism.EDDSA))
        except pkcs11.PKCS11Error as exc:
            msg = f"PKCS#11 audit key {self.key_label!r}: signing failed ({type(exc).__name__})"
            raise CryptoError(msg) from None

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def __repr__(self) -> str:
        return f"Pkcs11AuditSigner(key_label={self.key_label!r}, key_id={self.key_id!r})"
