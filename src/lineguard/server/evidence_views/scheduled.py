"""The relay for the app's lifetime, and a sweep that drops images nobody fetched.

One process: the in-memory relay and its purge loop. Several processes (``http.workers``
or ``http.replicas`` above 1, on PostgreSQL): this process also issues its replica
certificate, listens on its internal relay address, registers it (and beats every
:data:`~.shared.HEARTBEAT_S`), LISTENs for views opened elsewhere, and on a clean stop ends
its own open views as ``lost`` and leaves. The listener refuses revoked replicas
(:mod:`.revocation`) and the purge loop audits refused connections (:mod:`.refusals`);
the heartbeat renews the certificate when ``http.internal_renew_fraction`` of its
lifetime is left, unless this replica was revoked. On a host without the CA key
(``LINEGUARD_PKI_ISSUER=false``) the certificate is asked of the issuer through the
database (:mod:`.relay_certs`: at start, waiting for an issuer; at renewal, without
blocking a beat), and an issuer process that leads ``ca-issuer`` answers those requests.

A plant CA rotation or retirement is followed without a restart: when the process's
:class:`~lineguard.server.pki.LiveCa` re-reads ``ca/``, the relay verifies peers against
the new ``trust.pem`` at once, and moves its own certificate to the CA that issues now
:data:`RELAY_SWITCH_AFTER_S` after a rotation (every running process trusts the new CA by
then), or at the next beat when its issuer is trusted no more (retired).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

from fastapi import FastAPI

from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.evidence_view import ReplicaRevokedError
from lineguard.server.background import background_task
from lineguard.server.context import ServerContext
from lineguard.server.evidence_views.handoff import answer_peer
from lineguard.server.evidence_views.identity import claim_name, claim_process_id, resolve_replica_id
from lineguard.server.evidence_views.listen import NotificationListener
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RefusalReason, RelayTls
from lineguard.server.evidence_views.refusals import REFUSALS_ACTOR, RefusalLedger
from lineguard.server.evidence_views.relay_certs import (
    ANSWER_INTERVAL_S,
    START_WAIT_S,
    RelayCertificateRequest,
    answer_relay_certificate_requests,
)
from lineguard.server.evidence_views.revocation import check_not_revoked, issue_unless_revoked
from lineguard.server.evidence_views.shared import HEARTBEAT_S, SKEW_WARN_S, SharedRelay
from lineguard.server.pki import ISSUER_LEADERSHIP, LiveCa, ReplicaCredentials, ca_paths

__all__ = [
    "PURGE_INTERVAL_S",
    "RELAY_SWITCH_AFTER_S",
    "ca_role",
    "lifespan",
    "relay_certificate_due",
    "relays_between_processes",
    "write_refusals",
]

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 5.0
#: After a CA rotation is seen, how long a replica keeps presenting its old-CA relay
#: certificate: the others look at ``ca/`` every ``pki.live.CHECK_INTERVAL_S`` (2 s), so
#: by then they all trust the new CA and none refuses a new-CA certificate.
RELAY_SWITCH_AFTER_S = 10.0


def relay_certificate_due(
    tls: RelayTls, live: LiveCa, renew_before: timedelta, *, now_monotonic: float | None = None
) -> bool:
    """Whether the relay certificate presented now must be replaced by a fresh one.

    When it nears its end; when the CA that issued it is trusted no more (retired); when
    another CA issues now and the rotation was seen :data:`RELAY_SWITCH_AFTER_S` ago.
    """
    if tls.expires_within(renew_before):
        return True
    ca = live.get()
    if tls.issuer == ca.certificate.subject:
        return False
    if tls.issuer not in {c.subject for c in ca.trusted}:
        return True
    now = time.monotonic() if now_monotonic is None else now_monotonic
    return live.changed_at is not None and now - live.changed_at >= RELAY_SWITCH_AFTER_S


def ca_role(context: ServerContext) -> str:
    """This process's plant CA role for its heartbeat row: ``leader`` (the issuer that signs
    what non-issuers forward: ``ca-issuer`` leadership), ``issuer`` (a standby) or ``none``."""
    if not context.ca.issuer:
        return "none"
    return "leader" if context.leadership.holds(ISSUER_LEADERSHIP) else "issuer"


def relays_between_processes(context: ServerContext) -> bool:
    """Several server processes share views through PostgreSQL (SQLite keeps one process's relay)."""
    http = context.settings.http
    return (http.workers > 1 or http.replicas > 1) and context.engine.dialect.name == "postgresql"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    relay = context.evidence_views.relay

    async def purge() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            relay.purge()

    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(background_task(purge(), name="evidence-views-purge"))
            if relays_between_processes(context):
                await stack.enter_async_context(_shared(context))
            yield
    finally:
        relay.purge()


@asynccontextmanager
async def _shared(context: ServerContext) -> AsyncIterator[SharedRelay]:
    state = context.evidence_views
    http = context.settings.http
    # A stable id (identity.py): a revoked replica started again is still revoked.
    replica_id = await asyncio.to_thread(resolve_replica_id, context.settings.data_dir)
    process_id = await asyncio.to_thread(claim_process_id, context.leadership, replica_id, http.workers)
    shared = SharedRelay(context.sessions, replica_id=process_id, settings=state.relay.settings)
    refusals = RefusalLedger(shared.replica_id)
    state.refusals = refusals

    host, bind_port = http.internal_advertised_host or http.internal_host, http.internal_port
    renew_before = timedelta(hours=http.internal_certificate_hours * http.internal_renew_fraction)

    def issue() -> ReplicaCredentials:  # the SAN is the address the others dial; refused once revoked
        return issue_unless_revoked(
            context.sessions,
            context.ca.current(),  # after a retirement, never the retired CA
            replica_id=shared.replica_id,
            host=host,
            hours=http.internal_certificate_hours,
        )

    async def admit(peer_id: str) -> None:
        await asyncio.to_thread(check_not_revoked, context.sessions, peer_id)

    def refused(source: str, reason: RefusalReason, presented: str) -> None:
        refusals.note(source, reason, presented)

    async def first_credentials() -> ReplicaCredentials:
        if context.ca.issuer:
            return await asyncio.to_thread(issue)
        return await _from_issuer(context, shared.replica_id, host)

    try:
        tls = RelayTls(await first_credentials(), ca_paths(context.settings.data_dir).trust)
    except ReplicaRevokedError:
        log.exception(  # refuse to start: the others would refuse every hand-off (docs/deployment.md)
            "this server replica (%s) is revoked, so it does not start; a host that is wanted back "
            "needs a new replica id (another LINEGUARD_REPLICA_ID, or data_dir/replicas/<host>.id removed)",
            process_id,
        )
        context.leadership.release(claim_name(process_id))
        raise
    server = PeerServer(
        tls,
        partial(answer_peer, context, shared),
        max_connections=http.internal_max_handoffs,
        admit=admit,
        refused=refused,
    )
    bound = await server.start(http.internal_host, bind_port)
    port = http.internal_advertised_port or bound
    await asyncio.to_thread(shared.heartbeat, host, port, ca_role=await asyncio.to_thread(ca_role, context))
    listener = NotificationListener(context.engine, shared.wake)
    listener.start()
    state.shared, state.peers = shared, PeerClient(tls)
    # ``lineguard ca rotate`` / ``retire``: verify peers against the new trust.pem at once.
    stop_following = context.ca.subscribe(lambda _ca: tls.retrust(ca_paths(context.settings.data_dir).trust))
    log.info(
        "evidence views relayed between processes: %s listening on %s:%d, reached at %s:%d",
        shared.replica_id,
        http.internal_host,
        bound,
        host,
        port,
    )

    async def beat() -> None:
        skewed = revoked = False
        pending: RelayCertificateRequest | None = None  # a non-issuer's renewal, asked of the issuer
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                refused = sum(refusals.totals.values())
                role = await asyncio.to_thread(ca_role, context)
                skew_s = await asyncio.to_thread(shared.heartbeat, host, port, refused=refused, ca_role=role)
                if skewed != (abs(skew_s) > SKEW_WARN_S):  # said once each way, not every beat
                    skewed = not skewed
                    log.warning(
                        "this host's clock is %+.1f s off the database's%s",
                        skew_s,
                        " (evidence views correct for it; run NTP on every replica host)" if skewed else "",
                    )
                if shared.revoked != revoked:
                    revoked = shared.revoked
                    log.error(  # said once: the operator revoked this replica (docs/deployment.md)
                        "this server replica (%s) was revoked: the others refuse its hand-offs, its "
                        "certificate is not renewed; stop it and start a fresh one if it is still wanted",
                        shared.replica_id,
                    )
                if not await asyncio.to_thread(context.leadership.holds, claim_name(process_id)):
                    log.error(  # the lock went with a database connection and another process took it
                        "this process no longer holds its replica id %s: another process claimed it",
                        process_id,
                    )
                if not shared.revoked and relay_certificate_due(tls, context.ca, renew_before):
                    if context.ca.issuer:
                        tls.renew(await asyncio.to_thread(issue))
                    elif pending is None:  # asked now, collected at the next beats (never blocks a beat)
                        pending = RelayCertificateRequest(context.sessions, shared.replica_id, host)
                        await asyncio.to_thread(pending.submit)
                if pending is not None:
                    asked, pending = pending, None
                    renewed = await asyncio.to_thread(asked.collect, context.ca.get())
                    if renewed is not None:
                        tls.renew(renewed)
                    elif (datetime.now(UTC) - asked.submitted_at).total_seconds() > START_WAIT_S:
                        await asyncio.to_thread(asked.withdraw)
                        log.warning(
                            "no CA issuer signed this replica's relay certificate renewal within %.0f s; "
                            "asking again at the next beat (the current certificate ends %s)",
                            START_WAIT_S,
                            tls.not_after.isoformat(),
                        )
                    else:
                        pending = asked
            except Exception:  # a database blip, the CA unavailable: the next beat tries again
                log.exception("evidence-view relay heartbeat or certificate renewal failed")

    async def purge() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                await asyncio.to_thread(shared.purge)
                await asyncio.to_thread(write_refusals, context, refusals)
            except Exception:
                log.exception("evidence-view relay purge failed")

    async def answer_requests() -> None:
        """On an issuer: sign the relay certificates non-issuers ask for, while it leads ``ca-issuer``."""
        failing = False
        while True:
            await asyncio.sleep(ANSWER_INTERVAL_S)
            try:
                if await asyncio.to_thread(context.leadership.holds, ISSUER_LEADERSHIP):
                    await asyncio.to_thread(
                        lambda: answer_relay_certificate_requests(
                            context.sessions,
                            context.ca.current(),
                            hours=http.internal_certificate_hours,
                            audit=context.audit,
                        )
                    )
                failing = False
            except Exception:  # said once until a look succeeds again
                if not failing:
                    log.exception("answering relay certificate requests failed; looking again")
                failing = True

    try:
        async with AsyncExitStack() as duties:
            await duties.enter_async_context(background_task(beat(), name="evidence-views-heartbeat"))
            await duties.enter_async_context(background_task(purge(), name="evidence-views-shared-purge"))
            if context.ca.issuer:
                await duties.enter_async_context(
                    background_task(answer_requests(), name="relay-certificate-requests")
                )
            yield shared
    finally:
        state.shared, state.peers = None, None
        stop_following()
        listener.stop()
        await server.stop()
        with contextlib.suppress(Exception):  # the database may be what stopped us
            await asyncio.to_thread(write_refusals, context, refusals, close=True)
        ended = await asyncio.to_thread(shared.leave)
        context.leadership.release(claim_name(process_id))
        if ended:
            log.warning("%d evidence views ended as lost: this server process is stopping", ended)


async def _from_issuer(context: ServerContext, process_id: str, host: str) -> ReplicaCredentials:
    """A non-issuer's first relay certificate, signed by the issuer on request (``relay_certs.py``).

    Waits up to :data:`~.relay_certs.START_WAIT_S` (an issuer may be starting beside it);
    then :class:`IssuerUnavailableError`, and this process does not start.
    """
    request = RelayCertificateRequest(context.sessions, process_id, host)
    await asyncio.to_thread(request.submit)
    deadline = time.monotonic() + START_WAIT_S
    said = False
    while True:
        credentials = await asyncio.to_thread(lambda: request.collect(context.ca.current()))
        if credentials is not None:
            return credentials
        if time.monotonic() > deadline:
            await asyncio.to_thread(request.withdraw)
            msg = (
                f"no plant CA issuer signed this replica's relay certificate within {START_WAIT_S:.0f} s: "
                "start an issuer replica (LINEGUARD_PKI_ISSUER=true, with the CA passphrase) on the same "
                "database first"
            )
            raise IssuerUnavailableError(msg)
        if not said and time.monotonic() > deadline - START_WAIT_S + 5:
            said = True
            log.warning(
                "waiting for a plant CA issuer to sign this replica's relay certificate (%s)", process_id
            )
        await asyncio.sleep(0.25)


def write_refusals(context: ServerContext, refusals: RefusalLedger, *, close: bool = False) -> int:
    """Audit the refused relay connections that are due (``close``: all counted); how many entries."""
    entries = refusals.due(close=close)
    if entries:
        with context.sessions.begin() as session:
            for entry in entries:
                context.audit(session, entry, actor=REFUSALS_ACTOR)
        log.warning(
            "internal relay refused %d connections (%s)",
            sum(e.count for e in entries),
            ", ".join(f"{e.source_ip} {e.reason} x{e.count}" for e in entries[:10]),
        )
    return len(entries)
