"""``admit_certificate`` (the ingest route's driver-SQL lookup) against
``authenticate_certificate`` (the session lookup): the same node admitted, every refusal
the same error with the same message, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lineguard.contracts.errors import AuthenticationError
from lineguard.edge.identity import IdentityStore, enroll, renew
from lineguard.server.nodes import admit_certificate, authenticate_certificate
from tests.unit.server.conftest import Plant


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _self_signed(serial: int) -> str:
    """A certificate no CA of ours issued, with the serial we choose."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node-x")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    return _pem(cert)


def _enrolled(
    plant: Plant, data: Path, node_id: str, cameras: tuple[str, ...] = ("cam-1",)
) -> x509.Certificate:
    enroll(plant.url, plant.token(node_id, cameras=cameras), data)
    return IdentityStore(data).certificate()


def _both(plant: Plant, pem: str, now: datetime | None = None) -> tuple[object, object]:
    """What each lookup returns, or the error it raises (type and message)."""

    def outcome(lookup: Callable[[], object]) -> object:
        try:
            return lookup()
        except AuthenticationError as exc:
            return (type(exc), exc.message)

    with plant.session() as session:
        full = outcome(lambda: authenticate_certificate(session, cert_pem=pem, audit=plant.audit, now=now))
    return outcome(lambda: admit_certificate(plant.engine, cert_pem=pem, audit=plant.audit, now=now)), full


def test_an_active_node_is_admitted_as_the_session_lookup_admits_it(plant: Plant, tmp_path: Path) -> None:
    cert = _enrolled(plant, tmp_path / "a", "node-a", cameras=("cam-1", "cam-2"))
    admitted, full = _both(plant, _pem(cert))
    assert admitted == full
    assert admitted.node_id == "node-a"  # type: ignore[attr-defined]
    assert admitted.camera_ids == frozenset({"cam-1", "cam-2"})  # type: ignore[attr-defined]
    assert int(admitted.serial, 16) == cert.serial_number  # type: ignore[attr-defined]


def test_a_revoked_node_is_refused_with_the_same_message(plant: Plant, tmp_path: Path) -> None:
    pem = _pem(_enrolled(plant, tmp_path / "b", "node-b"))
    plant.revoke("node-b")
    admitted, full = _both(plant, pem)
    assert admitted == full == (AuthenticationError, "node node-b was revoked")


def test_a_superseded_certificate_is_refused_with_the_same_message(plant: Plant, tmp_path: Path) -> None:
    old = _pem(_enrolled(plant, tmp_path / "c", "node-c"))
    renew(tmp_path / "c")
    in_grace, full = _both(plant, old)  # the renewed one not presented yet: the old one still admits
    assert in_grace == full
    assert in_grace.node_id == "node-c"  # type: ignore[attr-defined]
    admitted_new, _ = _both(plant, _pem(IdentityStore(tmp_path / "c").certificate()))
    assert admitted_new.node_id == "node-c"  # type: ignore[attr-defined]  # the renewed one is
    admitted, full = _both(plant, old)  # ... and its first use retired the old one
    assert admitted == full
    assert isinstance(admitted, tuple)
    assert "was superseded or revoked at" in admitted[1]


def test_a_certificate_past_its_renewal_grace_is_refused_with_the_same_message(
    plant: Plant, tmp_path: Path
) -> None:
    old = _pem(_enrolled(plant, tmp_path / "g", "node-g"))
    renew(tmp_path / "g")  # the renewed certificate is never presented
    admitted, full = _both(plant, old, now=datetime.now(UTC) + timedelta(hours=25))  # default grace: 24 h
    assert admitted == full
    assert isinstance(admitted, tuple)
    assert "which was not presented before the renewal grace ended at" in admitted[1]


def test_a_serial_never_issued_is_refused_with_the_same_message(plant: Plant) -> None:
    admitted, full = _both(plant, _self_signed(x509.random_serial_number()))
    assert admitted == full
    assert isinstance(admitted, tuple)
    assert "was not issued to any enrolled node" in admitted[1]


def test_a_certificate_copying_an_issued_serial_is_refused_with_the_same_message(
    plant: Plant, tmp_path: Path
) -> None:
    issued = _enrolled(plant, tmp_path / "d", "node-d")
    admitted, full = _both(plant, _self_signed(issued.serial_number))
    assert admitted == full
    assert isinstance(admitted, tuple)
    assert "does not match the certificate issued with that serial" in admitted[1]


@pytest.mark.parametrize("offset", [timedelta(days=-3650), timedelta(days=3650)])
def test_outside_its_validity_a_certificate_is_refused_with_the_same_message(
    plant: Plant, tmp_path: Path, offset: timedelta
) -> None:
    pem = _pem(_enrolled(plant, tmp_path / "e", "node-e"))
    admitted, full = _both(plant, pem, now=datetime.now(UTC) + offset)
    assert admitted == full
    assert isinstance(admitted, tuple)
    assert " is valid from " in admitted[1]
