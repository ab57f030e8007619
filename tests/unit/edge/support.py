"""Helpers shared by the edge node's tests: configs, a throwaway PKI, an enrolled node."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from lineguard.config.edge import EdgeConfig
from lineguard.crypto import KdfParams, Keyring, keyring_path
from lineguard.edge.evidence import EvidenceStore
from lineguard.edge.identity import IdentityStore, NodeIdentityInfo

PASSPHRASE = "edge-test-passphrase-0123"
PASS_ENV = "LINEGUARD_EDGE_KEK_PASSPHRASE"


def edge_config_doc(data_dir: Path, cameras: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """An edge config as the YAML document a CLI command reads (``yaml.safe_dump`` it)."""
    doc: dict[str, Any] = {
        "kind": "edge",
        "node": {"node_id": "node-1", "site_id": "plant-a", "line_id": "line-1", "data_dir": str(data_dir)},
        "cameras": cameras,
        "metrics": {"enabled": False},
    }
    doc.update(extra)
    return doc


def edge_config(data_dir: Path, cameras: list[dict[str, Any]], **extra: Any) -> EdgeConfig:
    return EdgeConfig.model_validate(edge_config_doc(data_dir, cameras, **extra))


#: Cameras built here without an ROI inspect and keep the whole (synthetic, person-free) frame.
WHOLE_FRAME = {"full_frame": True, "full_frame_purpose": "unit tests: the synthetic frame is the part"}


def camera(camera_id: str, model: Path, source: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    if "roi" not in extra and "evidence" not in extra:
        extra["evidence"] = WHOLE_FRAME
    return {
        "camera_id": camera_id,
        "station_id": "st-10",
        "source": source or {"type": "synthetic", "width": 320, "height": 240, "fps": 30},
        "model": str(model),
        **extra,
    }


def wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout_s`` (a generous wait for a
    loaded machine, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def precreate_keyring(data_dir: Path) -> None:
    """A keyring with cheap KDF parameters, so subprocess nodes start fast."""
    Keyring.create(keyring_path(data_dir), SecretStr(PASSPHRASE), kdf=KdfParams.insecure_for_tests())


def evidence_store(data_dir: Path, passphrase: str = PASSPHRASE) -> EvidenceStore:
    """A node's evidence store with cheap KDF parameters (retention 90 / 90 / 7 days)."""
    return EvidenceStore(
        data_dir,
        node_id="node-1",
        passphrase=SecretStr(passphrase),
        retention_days={"fail": 90, "uncertain": 90, "pass": 7},
        kdf=KdfParams.insecure_for_tests(),
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    ip: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class PlantPki:
    """A plant CA, a server certificate for 127.0.0.1, and node enrollment into a data dir."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = _cert("test-plant-ca", self.ca_key, "test-plant-ca", self.ca_key, ca=True)
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(_pem(self.ca_cert))
        server_key = ec.generate_private_key(ec.SECP256R1())
        self.server_cert_file = directory / "server.pem"
        self.server_key_file = directory / "server.key"
        self.server_cert_file.write_bytes(
            _pem(_cert("server", server_key, "test-plant-ca", self.ca_key, ip="127.0.0.1"))
        )
        self.server_key_file.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def client_files(self, directory: Path, node_id: str) -> tuple[Path, Path]:
        """A node's client certificate and key as PEM files (for raw TLS clients in tests)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert_file, key_file = directory / f"{node_id}.pem", directory / f"{node_id}.key"
        cert_file.write_bytes(_pem(_cert(node_id, key, "test-plant-ca", self.ca_key)))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_file, key_file

    def enroll(self, data_dir: Path, node_id: str, server_url: str) -> None:
        key = IdentityStore.generate_key()
        cert = _cert(node_id, key, "test-plant-ca", self.ca_key)
        IdentityStore(data_dir).save(
            key=key,
            cert_pem=_pem(cert).decode(),
            ca_pem=_pem(self.ca_cert).decode(),
            info=NodeIdentityInfo(
                node_id=node_id, site_id="plant-a", line_id="line-1", camera_ids=[], server_url=server_url
            ),
        )
