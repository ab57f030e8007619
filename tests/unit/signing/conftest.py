"""Fixtures of the signing tests: a key store with one active key and a signed tiny package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from lineguard.signing.keystore import SigningKeyStore
from lineguard.signing.sign import sign_package
from lineguard.signing.trust import SignerKey
from lineguard.vision.testing import build_tiny_package

PASSPHRASE = SecretStr("a signing passphrase for tests")


@dataclass
class Signed:
    store: SigningKeyStore
    key: SignerKey
    package_dir: Path
    signature: Path
    digest: str


@pytest.fixture
def store(tmp_path: Path) -> SigningKeyStore:
    return SigningKeyStore(tmp_path / "signing")


@pytest.fixture
def signed(store: SigningKeyStore, tmp_path: Path) -> Signed:
    key = store.create(PASSPHRASE, label="qa-2026")
    package = build_tiny_package(tmp_path / "models" / "pkg")
    result = sign_package(package.path, store.load_signing_key(PASSPHRASE))
    return Signed(store, key, package.path, result.signature_path, package.digest)
