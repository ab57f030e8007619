"""The plant CA's files under ``data_dir/ca/``, how they are written, and how a change is seen.

Files (mode 0600 for keys; the directory is private)::

    ca.key.pem       PKCS#8, encrypted with the CA passphrase (BestAvailableEncryption)
    ca.crt.pem       the CA certificate that issues now (nodes pin the serving one by sha256)
    server.key.pem   the server's TLS key (unencrypted: the listener reads it)
    server.crt.pem   issued by a plant CA for the configured host names
    trust.pem        every CA certificate a connection may chain to: the CA alone, or
                     during a rotation the new CA and the previous one (.rotation)
    previous.*.pem   the previous CA while a rotation overlaps (``lineguard ca rotate``)
    retired/         certificates of retired CAs: never trusted for a connection, kept
                     to verify what was signed while they were current

Every file is replaced whole (written beside, then renamed), so a process reading the
directory sees the old file or the new one, never half of one. :func:`ca_files_signature`
is the cheap change check running processes use to notice ``lineguard ca rotate`` and
``retire`` without a restart (:mod:`.live`, ``server/tls/reload.py``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError, InputError
from lineguard.crypto import FilesSignature, files_signature

__all__ = [
    "BACKDATE",
    "CA_VALIDITY",
    "CaPaths",
    "ca_files_signature",
    "ca_paths",
    "certificate_fingerprint",
    "new_ca",
    "read_certificate",
    "rebuild_trust_bundle",
    "write_replacing",
]

CA_VALIDITY = timedelta(days=3650)
#: Clock skew we tolerate between server and nodes when a certificate starts.
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class CaPaths:
    directory: Path
    key: Path
    cert: Path
    server_key: Path
    server_cert: Path
    previous_key: Path
    previous_cert: Path
    trust_bundle: Path
    retired: Path

    @property
    def trust(self) -> Path:
        """What TLS listeners verify clients and peers against (the CA alone before any rotation).

        ``trust.pem`` exists from ``lineguard ca init`` on (and is written at every server
        start for a CA made before it did). Where it is missing (a tree older than it, or the
        file lost: a partial restore, a slip of the hand) it is rebuilt from what is there:
        the CA, and the previous CA while a rotation overlaps. Falling back to ``ca.crt.pem``
        alone, as this once did, made every listener and relay that (re)loaded its trust
        during an overlap refuse the nodes and replicas still on the previous CA.
        """
        if not self.trust_bundle.exists():
            rebuild_trust_bundle(self)
        return self.trust_bundle


def ca_paths(data_dir: Path) -> CaPaths:
    d = data_dir / "ca"
    return CaPaths(
        d,
        d / "ca.key.pem",
        d / "ca.crt.pem",
        d / "server.key.pem",
        d / "server.crt.pem",
        d / "previous.key.pem",
        d / "previous.crt.pem",
        d / "trust.pem",
        d / "retired",
    )


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """sha256 of the DER encoding, lower-case hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def read_certificate(path: Path, what: str) -> x509.Certificate:
    """The PEM certificate in ``path`` (one of the CA files: ``what`` says which, for the message).

    A file that cannot be read or parsed (truncated by a full disk, overwritten, made
    unreadable) is a :class:`CryptoError` naming it: cryptography's bare ``ValueError``
    gave a traceback from every ``lineguard ca`` command and a server that did not start.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read the {what} certificate {path}: {exc.strerror or exc}"
        raise CryptoError(msg) from None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        msg = f"the {what} certificate {path} is not a readable PEM certificate (corrupt or truncated)"
        raise CryptoError(msg) from None


def write_replacing(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path`` whole: a private file beside it, flushed, then renamed over it.

    A failed write (a full disk, a rename refused) leaves ``path`` as it was and removes
    the file beside it: the keeper retries every few seconds, so left behind they piled up.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A name of its own: replicas starting together on one data_dir may write the same file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def rebuild_trust_bundle(paths: CaPaths) -> None:
    """Write ``trust.pem`` from the CA certificate, then the previous CA's when one overlaps
    (the order ``lineguard ca rotate`` writes). Each is parsed first: an unreadable one is a
    :class:`CryptoError` naming it, never a bundle a TLS context cannot load; nothing is
    written then, and a bundle that cannot be written is the OSError of the write."""
    certificates = [read_certificate(paths.cert, "plant CA")]
    if paths.previous_cert.exists():
        certificates.append(read_certificate(paths.previous_cert, "previous plant CA"))
    pem = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)
    write_replacing(paths.trust_bundle, pem)


def ca_files_signature(paths: CaPaths) -> FilesSignature:
    """The files a rotation or retirement replaces (the retired/ folder only grows with them)."""
    return files_signature(
        paths.key, paths.cert, paths.previous_cert, paths.trust_bundle, paths.server_cert, paths.server_key
    )


def new_ca(
    passphrase: SecretStr, *, common_name: str, now: datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, bytes]:
    """A fresh CA key, its self-signed certificate, and the key encrypted under ``passphrase``."""
    secret = passphrase.get_secret_value().encode()
    if len(secret) < 12:
        msg = f"the CA passphrase must be at least 12 characters, got {len(secret)}"
        raise InputError(msg)
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LineGuard"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )
    return key, cert, encrypted
