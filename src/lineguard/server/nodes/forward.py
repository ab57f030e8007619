"""Enrollment and renewal on a replica that cannot sign: forwarded to the issuer over the relay.

A replica host with ``LINEGUARD_PKI_ISSUER=false`` (``server/pki/role.py``) holds no CA
key. When a node's enrollment or renewal reaches it, it checks what it can (the token's
refusals, audited as usual; the node's certificate, as every node route does; the CSR's
signature and key type) and forwards the request over the internal mutual-TLS relay
(``server/evidence_views/peers.py``, ops :data:`ENROLL_OP` / :data:`RENEW_OP`) to the
issuer that leads, then the standby issuers. The issuer trusts none of that: it runs the
same :func:`~.service.enroll` / :func:`~.renewal.renew` as for a node that reached it
directly (token row locked, node active, certificate serial current and matching; for a
renewal the node's proof of possession, which only the issuer checks) and
audits the certificate with the asking replica's process id (``requested_by``, taken
from its relay certificate, not from what it sent). So a compromised non-issuer can ask
for what a node holding a valid token or certificate could ask for, each request
audited under its name, and no more.

No issuer reachable (none registered live, each unreachable or not an issuer any more):
:class:`~lineguard.contracts.certificates.IssuerUnavailableError`, a 503 with
``Retry-After``. Nothing was used up: the token is redeemed only by the issuer's
transaction, and the node keeps its current certificate (its renewal worker retries).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import ContractError
from lineguard.contracts.evidence_view import EvidenceRelayError
from lineguard.server.context import ServerContext
from lineguard.server.nodes import renewal as renewal_service
from lineguard.server.nodes import service
from lineguard.server.nodes.schemas import CertificateResponse, ForwardedEnrollment, ForwardedRenewal

__all__ = ["ENROLL_OP", "RENEW_OP", "SIGNING_OPS", "answer_signing_request", "forward_to_issuer"]

log = logging.getLogger(__name__)

#: Relay operations an issuer answers (``server/evidence_views/handoff.py`` dispatches them here).
ENROLL_OP = "pki.enroll"
RENEW_OP = "pki.renew"
SIGNING_OPS = frozenset({ENROLL_OP, RENEW_OP})


def forward_to_issuer(
    context: ServerContext, op: str, payload: ForwardedEnrollment | ForwardedRenewal
) -> CertificateResponse:
    """Have an issuer sign ``payload`` (blocking: call from a worker thread); its answer.

    Tries the leader, then each standby issuer, moving on only when one cannot be reached
    or is no issuer any more; a refusal (a used token, a revoked node) is the answer.
    """
    views = context.evidence_views
    if views.shared is None or views.peers is None:
        msg = (
            "this server replica cannot sign (LINEGUARD_PKI_ISSUER=false) and reaches no issuer: the "
            "internal relay is not running (several replicas on PostgreSQL); try again later"
        )
        raise IssuerUnavailableError(msg)
    tried: list[str] = []
    for issuer in views.shared.issuers():
        try:
            _, body = views.peers.call(
                issuer.host, issuer.port, {"op": op}, payload.model_dump_json().encode()
            )
        except (EvidenceRelayError, IssuerUnavailableError) as exc:
            tried.append(f"{issuer.replica_id} ({exc.message[:120]})")
            continue
        try:
            return CertificateResponse.model_validate_json(body)
        except ValidationError as exc:
            tried.append(f"{issuer.replica_id} (answered out of protocol: {exc.error_count()} error(s))")
    msg = (
        "no plant CA issuer could sign this certificate now: "
        + ("; ".join(tried) if tried else "no live replica holds the CA key (LINEGUARD_PKI_ISSUER)")
        + "; nothing was used up, try again later"
    )
    log.warning("%s", msg)
    raise IssuerUnavailableError(msg[:1000])


def _sign(context: ServerContext, op: str, body: bytes, requested_by: str) -> CertificateResponse:
    """On the issuer (blocking): every check again against the database, then sign."""
    try:
        if op == ENROLL_OP:
            enrollment = ForwardedEnrollment.model_validate_json(body)
        else:
            renewal = ForwardedRenewal.model_validate_json(body)
    except ValidationError as exc:
        msg = f"forwarded {op} request is malformed: {exc.errors()[0]['msg']}"[:300]
        raise ContractError(msg) from None
    ca = context.ca.current()  # raises IssuerUnavailableError where no key is held
    settings = context.settings.pki
    with context.sessions() as session:
        if op == ENROLL_OP:
            return service.enroll(
                session,
                ca=ca,
                token_text=enrollment.token,
                csr_pem=enrollment.csr_pem,
                cert_days=settings.node_cert_days,
                audit=context.checkpoints.throttle.hook(context.audit, source=enrollment.source),
                source=enrollment.source,
                requested_by=requested_by,
            )
        node = service.authenticate_certificate(
            session, cert_pem=renewal.certificate_pem, audit=context.audit
        )
        return renewal_service.renew(
            session,
            ca=ca,
            identity=node,
            presented_pem=renewal.certificate_pem,
            csr_pem=renewal.csr_pem,
            proof=renewal.proof,
            forwarded=True,
            cert_days=settings.node_cert_days,
            grace=timedelta(hours=settings.renewal_grace_hours),
            audit=context.audit,
            requested_by=requested_by,
        )


async def answer_signing_request(
    context: ServerContext, *, op: str, body: bytes, peer_id: str
) -> tuple[dict[str, Any], bytes]:
    """The issuer's answer to a forwarded enrollment or renewal (relay ``op`` from the replica
    process ``peer_id``, as its relay certificate names it): the certificate, as the body."""
    if not context.ca.issuer:
        msg = "this server replica is not a plant CA issuer (LINEGUARD_PKI_ISSUER=false)"
        raise IssuerUnavailableError(msg)
    issued = await asyncio.to_thread(_sign, context, op, body, peer_id)
    return {}, issued.model_dump_json().encode()
