"""The trust list: which model-signing public keys a verifier accepts, and which are revoked.

A key is named by its **key id**, the sha256 of its SubjectPublicKeyInfo PEM: exactly
the ``verificationMaterial.publicKey.hint`` that model-signing writes into every
signature bundle, so a verifier finds the key a signature claims without trying each.

States: ``active`` (signs new packages; exactly one at a time), ``retired`` (replaced
by rotation; signatures it made stay valid) and ``revoked`` (compromised or withdrawn:
every signature it ever made is refused, whatever its date). The list holds public
keys only; it is what the server publishes to nodes through TUF (``signers.json``),
so a revocation reaches every node with the next metadata refresh.

File format (JSON)::

    {"format": "lineguard-model-signers", "version": 1,
     "keys": [{"key_id": "<64 hex>", "public_key_pem": "-----BEGIN PUBLIC KEY-----…",
               "label": "qa-2026", "state": "active" | "retired" | "revoked",
               "created_at": "…Z", "revoked_at": null | "…Z", "reason": "",
               "backend": "file" | "pkcs11"}]}
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lineguard.contracts.errors import ContractError, InputError, NotFoundError

__all__ = [
    "SIGNERS_FORMAT",
    "SignerKey",
    "SignerTrust",
    "key_id_of",
    "load_public_key",
    "public_key_pem",
]

SIGNERS_FORMAT = "lineguard-model-signers"
_SUPPORTED_CURVES = {"secp256r1", "secp384r1", "secp521r1"}
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def public_key_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id_of(key: ec.EllipticCurvePublicKey | str) -> str:
    """sha256 hex of the key's SubjectPublicKeyInfo PEM (model-signing's key hint)."""
    pem = key if isinstance(key, str) else public_key_pem(key)
    return hashlib.sha256(pem.encode("ascii")).hexdigest()


def load_public_key(pem: str | bytes) -> ec.EllipticCurvePublicKey:
    """An EC public key from PEM; :class:`InputError` for anything else."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        msg = f"not a PEM public key: {exc}"
        raise InputError(msg) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _SUPPORTED_CURVES:
        msg = f"model signing keys are EC P-256/384/521, got {type(key).__name__}"
        raise InputError(msg)
    return key


class SignerKey(BaseModel):
    """One public key of the trust list and its state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: KeyId
    public_key_pem: str = Field(max_length=4096)
    label: str = Field(default="", max_length=128)
    state: Literal["active", "retired", "revoked"] = "active"
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    revoked_at: datetime | None = None
    reason: str = Field(default="", max_length=500)
    backend: Literal["file", "pkcs11"] = "file"

    @field_validator("public_key_pem")
    @classmethod
    def _is_public_key(cls, value: str) -> str:
        if "PRIVATE" in value:
            msg = "a trust list holds public keys only"
            raise ValueError(msg)
        load_public_key(value)
        return value

    def model_post_init(self, _context: object) -> None:
        if key_id_of(self.public_key_pem) != self.key_id:
            msg = (
                f"key_id {self.key_id} is not the sha256 of the key's PEM ({key_id_of(self.public_key_pem)})"
            )
            raise ValueError(msg)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return load_public_key(self.public_key_pem)


class SignerTrust(BaseModel):
    """The whole trust list (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["lineguard-model-signers"] = "lineguard-model-signers"
    version: Literal[1] = 1
    keys: tuple[SignerKey, ...] = ()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "trust list") -> SignerTrust:
        try:
            return cls.model_validate(json.loads(data))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"{source} is not valid JSON: {exc}"
            raise ContractError(msg) from None
        except ValidationError as exc:
            details = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
            msg = f"{source} is not a {SIGNERS_FORMAT} document"
            raise ContractError(msg, details=details) from None

    def to_bytes(self) -> bytes:
        return (self.model_dump_json(indent=2) + "\n").encode("utf-8")

    def get(self, key_id: str) -> SignerKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def require(self, key_id: str) -> SignerKey:
        key = self.get(key_id)
        if key is None:
            msg = f"no signing key {key_id[:16]}… in the trust list"
            raise NotFoundError(msg)
        return key

    @property
    def active(self) -> SignerKey | None:
        return next((k for k in self.keys if k.state == "active"), None)

    def with_key(self, key: SignerKey) -> SignerTrust:
        """This list with ``key`` added (or replaced, by key id)."""
        others = tuple(k for k in self.keys if k.key_id != key.key_id)
        return self.model_copy(update={"keys": (*others, key)})
