"""The relay for the app's lifetime, and a sweep that drops images nobody fetched.

One process: the in-memory relay and its purge loop. Several processes (``http.workers``
or ``http.replicas`` above 1, on PostgreSQL): this process also issues its replica
certificate, listens on its internal relay address, registers it (and beats every
:data:`~.shared.HEARTBEAT_S`), LISTENs for views opened elsewhere, and on a clean stop ends
its own open views as ``lost`` and leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI

from lineguard.server.background import background_task
from lineguard.server.context import ServerContext
from lineguard.server.evidence_views.handoff import answer_peer
from lineguard.server.evidence_views.listen import NotificationListener
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RelayTls
from lineguard.server.evidence_views.shared import HEARTBEAT_S, SharedRelay
from lineguard.server.pki import ReplicaCredentials, ca_paths

__all__ = ["CERTIFICATE_HOURS", "PURGE_INTERVAL_S", "lifespan", "relays_between_processes"]

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 5.0
#: Lifetime of a process's replica certificate; it is renewed at half of it.
CERTIFICATE_HOURS = 24.0


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
    shared = SharedRelay(context.sessions, settings=state.relay.settings)

    def issue() -> ReplicaCredentials:
        return context.ca.get().issue_replica_certificate(
            replica_id=shared.replica_id, host=http.internal_host, hours=CERTIFICATE_HOURS
        )

    tls = RelayTls(await asyncio.to_thread(issue), ca_paths(context.settings.data_dir).cert)
    renew_at = time.monotonic() + CERTIFICATE_HOURS * 3600 / 2
    server = PeerServer(tls, partial(answer_peer, context, shared))
    port = await server.start(http.internal_host, http.internal_port)
    await asyncio.to_thread(shared.heartbeat, http.internal_host, port)
    listener = NotificationListener(context.engine, shared.wake)
    listener.start()
    state.shared, state.peers = shared, PeerClient(tls)
    log.info(
        "evidence views relayed between processes: %s on %s:%d", shared.replica_id, http.internal_host, port
    )

    async def beat() -> None:
        nonlocal renew_at
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await asyncio.to_thread(shared.heartbeat, http.internal_host, port)
                if time.monotonic() >= renew_at:  # a fresh certificate at half the lifetime
                    tls.renew(await asyncio.to_thread(issue))
                    renew_at = time.monotonic() + CERTIFICATE_HOURS * 3600 / 2
            except Exception:  # a database blip: the next beat tries again
                log.exception("evidence-view relay heartbeat failed")

    async def purge() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                await asyncio.to_thread(shared.purge)
            except Exception:
                log.exception("evidence-view relay purge failed")

    try:
        async with (
            background_task(beat(), name="evidence-views-heartbeat"),
            background_task(purge(), name="evidence-views-shared-purge"),
        ):
            yield shared
    finally:
        state.shared, state.peers = None, None
        listener.stop()
        await server.stop()
        ended = await asyncio.to_thread(shared.leave)
        if ended:
            log.warning("%d evidence views ended as lost: this server process is stopping", ended)
