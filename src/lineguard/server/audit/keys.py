"""Open the configured audit checkpoint key: sealed under the keyring, or on the HSM."""

from __future__ import annotations

from collections.abc import Callable

from lineguard.config.server import ServerConfig
from lineguard.crypto import KekProvider
from lineguard.server.audit.pkcs11_signer import Pkcs11AuditSigner
from lineguard.server.audit.signing import AuditKey, AuditSigner

__all__ = ["open_audit_key"]


def open_audit_key(settings: ServerConfig, keys: Callable[[], KekProvider]) -> AuditKey:
    """The key ``keyring.audit_key`` names, created on first use, its public key published
    as ``data_dir/audit/signing-key.pub.pem``. ``keys`` opens the keyring; it is called
    only for the sealed key, so an HSM-held audit key needs no keyring passphrase."""
    directory = settings.data_dir / "audit"
    config = settings.keyring
    if config.audit_key == "pkcs11":
        assert config.pkcs11 is not None  # noqa: S101 - enforced by KeyringConfig
        hsm = Pkcs11AuditSigner(
            str(config.pkcs11.library),
            config.pkcs11.token_label,
            config.pkcs11.pin.resolve(),
            config.audit_key_label,
        )
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        hsm.publish(directory)
        return hsm
    return AuditSigner.load_or_create(directory, keys())
