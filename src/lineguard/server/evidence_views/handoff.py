"""Handing an image between server processes: forward an upload, fetch for a person, answer a peer.

Only with several server processes (:mod:`.shared`). Whichever process checked a node's
upload gives the bytes to the view's owner (:func:`deliver`); whichever process a person's
fetch reaches takes the image from the owner (:func:`take`); the owner answers both over
the internal relay (:func:`answer_peer`). When the owner cannot be reached the view ends
``lost`` at once, so the person and the node learn it on their next request and no copy
of the image is left anywhere.

The owner writes the ``access.evidence_view`` entry of a delivered view, in the
transaction that marks it ``taken``: the person's identity (user, browser session, audit
actor) comes in the request of the process that authenticated them, a peer whose replica
certificate the relay checked, and the owner checks user and session against the view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from lineguard.contracts.audit import EvidenceViewed
from lineguard.contracts.errors import ContractError
from lineguard.contracts.evidence_view import EvidenceRelayError, EvidenceViewLostError
from lineguard.server.context import ServerContext
from lineguard.server.evidence_views.jpeg import check_jpeg
from lineguard.server.evidence_views.peers import PeerClient, Request
from lineguard.server.evidence_views.relay import Delivered, View
from lineguard.server.evidence_views.shared import SharedRelay
from lineguard.server.nodes import SIGNING_OPS, answer_signing_request

__all__ = ["answer_peer", "deliver", "delivered_audit", "take"]

Notes = tuple[tuple[int, int, int, int] | None, bool | None]


def delivered_audit(context: ServerContext, actor: str) -> Callable[[Session, View], None]:
    """The audit write of a delivered view, for :meth:`SharedRelay.take`'s transaction."""

    def write(session: Session, view: View) -> None:
        event = EvidenceViewed(
            view_id=view.view_id,
            evidence_ref=view.evidence_ref,
            node_id=view.node_id,
            result="delivered",
            outcome="success",
        )
        context.audit(session, event, actor=actor)

    return write


def _lose(shared: SharedRelay, view: View, why: str) -> EvidenceViewLostError:
    reason = f"{shared.lost_reason(view.owner_id)} ({why})"[:500]
    shared.fail(view, "lost", reason)
    return EvidenceViewLostError(reason)


def _owner(shared: SharedRelay, view: View) -> tuple[str, int]:
    peer = shared.peer(view.owner_id)
    if peer is None:
        raise _lose(shared, view, "its heartbeat stopped")
    return peer.host, peer.port


def deliver(*, shared: SharedRelay, peers: PeerClient, view: View, image: bytes, notes: Notes) -> None:
    """Give a checked image to the view's owner: this process's memory, or the owner's over mTLS."""
    if view.owner_id == shared.replica_id:
        shared.hold(view.view_id, image, request_id=view.request_id, node_id=view.node_id, notes=notes)
        return
    host, port = _owner(shared, view)
    region, hidden = notes
    header = {
        "op": "deliver",
        "view_id": view.view_id,
        "request_id": view.request_id,
        "node_id": view.node_id,
        "stored_region": None if region is None else list(region),
        "defect_hidden": hidden,
    }
    try:
        peers.call(host, port, header, image)
    except EvidenceRelayError as exc:
        raise _lose(shared, view, exc.message) from None


def take(
    *, context: ServerContext, shared: SharedRelay, peers: PeerClient, view: View, actor: str
) -> Delivered | None:
    """The image from the view's owner (once), audited there; None when there is none any more."""
    if view.owner_id == shared.replica_id:
        return shared.take(
            view.view_id,
            user_id=view.user_id,
            session_id=view.session_id,
            audit=delivered_audit(context, actor),
        )
    try:
        host, port = _owner(shared, view)
        header = {
            "op": "take",
            "view_id": view.view_id,
            "user_id": view.user_id,
            "session_id": view.session_id,
            "actor": actor,
        }
        answer, image = peers.call(host, port, header)
    except EvidenceViewLostError:
        return None
    except EvidenceRelayError as exc:
        _lose(shared, view, exc.message)
        return None
    if answer.get("image") is not True:
        return None
    region, hidden = _notes(answer)
    return Delivered(image, region, hidden)


# -- the owner's side --------------------------------------------------------------------


def _text(header: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value = header.get(name)
    if (value is None and optional) or (isinstance(value, str) and 0 < len(value) <= 500):
        return value
    msg = f"relay request field {name!r} must be a string of 1 to 500 characters, got {type(value).__name__}"
    raise ContractError(msg)


def _notes(header: dict[str, Any]) -> Notes:
    region, hidden = header.get("stored_region"), header.get("defect_hidden")
    if region is not None and not (
        isinstance(region, list) and len(region) == 4 and all(type(v) is int and v >= 0 for v in region)
    ):
        msg = "relay field 'stored_region' must be four non-negative integers or null"
        raise ContractError(msg)
    if hidden is not None and not isinstance(hidden, bool):
        msg = "relay field 'defect_hidden' must be true, false or null"
        raise ContractError(msg)
    return (None if region is None else (region[0], region[1], region[2], region[3])), hidden


async def answer_peer(
    context: ServerContext, shared: SharedRelay, request: Request
) -> tuple[dict[str, Any], bytes]:
    """The owner's answer to one relay request (``deliver`` or ``take``), or an issuer's to a
    forwarded enrollment or renewal; typed errors otherwise."""
    header = request.header
    if request.op in SIGNING_OPS:  # a non-issuer's forwarded enrollment or renewal
        return await answer_signing_request(
            context, op=request.op, body=request.body, peer_id=request.peer_id
        )
    if request.op == "deliver":
        view_id, request_id, node_id = (_text(header, n) for n in ("view_id", "request_id", "node_id"))
        notes = _notes(header)
        check_jpeg(request.body)  # the sender checked it too; the owner trusts no bytes unseen
        await asyncio.to_thread(
            shared.hold, view_id, request.body, request_id=request_id, node_id=node_id, notes=notes
        )
        return {}, b""
    if request.op == "take":
        view_id, user_id, actor = (_text(header, n) for n in ("view_id", "user_id", "actor"))
        session_id = _text(header, "session_id", optional=True)
        delivered = await asyncio.to_thread(
            shared.take,
            view_id,
            user_id=user_id,
            session_id=session_id,
            audit=delivered_audit(context, actor),
        )
        if delivered is None:
            return {"image": False}, b""
        region = None if delivered.stored_region is None else list(delivered.stored_region)
        return {
            "image": True,
            "stored_region": region,
            "defect_hidden": delivered.defect_hidden,
        }, delivered.image
    expected = "'deliver', 'take', 'pki.enroll' or 'pki.renew'"
    msg = f"unknown relay operation {request.op[:40]!r} (expected {expected})"
    raise ContractError(msg)
