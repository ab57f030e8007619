"""A node's renewal whose answer never reaches it: the server signed, the node heard nothing.

What the node is left with is exactly what a dropped connection (or a forwarding replica
that died after the issuer signed) leaves: its current key and certificate unchanged and
the renewal's key waiting in ``renewal-key.pem``. This sends the request
``lineguard.edge.identity.renew`` sends, with that key and proof, over the node's own mTLS
client, and throws the answer away.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from lineguard.edge.identity import IdentityStore, https_client, renewal_proof

__all__ = ["renew_and_lose_the_answer"]


def renew_and_lose_the_answer(data_dir: Path, server_url: str | None = None) -> x509.Certificate:
    """The certificate the server issued (read from the answer the node never got)."""
    store = IdentityStore(data_dir)
    before = store.credentials_file.read_bytes()
    csr_pem = store.csr_pem(store.pending_renewal_key(), store.info().node_id)
    with https_client(data_dir, server_url) as client:
        response = client.post(
            "/api/v1/nodes/renew", json={"csr_pem": csr_pem, "proof": renewal_proof(store, csr_pem)}
        )
    assert response.status_code == 200, response.text
    assert store.credentials_file.read_bytes() == before  # nothing saved: the answer was lost
    return x509.load_pem_x509_certificate(response.json()["certificate_pem"].encode())
