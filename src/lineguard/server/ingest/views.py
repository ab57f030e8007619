"""Node routes for ingest (client certificate only).

Order of checks, cheapest first and before the body is read: the client certificate
(401), the node's rate limit (429 + Retry-After), then the body under the size limit
(413), the contract (422), the node's ownership of every item (403). Only then is
anything written.

A pooled database connection is held only for what needs one: the certificate lookup
(driver SQL on a pooled connection, returned before the body is read) and the write transaction. The
body is read, parsed, checked and sealed with no connection taken, so hundreds of nodes
uploading at once (or one slow uplink) do not queue for the pool while their bytes
arrive: at 200 nodes a route that held its session across the body read waited past
the pool's 30 s timeout.

A batch makes two hops to a worker thread (authenticate; parse and store) rather than
one per dependency: every hop is a hand-off of the GIL between threads, and those
hand-offs are what a latency tail is made of. The JSON is parsed in the worker as well,
so the event loop keeps serving other connections.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from lineguard.contracts.errors import LineGuardError
from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.contracts.validation import parse_message
from lineguard.server.auth import allow_node
from lineguard.server.context import ServerContext, get_context
from lineguard.server.ingest import service
from lineguard.server.ingest.schemas import HeartbeatReceipt, IngestReceipt
from lineguard.server.limits import read_limited_body
from lineguard.server.nodes import NodeIdentity, admit_certificate, presented_certificate

__all__ = ["router"]

router = APIRouter(prefix="/ingest", tags=["ingest"], dependencies=[Depends(allow_node())])

_BODY_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


async def _body(request: Request, context: ServerContext) -> bytes:
    return await read_limited_body(
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=context.settings.ingest.max_request_bytes,
    )


def _authenticate(context: ServerContext, cert_pem: str) -> NodeIdentity:
    """Worker hop 1: the certificate against the database (401), the rate limit (429).

    The connection goes back to the pool here, before the body is read, while the node's
    bytes are still on the wire."""
    node = admit_certificate(context.engine, cert_pem=cert_pem, audit=context.audit)
    context.ingest.buckets.take(node.node_id)
    return node


def _refuse(context: ServerContext, node: NodeIdentity, exc: LineGuardError) -> None:
    """Count and audit a batch refused as bad input (4xx); a 5xx is the server's, not the node's."""
    if exc.http_status < 500:
        with context.sessions() as session:
            service.record_rejection(session, node_id=node.node_id, reason=exc.message, audit=context.audit)


def _store(context: ServerContext, node: NodeIdentity, body: bytes | LineGuardError) -> Response:
    """Worker hop 2: contract (422) and ownership (403) with no connection taken, then the
    writes; a refusal is audited. The receipt is encoded here, as the response's bytes:
    FastAPI would otherwise validate it again and encode it on the event loop."""
    receipt = _stored(context, node, body)
    return Response(receipt.model_dump_json(), media_type="application/json")


def _stored(context: ServerContext, node: NodeIdentity, body: bytes | LineGuardError) -> IngestReceipt:
    try:
        if isinstance(body, LineGuardError):  # refused while it was read (413)
            raise body
        batch = parse_message(IngestBatch, body, max_bytes=context.settings.ingest.max_request_bytes)
        service.authorize_batch(node, batch)
    except LineGuardError as exc:
        _refuse(context, node, exc)
        raise
    # ingest_batch seals before its first statement, and a session takes its connection
    # at the first statement: the connection is held for the write transaction only.
    with context.sessions() as session:
        try:
            return service.ingest_batch(
                session,
                node=node,
                batch=batch,
                sealer=context.sealer,
                audit=context.audit,
                write_gate=context.ingest.write_gate,
                ppe_min_count=context.settings.safety.ppe_min_count,
            )
        except LineGuardError as exc:
            session.rollback()
            _refuse(context, node, exc)
            raise


@router.post(
    "/batch",
    summary="Store a batch of inspection events, alerts and work-order triggers",
    response_model=IngestReceipt,
    openapi_extra=_BODY_DOC | {"x-lineguard-schema": "ingest-batch.v1"},
)
async def post_batch(request: Request) -> Response:
    context = get_context(request)
    node = await run_in_threadpool(_authenticate, context, presented_certificate(request))
    body: bytes | LineGuardError
    try:
        body = await _body(request, context)
    except LineGuardError as exc:
        body = exc
    return await run_in_threadpool(_store, context, node, body)


@router.post(
    "/heartbeat",
    summary="Record a node's health",
    openapi_extra=_BODY_DOC | {"x-lineguard-schema": "node-heartbeat.v1"},
)
async def post_heartbeat(request: Request) -> HeartbeatReceipt:
    context = get_context(request)
    node = await run_in_threadpool(_authenticate, context, presented_certificate(request))
    raw = await _body(request, context)
    heartbeat = parse_message(NodeHeartbeat, raw, max_bytes=context.settings.ingest.max_request_bytes)
    return await run_in_threadpool(_record_heartbeat, context, node, heartbeat)


def _record_heartbeat(
    context: ServerContext, node: NodeIdentity, heartbeat: NodeHeartbeat
) -> HeartbeatReceipt:
    with context.sessions() as session:
        return service.record_heartbeat(session, node=node, heartbeat=heartbeat)
