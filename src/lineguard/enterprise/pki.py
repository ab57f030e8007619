"""The roll-up's CA: it issues each plant the client certificate the plant sends with.

The same building block as a plant's CA (:class:`~lineguard.server.pki.PlantCa`: an EC
P-256 key encrypted with a passphrase, files under ``data_dir/ca/``), kept by the
roll-up, never by a plant. A plant makes its own key and a CSR
(:func:`plant_request`); the roll-up signs it with the plant profile
(``PlantCa.issue_plant_certificate``: O="LineGuard plant", the plant policy OID, the
plant id as the subject) and
records the certificate's sha256 as the one it accepts from that plant
(:func:`enrol_plant`). The key never leaves the plant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.audit import EnterprisePlantEnrolled
from lineguard.contracts.errors import InputError
from lineguard.enterprise import service
from lineguard.enterprise.audit import record
from lineguard.server.pki import CaPaths, IssuedCertificate, PlantCa, ca_paths

__all__ = ["PlantRequest", "enrol_plant", "init_enterprise_ca", "plant_request", "service_tls"]


def init_enterprise_ca(config: EnterpriseServiceConfig) -> tuple[PlantCa, IssuedCertificate]:
    """Create the roll-up's CA and its TLS server certificate for ``server_names``."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    ca = PlantCa.create(config.data_dir, config.ca_passphrase.resolve(), site_id="enterprise roll-up")
    return ca, ca.issue_server_certificate(config.data_dir, names=list(config.server_names))


def service_tls(config: EnterpriseServiceConfig) -> CaPaths:
    """The CA and server certificate files the listener uses (made by ``init_enterprise_ca``)."""
    paths = ca_paths(config.data_dir)
    missing = [str(p) for p in (paths.cert, paths.server_cert, paths.server_key) if not p.exists()]
    if missing:
        msg = "the roll-up has no CA yet: run `lineguard enterprise init --config enterprise.yaml`"
        raise InputError(msg, details=[f"missing: {m}" for m in missing])
    return paths


def enrol_plant(
    config: EnterpriseServiceConfig,
    sessions: sessionmaker[Session],
    *,
    plant_id: str,
    csr_pem: bytes,
    actor: str,
) -> IssuedCertificate:
    """Sign ``plant_id``'s CSR and accept that certificate from it from now on (audited)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        msg = "the plant's request is not a PEM certificate signing request"
        raise InputError(msg) from None
    ca = PlantCa.load(config.data_dir, config.ca_passphrase.resolve())
    issued = ca.issue_plant_certificate(csr, plant_id=plant_id, days=config.certificate_days)
    with sessions.begin() as session:
        service.enrol_plant(session, plant_id=plant_id, fingerprint=issued.fingerprint_sha256)
        record(
            session,
            EnterprisePlantEnrolled(plant_id=plant_id, fingerprint=issued.fingerprint_sha256),
            actor=actor,
        )
    return issued


@dataclass(frozen=True, slots=True)
class PlantRequest:
    key_file: Path
    csr_file: Path


def plant_request(out_dir: Path, *, plant_id: str) -> PlantRequest:
    """On the plant: a new EC P-256 key (0600) and a CSR for ``plant_id``; refuses to overwrite a key."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key_file, csr_file = out_dir / "enterprise.key.pem", out_dir / "enterprise.csr.pem"
    if key_file.exists():
        msg = f"{key_file} exists; refusing to replace the plant's roll-up key"
        raise InputError(msg)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, plant_id)]))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file.touch(mode=0o600)
    key_file.write_bytes(pem)
    csr_file.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return PlantRequest(key_file=key_file, csr_file=csr_file)
