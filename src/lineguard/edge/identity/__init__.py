"""The node's identity: its own key, its client certificate, and the pinned plant CA.

::

    identity = enroll(server_url, token, data_dir)     # once, with the admin's token
    client = https_client(data_dir, server_url)       # mTLS, plant CA pinned
    maybe_renew(data_dir, server_url)                   # at 2/3 of the certificate's life

The private key is generated on the node (EC P-256), written with mode 0600 and never
sent anywhere: enrollment sends a CSR. The enrollment token embeds the sha256 of the
plant CA certificate, so the first contact already authenticates the server.
"""

from __future__ import annotations

from lineguard.edge.identity.client import https_client, node_ssl_context
from lineguard.edge.identity.enroll import enroll, fetch_pinned_ca
from lineguard.edge.identity.renew import maybe_renew, needs_renewal, renew, renewal_proof
from lineguard.edge.identity.store import IdentityStore, NodeIdentityInfo
from lineguard.edge.identity.token import EnrollmentToken

__all__ = [
    "EnrollmentToken",
    "IdentityStore",
    "NodeIdentityInfo",
    "enroll",
    "fetch_pinned_ca",
    "https_client",
    "maybe_renew",
    "needs_renewal",
    "node_ssl_context",
    "renew",
    "renewal_proof",
]
