"""Node routes for ingest (client certificate only).

Order of checks, cheapest first and before the body is read: the client certificate
(401), the node's rate limit (429 + Retry-After), then the body under the size limit
(413), the contract (422), the node's ownership of every item (403). Only then is
anything written.

A batch uses one database session and two hops to a worker thread (authenticate;
parse and store) rather than one per dependency: every hop is a hand-off of the GIL
between threads, and those hand-offs are what a latency tail is made of. The JSON is
parsed in the worker as well, so the event loop keeps serving other connections.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lineguard.contracts.errors import LineGuardError
from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.contracts.validation import parse_message
from lineguard.server.auth import allow_node
from lineguard.server.context import ServerContext, get_context, get_session
from lineguard.server.ingest import service
from lineguard.server.ingest.schemas import HeartbeatReceipt, IngestReceipt
from lineguard.server.limits import read_limited_body
from lineguard.server.nodes import CurrentNode, NodeIdentity, authenticate_certificate, presented_certificate

__all__ = ["router"]

router = APIRouter(prefix="/ingest", tags=["ingest"], dependencies=[Depends(allow_node())])

_BODY_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


def rate_limited_node(request: Request, node: CurrentNode) -> NodeIdentity:
    get_context(request).ingest.buckets.take(node.node_id)
    return node


Node = Annotated[NodeIdentity, Depends(rate_limited_node)]


async def _body(request: Request, context: ServerContext) -> bytes:
    return await read_limited_body(
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=context.settings.ingest.max_request_bytes,
    )


def _authenticate(context: ServerContext, session: Session, cert_pem: str) -> NodeIdentity:
    """Worker hop 1: the certificate against the database (401), the rate limit (429)."""
    try:
        node = authenticate_certificate(session, cert_pem=cert_pem)
        context.ingest.buckets.take(node.node_id)
    except BaseException:
        session.close()
        raise
    return node


def _store(
    context: ServerContext, session: Session, node: NodeIdentity, body: bytes | LineGuardError
) -> IngestReceipt:
    """Worker hop 2: contract (422), ownership (403), the writes; a refusal is audited."""
    try:
        if isinstance(body, LineGuardError):  # refused while it was read (413)
            raise body
        batch = parse_message(IngestBatch, body, max_bytes=context.settings.ingest.max_request_bytes)
        return service.ingest_batch(
            session,
            node=node,
            batch=batch,
            sealer=context.sealer,
            audit=context.audit,
            write_gate=context.ingest.write_gate,
        )
    except LineGuardError as exc:
        if exc.http_status < 500:
            session.rollback()
            service.record_rejection(session, node_id=node.node_id, reason=exc.message, audit=context.audit)
        raise
    finally:
        session.close()


@router.post(
    "/batch",
    summary="Store a batch of inspection events, alerts and work-order triggers",
    openapi_extra=_BODY_DOC | {"x-lineguard-schema": "ingest-batch.v1"},
)
async def post_batch(request: Request) -> IngestReceipt:
    context = get_context(request)
    cert_pem = presented_certificate(request)
    session = context.sessions()
    node = await run_in_threadpool(_authenticate, context, session, cert_pem)
    body: bytes | LineGuardError
    try:
        body = await _body(request, context)
    except LineGuardError as exc:
        body = exc
    except BaseException:
        await run_in_threadpool(session.close)
        raise
    return await run_in_threadpool(_store, context, session, node, body)


@router.post(
    "/heartbeat",
    summary="Record a node's health",
    openapi_extra=_BODY_DOC | {"x-lineguard-schema": "node-heartbeat.v1"},
)
async def post_heartbeat(
    request: Request, node: Node, session: Annotated[Session, Depends(get_session)]
) -> HeartbeatReceipt:
    context = get_context(request)
    raw = await _body(request, context)
    heartbeat = parse_message(NodeHeartbeat, raw, max_bytes=context.settings.ingest.max_request_bytes)
    return await run_in_threadpool(service.record_heartbeat, session, node=node, heartbeat=heartbeat)
