"""Where a service's key-encryption keys and audit checkpoint key live (``keyring``).

One section for every service that seals keys: the plant server (``server.yaml``) and
the enterprise roll-up (``enterprise.yaml``, with its own passphrase variable and key
label so the two never share a key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lineguard.config.secrets import SecretRef

__all__ = ["KeyringConfig", "Pkcs11Config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pkcs11Config(_Section):
    """A PKCS#11 token (HSM) holding the KEKs; they never leave it."""

    library: Path = Field(title="PKCS#11 module", description="Path of the vendor's PKCS#11 library (.so).")
    token_label: str = Field(min_length=1, max_length=32, description="Label of the token to use.")
    pin: SecretRef = Field(
        default=SecretRef(env="LINEGUARD_PKCS11_PIN"), description="User PIN of the token."
    )


class KeyringConfig(_Section):
    passphrase: SecretRef = Field(
        default=SecretRef(env="LINEGUARD_KEYRING_PASSPHRASE"),
        description="Protects the key-encryption keys of the server's keyring.",
    )
    backend: Literal["file", "pkcs11"] = Field(default="file", description="Where KEKs live.")
    pkcs11: Pkcs11Config | None = Field(
        default=None, description="Required when backend or audit_key is 'pkcs11'."
    )
    audit_key: Literal["sealed", "pkcs11"] = Field(
        default="sealed",
        title="Where the audit checkpoint key lives",
        description="'sealed': an Ed25519 key sealed under the keyring in data_dir/audit; 'pkcs11': a "
        "non-extractable Ed25519 key on the token of the 'pkcs11' section, which signs inside it "
        "(independent of where the KEKs live).",
    )
    audit_key_label: str = Field(
        default="lineguard-audit",
        min_length=1,
        max_length=64,
        description="CKA_LABEL of the audit key pair on the token (created on first use).",
    )

    @model_validator(mode="after")
    def _pkcs11_needs_token(self) -> KeyringConfig:
        if "pkcs11" in (self.backend, self.audit_key) and self.pkcs11 is None:
            msg = "backend or audit_key 'pkcs11' needs a 'pkcs11' section (library, token_label, pin)"
            raise ValueError(msg)
        return self
