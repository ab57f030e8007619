"""The node-side identity pieces on their own: token format, key and certificate
storage, the renewal schedule."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import SecretStr

from lineguard.contracts.errors import InputError, IntegrityError
from lineguard.edge.identity import (
    EnrollmentToken,
    IdentityStore,
    NodeIdentityInfo,
    maybe_renew,
    needs_renewal,
)
from lineguard.server.pki import EnrollmentTokenText, PlantCa


def test_edge_parses_what_the_server_issues() -> None:
    issued = EnrollmentTokenText.generate("ab" * 32)
    parsed = EnrollmentToken.parse(str(issued))
    assert (parsed.token_id, parsed.ca_sha256, parsed.text) == (issued.token_id, "ab" * 32, str(issued))
    assert issued.secret not in repr(parsed)
    assert issued.secret not in repr(issued)


@pytest.mark.parametrize(
    "text", ["", "lgt1", "lgt1.x.y.z", "lgt2." + "a" * 16 + "." + "b" * 43 + "." + "c" * 64]
)
def test_malformed_tokens_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="malformed enrollment token"):
        EnrollmentToken.parse(text)


@pytest.fixture
def ca(tmp_path: Path) -> PlantCa:
    return PlantCa.create(tmp_path / "ca", SecretStr("a long enough passphrase"), site_id="plant-a")


def _issue(ca: PlantCa, store: IdentityStore, days: float, now: datetime | None = None) -> tuple[object, str]:
    key = store.generate_key()
    csr = x509.load_pem_x509_csr(store.csr_pem(key, "n1").encode())
    return key, ca.issue_node_certificate(csr, node_id="n1", days=days, now=now).pem


def test_key_and_certificate_are_stored_together_0600(ca: PlantCa, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "node")
    key, pem = _issue(ca, store, 7)
    info = NodeIdentityInfo("n1", "plant-a", "line-1", ["cam-1"], "https://127.0.0.1:8443")
    store.save(key=key, cert_pem=pem, ca_pem=ca.pem, info=info)  # type: ignore[arg-type]
    assert stat.S_IMODE(store.credentials_file.stat().st_mode) == 0o600
    assert store.enrolled
    assert store.info() == info
    assert store.load_key().public_key() == store.certificate().public_key()
    assert sorted(p.name for p in store.directory.iterdir()) == ["ca.crt.pem", "identity.json", "node.pem"]


def test_a_certificate_for_another_key_is_refused(ca: PlantCa, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "node")
    _, pem = _issue(ca, store, 7)
    other_key = store.generate_key()
    with pytest.raises(IntegrityError, match="different key"):
        store.save(key=other_key, cert_pem=pem, ca_pem=ca.pem)
    assert not store.credentials_file.exists()


def test_renewal_is_due_at_two_thirds_of_the_lifetime(ca: PlantCa, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "node")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    key, pem = _issue(ca, store, 9, now=start)
    store.save(key=key, cert_pem=pem, ca_pem=ca.pem)  # type: ignore[arg-type]
    cert = store.certificate()
    begins = cert.not_valid_before_utc
    lifetime = cert.not_valid_after_utc - begins
    assert not needs_renewal(cert, now=begins + lifetime * 0.66)
    assert needs_renewal(cert, now=begins + lifetime * 0.67)
    # Not due: nothing is contacted (there is no server at this URL).
    assert maybe_renew(tmp_path / "node", "https://127.0.0.1:9", now=start + timedelta(days=1)) is None


def test_a_renewal_key_is_kept_until_its_certificate_is_saved(ca: PlantCa, tmp_path: Path) -> None:
    """The same key on every try (a lost answer is asked for again with it), a fresh one once it
    is the current key (stopped between the save and the clean-up) or unreadable."""
    store = IdentityStore(tmp_path / "node")
    key, pem = _issue(ca, store, 7)
    store.save(key=key, cert_pem=pem, ca_pem=ca.pem)  # type: ignore[arg-type]
    pending = store.pending_renewal_key()
    assert stat.S_IMODE(store.pending_key_file.stat().st_mode) == 0o600
    assert store.pending_renewal_key().public_key() == pending.public_key()  # the retry's key

    csr = x509.load_pem_x509_csr(store.csr_pem(pending, "n1").encode())
    store.save(key=pending, cert_pem=ca.issue_node_certificate(csr, node_id="n1", days=7).pem, ca_pem=ca.pem)
    fresh = store.pending_renewal_key()  # the file was not removed: it is the current key now
    assert fresh.public_key() not in (pending.public_key(), key.public_key())  # type: ignore[attr-defined]

    store.pending_key_file.write_bytes(b"-----BEGIN PRIVATE KEY-----\ntruncated")
    assert store.pending_renewal_key().public_key() != fresh.public_key()
    store.clear_pending_renewal_key()
    assert not store.pending_key_file.exists()
