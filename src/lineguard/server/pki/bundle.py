"""The CA bundle an MQTT broker verifies node certificates against, from ``ca/trust.pem``.

A broker that takes node certificates (``ingest.mqtt``, docs/server.md) must trust what
the server trusts: both plant CAs while a rotation overlaps, the new one alone after
``lineguard ca retire``. Its ``cafile`` usually also holds the CA of the server's own
broker client certificate, so it cannot simply point at ``trust.pem``.
``lineguard ca broker-cafile`` writes that file: the extra CAs first, then the plant's
trust bundle, each certificate once. Mosquitto 2.0 reads ``cafile`` only at start (a
SIGHUP does not reload it; checked with 2.0.11), so the broker is restarted after each
write; its persistent sessions and the nodes' outboxes lose nothing meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.server.pki.files import ca_paths, certificate_fingerprint, write_replacing

__all__ = ["broker_ca_bundle", "write_broker_cafile"]


def _ca_certificates(path: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise InputError(msg) from None
    except ValueError:
        msg = f"{path} holds no PEM certificate (expected one or more CA certificates)"
        raise InputError(msg) from None
    for cert in certs:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            msg = (
                f"{path} holds {cert.subject.rfc4514_string()[:200]}, which is not a CA certificate "
                "(expected basicConstraints CA:TRUE)"
            )
            raise InputError(msg)
    return certs


def broker_ca_bundle(data_dir: Path, *, also: Sequence[Path] = ()) -> tuple[bytes, list[str]]:
    """PEM of ``also``'s CA certificates then the plant's trusted CAs, each once; and their subjects."""
    trust = ca_paths(data_dir).trust
    if not trust.exists():
        msg = f"no plant CA trust bundle at {trust}: run `lineguard ca init` first"
        raise NotFoundError(msg)
    seen: set[str] = set()
    pem, subjects = b"", []
    for cert in [c for path in (*also, trust) for c in _ca_certificates(path)]:
        fingerprint = certificate_fingerprint(cert)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        pem += cert.public_bytes(serialization.Encoding.PEM)
        subjects.append(cert.subject.rfc4514_string())
    return pem, subjects


def write_broker_cafile(data_dir: Path, out: Path, *, also: Sequence[Path] = ()) -> list[str]:
    """Replace ``out`` whole with :func:`broker_ca_bundle` (mode 0644: CA certificates are
    public and the broker's user reads them); the subjects written.

    A missing folder is refused, not made: ``write_replacing`` would make it private
    (0700), and Mosquitto 2.0 reads ``cafile`` after dropping to its own user, so it could
    not reach the file; which user and mode the folder needs is the operator's to say.
    """
    if not out.parent.is_dir():
        msg = (
            f"the folder {out.parent} does not exist: create it readable by the broker's user "
            "(Mosquitto reads cafile after dropping privileges), then run this again"
        )
        raise InputError(msg)
    pem, subjects = broker_ca_bundle(data_dir, also=also)
    write_replacing(out, pem, 0o644)
    return subjects
