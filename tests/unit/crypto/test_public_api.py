"""What ``lineguard.crypto`` exports is deliberate: the edge node and the server build on it."""

from __future__ import annotations

import lineguard.crypto as crypto

EXPORTED = {
    "DataKeyStore",
    "DecryptingReader",
    "EncryptingWriter",
    "Envelope",
    "FilesSignature",
    "KdfParams",
    "KekInfo",
    "KekProvider",
    "KeyEncryptionKey",
    "Keyring",
    "RewrapReport",
    "SealedHeader",
    "SoftwareKek",
    "SqliteDataKeyStore",
    "WrappedKey",
    "atomic_write",
    "b64d",
    "b64e",
    "canonical_json",
    "decrypt_stream",
    "dek_aad",
    "digest_json",
    "encrypt_stream",
    "exclusive_lock",
    "files_signature",
    "keyring_path",
    "parse_sealed",
    "read_digested",
    "rewrap_all",
    "utc_text",
    "write_digested",
}


def test_exports_are_pinned_and_importable() -> None:
    assert set(crypto.__all__) == EXPORTED
    for name in crypto.__all__:
        assert getattr(crypto, name) is not None


def test_importing_crypto_loads_neither_pkcs11_nor_the_web_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lineguard.crypto\n"
        "print(sorted(m for m in ('pkcs11', 'sqlalchemy', 'fastapi') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
