"""The PKCS#11 keyring against a real SoftHSM v2 token, and the KEK protocol for every implementation."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import (
    DataKeyStore,
    Envelope,
    KekProvider,
    KeyEncryptionKey,
    Keyring,
    dek_aad,
    rewrap_all,
)

SOFTHSM_LIB = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = SecretStr("123456")


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KekProvider]:
    if not SOFTHSM_LIB.exists() or shutil.which("softhsm2-util") is None:
        pytest.skip("needs SoftHSM v2 (apt-get install softhsm2) for a real PKCS#11 token")
    pytest.importorskip("pkcs11", reason="needs python-pkcs11")
    from lineguard.crypto.pkcs11 import Pkcs11Keyring

    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read once, when the library initialises
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "lineguard-test",
            "--pin",
            "123456",
            "--so-pin",
            "654321",
        ],
        check=True,
        capture_output=True,
    )
    keyring = Pkcs11Keyring(str(SOFTHSM_LIB), "lineguard-test", PIN)
    yield keyring
    keyring.close()


@pytest.fixture(params=["software", "pkcs11"])
def provider(request: pytest.FixtureRequest, keyring: Keyring) -> KekProvider:
    if request.param == "software":
        return keyring
    hsm: KekProvider = request.getfixturevalue("hsm")
    return hsm


def test_kek_conformance(provider: KekProvider) -> None:
    """Every KeyEncryptionKey implementation behaves the same."""
    kek = provider.active()
    assert isinstance(kek, KeyEncryptionKey)
    aad = dek_aad("dek_1", "c", "o")
    wrapped = kek.wrap(b"\x07" * 32, aad)
    assert b"\x07" * 32 not in wrapped
    assert kek.wrap(b"\x07" * 32, aad) != wrapped  # fresh nonce every time
    assert provider.get(kek.kek_id).unwrap(wrapped, aad) == b"\x07" * 32
    with pytest.raises(CryptoError, match="cannot unwrap"):
        kek.unwrap(wrapped, dek_aad("dek_2", "c", "o"))
    with pytest.raises(CryptoError):
        kek.unwrap(wrapped[:20], aad)
    with pytest.raises(CryptoError):
        provider.get("kek_unknown")
    assert "\x07" not in repr(kek)
    aads = [dek_aad(f"dek_{i}", "c", "o") for i in range(3)]
    many = kek.wrap_many([bytes([i]) * 32 for i in range(3)], aads)
    assert len({w[:12] for w in many}) == 3  # a nonce of its own per key
    assert [provider.get(kek.kek_id).unwrap(w, a) for w, a in zip(many, aads, strict=True)] == [
        bytes([i]) * 32 for i in range(3)
    ]
    with pytest.raises(CryptoError, match="associated data"):
        kek.wrap_many([b"\x07" * 32] * 2, aads[:1])


def test_envelope_and_rotation_on_the_token(hsm: KekProvider, store: DataKeyStore) -> None:
    from lineguard.crypto.pkcs11 import Pkcs11Keyring

    assert isinstance(hsm, Pkcs11Keyring)
    env = Envelope(hsm, store)
    sealed = env.seal(b"evidence", object_id="evd_1", category="evidence")
    old_id = hsm.active().kek_id
    new_id = hsm.rotate()
    assert hsm.active().kek_id == new_id
    report = rewrap_all(hsm, store, batch_size=10)
    assert report.rewrapped == 1
    with pytest.raises(CryptoError, match="only a retired KEK"):
        hsm.destroy(new_id)
    hsm.destroy(old_id)
    assert old_id not in hsm.kek_ids()
    assert env.open(sealed, object_id="evd_1", category="evidence") == b"evidence"


def test_wrong_pin_is_a_clear_error(hsm: KekProvider) -> None:
    from lineguard.crypto.pkcs11 import Pkcs11Keyring

    with pytest.raises(CryptoError, match="cannot open PKCS#11 token"):
        Pkcs11Keyring(str(SOFTHSM_LIB), "lineguard-test", SecretStr("000000"))
