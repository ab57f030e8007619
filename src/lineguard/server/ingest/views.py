"""Node routes for ingest (client certificate only).

Order of checks, cheapest first and before the body is read: the client certificate
(401), the node's rate limit (429 + Retry-After), then the body under the size limit
(413), the contract (422), the node's ownership of every item (403). Only then is
anything written.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lineguard.contracts.errors import LineGuardError
from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.contracts.validation import parse_message
from lineguard.server.auth.dependencies import allow_node
from lineguard.server.context import ServerContext, get_context, get_session
from lineguard.server.ingest import service
from lineguard.server.ingest.limits import TokenBuckets, read_limited_body
from lineguard.server.ingest.schemas import HeartbeatReceipt, IngestReceipt
from lineguard.server.nodes.identity import CurrentNode
from lineguard.server.nodes.service import NodeIdentity

__all__ = ["router"]

router = APIRouter(prefix="/ingest", tags=["ingest"], dependencies=[Depends(allow_node())])

_BODY_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


def _buckets(context: ServerContext) -> TokenBuckets:
    buckets = context.extras.get("ingest.rate")
    if not isinstance(buckets, TokenBuckets):
        # Each server process keeps its own buckets; together they allow the configured rate.
        limits, workers = context.settings.ingest, context.settings.http.workers
        buckets = TokenBuckets(
            rate=limits.requests_per_second / workers, burst=max(1, limits.burst // workers)
        )
        context.extras["ingest.rate"] = buckets
    return buckets


def _write_gate(context: ServerContext) -> AbstractContextManager[Any]:
    """SQLite has one writer: ingest transactions of this process take turns here
    instead of meeting in SQLite's busy handler, whose sleeps (up to 100 ms each) would
    dominate tail latency. PostgreSQL writes concurrently."""
    gate = context.extras.get("ingest.write_gate")
    if gate is None:
        gate = threading.Lock() if context.engine.dialect.name == "sqlite" else nullcontext()
        context.extras["ingest.write_gate"] = gate
    return cast(AbstractContextManager[Any], gate)


def _ingest(
    context: ServerContext, session: Session, node: NodeIdentity, batch: IngestBatch
) -> IngestReceipt:
    with _write_gate(context):
        return service.ingest_batch(
            session, node=node, batch=batch, sealer=context.sealer, audit=context.audit
        )


def rate_limited_node(request: Request, node: CurrentNode) -> NodeIdentity:
    _buckets(get_context(request)).take(node.node_id)
    return node


Node = Annotated[NodeIdentity, Depends(rate_limited_node)]


async def _body(request: Request, context: ServerContext) -> bytes:
    return await read_limited_body(
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=context.settings.ingest.max_request_bytes,
    )


@router.post(
    "/batch",
    summary="Store a batch of inspection events, alerts and work-order triggers",
    openapi_extra=_BODY_DOC | {"x-lineguard-schema": "ingest-batch.v1"},
)
async def post_batch(
    request: Request, node: Node, session: Annotated[Session, Depends(get_session)]
) -> IngestReceipt:
    context = get_context(request)
    try:
        raw = await _body(request, context)
        batch = parse_message(IngestBatch, raw, max_bytes=context.settings.ingest.max_request_bytes)
        return await run_in_threadpool(_ingest, context, session, node, batch)
    except LineGuardError as exc:
        if exc.http_status < 500:
            session.rollback()
            await run_in_threadpool(
                service.record_rejection,
                session,
                node_id=node.node_id,
                reason=exc.message,
                audit=context.audit,
            )
        raise


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
