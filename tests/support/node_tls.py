"""Asking a running plant server whether a node's TLS credentials get through.

``node_route_status`` calls a node-only route with a nonsense CSR: 400 proves the
handshake passed and the certificate signed the node in (401: signed in refused; a
``httpx.ConnectError``: refused in the handshake). ``tls12_node_context`` makes the
server's verdict on a client certificate end the handshake itself: a TLS 1.3 client
finishes its side first and sees only a closed connection.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

__all__ = ["NODE_ONLY_ROUTE", "node_route_status", "tls12_node_context"]

#: A route only an enrolled node's certificate may call.
NODE_ONLY_ROUTE = "/api/v1/nodes/renew"


def node_route_status(url: str, verify: ssl.SSLContext) -> int:
    """The status of a node-only request to ``url`` over ``verify`` (400 when signed in)."""
    with httpx.Client(base_url=url, verify=verify, timeout=10) as client:
        return client.post(NODE_ONLY_ROUTE, json={"csr_pem": "-----BEGIN nothing"}).status_code


def tls12_node_context(trust: Path, credentials: Path) -> ssl.SSLContext:
    """TLS 1.2 presenting ``credentials`` (certificate and key PEM), trusting ``trust``."""
    context = ssl.create_default_context(cafile=trust)
    context.load_cert_chain(credentials)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context
