"""FastAPI dependencies for node routes: authenticated by client certificate only.

``current_node`` takes the certificate the TLS layer verified against the plant CA
(``lineguard.server.tls.protocol``) and checks it against the database on every
request, so a revoked node is refused on its next request. No header, cookie or token
can stand in for the certificate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lineguard.contracts.errors import AuthenticationError
from lineguard.server.context import get_context
from lineguard.server.nodes.service import NodeIdentity, admit_certificate
from lineguard.server.tls import client_certificate_pem

__all__ = ["CurrentNode", "current_node", "presented_certificate"]


def presented_certificate(request: Request) -> str:
    """The client certificate the TLS layer verified (PEM), or 401 when none was presented."""
    pem = client_certificate_pem(request.scope)
    if pem is None:
        msg = "this route is for enrolled edge nodes: present the node's client certificate (mTLS)"
        raise AuthenticationError(msg)
    return pem


def current_node(request: Request) -> NodeIdentity:
    # The status lookup on its own pooled connection (driver SQL, returned at once), not
    # in the route's session: ~5x cheaper, the same answer and errors (service.admit_certificate).
    pem = presented_certificate(request)
    context = get_context(request)
    return admit_certificate(context.engine, cert_pem=pem, audit=context.audit)


CurrentNode = Annotated[NodeIdentity, Depends(current_node)]
