"""Remote evidence views: open one for a person, serve a node's poll and reply, hand the image over.

Keyword-only functions; the routes in :mod:`.views` stay thin. The image passes through
server memory only (:mod:`.relay` in one process; :mod:`.shared` and :mod:`.handoff`
between several): it is never written to the database, a file, a log or a notification,
and it is handed out once, to the person and session that opened the view. Each view's
outcome is audited once as ``access.evidence_view`` (the request itself is audited as
``access.evidence`` by the route that opens it).
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from lineguard.contracts.audit import AccessDenied, EvidenceViewed
from lineguard.contracts.errors import ContractError, InputError, IntegrityError, NotFoundError
from lineguard.contracts.evidence_view import (
    EvidenceRefusal,
    EvidenceRefusedError,
    EvidenceReply,
    EvidenceUpload,
    EvidenceUploadRejectedError,
    EvidenceViewGoneError,
    EvidenceViewLostError,
    EvidenceViewRequest,
    EvidenceViewRequests,
    EvidenceViewUnavailableError,
    NodeTimeoutError,
)
from lineguard.contracts.validation import format_validation_error
from lineguard.server.auth import Access
from lineguard.server.context import ServerContext
from lineguard.server.evidence_views import handoff
from lineguard.server.evidence_views.identity import replica_of
from lineguard.server.evidence_views.provenance import (
    CertificateRecord,
    CertifiedSigner,
    EndorsedSigner,
    Expected,
    ProvenanceVerifier,
)
from lineguard.server.evidence_views.relay import Delivered, View
from lineguard.server.evidence_views.revocation import ReplicaView
from lineguard.server.evidence_views.revocation import list_replicas as _registered
from lineguard.server.evidence_views.revocation import revoke_replica as _revoke
from lineguard.server.evidence_views.schemas import ReplicaOut
from lineguard.server.evidence_views.shared import STALE_S, SharedRelay
from lineguard.server.evidence_views.state import EvidenceViewsState
from lineguard.server.ingest import InspectionEventRow
from lineguard.server.nodes import Node, NodeCertificate, NodeIdentity

__all__ = [
    "accept_reply",
    "collect",
    "list_replicas",
    "open_view",
    "parse_reply",
    "reject_reply",
    "requests_message",
    "revoke_replica",
    "wait_for_requests",
]

log = logging.getLogger(__name__)

#: A node that has not polled for this long probably has ``evidence.remote_view`` off.
POLL_SEEN_S = 60.0

_REFUSALS = {
    "not_held": "node {node} no longer holds this evidence (removed by its retention, or never stored)",
    "disabled": "node {node} has remote evidence viewing turned off (evidence.remote_view)",
    "rate_limited": "node {node} has reached its hourly limit of evidence views "
    "(evidence.remote_view_per_hour)",
    "unreadable": "node {node} could not read this evidence: it failed the node's own integrity check",
}
_REPLY = TypeAdapter(EvidenceReply)


# -- the person's side ------------------------------------------------------------------


def open_view(*, access: Access, row: InspectionEventRow) -> tuple[View, bool]:
    """Queue a request for ``row``'s evidence; returns the view and whether the node polls."""
    context = access.context
    state = context.evidence_views
    http = context.settings.http
    if state.shared is None and (http.workers > 1 or http.replicas > 1):
        msg = (
            "evidence images are handed between server processes through PostgreSQL; this server "
            f"runs {http.workers} worker processes as one of {http.replicas} replicas on "
            f"{context.engine.dialect.name}: use PostgreSQL, or http.workers: 1"
        )
        raise EvidenceViewUnavailableError(msg)
    if row.evidence_ref is None:
        msg = f"the node kept no evidence image for record {row.event_id}"
        raise NotFoundError(msg)
    principal = access.principal
    view = (state.shared or state.relay).open(
        node_id=row.node_id,
        event_id=row.event_id,
        evidence_ref=row.evidence_ref,
        camera_id=row.camera_id,
        user_id=principal.user_id,
        session_id=principal.session_id,
    )
    return view, _polling(state, row.node_id)


def _polling(state: EvidenceViewsState, node_id: str) -> bool:
    if state.shared is not None:
        polled = state.shared.last_polled(node_id)
        return polled is not None and (state.shared.now() - polled).total_seconds() <= POLL_SEEN_S
    seen = state.relay.last_poll.get(node_id)
    return seen is not None and state.relay.clock() - seen <= POLL_SEEN_S


def _audit_outcome(access: Access, view: View, result: Any, reason: str) -> None:
    event = EvidenceViewed(
        view_id=view.view_id,
        evidence_ref=view.evidence_ref,
        node_id=view.node_id,
        result=result,
        reason=reason[:500],
        outcome="success" if result == "delivered" else "failure",
    )
    access.context.audit(access.session, event, actor=access.principal.actor)
    access.session.commit()


def collect(*, access: Access, view_id: str) -> View | Delivered:
    """The image (once) or the pending view; a typed error for every other state."""
    state = access.context.evidence_views
    shared = state.shared
    view = (shared or state.relay).get(view_id)
    missing = f"no evidence view {view_id[:80]!r}"
    principal = access.principal
    if view is None:
        raise NotFoundError(missing)
    if view.user_id != principal.user_id or view.session_id != principal.session_id:
        denied = AccessDenied(
            action=access.action.value,
            resource=f"evidence_view:{view_id}"[:500],
            reason="the view was opened by another person or browser session",
            source_ip=access.request.client.host if access.request.client else None,
        )
        access.context.audit(access.session, denied, actor=principal.actor)
        access.session.commit()
        raise NotFoundError(missing)
    if view.state in ("queued", "sent"):
        return view
    if shared is not None:
        return _collect_shared(access, shared, state, view)
    relay = state.relay
    image = relay.take_image(view) if view.state == "ready" else None
    if image is not None:
        relay.mark_reported(view)
        _audit_outcome(access, view, "delivered", "")
        return image
    return _raise_outcome(access, view, first=relay.mark_reported(view))


def _collect_shared(access: Access, shared: SharedRelay, state: EvidenceViewsState, view: View) -> Delivered:
    """Several processes: the owner hands the image out and audits it; any process reports the rest."""
    if view.state == "ready":
        assert state.peers is not None  # noqa: S101 - started with ``shared`` (scheduled.py)
        delivered = handoff.take(
            context=access.context, shared=shared, peers=state.peers, view=view, actor=access.principal.actor
        )
        if delivered is not None:
            return delivered
        view = shared.get(view.view_id) or view
        if view.state == "ready":  # the owner had no image for it after all
            shared.fail(view, "lost", shared.lost_reason(view.owner_id))
            view = shared.get(view.view_id) or view
    return _raise_outcome(access, view, first=shared.report_once(access.session, view.view_id))


def _raise_outcome(access: Access, view: View, *, first: bool) -> NoReturn:
    """The typed error of a finished view; its outcome audited when ``first`` (once per view)."""
    if view.state == "taken":
        access.session.commit()
        msg = f"evidence view {view.view_id} was handed out already; open the evidence again to see it"
        raise EvidenceViewGoneError(msg)
    result, error = {
        "expired": ("expired", EvidenceViewGoneError),
        "timeout": ("node_timeout", NodeTimeoutError),
        "refused": ("node_refused", EvidenceRefusedError),
        "rejected": ("upload_rejected", EvidenceUploadRejectedError),
        "lost": ("replica_lost", EvidenceViewLostError),
    }[view.state]
    if first:
        _audit_outcome(access, view, result, view.reason)
    else:
        access.session.commit()
    raise error(view.reason)


# -- the node's side --------------------------------------------------------------------


async def wait_for_requests(*, context: ServerContext, node_id: str, wait_s: float) -> EvidenceViewRequests:
    """A node's long poll: requests opened by any server process, as soon as one is queued."""
    state = context.evidence_views
    views = await (state.shared or state.relay).wait_for_requests(node_id, wait_s)
    return requests_message(views)


def requests_message(views: list[View]) -> EvidenceViewRequests:
    return EvidenceViewRequests(
        requests=[
            EvidenceViewRequest(
                request_id=v.request_id,
                evidence_ref=v.evidence_ref,
                event_id=v.event_id,
                camera_id=v.camera_id,
                expires_at=v.expires_at,
            )
            for v in views
        ]
    )


def parse_reply(raw: bytes) -> EvidenceReply:
    try:
        return _REPLY.validate_json(raw)
    except ValidationError as exc:
        details = format_validation_error(exc)
        msg = f"invalid evidence reply: {details[0]}" if details else "invalid evidence reply"
        raise ContractError(msg, details=details) from None


def reject_reply(*, context: ServerContext, node: NodeIdentity, request_id: str, reason: str) -> None:
    """An answer that could not even be read (too large, malformed): the view fails at once."""
    relay = context.evidence_views.shared or context.evidence_views.relay
    view = relay.for_reply(request_id)
    if view is not None and view.node_id == node.node_id:
        log.warning("evidence reply from node %s refused: %s", node.node_id, reason)
        relay.fail(view, "rejected", f"the upload from node {node.node_id} was refused: {reason}")


def _certificate_lookup(session: Session) -> Any:
    def lookup(serial: str) -> CertificateRecord | None:
        row = session.get(NodeCertificate, serial)
        if row is None:
            return None
        return CertificateRecord(row.node_id, row.fingerprint_sha256, row.revoked_at)

    return lookup


def _verifier(
    session: Session,
    context: ServerContext,
    node: NodeIdentity,
    upload: EvidenceUpload,
    client_cert_pem: str | None,
) -> ProvenanceVerifier:
    if upload.signer_certificate_pem is not None:
        return CertifiedSigner(context.ca.get(), _certificate_lookup(session))
    enrolled = session.get(Node, node.node_id)
    return EndorsedSigner(
        client_cert_pem=client_cert_pem, enrolled_at=None if enrolled is None else enrolled.enrolled_at
    )


def accept_reply(
    session: Session,
    *,
    context: ServerContext,
    node: NodeIdentity,
    request_id: str,
    reply: EvidenceReply,
    client_cert_pem: str | None = None,
) -> None:
    """Take a node's answer to one request: keep a verified image in memory, or record why not.

    ``client_cert_pem`` is the certificate the node presented on this request (it vouches
    for a key that signed evidence before the node enrolled).
    """
    state = context.evidence_views
    relay = state.shared or state.relay
    view = relay.for_reply(request_id)
    if view is None or view.node_id != node.node_id:
        msg = f"no evidence request {request_id[:80]!r} for node {node.node_id}"
        raise NotFoundError(msg)
    if view.state not in ("queued", "sent"):
        msg = f"evidence request {request_id} is {view.state}: the answer is no longer wanted"
        raise EvidenceViewGoneError(msg)
    if isinstance(reply, EvidenceRefusal):
        reason = _REFUSALS[reply.reason].format(node=node.node_id)
        relay.fail(view, "refused", f"{reason}" + (f" ({reply.message})" if reply.message else ""))
        return
    expected = Expected(node.node_id, view.evidence_ref, view.event_id, view.camera_id)
    try:
        verified = _verifier(session, context, node, reply, client_cert_pem).verify(reply, expected)
    except (IntegrityError, InputError) as exc:
        log.warning("evidence upload from node %s refused: %s", node.node_id, exc.message)
        relay.fail(view, "rejected", f"the upload from node {node.node_id} failed a check: {exc.message}")
        raise
    finally:
        session.rollback()  # read-only lookups: release the connection
    # A v2 statement also says which region of the frame the image shows and whether
    # redaction hid part of a defect: both signed, both passed on to the reviewer.
    region = verified.statement.stored_region
    notes = (
        None if region is None else (region.x, region.y, region.width, region.height),
        verified.statement.defect_hidden,
    )
    if state.shared is not None:
        assert state.peers is not None  # noqa: S101 - started with ``shared`` (scheduled.py)
        handoff.deliver(shared=state.shared, peers=state.peers, view=view, image=verified.image, notes=notes)
        return
    state.relay.deliver(view, verified.image, stored_region=notes[0], defect_hidden=notes[1])


# -- the operator's side: replicas of the internal relay ------------------------------------


def _replica_out(replica: ReplicaView, stale_s: float) -> ReplicaOut:
    alive = replica.heartbeat_age_s < stale_s and not replica.revoked
    return ReplicaOut(**{**replica.__dict__, "alive": alive})


def _stale_s(context: ServerContext) -> float:
    shared = context.evidence_views.shared
    return STALE_S if shared is None else shared.stale_s


def list_replicas(session: Session, *, context: ServerContext) -> list[ReplicaOut]:
    """The replicas registered for the internal relay, alive or recently stopped."""
    stale_s = _stale_s(context)
    return [_replica_out(r, stale_s) for r in _registered(session)]


def revoke_replica(
    session: Session, *, context: ServerContext, replica_id: str, reason: str, actor: str
) -> ReplicaOut:
    """Revoke ``replica_id``'s relay identity (audited ``replica.revoked``); the replica as it is now."""
    event = _revoke(
        session,
        replica_id=replica_id,
        reason=reason,
        actor=actor,
        audit=context.audit,
        lost_reason=SharedRelay.lost_reason,
    )
    log.warning("server replica %s revoked by %s: %s", event.replica_id, actor, reason[:200])
    # a replica id or one of its process ids was given: answer with its first process
    return next(
        r for r in list_replicas(session, context=context) if replica_of(r.replica_id) == event.replica_id
    )
