"""Signing with a key that never leaves a PKCS#11 token (SoftHSM v2 as the HSM).

Each scenario runs in a fresh interpreter against this module's token
(:mod:`tests.support.softhsm` says why) and reports back as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.softhsm import in_fresh_process as run_in_fresh_process
from tests.support.softhsm import softhsm_token

PIN = "246810"
TOKEN = "lg-signing"


@pytest.fixture(scope="module")
def hsm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return softhsm_token(tmp_path_factory.mktemp("softhsm-signing"), label=TOKEN, pin=PIN, so_pin="13579")


def in_fresh_process(env: dict[str, str], body: str, **values: str) -> Any:
    return run_in_fresh_process(env, body, TOKEN=TOKEN, PIN=PIN, **values)


def test_an_hsm_key_signs_packages_the_standard_verifier_accepts(
    hsm_env: dict[str, str], tmp_path: Path
) -> None:
    result = in_fresh_process(
        hsm_env,
        """
        from pathlib import Path
        from pydantic import SecretStr
        from lineguard.signing import TrustListVerifier
        from lineguard.signing.keystore import Pkcs11KeyRef, SigningKeyStore
        from lineguard.signing.sign import Pkcs11SigningKey, sign_package
        from lineguard.vision.testing import build_tiny_package

        store = SigningKeyStore(Path(ROOT) / "signing")
        ref = Pkcs11KeyRef(library=LIB, token_label=TOKEN, key_label="qa-hsm-1")
        entry = store.create(None, label="hsm", pkcs11=ref, pin=SecretStr(PIN))
        key = store.load_signing_key(SecretStr("unused passphrase"), pin=SecretStr(PIN))
        package = build_tiny_package(Path(ROOT) / "pkg")
        signed = sign_package(package.path, key)
        verified = TrustListVerifier(store.trust()).verify(package.path)
        print(json.dumps({
            "backend": entry.backend, "hsm": isinstance(key, Pkcs11SigningKey),
            "pems": [p.name for p in store.private_dir.glob("*.pem")],
            "entry": entry.key_id, "signed": signed.key_id, "verified": verified.key_id,
        }))
        """,
        ROOT=str(tmp_path),
    )
    assert result["backend"] == "pkcs11" and result["hsm"] is True
    assert result["pems"] == []  # no private key material on disk
    assert result["entry"] == result["signed"] == result["verified"]
    # The standard model-signing verifier (a different process, no HSM) accepts the bundle too.
    from model_signing import verifying

    from lineguard.signing.keystore import SigningKeyStore

    trust = SigningKeyStore(tmp_path / "signing").trust()
    (tmp_path / "hsm.pub.pem").write_text(trust.keys[0].public_key_pem)
    verifying.Config().use_elliptic_key_verifier(public_key=tmp_path / "hsm.pub.pem").verify(
        tmp_path / "pkg", tmp_path / "pkg.sig"
    )


def test_the_private_key_stays_in_the_token(hsm_env: dict[str, str]) -> None:
    result = in_fresh_process(
        hsm_env,
        """
        import pkcs11
        from pydantic import SecretStr
        from lineguard.signing.sign import Pkcs11SigningKey

        key = Pkcs11SigningKey.generate(LIB, TOKEN, SecretStr(PIN), "qa-hsm-2")
        try:
            key._private[pkcs11.Attribute.VALUE]
            readable = True
        except pkcs11.PKCS11Error:
            readable = False
        print(json.dumps({
            "extractable": bool(key._private[pkcs11.Attribute.EXTRACTABLE]),
            "sensitive": bool(key._private[pkcs11.Attribute.SENSITIVE]),
            "readable": readable,
        }))
        """,
    )
    assert result == {"extractable": False, "sensitive": True, "readable": False}


def test_wrong_label_or_pin_is_a_clear_error(hsm_env: dict[str, str]) -> None:
    result = in_fresh_process(
        hsm_env,
        """
        from pydantic import SecretStr
        from lineguard.contracts.errors import CryptoError
        from lineguard.signing.sign import Pkcs11SigningKey

        messages = []
        for label, pin in (("no-such-key", PIN), ("qa-hsm-1", "000000")):
            try:
                Pkcs11SigningKey(LIB, TOKEN, SecretStr(pin), label)
            except CryptoError as exc:
                messages.append(exc.message)
        print(json.dumps(messages))
        """,
    )
    assert len(result) == 2
    assert "no single EC key pair" in result[0]
    assert "cannot open PKCS#11 token" in result[1]
