"""Rotating the plant CA: a new CA beside the old, an overlap, then the old one retired.

::

    lineguard ca rotate   ca.* = new CA (issues from now on), previous.* = old CA
                          trust.pem = new + old; server.crt.pem still from the old CA
          │   overlap: running processes re-read ca/ within seconds (server/pki/live.py,
          │   server/tls/reload.py) and trust both; nodes renew through the usual path
          │   (POST /nodes/renew, at once when told: nodes/hint) and get a new-CA
          │   certificate and trust.pem
          ▼
    lineguard ca retire   server.crt.pem re-issued by the new CA; trust.pem = new only;
                          old certificate moved to retired/, old key deleted;
                          running processes serve the new certificate and refuse
                          old-CA ones from their next look at ca/ on, no restart

The server's TLS certificate stays with the old CA during the overlap because a node
trusts only what it pinned until it renews; once every node holds the bundle, the new
CA may serve. Retirement is refused while an active node still holds a certificate of
the old CA (checked in the database by ``server.admin.retire_ca``), since
that node could no longer connect: it would have to be enrolled again.

Every new CA gets its own subject name (its start time in the common name) so a TLS
stack choosing an issuer by name never confuses the two during the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.crypto import exclusive_lock
from lineguard.server.pki.ca import PlantCa
from lineguard.server.pki.files import BACKDATE, ca_paths, certificate_fingerprint, new_ca, write_replacing

__all__ = [
    "CaRotation",
    "retire_previous_ca",
    "rotation_started_at",
    "start_ca_rotation",
    "write_trust_bundle",
]


@dataclass(frozen=True)
class CaRotation:
    """What a rotation step did: the CA that issues now and the one it concerns."""

    current_fingerprint: str
    previous_fingerprint: str


def rotation_started_at(ca: PlantCa) -> datetime:
    """When the CA that issues now started issuing (``ca rotate``, or ``ca init`` for the first)."""
    return ca.certificate.not_valid_before_utc + BACKDATE


def write_trust_bundle(data_dir: Path, ca: PlantCa) -> Path:
    """Write ``trust.pem`` (the CAs a connection may chain to) atomically; its path."""
    path = ca_paths(data_dir).trust_bundle
    write_replacing(path, ca.trust_pem.encode("ascii"))
    return path


def start_ca_rotation(
    data_dir: Path, passphrase: SecretStr, *, site_id: str, now: datetime | None = None
) -> CaRotation:
    """Make a new CA the issuer and keep the current one trusted beside it (the overlap).

    :class:`ConflictError` while a rotation is still overlapping (retire it first);
    :class:`~lineguard.contracts.errors.CryptoError` for a wrong passphrase (nothing written).
    """
    paths = ca_paths(data_dir)
    old = PlantCa.load(data_dir, passphrase)  # proves the passphrase before anything moves
    if old.previous is not None:
        msg = (
            f"a CA rotation is already overlapping (previous CA sha256 "
            f"{certificate_fingerprint(old.previous)}): run `lineguard ca retire` first"
        )
        raise ConflictError(msg)
    now = now or datetime.now(UTC)
    _, cert, encrypted = new_ca(
        passphrase, common_name=f"LineGuard plant CA {site_id} {now:%Y-%m-%dT%H%M%SZ}"
    )
    # trust.pem (new + old) first, so a running process that sees the new issuer already
    # trusts what it issues (server/pki/live.py re-reads the directory). Then new files,
    # then renames: a crash leaves either the old CA in place (with a stray next.*) or
    # the rotation complete.
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    write_replacing(paths.trust_bundle, cert_pem + old.pem.encode("ascii"))
    next_key, next_cert = paths.directory / "next.key.pem", paths.directory / "next.crt.pem"
    write_replacing(next_key, encrypted)
    write_replacing(next_cert, cert_pem)
    paths.key.replace(paths.previous_key)
    paths.cert.replace(paths.previous_cert)
    next_key.replace(paths.key)
    next_cert.replace(paths.cert)
    rotated = PlantCa.load(data_dir, passphrase)
    return CaRotation(rotated.fingerprint_sha256, certificate_fingerprint(old.certificate))


def retire_previous_ca(data_dir: Path, passphrase: SecretStr, *, server_names: list[str]) -> CaRotation:
    """End the overlap: the new CA serves, the previous one is trusted no more.

    The server certificate is re-issued by the new CA; the previous CA's certificate is
    kept under ``retired/`` (it still verifies what it signed), its key deleted.
    :class:`NotFoundError` when no rotation is overlapping.
    """
    paths = ca_paths(data_dir)
    ca = PlantCa.load(data_dir, passphrase)
    if ca.previous is None:
        msg = (
            "no CA rotation is overlapping: there is no previous CA to retire "
            "(`lineguard ca rotate` starts one)"
        )
        raise NotFoundError(msg)
    retired = certificate_fingerprint(ca.previous)
    with exclusive_lock(paths.server_cert):  # a running process may be re-issuing it (server_cert.py)
        ca.issue_server_certificate(data_dir, names=server_names)
    # The key goes first: stopped between the two steps, ``previous.crt.pem`` is still in
    # place, so ``ca retire`` runs again and finishes; the other order left the old CA's
    # key behind for good, with nothing pointing at it.
    paths.previous_key.unlink(missing_ok=True)
    paths.retired.mkdir(mode=0o700, exist_ok=True)  # (server/file_modes.py checks the tree)
    paths.previous_cert.replace(paths.retired / f"{retired}.crt.pem")
    write_trust_bundle(data_dir, PlantCa.load(data_dir, passphrase))
    return CaRotation(ca.fingerprint_sha256, retired)
