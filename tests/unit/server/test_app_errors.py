"""Errors become ``{code, message, details}`` responses in one place; a malformed
request is never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConflictError, CryptoError
from lineguard.server.app import API_PREFIX, create_app
from lineguard.server.auth import allow_public
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from tests.unit.server.conftest import AuditTrail


class Widget(BaseModel):
    name: str
    size: int


probe = APIRouter(prefix="/probe", dependencies=[Depends(allow_public("a test probe of the error handlers"))])


@probe.post("/widgets")
def make_widget(widget: Widget) -> dict[str, str]:
    return {"name": widget.name}


@probe.get("/conflict")
def conflict() -> None:
    raise ConflictError("widget w1 exists; expected a new name", details=["name: taken"])


@probe.get("/crypto")
def crypto() -> None:
    raise CryptoError("kek_123 cannot unwrap dek_456")


@probe.get("/bug")
def bug() -> None:
    raise RuntimeError("secret internals")


@pytest.fixture
def client(server_settings: ServerConfig, tmp_path: object) -> Iterator[TestClient]:
    engine = create_engine_for(f"sqlite:///{server_settings.data_dir.parent / 'app.db'}")
    app: FastAPI = create_app(server_settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail())
    app.include_router(probe, prefix=API_PREFIX)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    engine.dispose()


def test_lineguard_error_keeps_its_status_code_and_details(client: TestClient) -> None:
    r = client.get(f"{API_PREFIX}/probe/conflict")
    assert r.status_code == 409
    assert r.json() == {
        "code": "conflict",
        "message": "widget w1 exists; expected a new name",
        "details": ["name: taken"],
    }


def test_server_side_errors_hide_their_cause(client: TestClient) -> None:
    r = client.get(f"{API_PREFIX}/probe/crypto")
    assert r.status_code == 500
    assert "kek_123" not in r.text
    r = client.get(f"{API_PREFIX}/probe/bug")
    assert r.status_code == 500
    assert r.json()["code"] == "internal"
    assert "secret" not in r.text


def test_validation_errors_are_422_with_path_lines(client: TestClient) -> None:
    r = client.post(f"{API_PREFIX}/probe/widgets", json={"name": "w", "size": "big"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "contract_invalid"
    assert body["details"] == [
        "body.size: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_unknown_route_and_method_use_the_same_shape(client: TestClient) -> None:
    r = client.get(f"{API_PREFIX}/nope")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = client.delete(f"{API_PREFIX}/probe/widgets")
    assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")


def test_openapi_document_is_served(client: TestClient) -> None:
    assert client.get(f"{API_PREFIX}/openapi.json").json()["info"]["title"] == "LineGuard plant server"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | json_values.map(lambda v: __import__("json").dumps(v).encode()))
def test_fuzz_malformed_bodies_never_cause_a_5xx(client: TestClient, body: bytes) -> None:
    r = client.post(f"{API_PREFIX}/probe/widgets", content=body, headers={"content-type": "application/json"})
    assert r.status_code < 500, r.text
    assert set(r.json()) == {"name"} or set(r.json()) == {"code", "message", "details"}
