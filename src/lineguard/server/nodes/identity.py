"""FastAPI dependencies for node routes: authenticated by client certificate only.

``current_node`` takes the certificate the TLS layer verified against the plant CA
(``lineguard.server.tls.protocol``) and checks it against the database on every
request, so a revoked node is refused on its next request. No header, cookie or token
can stand in for the certificate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from lineguard.contracts.errors import AuthenticationError
from lineguard.server.context import get_context, get_session
from lineguard.server.nodes.service import NodeIdentity, authenticate_certificate
from lineguard.server.tls import client_certificate_pem

__all__ = ["CurrentNode", "current_node", "presented_certificate"]


def presented_certificate(request: Request) -> str:
    """The client certificate the TLS layer verified (PEM), or 401 when none was presented."""
    pem = client_certificate_pem(request.scope)
    if pem is None:
        msg = "this route is for enrolled edge nodes: present the node's client certificate (mTLS)"
        raise AuthenticationError(msg)
    return pem


def current_node(request: Request, session: Annotated[Session, Depends(get_session)]) -> NodeIdentity:
    pem = presented_certificate(request)
    get_context(request)  # the route runs inside a LineGuard app
    return authenticate_certificate(session, cert_pem=pem)


CurrentNode = Annotated[NodeIdentity, Depends(current_node)]
