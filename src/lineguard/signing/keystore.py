"""Model-signing keys held where packages are signed (a QA workstation or the server host).

A directory::

    signers.json            the trust list (public keys + states): what nodes get via TUF
    private/<key_id>.pem    an EC P-256 private key, PKCS#8 encrypted under the signing
                            passphrase (scrypt via ``BestAvailableEncryption``), mode 0600
    private/<key_id>.pkcs11.json
                            instead of a PEM, for a key on an HSM: library, token and key label

Lifecycle: :meth:`SigningKeyStore.create` makes the first key; :meth:`rotate` makes a
new active key and retires the previous one (its signatures stay valid);
:meth:`revoke` marks a key revoked — nodes refuse every package it signed once the
server publishes the new trust list — and deletes its private half from this
directory. Nothing here is ever copied to an edge node: nodes receive
``signers.json`` only, inside signed TUF metadata.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from lineguard.contracts.errors import ConflictError, CryptoError, NotFoundError
from lineguard.crypto import atomic_write
from lineguard.crypto._files import exclusive_lock  # the keyring's own writer lock
from lineguard.signing.sign import Pkcs11SigningKey, SigningKey
from lineguard.signing.trust import SignerKey, SignerTrust, key_id_of, public_key_pem

__all__ = ["Pkcs11KeyRef", "SigningKeyStore"]

TRUST_FILE = "signers.json"


class Pkcs11KeyRef(BaseModel):
    """Where an HSM-held signing key lives (no secret: the PIN comes from a SecretRef)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    library: str = Field(max_length=1024)
    token_label: str = Field(min_length=1, max_length=32)
    key_label: str = Field(min_length=1, max_length=128)


class SigningKeyStore:
    """The signing keys in one directory (see the module docstring)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.trust_file = self.directory / TRUST_FILE
        self.private_dir = self.directory / "private"

    # -- reading -------------------------------------------------------------

    def trust(self) -> SignerTrust:
        if not self.trust_file.exists():
            return SignerTrust()
        return SignerTrust.from_bytes(self.trust_file.read_bytes(), source=str(self.trust_file))

    def entries(self) -> list[SignerKey]:
        return sorted(self.trust().keys, key=lambda k: k.created_at)

    def load_signing_key(
        self, passphrase: SecretStr | None, *, key_id: str | None = None, pin: SecretStr | None = None
    ) -> SigningKey:
        """The private key of ``key_id`` (default: the active key), ready to sign."""
        trust = self.trust()
        entry = trust.require(key_id) if key_id else trust.active
        if entry is None:
            msg = f"no active signing key in {self.directory}: run `lineguard keys signing create`"
            raise NotFoundError(msg)
        if entry.state == "revoked":
            msg = f"signing key {entry.key_id[:16]}… is revoked and cannot sign"
            raise ConflictError(msg)
        ref_file = self.private_dir / f"{entry.key_id}.pkcs11.json"
        if ref_file.exists():
            ref = Pkcs11KeyRef.model_validate_json(ref_file.read_bytes())
            if pin is None:
                msg = (
                    f"signing key {entry.key_id[:16]}… is on PKCS#11 token {ref.token_label!r}: give its PIN"
                )
                raise CryptoError(msg)
            return Pkcs11SigningKey(ref.library, ref.token_label, pin, ref.key_label)
        pem_file = self.private_dir / f"{entry.key_id}.pem"
        if not pem_file.exists():
            msg = f"the private half of signing key {entry.key_id[:16]}… is not in {self.private_dir}"
            raise NotFoundError(msg)
        if passphrase is None:
            msg = f"signing key {entry.key_id[:16]}… is encrypted: give the signing passphrase"
            raise CryptoError(msg)
        try:
            key = serialization.load_pem_private_key(
                pem_file.read_bytes(), passphrase.get_secret_value().encode("utf-8")
            )
        except (ValueError, TypeError):
            msg = f"cannot decrypt {pem_file}: wrong signing passphrase, or the file was altered"
            raise CryptoError(msg) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            msg = f"{pem_file} does not hold an EC private key"
            raise CryptoError(msg)
        return key

    # -- changing ------------------------------------------------------------

    def create(
        self,
        passphrase: SecretStr | None,
        *,
        label: str = "",
        pkcs11: Pkcs11KeyRef | None = None,
        pin: SecretStr | None = None,
    ) -> SignerKey:
        """The first signing key (refused while an active key exists: use :meth:`rotate`)."""
        with self._locked():
            if self.trust().active is not None:
                msg = f"{self.directory} already has an active signing key: rotate it instead"
                raise ConflictError(msg)
            return self._add(passphrase, label=label, pkcs11=pkcs11, pin=pin)

    def rotate(
        self,
        passphrase: SecretStr | None,
        *,
        label: str = "",
        pkcs11: Pkcs11KeyRef | None = None,
        pin: SecretStr | None = None,
    ) -> SignerKey:
        """A new active key; the previous active key becomes ``retired`` (still verifies)."""
        with self._locked():
            trust = self.trust()
            old = trust.active
            if old is not None:
                self._write(trust.with_key(old.model_copy(update={"state": "retired"})))
            return self._add(passphrase, label=label, pkcs11=pkcs11, pin=pin)

    def revoke(self, key_id: str, *, reason: str) -> SignerKey:
        """Mark a key revoked (every signature it made is refused) and destroy its private PEM."""
        if not reason.strip():
            msg = "say why the key is revoked (it goes into the trust list and the audit log)"
            raise ConflictError(msg)
        with self._locked():
            trust = self.trust()
            matches = [k for k in trust.keys if k.key_id.startswith(key_id)] if len(key_id) >= 8 else []
            if len(matches) != 1:
                msg = f"no single signing key with id {key_id!r} in {self.directory}"
                raise NotFoundError(msg)
            revoked = matches[0].model_copy(
                update={"state": "revoked", "revoked_at": datetime.now(UTC), "reason": reason[:500]}
            )
            self._write(trust.with_key(revoked))
            (self.private_dir / f"{revoked.key_id}.pem").unlink(missing_ok=True)
            return revoked

    def _add(
        self,
        passphrase: SecretStr | None,
        *,
        label: str,
        pkcs11: Pkcs11KeyRef | None,
        pin: SecretStr | None,
    ) -> SignerKey:
        self.private_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if pkcs11 is not None:
            if pin is None:
                msg = "creating a key on a PKCS#11 token needs the token's PIN"
                raise CryptoError(msg)
            hsm_key = Pkcs11SigningKey.generate(pkcs11.library, pkcs11.token_label, pin, pkcs11.key_label)
            public = hsm_key.public_key()
            hsm_key.close()
            key_id = key_id_of(public_key_pem(public))
            atomic_write(self.private_dir / f"{key_id}.pkcs11.json", pkcs11.model_dump_json().encode())
            backend = "pkcs11"
        else:
            if passphrase is None or len(passphrase.get_secret_value()) < 12:
                msg = "a signing passphrase of at least 12 characters protects the private key at rest"
                raise CryptoError(msg)
            private = ec.generate_private_key(ec.SECP256R1())
            public = private.public_key()
            key_id = key_id_of(public_key_pem(public))
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(passphrase.get_secret_value().encode("utf-8")),
            )
            atomic_write(self.private_dir / f"{key_id}.pem", pem, mode=0o600)
            backend = "file"
        entry = SignerKey(key_id=key_id, public_key_pem=public_key_pem(public), label=label, backend=backend)
        self._write(self.trust().with_key(entry))
        return entry

    def _write(self, trust: SignerTrust) -> None:
        atomic_write(self.trust_file, trust.to_bytes(), mode=0o644)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """One writer at a time, across processes (the CLI beside a running server)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return exclusive_lock(self.directory / "writer")

    def describe(self) -> list[dict[str, str]]:
        """Rows for ``lineguard keys signing list`` (no key material)."""
        return [
            {
                "key_id": k.key_id,
                "label": k.label,
                "state": k.state,
                "backend": k.backend,
                "created_at": k.created_at.isoformat(),
                "revoked": json.dumps(k.reason) if k.state == "revoked" else "",
            }
            for k in self.entries()
        ]
