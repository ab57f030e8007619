"""The server's own TLS certificate, re-issued by the running processes (``server/pki/server_cert.py``).

Real files, real CA keys; the running-server tests use real TLS listeners (uvicorn,
``ServerThread``) and, for two replicas, real PostgreSQL: two apps on one ``data_dir``
and one database, never restarted, each running the domain's loop.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AuditEvent, ServerCertificateRenewed
from lineguard.server.admin import ensure_server_certificate, load_ca
from lineguard.server.app import create_app
from lineguard.server.pki import (
    PlantCa,
    ServerCertificateKeeper,
    ca_paths,
    certificate_fingerprint,
    database_issue_lock,
    renew_server_certificate,
    retire_previous_ca,
    server_certificate_due,
    start_ca_rotation,
)
from lineguard.server.pki.scheduled import keep_server_certificate
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from lineguard.server.tls import ServerThread
from tests.support.server_yaml import PLANT_SERVER_NAMES, plant_server_config
from tests.support.waiting import until
from tests.unit.server.conftest import CA_PASSPHRASE, AuditTrail

NAMES = list(PLANT_SERVER_NAMES)


def _settings(data_dir: Path) -> ServerConfig:
    return ServerConfig.model_validate(plant_server_config(data_dir))


def _served(paths_dir: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca_paths(paths_dir).server_cert.read_bytes())


def _new_ca(data_dir: Path, *, server_days: float) -> PlantCa:
    ca = PlantCa.create(data_dir, CA_PASSPHRASE, site_id="plant-a")
    ca.issue_server_certificate(data_dir, names=NAMES, days=server_days)
    return ca


def _renew(data_dir: Path, **kwargs: object) -> ServerCertificateRenewed | None:
    return renew_server_certificate(
        data_dir,
        CA_PASSPHRASE,
        lambda: PlantCa.load(data_dir, CA_PASSPHRASE),
        names=NAMES,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_current_certificate_is_left_alone_and_an_expiring_one_is_reissued(tmp_path: Path) -> None:
    ca = _new_ca(tmp_path, server_days=397)
    paths = ca_paths(tmp_path)
    before = paths.server_cert.read_bytes()
    now = datetime.now(UTC)
    assert server_certificate_due(paths, ca, names=NAMES, now=now) is None
    assert _renew(tmp_path) is None
    assert paths.server_cert.read_bytes() == before  # nothing written

    assert server_certificate_due(paths, ca, names=NAMES, now=now + timedelta(days=370)) == "expiring"
    event = _renew(tmp_path, now=now + timedelta(days=370))
    assert event is not None
    assert event.reason == "expiring"
    assert event.previous_fingerprint_sha256 == certificate_fingerprint(
        x509.load_pem_x509_certificate(before)
    )
    assert event.issuer_fingerprint_sha256 == ca.fingerprint_sha256
    served = _served(tmp_path)
    assert event.fingerprint_sha256 == certificate_fingerprint(served)
    assert served.not_valid_after_utc - now > timedelta(days=396)
    key = serialization.load_pem_private_key(paths.server_key.read_bytes(), password=None)
    assert key.public_key() == served.public_key()


def test_each_reason_is_named(tmp_path: Path) -> None:
    ca = _new_ca(tmp_path, server_days=397)
    paths = ca_paths(tmp_path)
    now = datetime.now(UTC)
    assert server_certificate_due(paths, ca, names=["plant.example"], now=now) == "names"
    good_key = paths.server_key.read_bytes()
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    paths.server_key.write_bytes(other)
    assert server_certificate_due(paths, ca, names=NAMES, now=now) == "key-mismatch"
    paths.server_key.write_bytes(b"not a key")
    assert server_certificate_due(paths, ca, names=NAMES, now=now) == "unreadable"
    paths.server_key.write_bytes(good_key)
    stranger = PlantCa.create(tmp_path / "elsewhere", CA_PASSPHRASE, site_id="plant-b")
    assert server_certificate_due(paths, stranger, names=NAMES, now=now) == "untrusted-issuer"
    paths.server_key.unlink()
    assert server_certificate_due(paths, ca, names=NAMES, now=now) == "missing"
    event = _renew(tmp_path)
    assert event is not None
    assert event.reason == "missing"
    assert event.previous_fingerprint_sha256 is not None  # the certificate was there, its key was not


def _key_of_an_unsupported_curve() -> bytes:
    """A PKCS#8 EC key naming a curve cryptography does not load (UnsupportedAlgorithm)."""
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p256, unknown = bytes.fromhex("2a8648ce3d030107"), bytes.fromhex("2a8648ce3d030109")
    assert der.count(p256) == 1
    return _pem("PRIVATE KEY", der.replace(p256, unknown))


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode("ascii")


def test_a_pair_that_cannot_be_read_for_any_reason_is_reissued_not_an_error(tmp_path: Path) -> None:
    ca = _new_ca(tmp_path, server_days=397)
    paths = ca_paths(tmp_path)
    now = datetime.now(UTC)
    served = certificate_fingerprint(_served(tmp_path))
    good_key = paths.server_key.read_bytes()
    paths.server_key.unlink()
    paths.server_key.mkdir()  # read_bytes: IsADirectoryError (an OSError, as a permission refused is)
    assert server_certificate_due(paths, ca, names=NAMES, now=now) == "unreadable"
    paths.server_key.rmdir()
    paths.server_key.write_bytes(_key_of_an_unsupported_curve())  # UnsupportedAlgorithm
    assert server_certificate_due(paths, ca, names=NAMES, now=now) == "unreadable"
    event = _renew(tmp_path)
    assert event is not None
    assert event.reason == "unreadable"
    assert event.previous_fingerprint_sha256 == served  # the certificate itself was readable
    assert paths.server_key.read_bytes() != good_key
    assert server_certificate_due(paths, ca, names=NAMES, now=now) is None


def test_during_an_overlap_the_previous_ca_signs_and_after_retirement_the_new_one(tmp_path: Path) -> None:
    old = _new_ca(tmp_path, server_days=10)  # due: fewer than 30 days left
    rotation = start_ca_rotation(tmp_path, CA_PASSPHRASE, site_id="plant-a")
    event = _renew(tmp_path)
    assert event is not None
    assert event.reason == "expiring"
    # Every node, renewed or not, still trusts the previous CA: it keeps serving.
    assert event.issuer_fingerprint_sha256 == old.fingerprint_sha256
    assert _served(tmp_path).issuer == old.certificate.subject
    assert PlantCa.load(tmp_path, CA_PASSPHRASE).serving_fingerprint == old.fingerprint_sha256

    paths = ca_paths(tmp_path)
    old_pair = paths.server_cert.read_bytes(), paths.server_key.read_bytes()
    retire_previous_ca(tmp_path, CA_PASSPHRASE, server_names=NAMES)
    assert _renew(tmp_path) is None  # retire issued a new-CA pair itself
    # A backup restored after the retirement brings back the retired CA's pair: re-issued at once.
    paths.server_cert.write_bytes(old_pair[0])
    paths.server_key.write_bytes(old_pair[1])
    event = _renew(tmp_path)
    assert event is not None
    assert event.reason == "untrusted-issuer"
    assert event.issuer_fingerprint_sha256 == rotation.current_fingerprint
    assert (
        certificate_fingerprint(x509.load_pem_x509_certificate(paths.trust_bundle.read_bytes()))
        == rotation.current_fingerprint
    )


def test_the_keeper_reparses_only_after_a_change_and_still_sees_the_clock(tmp_path: Path) -> None:
    ca = _new_ca(tmp_path, server_days=397)
    keeper = ServerCertificateKeeper(tmp_path, NAMES)
    now = datetime.now(UTC)
    assert keeper.due(ca, now=now) is None
    assert keeper.due(ca, now=now + timedelta(days=380)) == "expiring"  # same files, later clock
    ca_paths(tmp_path).server_key.unlink()
    assert keeper.due(ca, now=now) == "missing"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_processes_due_at_once_reissue_one_pair(db_url: str, tmp_path: Path) -> None:
    """Six issuers (three 'replicas' of two workers: each its own engine on one PostgreSQL)."""
    _new_ca(tmp_path, server_days=10)
    engines = [create_engine_for(db_url) for _ in range(3)]
    events: list[ServerCertificateRenewed | None] = []
    start = threading.Barrier(6)

    def issuer(engine: Engine) -> None:
        start.wait()
        events.append(_renew(tmp_path, database_lock=database_issue_lock(engine)))

    threads = [threading.Thread(target=issuer, args=(engines[i % 3],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for engine in engines:
        engine.dispose()
    issued = [e for e in events if e is not None]
    assert len(events) == 6
    assert len(issued) == 1, [e.issued_by for e in issued]
    served = _served(tmp_path)
    assert issued[0].fingerprint_sha256 == certificate_fingerprint(served)
    key = serialization.load_pem_private_key(ca_paths(tmp_path).server_key.read_bytes(), password=None)
    assert key.public_key() == served.public_key()


# -- running servers -------------------------------------------------------------------------


def _presented(port: int, trust: Path) -> x509.Certificate:
    ctx = ssl.create_default_context(cafile=trust)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _eventually(what: str, check: Callable[[], bool], deadline_s: float = 40.0) -> None:
    until(check, deadline_s, what=what, every_s=0.25)


@pytest.fixture
def two_replicas(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, list[ServerThread], list[AuditTrail]]]:
    """Two running apps on one data_dir and one database, their server certificate 10 days from expiry."""
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE.get_secret_value())
    data_dir = tmp_path / "server"
    old = _new_ca(data_dir, server_days=10)
    settings = _settings(data_dir)
    paths, issued = ensure_server_certificate(settings, load_ca(settings))
    assert issued is not None  # the start-up path re-issues an expiring certificate too ...
    # ... so put the expiring one back: what a server that has run for a year would serve.
    old.issue_server_certificate(data_dir, names=NAMES, days=10)
    trails = [AuditTrail(), AuditTrail()]
    with ExitStack() as stack:
        servers = []
        for trail in trails:
            engine = create_engine_for(db_url)
            stack.callback(engine.dispose)
            app = create_app(
                settings, engine=engine, sealer=NoEncryption(), audit=trail, ca=load_ca(settings)
            )
            servers.append(
                stack.enter_context(
                    ServerThread(
                        app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust
                    )
                )
            )
        yield data_dir, servers, trails


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_running_replicas_renew_their_certificate_once_and_both_serve_it(
    two_replicas: tuple[Path, list[ServerThread], list[AuditTrail]],
) -> None:
    data_dir, servers, trails = two_replicas
    trust = ca_paths(data_dir).trust  # (the pair is 10 days from expiry as they start: the fixture)

    def renewed_everywhere() -> bool:
        return all(
            _presented(s.port, trust).not_valid_after_utc - datetime.now(UTC) > timedelta(days=396)
            for s in servers
        )

    _eventually("both replicas serve a renewed server certificate", renewed_everywhere)
    fingerprints = {certificate_fingerprint(_presented(s.port, trust)) for s in servers}
    assert fingerprints == {certificate_fingerprint(_served(data_dir))}
    renewals = [
        (event, actor)
        for t in trails
        for event, actor in zip(t.events, t.actors, strict=True)
        if event[0] == "pki.server_certificate_renewed"
    ]
    assert len(renewals) == 1, renewals
    assert renewals[0][0][1]["reason"] == "expiring"
    assert renewals[0][1] == "system:pki"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_after_a_retirement_no_replica_serves_a_certificate_of_the_retired_ca(
    two_replicas: tuple[Path, list[ServerThread], list[AuditTrail]],
) -> None:
    data_dir, servers, trails = two_replicas
    paths = ca_paths(data_dir)
    _eventually(
        "the expiring certificate renewed",
        lambda: _served(data_dir).not_valid_after_utc - datetime.now(UTC) > timedelta(days=396),
    )
    old_ca = PlantCa.load(data_dir, CA_PASSPHRASE)
    start_ca_rotation(data_dir, CA_PASSPHRASE, site_id="plant-a")
    time.sleep(5)  # two looks of every process: nothing is due during the overlap
    assert _served(data_dir).issuer == old_ca.certificate.subject
    old_pair = paths.server_cert.read_bytes(), paths.server_key.read_bytes()
    rotation = retire_previous_ca(data_dir, CA_PASSPHRASE, server_names=NAMES)
    # Put the retired CA's pair back (a restored backup) while both replicas run.
    paths.server_cert.write_bytes(old_pair[0])
    paths.server_key.write_bytes(old_pair[1])
    new_trust = paths.trust  # the new CA only

    def new_ca_everywhere() -> bool:
        try:
            return all(
                certificate_fingerprint(x509.load_pem_x509_certificate(new_trust.read_bytes()))
                == rotation.current_fingerprint
                and _presented(s.port, new_trust).issuer != old_ca.certificate.subject
                for s in servers
            )
        except ssl.SSLError:  # a replica still presents the retired CA's certificate
            return False

    _eventually("both replicas serve a certificate of the new CA", new_ca_everywhere)
    renewals = [e[1]["reason"] for t in trails for e in t.events if e[0] == "pki.server_certificate_renewed"]
    # The pair is put back in two writes: a process may look between them and find it
    # unreadable or mismatched before it finds the retired issuer; each look re-issues.
    assert "expiring" in renewals
    after_retirement = [r for r in renewals if r != "expiring"]
    assert after_retirement and set(after_retirement) <= {"untrusted-issuer", "key-mismatch", "unreadable"}


class _AuditFailingOnce(AuditTrail):
    """The audit log behind a database that drops its connection once (a failover, a restart)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def __call__(self, session: Session, event: AuditEvent, /, *, actor: str) -> None:
        if self.failures == 0:
            self.failures += 1
            msg = "the database went away"
            raise OperationalError("INSERT INTO audit_log", {}, Exception(msg))
        super().__call__(session, event, actor=actor)


def test_a_renewal_whose_audit_failed_is_audited_at_the_next_look(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE.get_secret_value())
    _new_ca(tmp_path, server_days=10)  # due: fewer than 30 days left
    settings = _settings(tmp_path)
    trail = _AuditFailingOnce()
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=trail, ca=load_ca(settings))
    context = app.state.lineguard  # the domain's loop, one look at a time (the app is not started)
    keeper = ServerCertificateKeeper(tmp_path, NAMES)
    with pytest.raises(OperationalError):
        keep_server_certificate(context, keeper)
    renewed_to = certificate_fingerprint(_served(tmp_path))
    assert trail.events == []  # written, not audited: the pair is current from now on
    assert keep_server_certificate(context, keeper) is None
    assert trail.names() == ["pki.server_certificate_renewed"]
    assert trail.events[0][1]["fingerprint_sha256"] == renewed_to
    assert trail.actors == ["system:pki"]
    assert keep_server_certificate(context, keeper) is None
    assert len(trail.events) == 1  # audited once
