"""Every check of the package verifier, each failing on its own bad input with its own name."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from lineguard.contracts.errors import InputError, ModelError, SignatureError
from lineguard.signing import (
    CHECKS,
    KeyVerifier,
    SignerTrust,
    TrustListVerifier,
    VerificationError,
    signature_path_for,
)
from lineguard.signing.keystore import SigningKeyStore
from lineguard.signing.sign import sign_package
from lineguard.vision.testing import build_tiny_package
from tests.unit.signing.conftest import PASSPHRASE, Signed


def check_of(signed: Signed, trust: SignerTrust | None = None) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        TrustListVerifier(trust or signed.store.trust()).verify(signed.package_dir)
    assert caught.value.check in CHECKS
    assert isinstance(caught.value, SignatureError)  # one hierarchy: contracts.errors
    assert caught.value.message.startswith(f"check '{caught.value.check}' failed: ")
    return caught.value


def flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_signed_package_verifies(signed: Signed) -> None:
    verified = TrustListVerifier(signed.store.trust()).verify(signed.package_dir)
    assert verified.key_id == signed.key.key_id
    assert verified.digest == signed.digest
    assert set(verified.files) == {"model.onnx", "metadata.json"}
    assert signed.signature == signed.package_dir.with_name("pkg.sig")  # beside, not inside
    assert sorted(p.name for p in signed.package_dir.iterdir()) == ["metadata.json", "model.onnx"]


def test_the_bundle_is_the_openssf_format_and_verifies_with_model_signing_itself(signed: Signed) -> None:
    from model_signing import verifying

    bundle = json.loads(signed.signature.read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == signed.key.key_id
    assert bundle["verificationMaterial"]["tlogEntries"] == []  # no transparency log
    key_file = signed.package_dir.parent / "key.pub.pem"
    key_file.write_text(signed.key.public_key_pem)
    verifying.Config().use_elliptic_key_verifier(public_key=key_file).verify(
        signed.package_dir, signed.signature
    )


def test_unsigned(signed: Signed) -> None:
    signed.signature.unlink()
    assert check_of(signed).check == "unsigned"


@pytest.mark.parametrize("content", [b"", b"not json", b'{"mediaType": "x"}', b"\xff\xfe" * 20])
def test_signature_format(signed: Signed, content: bytes) -> None:
    signed.signature.write_bytes(content)
    assert check_of(signed).check == "signature_format"


def test_unknown_key(signed: Signed, tmp_path: Path) -> None:
    other = SigningKeyStore(tmp_path / "other")
    other.create(PASSPHRASE)
    sign_package(signed.package_dir, other.load_signing_key(PASSPHRASE))
    error = check_of(signed)
    assert error.check == "unknown_key"
    assert "not in the trust list" in error.message
    with pytest.raises(VerificationError, match="expected key") as caught:
        KeyVerifier(signed.key.public_key).verify(signed.package_dir)
    assert caught.value.check == "unknown_key"


def test_revoked_key(signed: Signed) -> None:
    signed.store.revoke(signed.key.key_id, reason="token lost")
    error = check_of(signed)
    assert error.check == "revoked_key"
    assert "token lost" in error.message


def test_retired_key_still_verifies_what_it_signed(signed: Signed) -> None:
    signed.store.rotate(PASSPHRASE, label="next")
    assert signed.store.trust().get(signed.key.key_id).state == "retired"  # type: ignore[union-attr]
    TrustListVerifier(signed.store.trust()).verify(signed.package_dir)


def test_forged_signature_bytes(signed: Signed) -> None:
    """The envelope's signature is altered (the key hint still names a trusted key)."""
    bundle = json.loads(signed.signature.read_text())
    raw = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[10] ^= 0x01
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    signed.signature.write_text(json.dumps(bundle))
    assert check_of(signed).check == "signature"


def test_swapped_payload(signed: Signed, tmp_path: Path) -> None:
    """The signed statement of another package pasted into this bundle: signature fails."""
    other = build_tiny_package(tmp_path / "other", gray_level=0.7)
    sign_package(other.path, signed.store.load_signing_key(PASSPHRASE))
    mine = json.loads(signed.signature.read_text())
    theirs = json.loads(signature_path_for(other.path).read_text())
    mine["dsseEnvelope"]["payload"] = theirs["dsseEnvelope"]["payload"]
    signed.signature.write_text(json.dumps(mine))
    assert check_of(signed).check == "signature"


@pytest.mark.parametrize("name", ["model.onnx", "metadata.json"])
def test_one_flipped_byte(signed: Signed, name: str) -> None:
    flip(signed.package_dir / name)
    error = check_of(signed)
    assert error.check == "tampered"
    assert f"{name}: signed sha256" in error.message


def test_an_added_file(signed: Signed) -> None:
    (signed.package_dir / "extra.bin").write_bytes(b"surprise")
    error = check_of(signed)
    assert error.check == "tampered"
    assert "extra.bin: present, but not signed" in error.details


def test_a_missing_file(signed: Signed) -> None:
    (signed.package_dir / "metadata.json").unlink()
    error = check_of(signed)
    assert error.check == "tampered"
    assert "metadata.json: signed, but missing" in error.details


def test_not_a_directory(signed: Signed) -> None:
    shutil.rmtree(signed.package_dir)
    assert check_of(signed).check == "package"


def test_an_empty_trust_list_is_an_error_not_a_pass() -> None:
    with pytest.raises(VerificationError, match="holds no signing keys"):
        TrustListVerifier(SignerTrust())


def test_signing_refuses_invalid_packages_and_signatures_inside_them(signed: Signed) -> None:
    key = signed.store.load_signing_key(PASSPHRASE)
    with pytest.raises(InputError, match="outside the package"):
        sign_package(signed.package_dir, key, signature_path=signed.package_dir / "x.sig")
    (signed.package_dir / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match="unexpected files"):
        sign_package(signed.package_dir, key)
