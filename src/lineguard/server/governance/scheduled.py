"""At server start: audit every configuration change made while the server was down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.context import ServerContext
from lineguard.server.governance.config_audit import record_config_changes

__all__ = ["lifespan"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    with context.sessions() as session:
        changes = record_config_changes(session, settings=context.settings, audit=context.audit)
    if changes:
        log.warning("configuration changed since the last start: %d settings audited", len(changes))
    yield
