"""The server's own TLS certificate, kept current by the running processes themselves.

Every process of the plant server (each worker, each replica, on one shared
``data_dir``) serves ``ca/server.crt.pem``, and its listener takes a replaced pair at the
next handshake (``server/tls/reload.py``). It used to be issued only at start (and by
``lineguard ca retire``): a server running longer than the certificate's 397 days served
an expired one, and a pair left behind by a retirement that did not finish stayed on a
CA no longer trusted. Now each process looks (:class:`ServerCertificateKeeper`, from the
domain's loop every few seconds; a cheap look: one ``stat`` per file, the certificate
parsed only when a file changed):

* :func:`server_certificate_due` says why the pair must be re-issued, or ``None``:
  missing, unreadable or mismatched (key and certificate of different pairs), other
  host names than ``pki.server_names``, an issuer no longer trusted (a retired CA), or
  less than :data:`RENEW_BEFORE` left.
* :func:`renew_server_certificate` re-issues it **once for the whole process set**: under
  the PostgreSQL advisory transaction lock :data:`ISSUE_LOCK` (replicas on other hosts
  sharing the ``data_dir`` volume) and an exclusive ``flock`` of
  ``ca/server.crt.pem.lock`` (the processes of one host; ``lineguard ca retire`` takes
  both as well), the verdict is taken again; the first process
  re-issues, the others find the new pair current and write nothing. Key and certificate
  are two files, so two writers interleaving could leave a key of one pair beside the
  certificate of another; the lock is what rules that out.
* The issuer: during a CA rotation's overlap the *previous* CA (every node, renewed or
  not, still trusts it: ``rotation.py``), otherwise the current one. After ``ca retire``
  the previous CA is not trusted, so a pair of it is due at once and re-issued by the
  current CA: no process keeps serving an old-CA certificate.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr
from sqlalchemy import Engine

from lineguard.contracts.audit import ServerCertificateRenewed
from lineguard.contracts.errors import CryptoError
from lineguard.crypto import FilesSignature, exclusive_lock, files_signature
from lineguard.server.pki.ca import PlantCa, signing_process
from lineguard.server.pki.files import CaPaths, ca_paths, certificate_fingerprint, read_certificate
from lineguard.server.storage import transaction_lock

__all__ = [
    "ISSUE_LOCK",
    "RENEW_BEFORE",
    "ServerCertificateKeeper",
    "database_issue_lock",
    "renew_server_certificate",
    "server_certificate_due",
]

log = logging.getLogger(__name__)

#: Re-issue the server certificate when less than this is left of it.
RENEW_BEFORE = timedelta(days=30)
#: The advisory-lock name replicas on PostgreSQL take to re-issue the server certificate.
ISSUE_LOCK = "pki-server-certificate-issue"

Reason = Literal["missing", "unreadable", "key-mismatch", "names", "untrusted-issuer", "expiring"]

#: A lock held around the re-check and the writes (the database's, or none on SQLite).
DatabaseLock = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class _Pair:
    cert: x509.Certificate | None
    reason: Reason | None  # a verdict that does not depend on the clock


def _read_pair(paths: CaPaths, ca: PlantCa, names: list[str]) -> _Pair:
    try:
        cert_pem, key_pem = paths.server_cert.read_bytes(), paths.server_key.read_bytes()
    except FileNotFoundError:
        return _Pair(None, "missing")
    except OSError:  # a permission, a folder in its place: replacing the pair is what mends it
        return _Pair(None, "unreadable")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # (a key of a curve or type we cannot load)
        return _Pair(None, "unreadable")
    if key.public_key() != cert.public_key():
        return _Pair(cert, "key-mismatch")
    if _names(cert) != {_normal(n) for n in names}:
        return _Pair(cert, "names")
    if not any(cert.issuer == c.subject and _signed_by(cert, c) for c in ca.trusted):
        return _Pair(cert, "untrusted-issuer")
    return _Pair(cert, None)


def _normal(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {_normal(str(n.value)) for n in san}


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def server_certificate_due(
    paths: CaPaths, ca: PlantCa, *, names: list[str], now: datetime, renew_before: timedelta = RENEW_BEFORE
) -> Reason | None:
    """Why the server's key and certificate must be re-issued now, or ``None`` if they are current."""
    pair = _read_pair(paths, ca, names)
    if pair.reason is not None or pair.cert is None:
        return pair.reason or "missing"
    return "expiring" if pair.cert.not_valid_after_utc - now < renew_before else None


def _issuer(data_dir: Path, passphrase: SecretStr, ca: PlantCa) -> PlantCa:
    """The CA that signs the server certificate: the previous one while a rotation overlaps."""
    if ca.previous is None:
        return ca
    return PlantCa.load_previous(data_dir, passphrase)


@contextlib.contextmanager
def _no_database_lock() -> Iterator[None]:
    yield


def database_issue_lock(engine: Engine) -> DatabaseLock:
    """:data:`ISSUE_LOCK` held in a transaction of its own on PostgreSQL (replicas on several
    hosts); nothing on SQLite, whose processes share one host and the ``flock``."""

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        if engine.dialect.name != "postgresql":
            yield
            return
        with engine.connect() as connection, connection.begin():
            transaction_lock(connection, ISSUE_LOCK)
            yield

    return hold


def renew_server_certificate(
    data_dir: Path,
    passphrase: SecretStr,
    load: Callable[[], PlantCa],
    *,
    names: list[str],
    database_lock: DatabaseLock | None = None,
    days: float = 397,
    renew_before: timedelta = RENEW_BEFORE,
    now: datetime | None = None,
) -> ServerCertificateRenewed | None:
    """Re-issue the server certificate if it is due, once across every process; the event, or None.

    ``load`` reads the CA as it is on disk now (inside the lock, so a rotation that
    happened meanwhile is seen). The caller audits the returned event.
    """
    paths = ca_paths(data_dir)
    # Always the database's lock first, then the file's: ``lineguard ca retire`` takes them in
    # this order too (server.admin.retire_ca), so the two never wait on each other.
    with (database_lock or _no_database_lock)(), exclusive_lock(paths.server_cert):
        ca = load()
        now = now or datetime.now(UTC)
        reason = server_certificate_due(paths, ca, names=names, now=now, renew_before=renew_before)
        if reason is None:
            return None  # another process re-issued it while this one waited for the lock
        previous = _current_fingerprint(paths)
        issuer = _issuer(data_dir, passphrase, ca)
        issued = issuer.issue_server_certificate(data_dir, names=names, days=days)
    log.warning(
        "server TLS certificate re-issued (%s): sha256 %s by CA sha256 %s, valid until %s",
        reason,
        issued.fingerprint_sha256[:16],
        issuer.fingerprint_sha256[:16],
        issued.not_after.isoformat(),
    )
    return ServerCertificateRenewed(
        reason=reason,
        fingerprint_sha256=issued.fingerprint_sha256,
        previous_fingerprint_sha256=previous,
        issuer_fingerprint_sha256=issuer.fingerprint_sha256,
        not_after=issued.not_after,
        server_names=list(names),
        issued_by=signing_process(),
    )


def _current_fingerprint(paths: CaPaths) -> str | None:
    """The certificate being replaced, for the audit entry; None if there was none readable."""
    try:
        return certificate_fingerprint(read_certificate(paths.server_cert, "server"))
    except CryptoError:
        return None


class ServerCertificateKeeper:
    """One process's look at the server certificate; :meth:`due` is cheap enough for every few seconds.

    The files are parsed again only when one of them (or the CA in use) changed; in
    between, only the expiry is compared with the clock.
    """

    def __init__(self, data_dir: Path, names: list[str], *, renew_before: timedelta = RENEW_BEFORE) -> None:
        self._paths = ca_paths(data_dir)
        self._names = list(names)
        self._renew_before = renew_before
        self._seen: tuple[FilesSignature, str] | None = None
        self._pair = _Pair(None, "missing")
        #: A renewal this process wrote but could not audit yet (``scheduled.py`` retries it).
        self.unaudited: ServerCertificateRenewed | None = None

    def due(self, ca: PlantCa, *, now: datetime | None = None) -> Reason | None:
        seen = (
            files_signature(self._paths.server_cert, self._paths.server_key),
            ca.fingerprint_sha256 + "".join(certificate_fingerprint(c) for c in ca.trusted),
        )
        if seen != self._seen:
            self._pair, self._seen = _read_pair(self._paths, ca, self._names), seen
        if self._pair.reason is not None or self._pair.cert is None:
            return self._pair.reason or "missing"
        left = self._pair.cert.not_valid_after_utc - (now or datetime.now(UTC))
        return "expiring" if left < self._renew_before else None
