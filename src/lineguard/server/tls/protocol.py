"""A uvicorn HTTP protocol that puts the verified client certificate into the ASGI scope.

uvicorn 0.54 verifies client certificates but does not expose them to the app. This
subclass of its h11 protocol reads the peer certificate once per connection (after
the handshake, in ``connection_made``) and wraps the app so every request on that
connection sees the ASGI TLS extension::

    scope["extensions"]["tls"] = {"client_cert_chain": [PEM] or [], "tls_version": ..., ...}

It relies on uvicorn internals (``self.app`` read per request, in its h11 and its
httptools protocol alike); uvicorn is pinned in requirements/constraints.txt and
``tests/unit/server/tls`` exercises this for real.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from functools import cache
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["TLS_EXTENSION", "PeerCertificateProtocol", "client_certificate_pem", "peer_certificate_protocol"]

TLS_EXTENSION = "tls"

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

ASGIApp = Any


def _tls_info(transport: asyncio.BaseTransport) -> dict[str, Any]:
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        return {"client_cert_chain": [], "tls_version": None, "cipher_suite": None}
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": cipher[0] if cipher else None,
    }


class _WithTls:
    """Wraps the app for one connection, adding the TLS extension to each scope."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = dict(scope)
            scope["extensions"] = {**(scope.get("extensions") or {}), TLS_EXTENSION: self.tls}
        await self.app(scope, receive, send)


class PeerCertificateProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = _WithTls(self.app, _tls_info(transport))


@cache
def peer_certificate_protocol() -> type[asyncio.Protocol]:
    """The fastest available HTTP/1.1 protocol with the TLS extension: uvicorn's
    httptools (C, llhttp) protocol when ``httptools`` is installed (the server extra),
    else :class:`PeerCertificateProtocol` on h11 (pure Python: ~1 ms more per ingest
    batch of 30 kB, measured in ``bench/bench_ingest.py``)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is not installed
        return PeerCertificateProtocol

    class PeerCertificateHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.app = _WithTls(self.app, _tls_info(transport))

    return PeerCertificateHttpToolsProtocol


def client_certificate_pem(scope: Mapping[str, Any]) -> str | None:
    """The verified client certificate of this request, or None when none was presented."""
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION) or {}
    chain = tls.get("client_cert_chain") or []
    return chain[0] if chain and isinstance(chain[0], str) else None
