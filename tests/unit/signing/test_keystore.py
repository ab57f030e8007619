"""Signing keys: created encrypted, rotated (old signatures stay valid), revoked (private half destroyed)."""

from __future__ import annotations

import stat

import pytest
from pydantic import SecretStr

from lineguard.contracts.errors import ConflictError, ContractError, CryptoError, NotFoundError
from lineguard.signing import SignerKey, SignerTrust, key_id_of
from lineguard.signing.keystore import SigningKeyStore
from tests.unit.signing.conftest import PASSPHRASE, Signed


def test_keys_are_encrypted_at_rest_and_private(store: SigningKeyStore) -> None:
    key = store.create(PASSPHRASE, label="qa")
    pem = store.private_dir / f"{key.key_id}.pem"
    assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert b"PRIVATE" not in store.trust_file.read_bytes()
    assert key.key_id == key_id_of(key.public_key_pem)
    with pytest.raises(CryptoError, match="wrong signing passphrase"):
        store.load_signing_key(SecretStr("not the passphrase at all"))


def test_a_short_passphrase_is_refused(store: SigningKeyStore) -> None:
    with pytest.raises(CryptoError, match="at least 12"):
        store.create(SecretStr("short"))


def test_create_twice_is_a_conflict_rotate_retires(store: SigningKeyStore) -> None:
    first = store.create(PASSPHRASE)
    with pytest.raises(ConflictError, match="rotate"):
        store.create(PASSPHRASE)
    second = store.rotate(PASSPHRASE, label="2027")
    states = {k.key_id: k.state for k in store.entries()}
    assert states == {first.key_id: "retired", second.key_id: "active"}
    assert store.trust().active == second


def test_revoke_destroys_the_private_half(signed: Signed) -> None:
    revoked = signed.store.revoke(signed.key.key_id[:12], reason="laptop stolen")
    assert revoked.state == "revoked" and revoked.revoked_at is not None
    assert not (signed.store.private_dir / f"{revoked.key_id}.pem").exists()
    with pytest.raises(NotFoundError, match="no active signing key"):
        signed.store.load_signing_key(PASSPHRASE)
    with pytest.raises(ConflictError, match="revoked"):
        signed.store.load_signing_key(PASSPHRASE, key_id=revoked.key_id)
    with pytest.raises(ConflictError, match="say why"):
        signed.store.revoke(revoked.key_id, reason=" ")
    with pytest.raises(NotFoundError):
        signed.store.revoke("abc", reason="too short an id")


def test_trust_lists_refuse_private_keys_and_wrong_ids(signed: Signed) -> None:
    entry = signed.key.model_dump()
    with pytest.raises(ValueError, match="sha256"):
        SignerKey.model_validate({**entry, "key_id": "0" * 64})
    private = (signed.store.private_dir / f"{signed.key.key_id}.pem").read_text()
    with pytest.raises(ValueError, match="public keys only"):
        SignerKey.model_validate({**entry, "public_key_pem": private})
    for bad in (b"", b"[]", b'{"format": "other"}'):
        with pytest.raises(ContractError):
            SignerTrust.from_bytes(bad)
