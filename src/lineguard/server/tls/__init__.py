"""HTTPS for the plant server: the TLS context, the uvicorn protocol that hands the
verified client certificate to the app, and ``serve`` / ``ServerThread``.

One listener serves everything: it *requests* a client certificate (``CERT_OPTIONAL``)
and verifies any that is presented against the plant CA during the handshake. Browser
and API-token routes need none; node routes require one (``nodes.identity``). A
certificate not signed by the plant CA fails the handshake itself.
"""

from __future__ import annotations

from lineguard.server.tls.context import MODERN_CIPHERS, server_ssl_context
from lineguard.server.tls.protocol import TLS_EXTENSION, PeerCertificateProtocol, client_certificate_pem
from lineguard.server.tls.serve import ServerThread, serve, serve_workers, uvicorn_config

__all__ = [
    "MODERN_CIPHERS",
    "TLS_EXTENSION",
    "PeerCertificateProtocol",
    "ServerThread",
    "client_certificate_pem",
    "serve",
    "serve_workers",
    "server_ssl_context",
    "uvicorn_config",
]
