"""Node-identity routes: fetch the CA (public), enroll with a token, renew with mTLS.

Administration (issue tokens, list, revoke) runs through ``lineguard node …`` on the
server host, which writes the same tables; the server sees a revocation on the node's
next request because authentication reads the database every time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from lineguard.server.context import get_context, get_session
from lineguard.server.nodes import service
from lineguard.server.nodes.identity import CurrentNode, plant_ca
from lineguard.server.nodes.schemas import CertificateResponse, EnrollRequest, RenewRequest

__all__ = ["router"]

router = APIRouter(tags=["nodes"])

#: Routes a node reaches before it has a certificate; access control treats them as
#: public (the token, or nothing secret, is the credential).
PUBLIC_ROUTES = {"/enroll/ca", "/enroll"}


@router.get("/enroll/ca", response_class=PlainTextResponse, summary="The plant CA certificate (PEM)")
def get_ca_certificate(request: Request) -> str:
    """Public: a node checks its sha256 against the enrollment token before trusting it."""
    return plant_ca(get_context(request)).pem


@router.post("/enroll", summary="Redeem an enrollment token for a client certificate")
def post_enroll(
    body: EnrollRequest, request: Request, session: Annotated[Session, Depends(get_session)]
) -> CertificateResponse:
    context = get_context(request)
    return service.enroll(
        session,
        ca=plant_ca(context),
        token_text=body.token,
        csr_pem=body.csr_pem,
        cert_days=context.settings.pki.node_cert_days,
        audit=context.audit,
        source=request.client.host if request.client else None,
    )


@router.post("/nodes/renew", summary="Renew the calling node's certificate (mTLS)")
def post_renew(
    body: RenewRequest, node: CurrentNode, request: Request, session: Annotated[Session, Depends(get_session)]
) -> CertificateResponse:
    context = get_context(request)
    return service.renew(
        session,
        ca=plant_ca(context),
        identity=node,
        csr_pem=body.csr_pem,
        cert_days=context.settings.pki.node_cert_days,
        audit=context.audit,
    )
