"""``enroll``: first contact with the plant server.

1. Fetch the CA certificate from ``/api/v1/enroll/ca``. This one request cannot yet
   verify the server, so its answer is trusted only if its sha256 equals the hash in
   the token (a network attacker cannot produce a certificate with that hash).
2. Generate the node key (0600) and a CSR; post it with the token, now over TLS that
   verifies the server against the pinned CA (and its host name).
3. Store the certificate, the CA and what the server bound this node to.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from lineguard.contracts.errors import AuthenticationError, IntegrityError, LineGuardError
from lineguard.edge.identity.store import IdentityStore, NodeIdentityInfo
from lineguard.edge.identity.token import EnrollmentToken

__all__ = [
    "API",
    "MAX_TRUSTED_CAS",
    "checked_ca_bundle",
    "enroll",
    "fetch_pinned_ca",
    "raise_for_server_error",
]

API = "/api/v1"


def raise_for_server_error(response: httpx.Response, what: str) -> None:
    """Turn an error response of the server into the matching LineGuard error."""
    if response.is_success:
        return
    try:
        body = response.json()
        message = f"{what}: {body.get('message', response.text)}"
    except ValueError:
        message = f"{what}: HTTP {response.status_code}"
    error_type = AuthenticationError if response.status_code in {401, 403} else LineGuardError
    error = error_type(message)
    error.http_status = response.status_code  # type: ignore[misc]
    raise error


def fetch_pinned_ca(server_url: str, ca_sha256: str, *, timeout_s: float = 10.0) -> str:
    """The plant CA certificate (PEM), verified against the expected sha256."""
    # The only unverified TLS request: what it returns is checked against the hash.
    with httpx.Client(verify=False, timeout=timeout_s) as client:  # noqa: S501
        try:
            response = client.get(f"{server_url.rstrip('/')}{API}/enroll/ca")
        except httpx.HTTPError as exc:
            msg = f"cannot reach the plant server at {server_url}: {exc}"
            raise LineGuardError(msg) from None
    raise_for_server_error(response, "fetching the plant CA")
    try:
        cert = x509.load_pem_x509_certificate(response.content)
    except ValueError:
        msg = f"{server_url} did not return a PEM certificate for the plant CA"
        raise IntegrityError(msg) from None
    got = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    if got != ca_sha256:
        msg = f"plant CA certificate sha256 is {got}, but the enrollment token expects {ca_sha256}"
        raise IntegrityError(msg)
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


#: More CA certificates than this in one answer is not a plant CA rotation.
MAX_TRUSTED_CAS = 4


def checked_ca_bundle(bundle_pem: str, *, issued: str, pinned: str | None = None) -> str:
    """The server's CA bundle, checked: CA certificates only, the issuer of ``issued`` among them.

    ``pinned`` (at enrollment, what the token pinned) must be among them too, so the
    bundle always holds what the node verified the server with.
    """
    try:
        cas = x509.load_pem_x509_certificates(bundle_pem.encode("ascii"))
        cert = x509.load_pem_x509_certificate(issued.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        msg = "the server's CA bundle or certificate is not PEM"
        raise IntegrityError(msg) from None
    if not 1 <= len(cas) <= MAX_TRUSTED_CAS:
        msg = f"the server sent {len(cas)} CA certificates, expected 1 to {MAX_TRUSTED_CAS}"
        raise IntegrityError(msg)
    for ca in cas:
        try:
            is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            msg = f"the server's CA bundle holds {ca.subject.rfc4514_string()}, which is not a CA"
            raise IntegrityError(msg)
    if not any(cert.issuer == ca.subject and _issued_by(cert, ca) for ca in cas):
        issuer = cert.issuer.rfc4514_string()
        msg = f"no CA in the server's bundle issued the node certificate (issuer {issuer})"
        raise IntegrityError(msg)
    if pinned is not None:
        want = x509.load_pem_x509_certificate(pinned.encode("ascii"))
        if want not in cas:
            msg = "the server's CA bundle does not hold the plant CA the enrollment token pinned"
            raise IntegrityError(msg)
    return "".join(ca.public_bytes(serialization.Encoding.PEM).decode("ascii") for ca in cas)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def enroll(server_url: str, token_text: str, data_dir: Path, *, timeout_s: float = 10.0) -> NodeIdentityInfo:
    token = EnrollmentToken.parse(token_text)
    server_url = server_url.rstrip("/")
    ca_pem = fetch_pinned_ca(server_url, token.ca_sha256, timeout_s=timeout_s)
    store = IdentityStore(data_dir)
    key = store.generate_key()
    ctx = ssl.create_default_context(cadata=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with httpx.Client(verify=ctx, timeout=timeout_s) as client:
        response = client.post(
            f"{server_url}{API}/enroll", json={"token": token.text, "csr_pem": store.csr_pem(key, "node")}
        )
    raise_for_server_error(response, "enrollment refused")
    body = response.json()
    info = NodeIdentityInfo(
        node_id=body["node_id"],
        site_id=body["site_id"],
        line_id=body["line_id"],
        camera_ids=list(body["camera_ids"]),
        server_url=server_url,
    )
    # During a plant CA rotation the node certificate comes from the new CA and the
    # bundle holds both; outside one it is the pinned CA alone.
    trusted = checked_ca_bundle(body["ca_pem"], issued=body["certificate_pem"], pinned=ca_pem)
    store.save(key=key, cert_pem=body["certificate_pem"], ca_pem=trusted, info=info)
    return info
