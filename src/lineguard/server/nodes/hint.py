"""Tell a node on the previous plant CA to renew now: one response header, any route.

While a CA rotation overlaps, a node whose client certificate was issued by the previous
CA (still trusted) is answered with :data:`~lineguard.contracts.certificates.RENEW_CERTIFICATE_HEADER`
on every request it makes, ingest included, so it renews at once instead of at two thirds
of its certificate's life (docs/operations.md "Rotating the plant CA"). The check reads
the certificate the TLS layer verified (``server/tls/protocol.py``) and the process's
:class:`~lineguard.server.pki.LiveCa`; the issuer of each certificate is parsed once
(cached by its PEM), so a request costs a dictionary lookup and a comparison. Requests
without a client certificate (browsers, API tokens) pass untouched.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography import x509

from lineguard.contracts.certificates import RENEW_CERTIFICATE_HEADER, RENEW_FOR_CA_ROTATION
from lineguard.server.pki import LiveCa
from lineguard.server.tls import client_certificate_pem

__all__ = ["RenewalHint", "certificate_issuer"]

_HEADER = (RENEW_CERTIFICATE_HEADER.encode("ascii"), RENEW_FOR_CA_ROTATION.encode("ascii"))


@lru_cache(maxsize=4096)
def certificate_issuer(pem: str) -> bytes | None:
    """The DER of a certificate's issuer name (None if it does not parse: authentication refuses it)."""
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii")).issuer.public_bytes()
    except ValueError:
        return None


class RenewalHint:
    """ASGI middleware: the renew-now header on answers to a client certificate of the previous CA."""

    def __init__(self, app: Any, *, ca: LiveCa) -> None:
        self.app = app
        self.ca = ca

    def _due(self, scope: dict[str, Any]) -> bool:
        if scope["type"] != "http" or not self.ca.built:
            return False
        pem = client_certificate_pem(scope)
        if pem is None:
            return False
        previous = self.ca.get().previous
        return previous is not None and certificate_issuer(pem) == previous.subject.public_bytes()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not self._due(scope):
            await self.app(scope, receive, send)
            return

        async def with_hint(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), _HEADER]}
            await send(message)

        await self.app(scope, receive, with_hint)
