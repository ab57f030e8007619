"""Routes of remote evidence views (mounted under ``/api/v1``).

For the browser (``evidence_images.read``; the view is opened by
``POST /dashboard/records/{event_id}/evidence``):

* ``GET /evidence-views/{view_id}`` — 202 while the node is asked; 200 ``image/jpeg``
  once (``Cache-Control: no-store``); 410 handed out already, expired, or (several
  server processes) the process holding it stopped; 504 the node
  did not answer in time; 409 the node refused; 502 the upload failed a check; 404 for
  an unknown view or another person's (that attempt is audited).

For an operator (several server processes on PostgreSQL; ``node_management``, site-wide):

* ``GET /replicas`` — the replicas registered for the internal relay, their heartbeat's
  age and whether they are revoked (``node_management.read``).
* ``POST /replicas/{replica_id}/revoke`` — revoke one's relay identity: the others refuse
  it from now on (``node_management.write``, audited ``replica.revoked``).

For edge nodes (client certificate, mTLS):

* ``GET /nodes/self/evidence-requests?wait=10`` — a long poll: requests queued for the
  calling node, answered as soon as one arrives or after ``wait`` seconds (empty).
* ``POST /nodes/self/evidence-requests/{request_id}`` — the node's answer: an
  :class:`~lineguard.contracts.evidence_view.EvidenceUpload` or an
  :class:`~lineguard.contracts.evidence_view.EvidenceRefusal`. 204 when taken; 4xx
  says why it was not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from lineguard.contracts.errors import ContractError
from lineguard.contracts.evidence_view import MAX_EVIDENCE_JPEG_BYTES, EvidenceViewRequests
from lineguard.server.auth import Access, Action, allow_node, require
from lineguard.server.context import get_context, get_session
from lineguard.server.evidence_views import service
from lineguard.server.evidence_views.relay import Delivered
from lineguard.server.evidence_views.schemas import ReplicaOut, RevokeReplicaRequest, ViewPending
from lineguard.server.headers import security_headers
from lineguard.server.limits import read_limited_body
from lineguard.server.nodes import CurrentNode, NodeIdentity
from lineguard.server.tls import client_certificate_pem

__all__ = ["router"]

router = APIRouter(tags=["evidence views"])

ReadEvidence = Annotated[Access, Depends(require(Action.EVIDENCE_IMAGES_READ))]
ReadReplicas = Annotated[Access, Depends(require(Action.NODE_MANAGEMENT_READ))]
ManageReplicas = Annotated[Access, Depends(require(Action.NODE_MANAGEMENT_WRITE))]
DbSession = Annotated[Session, Depends(get_session)]
Ident = Annotated[str, Path(min_length=1, max_length=128)]
#: An upload is the image in base64 plus its statement and certificate.
_MAX_REPLY_BYTES = (MAX_EVIDENCE_JPEG_BYTES * 4) // 3 + 64 * 1024
_RETRY_AFTER_MS = 500


@router.get(
    "/evidence-views/{view_id}",
    summary="Fetch a requested evidence image (202 while the node is asked, then 200 once)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 202: {"model": ViewPending}},
)
def get_view(view_id: Ident, access: ReadEvidence) -> Response:
    result = service.collect(access=access, view_id=view_id)
    if isinstance(result, Delivered):
        return Response(result.image, media_type="image/jpeg", headers=security_headers() | _notes(result))
    pending = ViewPending(view_id=result.view_id, node_id=result.node_id, retry_after_ms=_RETRY_AFTER_MS)
    return JSONResponse(pending.model_dump(mode="json"), status_code=202, headers=security_headers())


#: Headers that carry what the node signed about an image (v2 evidence statements).
REGION_HEADER = "X-Evidence-Region"
DEFECT_HIDDEN_HEADER = "X-Evidence-Defect-Hidden"


def _notes(delivered: Delivered) -> dict[str, str]:
    """The frame region the image shows (``x,y,width,height``) and whether redaction hid a defect."""
    notes = {}
    if delivered.stored_region is not None:
        notes[REGION_HEADER] = ",".join(str(v) for v in delivered.stored_region)
    if delivered.defect_hidden is not None:
        notes[DEFECT_HIDDEN_HEADER] = "true" if delivered.defect_hidden else "false"
    return notes


def polling_node(request: Request, node: CurrentNode, session: DbSession) -> NodeIdentity:
    """The authenticated node, within its poll rate; the database connection is released
    before the long wait."""
    session.close()
    get_context(request).evidence_views.poll_buckets.take(node.node_id)
    return node


@router.get(
    "/nodes/self/evidence-requests",
    summary="Evidence requests for the calling node (long poll, mTLS)",
    dependencies=[Depends(allow_node())],
)
async def get_requests(
    request: Request,
    node: Annotated[NodeIdentity, Depends(polling_node)],
    wait: Annotated[float, Query(ge=0, le=30, description="Seconds to wait for a request.")] = 10.0,
) -> EvidenceViewRequests:
    return await service.wait_for_requests(context=get_context(request), node_id=node.node_id, wait_s=wait)


@router.post(
    "/nodes/self/evidence-requests/{request_id}",
    summary="Answer an evidence request: the signed, redacted image or a refusal (mTLS)",
    status_code=204,
    dependencies=[Depends(allow_node())],
    openapi_extra={"x-lineguard-schema": "evidence-upload.v1 | evidence-refusal.v1"},
)
async def post_reply(request_id: Ident, request: Request, node: CurrentNode, session: DbSession) -> Response:
    context = get_context(request)
    try:
        raw = await read_limited_body(
            request.stream(), content_length=request.headers.get("content-length"), max_bytes=_MAX_REPLY_BYTES
        )
        reply = service.parse_reply(raw)
    except ContractError as exc:  # too large or malformed: the person waiting learns it at once
        service.reject_reply(context=context, node=node, request_id=request_id, reason=exc.message)
        raise
    await run_in_threadpool(
        service.accept_reply,
        session,
        context=context,
        node=node,
        request_id=request_id,
        reply=reply,
        client_cert_pem=client_certificate_pem(request.scope),
    )
    return Response(status_code=204)


@router.get("/replicas", summary="Server replicas registered for the internal evidence-view relay")
def get_replicas(access: ReadReplicas, session: DbSession) -> list[ReplicaOut]:
    access.check_line(None, record="replicas")  # site-wide: replicas belong to no line
    return service.list_replicas(session, context=access.context)


@router.post(
    "/replicas/{replica_id}/revoke",
    summary="Revoke a server replica's relay identity (the others refuse it from now on)",
)
def post_revoke_replica(
    replica_id: Ident, body: RevokeReplicaRequest, access: ManageReplicas, session: DbSession
) -> ReplicaOut:
    access.check_line(None, record=replica_id)
    return service.revoke_replica(
        session,
        context=access.context,
        replica_id=replica_id,
        reason=body.reason,
        actor=access.principal.actor,
    )
