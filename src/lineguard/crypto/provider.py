"""Open the KEK provider a configuration describes: the passphrase keyring file or a PKCS#11 token."""

from __future__ import annotations

from pathlib import Path

from lineguard.config.server import KeyringConfig
from lineguard.contracts.errors import CryptoError
from lineguard.crypto.kdf import KdfParams
from lineguard.crypto.keyring import Keyring, keyring_path
from lineguard.crypto.pkcs11 import Pkcs11Keyring

__all__ = ["open_keyring"]


def open_keyring(
    config: KeyringConfig, data_dir: Path, *, create: bool = False, kdf: KdfParams | None = None
) -> Keyring | Pkcs11Keyring:
    """The configured KEK provider; ``create`` makes a new file keyring if none exists.

    Without ``create`` a missing keyring is an error: silently starting a fresh one
    would make every existing encrypted record unreadable.
    """
    if config.backend == "pkcs11":
        assert config.pkcs11 is not None  # noqa: S101 - enforced by KeyringConfig
        return Pkcs11Keyring(
            str(config.pkcs11.library), config.pkcs11.token_label, config.pkcs11.pin.resolve()
        )
    path = keyring_path(data_dir)
    passphrase = config.passphrase.resolve()
    if path.exists():
        return Keyring(path, passphrase)
    if not create:
        msg = f"no keyring at {path}: create one with `lineguard keys init --config ...`"
        raise CryptoError(msg)
    return Keyring.create(path, passphrase, kdf=kdf)
