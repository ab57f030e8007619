"""The plant CA's files through a rotation, and the node's check of the CA bundle it is sent.

The journey with nodes over real TLS is tests/unit/server/nodes/test_ca_rotation.py.
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import SecretStr

from lineguard.contracts.errors import ConflictError, CryptoError, InputError, IntegrityError, NotFoundError
from lineguard.edge.identity import IdentityStore
from lineguard.edge.identity.enroll import MAX_TRUSTED_CAS, checked_ca_bundle
from lineguard.server.pki import (
    PlantCa,
    ca_paths,
    certificate_fingerprint,
    retire_previous_ca,
    start_ca_rotation,
)

PASSPHRASE = SecretStr("rotation test passphrase")


def _node_cert(ca: PlantCa, tmp_path: Path, node_id: str = "n1") -> x509.Certificate:
    store = IdentityStore(tmp_path / node_id)
    csr = x509.load_pem_x509_csr(store.csr_pem(store.generate_key(), node_id).encode())
    return ca.issue_node_certificate(csr, node_id=node_id, days=7).certificate


def _fingerprints(path: Path) -> list[str]:
    return [certificate_fingerprint(c) for c in x509.load_pem_x509_certificates(path.read_bytes())]


def test_rotate_then_retire_moves_trust_from_the_old_ca_to_the_new(tmp_path: Path) -> None:
    old = PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    old.issue_server_certificate(tmp_path, names=["127.0.0.1"])
    paths = ca_paths(tmp_path)
    # before any rotation the bundle is the CA alone (written at creation: listeners follow this file)
    assert paths.trust == paths.trust_bundle and _fingerprints(paths.trust) == [old.fingerprint_sha256]
    before = _node_cert(old, tmp_path, "before")

    done = start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    assert done.previous_fingerprint == old.fingerprint_sha256
    during = PlantCa.load(tmp_path, PASSPHRASE)
    assert during.fingerprint_sha256 == done.current_fingerprint != old.fingerprint_sha256
    assert during.certificate.subject != old.certificate.subject  # never confused by name
    assert during.previous is not None and certificate_fingerprint(during.previous) == old.fingerprint_sha256
    assert (
        during.serving_fingerprint == old.fingerprint_sha256
    )  # the server certificate is still the old CA's
    assert _fingerprints(paths.trust) == [done.current_fingerprint, old.fingerprint_sha256]
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.previous_key.stat().st_mode) == 0o600
    assert during.trusts_fingerprint(old.fingerprint_sha256) and during.trusts_fingerprint(
        done.current_fingerprint
    )
    new_cert = _node_cert(during, tmp_path, "during")
    assert new_cert.issuer == during.certificate.subject
    for cert in (before, new_cert):
        during.verify_issued(cert)
    with pytest.raises(ConflictError, match=r"already overlapping .* run `lineguard ca retire` first"):
        start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")

    retired = retire_previous_ca(tmp_path, PASSPHRASE, server_names=["127.0.0.1"])
    assert (retired.current_fingerprint, retired.previous_fingerprint) == (
        done.current_fingerprint,
        old.fingerprint_sha256,
    )
    after = PlantCa.load(tmp_path, PASSPHRASE)
    assert after.previous is None and after.serving_fingerprint == done.current_fingerprint
    assert not after.trusts_fingerprint(old.fingerprint_sha256)
    assert _fingerprints(paths.trust) == [done.current_fingerprint]
    assert not paths.previous_key.exists() and not paths.previous_cert.exists()  # the old key is gone
    assert (paths.retired / f"{old.fingerprint_sha256}.crt.pem").exists()
    server = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    assert server.issuer == after.certificate.subject
    after.verify_issued(before)  # what the retired CA signed stays verifiable (evidence history)
    with pytest.raises(NotFoundError, match="no CA rotation is overlapping"):
        retire_previous_ca(tmp_path, PASSPHRASE, server_names=["127.0.0.1"])
    stranger = PlantCa.create(tmp_path / "other", PASSPHRASE, site_id="plant-b")
    with pytest.raises(InputError, match="was not issued by this plant CA"):
        after.verify_issued(_node_cert(stranger, tmp_path, "stranger"))


def test_a_wrong_passphrase_rotates_nothing(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    paths = ca_paths(tmp_path)
    key, cert, trust = paths.key.read_bytes(), paths.cert.read_bytes(), paths.trust_bundle.read_bytes()
    with pytest.raises(CryptoError, match="wrong passphrase"):
        start_ca_rotation(tmp_path, SecretStr("not the passphrase"), site_id="plant-a")
    assert (paths.key.read_bytes(), paths.cert.read_bytes(), paths.trust_bundle.read_bytes()) == (
        key,
        cert,
        trust,
    )
    assert not paths.previous_cert.exists()


def test_a_retirement_stopped_half_way_leaves_no_old_key_behind_and_runs_again(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a").issue_server_certificate(
        tmp_path, names=["127.0.0.1"]
    )
    done = start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    paths = ca_paths(tmp_path)
    # Stop it between its two file steps: an old key that cannot be deleted (a folder in its place).
    paths.previous_key.unlink()
    (paths.previous_key / "held").mkdir(parents=True)
    with pytest.raises(OSError, match=r"previous\.key\.pem"):
        retire_previous_ca(tmp_path, PASSPHRASE, server_names=["127.0.0.1"])
    # The certificate stays while the key does: a retry finds the rotation and finishes it.
    # (Moved first, it left the old CA's key on disk with nothing pointing at it.)
    assert paths.previous_cert.exists()
    (paths.previous_key / "held").rmdir()
    paths.previous_key.rmdir()
    assert retire_previous_ca(tmp_path, PASSPHRASE, server_names=["127.0.0.1"]) == done
    assert not paths.previous_key.exists() and not paths.previous_cert.exists()
    assert (paths.retired / f"{done.previous_fingerprint}.crt.pem").exists()


def test_the_node_keeps_only_a_ca_bundle_that_makes_sense(tmp_path: Path) -> None:
    old = PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    ca = PlantCa.load(tmp_path, PASSPHRASE)
    issued = ca.issue_node_certificate(
        x509.load_pem_x509_csr(IdentityStore.csr_pem(IdentityStore.generate_key(), "n1").encode()),
        node_id="n1",
        days=7,
    ).pem
    kept = checked_ca_bundle(ca.trust_pem, issued=issued, pinned=old.pem)
    assert [certificate_fingerprint(c) for c in x509.load_pem_x509_certificates(kept.encode())] == [
        ca.fingerprint_sha256,
        old.fingerprint_sha256,
    ]
    with pytest.raises(IntegrityError, match="not PEM"):
        checked_ca_bundle("nothing", issued=issued)
    with pytest.raises(IntegrityError, match=f"sent {MAX_TRUSTED_CAS + 1} CA certificates, expected 1 to"):
        checked_ca_bundle(ca.pem * (MAX_TRUSTED_CAS + 1), issued=issued)
    with pytest.raises(IntegrityError, match="which is not a CA"):
        checked_ca_bundle(ca.pem + issued, issued=issued)
    with pytest.raises(IntegrityError, match="no CA in the server's bundle issued the node certificate"):
        checked_ca_bundle(old.pem, issued=issued)
    stranger = PlantCa.create(tmp_path / "other", PASSPHRASE, site_id="plant-a")
    with pytest.raises(IntegrityError, match="does not hold the plant CA the enrollment token pinned"):
        checked_ca_bundle(ca.pem, issued=issued, pinned=stranger.pem)


def test_a_lost_trust_bundle_is_rebuilt_with_both_cas_during_an_overlap(tmp_path: Path) -> None:
    """``trust.pem`` gone in an overlap (a partial restore): what a listener or relay (re)loads
    still trusts the previous CA, whose nodes and replicas are still connecting; it once fell
    back to ``ca.crt.pem``, the new CA alone."""
    PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    paths = ca_paths(tmp_path)
    paths.trust_bundle.unlink()
    assert _fingerprints(paths.trust) == [PlantCa.load(tmp_path, PASSPHRASE).fingerprint_sha256]  # no overlap

    done = start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    paths.trust_bundle.unlink()
    assert _fingerprints(paths.trust) == [done.current_fingerprint, done.previous_fingerprint]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_verify_locations(cafile=paths.trust)  # what the listeners and the relay do
    assert len(context.get_ca_certs()) == 2


def test_a_trust_bundle_is_not_rebuilt_from_an_unreadable_previous_ca(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    paths = ca_paths(tmp_path)
    paths.trust_bundle.unlink()
    paths.previous_cert.write_bytes(b"-----BEGIN CERTIFICATE-----\ntruncated")
    with pytest.raises(
        CryptoError, match=r"previous plant CA certificate .*previous\.crt\.pem is not a readable"
    ):
        _ = paths.trust
    assert not paths.trust_bundle.exists()  # nothing half-made for a TLS context to load
