"""Node-identity routes: fetch the CA (public), enroll with a token, renew with mTLS
(on a replica without the CA key, checked here and signed by an issuer: ``forward.py``),
and administration (list, issue tokens, revoke) for people holding node-management
permissions. ``lineguard node …`` on the server host writes the same tables; either
way a revocation is seen on the node's next request, because node authentication
reads the database every time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError
from lineguard.server.auth import Access, Action, allow_node, allow_public, require
from lineguard.server.context import get_context, get_session
from lineguard.server.nodes import renewal, service
from lineguard.server.nodes.forward import ENROLL_OP, RENEW_OP, forward_to_issuer
from lineguard.server.nodes.identity import CurrentNode, presented_certificate
from lineguard.server.nodes.schemas import (
    CertificateResponse,
    EnrollRequest,
    ForwardedEnrollment,
    ForwardedRenewal,
    NodeView,
    RenewRequest,
    RevokeRequest,
    TokenRequest,
    TokenResponse,
)
from lineguard.server.pki import checked_csr_key

__all__ = ["router"]

router = APIRouter(tags=["nodes"])


@router.get(
    "/enroll/ca",
    response_class=PlainTextResponse,
    summary="The plant CA certificate (PEM)",
    dependencies=[
        Depends(allow_public("the CA certificate is public; nodes check its sha256 against their token"))
    ],
)
def get_ca_certificate(request: Request) -> str:
    """Public: a node checks its sha256 against the enrollment token before trusting it.

    The CA the server's TLS certificate chains to: during a CA rotation still the
    previous one, which is what the tokens pin (``PlantCa.serving``).
    """
    ca = get_context(request).ca.current()
    return ca.serving.public_bytes(Encoding.PEM).decode("ascii")


@router.post(
    "/enroll",
    summary="Redeem an enrollment token for a client certificate",
    dependencies=[Depends(allow_public("the one-time enrollment token in the body is the credential"))],
)
def post_enroll(
    body: EnrollRequest, request: Request, session: Annotated[Session, Depends(get_session)]
) -> CertificateResponse:
    context = get_context(request)
    source = request.client.host if request.client else None
    # Anyone can reach this route: refusals are throttled and summarised.
    audit = context.checkpoints.throttle.hook(context.audit, source=source)
    if not context.ca.issuer:  # no CA key on this host: check, then the issuer signs (forward.py)
        service.check_enrollment(
            session,
            ca=context.ca.current(),
            token_text=body.token,
            csr_pem=body.csr_pem,
            audit=audit,
            source=source,
        )
        forwarded = ForwardedEnrollment(token=body.token, csr_pem=body.csr_pem, source=source)
        return forward_to_issuer(context, ENROLL_OP, forwarded)
    return service.enroll(
        session,
        ca=context.ca.current(),
        token_text=body.token,
        csr_pem=body.csr_pem,
        cert_days=context.settings.pki.node_cert_days,
        audit=audit,
        source=source,
    )


@router.post(
    "/nodes/renew",
    summary="Renew the calling node's certificate (mTLS)",
    dependencies=[Depends(allow_node())],
)
def post_renew(
    body: RenewRequest, node: CurrentNode, request: Request, session: Annotated[Session, Depends(get_session)]
) -> CertificateResponse:
    context = get_context(request)
    presented = presented_certificate(request)
    if not context.ca.issuer:  # the node authenticated here; the issuer authenticates it again
        checked_csr_key(service.load_csr(body.csr_pem))
        forwarded = ForwardedRenewal(certificate_pem=presented, csr_pem=body.csr_pem, proof=body.proof)
        return forward_to_issuer(context, RENEW_OP, forwarded)
    settings = context.settings.pki
    return renewal.renew(
        session,
        ca=context.ca.current(),
        identity=node,
        presented_pem=presented,
        csr_pem=body.csr_pem,
        proof=body.proof,
        forwarded=False,  # the node's TLS handshake reached this issuer: a missing proof is an old node
        cert_days=settings.node_cert_days,
        grace=timedelta(hours=settings.renewal_grace_hours),
        audit=context.audit,
    )


ManageNodes = Annotated[Access, Depends(require(Action.NODE_MANAGEMENT_WRITE))]
ReadNodes = Annotated[Access, Depends(require(Action.NODE_MANAGEMENT_READ))]


@router.get("/nodes", summary="Enrolled nodes and their certificates")
def get_nodes(access: ReadNodes, session: Annotated[Session, Depends(get_session)]) -> list[NodeView]:
    return [n for n in service.list_nodes(session) if access.scope.allows(n.line_id)]


@router.post("/nodes/tokens", summary="Issue a one-time enrollment token", status_code=201)
def post_token(
    body: TokenRequest,
    access: ManageNodes,
    request: Request,
    session: Annotated[Session, Depends(get_session)],
) -> TokenResponse:
    access.check_line(body.line_id, record=body.node_id)
    context = get_context(request)
    hours = body.ttl_hours or context.settings.pki.enrollment_token_hours
    token = service.issue_token(
        session,
        ca=context.ca.current(),
        node_id=body.node_id,
        site_id=context.settings.site_id,
        line_id=body.line_id,
        camera_ids=body.camera_ids,
        ttl=timedelta(hours=hours),
        created_by=access.principal.actor,
        audit=context.audit,
    )
    return TokenResponse(token=str(token), node_id=body.node_id, expires_in_hours=hours)


@router.post("/nodes/{node_id}/revoke", summary="Revoke a node (effective on its next request)")
def post_revoke(
    node_id: str,
    body: RevokeRequest,
    access: ManageNodes,
    request: Request,
    session: Annotated[Session, Depends(get_session)],
) -> NodeView:
    node = next((n for n in service.list_nodes(session) if n.node_id == node_id), None)
    if node is None:
        msg = f"no node {node_id!r} is enrolled"
        raise NotFoundError(msg)
    access.check_line(node.line_id, record=node_id)
    service.revoke(
        session,
        node_id=node_id,
        reason=body.reason,
        actor=access.principal.actor,
        audit=get_context(request).audit,
    )
    return next(n for n in service.list_nodes(session) if n.node_id == node_id)
