"""Fuzz the update-path parsers and the package verifier: any input verifies or raises a
named check, never anything else — and a mutated signature or graph never verifies."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from lineguard.contracts.errors import ContractError
from lineguard.signing import CHECKS, Release, SignerTrust, TrustListVerifier, VerificationError
from lineguard.signing.keystore import SigningKeyStore
from lineguard.signing.sign import sign_package
from lineguard.vision.testing import build_tiny_package

PASS = SecretStr("fuzzing signing passphrase")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SignerTrust]:
    root = tmp_path_factory.mktemp("fuzz-signing")
    store = SigningKeyStore(root / "keys")
    store.create(PASS)
    package = build_tiny_package(root / "pkg").path
    sign_package(package, store.load_signing_key(PASS))
    return package, store.trust()


def _copy(package: Path, where: Path) -> Path:
    target = where / "pkg"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    shutil.copytree(package, target)
    shutil.copyfile(package.with_name("pkg.sig"), where / "pkg.sig")
    return target


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_signature_never_verifies(
    signed: tuple[Path, SignerTrust], tmp_path: Path, data: st.DataObject
) -> None:
    package = _copy(signed[0], tmp_path / "case")
    sig = package.with_name("pkg.sig")
    blob = bytearray(sig.read_bytes())
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= data.draw(st.integers(1, 255))
    sig.write_bytes(bytes(blob))
    try:
        TrustListVerifier(signed[1]).verify(package)
    except VerificationError as exc:
        assert exc.check in CHECKS
    else:
        # Only bytes the bundle does not cover may change (JSON whitespace, key order): still the same bundle.
        assert json.loads(bytes(blob)) == json.loads(signed[0].with_name("pkg.sig").read_bytes())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_graph_never_verifies(
    signed: tuple[Path, SignerTrust], tmp_path: Path, data: st.DataObject
) -> None:
    package = _copy(signed[0], tmp_path / "case")
    graph = package / "model.onnx"
    blob = bytearray(graph.read_bytes())
    blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
    graph.write_bytes(bytes(blob))
    with pytest.raises(VerificationError) as caught:
        TrustListVerifier(signed[1]).verify(package)
    assert caught.value.check == "tampered"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_release_documents_parse_or_fail_as_metadata(blob: bytes) -> None:
    try:
        Release.from_bytes(blob)
    except VerificationError as exc:
        assert exc.check == "metadata"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_trust_lists_parse_or_fail_as_contract_errors(blob: bytes) -> None:
    with contextlib.suppress(ContractError):
        SignerTrust.from_bytes(blob)
