"""The plant CA: an EC P-256 key encrypted at rest and a self-signed CA certificate.

Its files under ``data_dir/ca/`` and how they are written are in :mod:`.files`.

Node certificates carry the node id as common name and as the SAN URI
``urn:lineguard:node:<node_id>``, the clientAuth extended key usage only, and a random
serial that the server records; an unrecorded serial is refused even if the CA signed it.

Plant certificates (the enterprise roll-up's CA signing a plant's CSR) are a profile of
their own: O="LineGuard plant", the SAN URI ``urn:lineguard:plant:<plant_id>`` and the
certificate policy :data:`PLANT_CERTIFICATE_POLICY`, which no node certificate carries;
:func:`is_plant_certificate` is what the roll-up checks before it looks a plant up.

Replica certificates authenticate one server process to another on the internal
evidence-view relay (``server/evidence_views/peers.py``): O="LineGuard replica", the SAN
of the process's internal address plus ``urn:lineguard:replica:<replica_id>``, both
serverAuth and clientAuth, and the policy :data:`REPLICA_CERTIFICATE_POLICY`. Each process
issues its own at start, keeps the key in memory only, and :func:`is_replica_certificate`
is what the relay checks, so a node (or plant) certificate of the same CA is refused there.

A process on a host that is not a CA issuer (``server/pki/role.py``) holds a
:class:`PlantCa` without its key (:meth:`PlantCa.load_public`): the certificates to trust
and hand out, nothing to sign with; every ``issue_*`` then raises
:class:`~lineguard.contracts.certificates.IssuerUnavailableError`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import ConflictError, CryptoError, InputError, NotFoundError
from lineguard.server.pki.files import (
    BACKDATE,
    CaPaths,
    ca_paths,
    certificate_fingerprint,
    new_ca,
    read_certificate,
    write_replacing,
)
from lineguard.server.pki.profiles import (
    PLANT_CERTIFICATE_POLICY,
    REPLICA_CERTIFICATE_POLICY,
    REPLICA_ORGANIZATION,
    node_uri,
    plant_uri,
    replica_uri,
)

__all__ = ["IssuedCertificate", "PlantCa", "ReplicaCredentials", "checked_csr_key", "signing_process"]


def signing_process() -> str:
    """``host:pid`` of this process: what the audit log names as the signer of a certificate.

    With the CA key on every replica, any process may sign; this says which one did (a
    replica host later found compromised: which certificates came from it).
    """
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


@dataclass(frozen=True)
class ReplicaCredentials:
    """A replica's relay key and certificate, PEM, held in memory (never written by the CA)."""

    key_pem: bytes = field(repr=False)
    cert_pem: bytes


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    serial_hex: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


class PlantCa:
    """Holds the CA key in memory while the server runs; never writes it unencrypted.

    ``certificate`` is the CA that issues (the new one from ``lineguard ca rotate`` on);
    ``previous`` the CA it replaced, still trusted until ``lineguard ca retire``;
    ``serving`` the one that issued the server's TLS certificate (the previous CA until
    retirement, so nodes that pinned it keep connecting); ``retired`` CAs are trusted
    for no connection but still verify what they issued while current.
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | None,
        cert: x509.Certificate,
        *,
        previous: x509.Certificate | None = None,
        retired: tuple[x509.Certificate, ...] = (),
        serving: x509.Certificate | None = None,
    ) -> None:
        self._key = key
        self.certificate = cert
        self.fingerprint_sha256 = certificate_fingerprint(cert)
        self.previous = previous
        self.retired = retired
        self.serving = serving or cert

    @property
    def can_sign(self) -> bool:
        """Whether this process holds the CA key (an issuer host), or only its certificates."""
        return self._key is not None

    def _signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            msg = (
                "this server replica is not a plant CA issuer (LINEGUARD_PKI_ISSUER=false): it holds "
                "the CA certificates only and cannot sign"
            )
            raise IssuerUnavailableError(msg)
        return self._key

    @property
    def trusted(self) -> tuple[x509.Certificate, ...]:
        """The CAs a connection may chain to now: this one, and the previous one while it overlaps."""
        return (self.certificate,) if self.previous is None else (self.certificate, self.previous)

    @property
    def trust_pem(self) -> str:
        """:attr:`trusted` as one PEM bundle (what nodes keep as their ``ca.crt.pem``)."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.trusted)

    @property
    def serving_fingerprint(self) -> str:
        """What enrollment tokens pin: the CA the server's TLS certificate chains to."""
        return certificate_fingerprint(self.serving)

    def trusts_fingerprint(self, fingerprint: str) -> bool:
        return any(certificate_fingerprint(c) == fingerprint for c in self.trusted)

    def __repr__(self) -> str:
        return f"PlantCa(fingerprint={self.fingerprint_sha256[:16]}...)"

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    # -- creation and loading -------------------------------------------------------

    @classmethod
    def create(
        cls, data_dir: Path, passphrase: SecretStr, *, site_id: str, now: datetime | None = None
    ) -> PlantCa:
        paths = ca_paths(data_dir)
        if paths.key.exists() or paths.cert.exists():
            msg = f"a plant CA already exists in {paths.directory}; refusing to overwrite it"
            raise ConflictError(msg)
        key, cert, encrypted = new_ca(passphrase, common_name=f"LineGuard plant CA {site_id}", now=now)
        write_replacing(paths.key, encrypted)
        write_replacing(paths.cert, cert.public_bytes(serialization.Encoding.PEM))
        created = cls(key, cert)
        write_replacing(paths.trust_bundle, created.trust_pem.encode("ascii"))
        return created

    @classmethod
    def load(cls, data_dir: Path, passphrase: SecretStr) -> PlantCa:
        paths = ca_paths(data_dir)
        if not paths.key.exists() or not paths.cert.exists():
            msg = f"no plant CA in {paths.directory}: run `lineguard ca init --config server.yaml` first"
            raise NotFoundError(msg)
        key, cert = _key_pair(paths.key, paths.cert, passphrase, "CA")
        return cls(key, cert, **_others(paths, cert))

    @classmethod
    def load_public(cls, data_dir: Path) -> PlantCa:
        """The CA certificates only (current, previous, retired, serving), never the key.

        What a non-issuer process holds: it verifies and hands out certificates, and
        cannot sign. ``ca.key.pem`` is not opened (nor is a previous CA's key).
        """
        paths = ca_paths(data_dir)
        if not paths.cert.exists():
            msg = f"no plant CA certificate in {paths.directory}: run `lineguard ca init` on an issuer host"
            raise NotFoundError(msg)
        cert = read_certificate(paths.cert, "CA")
        return cls(None, cert, **_others(paths, cert))

    @classmethod
    def load_previous(cls, data_dir: Path, passphrase: SecretStr) -> PlantCa:
        """The previous CA, with its key, while a rotation overlaps: what signs the server
        certificate then (every node still trusts it). :class:`NotFoundError` otherwise."""
        paths = ca_paths(data_dir)
        if not paths.previous_key.exists() or not paths.previous_cert.exists():
            msg = f"no CA rotation is overlapping in {paths.directory}: there is no previous CA key"
            raise NotFoundError(msg)
        return cls(*_key_pair(paths.previous_key, paths.previous_cert, passphrase, "previous CA"))

    # -- issuing --------------------------------------------------------------------

    def _builder(
        self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime, days: float
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._signing_key().public_key()),
                critical=False,
            )
        )

    def _issued(self, cert: x509.Certificate) -> IssuedCertificate:
        return IssuedCertificate(
            cert,
            format(cert.serial_number, "x"),
            certificate_fingerprint(cert),
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
        )

    def issue_node_certificate(
        self, csr: x509.CertificateSigningRequest, *, node_id: str, days: float, now: datetime | None = None
    ) -> IssuedCertificate:
        """Sign a node's CSR; the subject is ours (the node id), not what the CSR asks for."""
        return self._issue_client(csr, "node", node_id, node_uri(node_id), None, days, now)

    def issue_plant_certificate(
        self, csr: x509.CertificateSigningRequest, *, plant_id: str, days: float, now: datetime | None = None
    ) -> IssuedCertificate:
        """Sign a plant's CSR with the plant profile (:data:`PLANT_CERTIFICATE_POLICY`)."""
        policy = x509.CertificatePolicies([x509.PolicyInformation(PLANT_CERTIFICATE_POLICY, None)])
        return self._issue_client(csr, "plant", plant_id, plant_uri(plant_id), policy, days, now)

    def _issue_client(
        self,
        csr: x509.CertificateSigningRequest,
        kind: str,
        subject_id: str,
        uri: str,
        policy: x509.CertificatePolicies | None,
        days: float,
        now: datetime | None,
    ) -> IssuedCertificate:
        public_key = checked_csr_key(csr, kind)
        now = now or datetime.now(UTC)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"LineGuard {kind}"),
                x509.NameAttribute(NameOID.COMMON_NAME, subject_id),
            ]
        )
        builder = (
            self._builder(subject, public_key, now, days)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(_leaf_key_usage(), critical=True)
        )
        if policy is not None:
            builder = builder.add_extension(policy, critical=False)
        cert = builder.sign(self._signing_key(), hashes.SHA256())
        return self._issued(cert)

    def issue_server_certificate(
        self, data_dir: Path, *, names: list[str], days: float = 397
    ) -> IssuedCertificate:
        """A TLS server key and certificate for ``names`` (DNS names or IP addresses)."""
        if not names:
            msg = "the server certificate needs at least one host name or IP address"
            raise InputError(msg)
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            self._builder(subject, key.public_key(), datetime.now(UTC), days)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(_leaf_key_usage(), critical=True)
            .sign(self._signing_key(), hashes.SHA256())
        )
        paths = ca_paths(data_dir)
        # Each file replaced whole; a listener re-reading them between the two renames finds
        # a key that does not match the certificate and keeps its current pair until the
        # next look (server/tls/reload.py).
        write_replacing(
            paths.server_key,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        write_replacing(paths.server_cert, cert.public_bytes(serialization.Encoding.PEM))
        return self._issued(cert)

    def issue_replica_certificate(
        self, *, replica_id: str, host: str, hours: float = 24 * 30
    ) -> ReplicaCredentials:
        """A fresh key and certificate for one server process's internal relay listener.

        ``host`` (an IP address or DNS name) is the address the other replicas dial; it is
        the certificate's SAN, so they verify the host name as any TLS client does.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._replica_certificate(key.public_key(), replica_id=replica_id, host=host, hours=hours)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return ReplicaCredentials(key_pem, cert.public_bytes(serialization.Encoding.PEM))

    def sign_replica_certificate(
        self, csr: x509.CertificateSigningRequest, *, replica_id: str, host: str, hours: float
    ) -> IssuedCertificate:
        """The relay certificate of a replica that holds no CA key, for the key in its CSR.

        Only the key comes from the CSR (checked: self-signed, EC P-256); the subject, SAN
        and profile are ours, from ``replica_id`` and ``host`` (``server/evidence_views/relay_certs.py``).
        """
        public_key = checked_csr_key(csr, "replica")
        return self._issued(
            self._replica_certificate(public_key, replica_id=replica_id, host=host, hours=hours)
        )

    def _replica_certificate(
        self, public_key: ec.EllipticCurvePublicKey, *, replica_id: str, host: str, hours: float
    ) -> x509.Certificate:
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, REPLICA_ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, replica_id),
            ]
        )
        policy = x509.CertificatePolicies([x509.PolicyInformation(REPLICA_CERTIFICATE_POLICY, None)])
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        return (
            self._builder(subject, public_key, datetime.now(UTC), hours / 24)
            .add_extension(
                x509.SubjectAlternativeName([name, x509.UniformResourceIdentifier(replica_uri(replica_id))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(_leaf_key_usage(), critical=True)
            .add_extension(policy, critical=False)
            .sign(self._signing_key(), hashes.SHA256())
        )

    def verify_issued(self, cert: x509.Certificate) -> None:
        """Raise unless ``cert`` was signed by this CA's key, or by a previous or retired one.

        Retired CAs count here: a node's certificate in an evidence statement signed while
        it was current stays verifiable (the caller also matches it against the recorded
        certificate, so a certificate forged with a retired key is still refused).
        """
        for issuer in (*self.trusted, *self.retired):
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return
        expected = "; ".join(c.subject.rfc4514_string() for c in (*self.trusted, *self.retired))
        msg = (
            f"certificate {format(cert.serial_number, 'x')} was not issued by this plant CA "
            f"(expected issuer {expected}, got {cert.issuer.rfc4514_string()})"
        )
        raise InputError(msg)


def checked_csr_key(csr: x509.CertificateSigningRequest, kind: str = "node") -> ec.EllipticCurvePublicKey:
    """The CSR's public key, once its self-signature verifies and it is EC P-256; else :class:`InputError`.

    What any process can check without the CA key: a non-issuer checks a node's CSR before
    forwarding it, the issuer checks it again before signing.
    """
    try:  # the CSR comes from the network: an unknown key or signature type is the client's error
        signature_valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        msg = f"CSR key or signature cannot be read: {exc}"[:300]
        raise InputError(msg) from None
    if not signature_valid:
        msg = "CSR signature does not verify against its public key (expected a self-signed CSR)"
        raise InputError(msg)
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        got = (
            public_key.curve.name
            if isinstance(public_key, ec.EllipticCurvePublicKey)
            else type(public_key).__name__
        )
        msg = f"{kind} key must be EC P-256 (secp256r1), got {got}"
        raise InputError(msg)
    return public_key


class _OtherCas(TypedDict):
    previous: x509.Certificate | None
    retired: tuple[x509.Certificate, ...]
    serving: x509.Certificate


def _others(paths: CaPaths, cert: x509.Certificate) -> _OtherCas:
    """The previous CA (a rotation overlapping), the retired ones, and the one serving TLS."""
    previous = read_certificate(paths.previous_cert, "previous CA") if paths.previous_cert.exists() else None
    retired = tuple(read_certificate(p, "retired CA") for p in sorted(paths.retired.glob("*.crt.pem")))
    serving = cert
    if previous is not None and paths.server_cert.exists():
        try:
            issuer = read_certificate(paths.server_cert, "server").issuer
        except CryptoError:
            # Re-issued by the previous CA while the overlap lasts (server_cert.py): every
            # node still trusts it, so it is the one that serves, and what tokens pin.
            issuer = previous.subject
        serving = previous if issuer == previous.subject else cert
    return {"previous": previous, "retired": retired, "serving": serving}


def _key_pair(
    key_path: Path, cert_path: Path, passphrase: SecretStr, what: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA key decrypted with ``passphrase`` and its certificate, checked to belong together."""
    try:
        key = serialization.load_pem_private_key(
            key_path.read_bytes(), password=passphrase.get_secret_value().encode()
        )
    except (ValueError, TypeError):
        msg = f"cannot decrypt the {what} key {key_path}: wrong passphrase or corrupt file"
        raise CryptoError(msg) from None
    cert = read_certificate(cert_path, what)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        msg = f"{what} key {key_path} does not match {what} certificate {cert_path}"
        raise CryptoError(msg)
    return key, cert


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
