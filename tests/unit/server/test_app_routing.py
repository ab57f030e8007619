"""Route order: node ingest is tried first (``app.HOT_DOMAINS``), and that changes which
route answers no request: its paths are literal and no other route's pattern takes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path

from lineguard.config.server import ServerConfig
from lineguard.server.app import API_PREFIX, HOT_DOMAINS, create_app
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from tests.unit.server.conftest import AuditTrail


@pytest.fixture
def app(server_settings: ServerConfig) -> Iterator[FastAPI]:
    engine = create_engine_for(f"sqlite:///{server_settings.data_dir.parent / 'app.db'}")
    yield create_app(server_settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail())
    engine.dispose()


def _api_routes(app: FastAPI) -> list[tuple[str, frozenset[str]]]:
    """(path as a client reaches it, methods) of every API route, in the order they are tried."""
    return [
        (str(c.path), frozenset(c.methods or ()))
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute) and str(c.path).startswith(API_PREFIX)
    ]


def test_the_hot_domains_routes_come_first(app: FastAPI) -> None:
    assert HOT_DOMAINS == ("ingest",)
    first = [path for path, _ in _api_routes(app)[:2]]
    assert sorted(first) == [f"{API_PREFIX}/ingest/batch", f"{API_PREFIX}/ingest/heartbeat"]


def test_moving_them_first_shadows_nothing(app: FastAPI) -> None:
    routes = _api_routes(app)
    hot = [path for path, _ in routes if path.startswith(f"{API_PREFIX}/ingest/")]
    others = [path for path, _ in routes if path not in hot]
    assert len(hot) == 2
    assert len(others) > 50
    for path in hot:
        assert "{" not in path, f"{path} has a parameter: it could take other routes' paths"
        for other in others:
            pattern, _, _ = compile_path(other)
            assert not pattern.match(path), f"{other} also matches {path}"
