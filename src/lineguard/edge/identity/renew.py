"""Certificate renewal: before expiry, with the current certificate, for a fresh key.

A node renews once two thirds of its certificate's lifetime have passed (a 7-day
certificate at day ~4.7), so a server outage of two days still leaves time. Each
renewal rotates the node key too: the new key is generated beside the old one
(``renewal-key.pem``) and replaces it (in one atomic write with its certificate) only
once the server has certified it; an answer lost on the way is asked for again with the
same key and the server sends the same certificate. The request carries a proof: the
current key's signature over the current certificate and the CSR. The server keeps the
previous certificate accepted until the new one is first presented. The node
keeps the CA certificates the server answers with (both during a plant CA rotation).
During a rotation the server answers a node still on the previous CA with a renew-now
header (``contracts/certificates.py``); the node then renews at once. The running node
does this in :class:`~lineguard.edge.identity.worker.RenewalWorker`.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lineguard.contracts.certificates import renewal_proof_message
from lineguard.edge.identity.client import https_client
from lineguard.edge.identity.enroll import API, checked_ca_bundle, raise_for_server_error
from lineguard.edge.identity.store import IdentityStore

__all__ = ["RENEW_AT_FRACTION", "maybe_renew", "needs_renewal", "renew", "renewal_proof"]

RENEW_AT_FRACTION = 2 / 3


def needs_renewal(cert: x509.Certificate, *, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return now >= start + (end - start) * RENEW_AT_FRACTION


def renewal_proof(store: IdentityStore, csr_pem: str) -> str:
    """The current key's signature binding the current certificate to ``csr_pem`` (base64).

    The issuer checks it (``server/nodes/renewal.py``): a replica that forwards the request
    terminated the node's TLS and could otherwise ask for a certificate under this node's
    name for a key of its own.
    """
    current = store.certificate()
    csr_der = x509.load_pem_x509_csr(csr_pem.encode("ascii")).public_bytes(serialization.Encoding.DER)
    fingerprint = hashlib.sha256(current.public_bytes(serialization.Encoding.DER)).hexdigest()
    signature = store.load_key().sign(renewal_proof_message(fingerprint, csr_der), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def renew(data_dir: Path, server_url: str | None = None) -> datetime:
    """Get a new certificate for a new key; returns its expiry.

    The new key is kept in ``renewal-key.pem`` until its certificate is saved, so a retry
    after a lost answer asks for the same key and the server answers with the certificate
    it already signed (the previous one stays accepted until this one is presented).
    """
    store = IdentityStore(data_dir)
    info = store.info()
    new_key = store.pending_renewal_key()
    csr_pem = store.csr_pem(new_key, info.node_id)
    request = {"csr_pem": csr_pem, "proof": renewal_proof(store, csr_pem)}
    with https_client(data_dir, server_url or info.server_url) as client:
        response = client.post(f"{API}/nodes/renew", json=request)
    raise_for_server_error(response, "certificate renewal refused")
    body = response.json()
    # During a plant CA rotation the server sends both CAs: keeping them is how the node
    # moves to the new one. The answer came over TLS verified against what it trusted.
    ca_pem = checked_ca_bundle(body["ca_pem"], issued=body["certificate_pem"])
    store.save(key=new_key, cert_pem=body["certificate_pem"], ca_pem=ca_pem)
    store.clear_pending_renewal_key()
    store.clear_renewal_request()
    return store.not_after()


def maybe_renew(
    data_dir: Path, server_url: str | None = None, *, now: datetime | None = None
) -> datetime | None:
    """Renew when due (2/3 of the certificate's life, or the server asked: a CA rotation);
    returns the new expiry, or None when nothing was due."""
    store = IdentityStore(data_dir)
    if not store.renewal_requested and not needs_renewal(store.certificate(), now=now):
        return None
    return renew(data_dir, server_url)
