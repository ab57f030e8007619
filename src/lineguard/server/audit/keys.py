"""Open the configured audit checkpoint key: sealed under the keyring, or on the HSM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lineguard.config.server import KeyringConfig, ServerConfig
from lineguard.crypto import KekProvider
from lineguard.crypto.provider import open_keyring
from lineguard.server.audit.pkcs11_signer import Pkcs11AuditSigner
from lineguard.server.audit.signing import AuditKey, AuditSigner

__all__ = ["open_audit_key", "open_checkpoint_key"]


def open_audit_key(settings: ServerConfig, keys: Callable[[], KekProvider]) -> AuditKey:
    """The plant server's key: :func:`open_checkpoint_key` of its ``keyring`` in ``data_dir/audit``."""
    return open_checkpoint_key(settings.keyring, data_dir=settings.data_dir, keys=keys)


def open_checkpoint_key(
    config: KeyringConfig, *, data_dir: Path, keys: Callable[[], KekProvider] | None = None
) -> AuditKey:
    """The key ``config.audit_key`` names, created on first use, its public key published
    as ``data_dir/audit/signing-key.pub.pem``. ``keys`` opens the keyring (default: the
    one ``config`` describes under ``data_dir``, created on first use); it is called only
    for the sealed key, so an HSM-held audit key needs no keyring passphrase.

    Every log that signs checkpoints opens its key here (the plant server, the
    enterprise roll-up), each with its own keyring section and ``data_dir``.
    """
    directory = data_dir / "audit"
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
    opened = keys() if keys is not None else open_keyring(config, data_dir, create=True)
    return AuditSigner.load_or_create(directory, opened)
