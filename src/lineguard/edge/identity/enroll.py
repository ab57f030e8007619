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
from cryptography.hazmat.primitives import serialization

from lineguard.contracts.errors import AuthenticationError, IntegrityError, LineGuardError
from lineguard.edge.identity.store import IdentityStore, NodeIdentityInfo
from lineguard.edge.identity.token import EnrollmentToken

__all__ = ["API", "enroll", "fetch_pinned_ca", "raise_for_server_error"]

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
    store.save(key=key, cert_pem=body["certificate_pem"], ca_pem=ca_pem, info=info)
    return info
