"""Where a node keeps its identity under ``data_dir/identity/``::

    node.pem        the node's EC P-256 private key (generated here, never sent) followed
                    by its current client certificate from the plant CA; mode 0600
    ca.crt.pem      the plant CA certificate, pinned by the token's sha256
    renewal-key.pem the key a renewal in progress asks for (0600), until its certificate
                    is saved: a retry after a lost answer asks for the same key
    identity.json   node id, site, line, cameras and server URL as enrolled

Key and certificate share one file, replaced atomically (temp file, fsync, rename):
a crash during renewal leaves the old pair or the new pair, never a key with the
wrong certificate. An enrollment key exists only in memory until its certificate
arrives; a renewal key waits in ``renewal-key.pem`` (see :meth:`IdentityStore.pending_renewal_key`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lineguard.contracts.errors import ConfigError, CryptoError, IntegrityError

__all__ = ["IdentityStore", "NodeIdentityInfo"]


@dataclass(frozen=True)
class NodeIdentityInfo:
    node_id: str
    site_id: str
    line_id: str
    camera_ids: list[str]
    server_url: str


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class IdentityStore:
    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "identity"
        #: Private key + certificate (what ``SSLContext.load_cert_chain`` reads).
        self.credentials_file = self.directory / "node.pem"
        self.ca_file = self.directory / "ca.crt.pem"
        self.info_file = self.directory / "identity.json"
        #: Present when the server asked this node to renew now (a plant CA rotation).
        self.renewal_request_file = self.directory / "renew-requested"
        #: The key a renewal in progress asks a certificate for, until that certificate is
        #: saved: a retry after a lost answer asks for the same key and gets the same one.
        self.pending_key_file = self.directory / "renewal-key.pem"

    def __repr__(self) -> str:
        return f"IdentityStore({self.directory})"

    @property
    def enrolled(self) -> bool:
        return self.credentials_file.exists() and self.ca_file.exists()

    # -- key ------------------------------------------------------------------------

    @staticmethod
    def generate_key() -> ec.EllipticCurvePrivateKey:
        """A fresh key pair, held in memory until :meth:`save` writes it with its certificate."""
        return ec.generate_private_key(ec.SECP256R1())

    def load_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self.credentials_file.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            msg = f"cannot load the node key from {self.credentials_file}: {exc}"
            raise CryptoError(msg) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            msg = f"{self.credentials_file} holds a {type(key).__name__}, expected an EC P-256 key"
            raise CryptoError(msg)
        return key

    @staticmethod
    def csr_pem(key: ec.EllipticCurvePrivateKey, node_id: str) -> str:
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id)]))
            .sign(key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")

    # -- certificates and info ------------------------------------------------------

    def save(
        self,
        *,
        key: ec.EllipticCurvePrivateKey,
        cert_pem: str,
        ca_pem: str,
        info: NodeIdentityInfo | None = None,
    ) -> None:
        """Write the CA, then key + certificate in one atomic replace, then the info."""
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        if cert.public_key() != key.public_key():
            msg = "the certificate is for a different key than the one this node generated"
            raise IntegrityError(msg)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _atomic_write(self.ca_file, ca_pem.encode("ascii"), 0o644)
        _atomic_write(self.credentials_file, key_pem + cert_pem.encode("ascii"), 0o600)
        if info is not None:
            _atomic_write(self.info_file, json.dumps(asdict(info), indent=2).encode(), 0o644)

    def certificate(self) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(self.credentials_file.read_bytes())
        except (OSError, ValueError) as exc:
            msg = (
                f"no usable node certificate in {self.credentials_file} ({exc}); run `lineguard edge enroll`"
            )
            raise ConfigError(msg) from None

    def info(self) -> NodeIdentityInfo:
        try:
            data = json.loads(self.info_file.read_text(encoding="utf-8"))
            return NodeIdentityInfo(**data)
        except (OSError, ValueError, TypeError) as exc:
            msg = f"node is not enrolled: cannot read {self.info_file} ({exc}); run `lineguard edge enroll`"
            raise ConfigError(msg) from None

    def pending_renewal_key(self) -> ec.EllipticCurvePrivateKey:
        """The key of the renewal in progress: the one on disk, or a new one written first (0600).

        Written before the request leaves, so an answer lost on the way (the server signed,
        the node never heard) is asked for again with the same key, and the server answers
        with the certificate it already issued instead of a second one. A file that cannot
        be read as a P-256 key (a crash mid-write cannot leave one: the write is atomic) is
        replaced by a new key: the server then issues for that one. So is one that is
        already the current key (the node stopped between saving its renewed certificate
        and removing this file): reusing it would skip a key rotation.
        """
        try:
            key = serialization.load_pem_private_key(self.pending_key_file.read_bytes(), password=None)
        except (OSError, ValueError):  # none yet (FileNotFoundError), or unreadable
            key = None
        if (
            isinstance(key, ec.EllipticCurvePrivateKey)
            and isinstance(key.curve, ec.SECP256R1)
            and key.public_key() != self.certificate().public_key()
        ):
            return key
        fresh = self.generate_key()
        pem = fresh.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _atomic_write(self.pending_key_file, pem, 0o600)
        return fresh

    def clear_pending_renewal_key(self) -> None:
        self.pending_key_file.unlink(missing_ok=True)

    # -- the server's request to renew now -----------------------------------------

    @property
    def renewal_requested(self) -> bool:
        return self.renewal_request_file.exists()

    def request_renewal(self, reason: str) -> None:
        """Note that the server asked for a renewal now (a file, so every worker and a restart see it)."""
        if not self.renewal_request_file.exists():
            _atomic_write(self.renewal_request_file, reason[:64].encode("ascii", "replace"), 0o644)

    def clear_renewal_request(self) -> None:
        self.renewal_request_file.unlink(missing_ok=True)

    def not_after(self) -> datetime:
        return self.certificate().not_valid_after_utc.astimezone(UTC)
