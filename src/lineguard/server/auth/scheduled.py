"""Start-up of the access-control domain: load and validate the policy before serving.

``create_app`` runs this lifespan at start-up; a policy that fails validation against its
schema raises :class:`~lineguard.contracts.errors.ConfigError` here and the server does
not start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.auth.runtime import auth_runtime
from lineguard.server.context import ServerContext

__all__ = ["lifespan"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context = app.state.lineguard
    assert isinstance(context, ServerContext)  # noqa: S101 - set by create_app
    auth_runtime(context)
    yield
