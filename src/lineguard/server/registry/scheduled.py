"""The registry's background duty: keep TUF metadata fresh and the trust list published.

Every ``REFRESH_INTERVAL_S`` the task re-signs roles close to expiry (so nodes never
see expired metadata from a healthy server) and republishes ``trust/signers.json``
when a signing key was rotated or revoked on this host. Without the keyring
passphrase the registry stays closed and the task logs why instead of stopping the
server: the rest of the plant server does not depend on it. A server whose registry was
never used has nothing to refresh. With several replicas (sharing ``data_dir``) only the
one leading the ``registry-refresh`` duty re-signs (``storage.Leadership``): two signers of
the same role at once would race on its version number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from lineguard.contracts.errors import LineGuardError
from lineguard.server.background import background_task
from lineguard.server.context import ServerContext
from lineguard.server.registry.publisher import Registry

__all__ = ["LEADER_DUTY", "REFRESH_INTERVAL_S", "lifespan", "refresh_once"]

#: The name under which one replica leads the refresh.
LEADER_DUTY = "registry-refresh"

log = logging.getLogger(__name__)
REFRESH_INTERVAL_S = 300.0


def refresh_once(context: ServerContext) -> list[str]:
    """One pass: re-sign what is close to expiry, publish a changed trust list.

    A background task never creates the repository (and its keys): that happens on the
    registry's first use, by a person or a command.
    """
    if not context.registry.built and not Registry.exists(context.settings.data_dir):
        return []
    registry = context.registry.get()
    renewed = registry.repo.refresh()
    if registry.publish_trust():
        renewed.append("trust list")
    return renewed


async def _loop(context: ServerContext) -> None:
    while True:
        try:
            leading = await asyncio.to_thread(context.leadership.holds, LEADER_DUTY)
            renewed = await asyncio.to_thread(refresh_once, context) if leading else []
            if renewed:
                log.info("registry: re-signed %s", ", ".join(renewed))
        except LineGuardError as exc:
            log.warning("registry: metadata refresh skipped: %s", exc.message)
        except Exception:  # a bug here must not take the server down; it is logged with its cause
            log.exception("registry: metadata refresh failed")
        await asyncio.sleep(REFRESH_INTERVAL_S)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context = app.state.lineguard
    async with background_task(_loop(context), name="registry-refresh"):
        yield
