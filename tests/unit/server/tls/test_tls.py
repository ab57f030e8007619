"""The HTTPS listener for real: protocol versions, ciphers, no plain HTTP, and the
verified client certificate reaching the app through the ASGI TLS extension."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import Engine

from lineguard.config.server import HttpConfig, ServerConfig
from lineguard.edge.identity import enroll, node_ssl_context
from lineguard.server.app import API_PREFIX, create_app
from lineguard.server.auth import allow_public
from lineguard.server.context import ServerContext
from lineguard.server.pki import ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.server.tls import ServerThread, client_certificate_pem
from tests.unit.server.conftest import AuditTrail, Plant, issue_node_token, make_plant_ca

probe = APIRouter(dependencies=[Depends(allow_public("a test probe of the TLS layer"))])


@probe.get("/tls-probe")
def tls_probe(request: Request) -> dict[str, Any]:
    tls = request.scope["extensions"]["tls"]
    return {"tls_version": tls["tls_version"], "has_cert": client_certificate_pem(request.scope) is not None}


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'tls.db'}")
    yield engine
    engine.dispose()


def _serve(settings: ServerConfig, engine: Engine) -> ServerThread:
    ca = make_plant_ca(settings.data_dir)
    app: FastAPI = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail(), ca=ca)
    app.include_router(probe, prefix=API_PREFIX)
    paths = ca_paths(settings.data_dir)
    return ServerThread(
        app,
        cert_file=paths.server_cert,
        key_file=paths.server_key,
        ca_file=paths.cert,
        min_tls_version=settings.http.min_tls_version,
    )


def _client_ctx(ca_file: Path, **versions: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    for name, value in versions.items():
        setattr(ctx, name, value)
    return ctx


def test_tls12_and_13_accepted_older_refused(server_settings: ServerConfig, sqlite_engine: Engine) -> None:
    with _serve(server_settings, sqlite_engine) as server:
        ca_file = ca_paths(server_settings.data_dir).cert
        for version, code in [(ssl.TLSVersion.TLSv1_2, 0x0303), (ssl.TLSVersion.TLSv1_3, 0x0304)]:
            ctx = _client_ctx(ca_file, minimum_version=version, maximum_version=version)
            r = httpx.get(f"{server.url}{API_PREFIX}/tls-probe", verify=ctx)
            assert r.json() == {"tls_version": code, "has_cert": False}
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(cafile=ca_file)
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}{API_PREFIX}/tls-probe", verify=old)


def test_min_tls_13_refuses_tls12(server_settings: ServerConfig, sqlite_engine: Engine) -> None:
    settings = server_settings.model_copy(update={"http": HttpConfig(min_tls_version="1.3")})
    with _serve(settings, sqlite_engine) as server:
        ca_file = ca_paths(settings.data_dir).cert
        tls12 = _client_ctx(ca_file, maximum_version=ssl.TLSVersion.TLSv1_2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}{API_PREFIX}/tls-probe", verify=tls12)
        assert httpx.get(f"{server.url}{API_PREFIX}/tls-probe", verify=_client_ctx(ca_file)).is_success


def test_cbc_and_non_forward_secret_suites_are_refused(
    server_settings: ServerConfig, sqlite_engine: Engine
) -> None:
    with _serve(server_settings, sqlite_engine) as server:
        ctx = _client_ctx(ca_paths(server_settings.data_dir).cert, maximum_version=ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:AES128-GCM-SHA256")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}{API_PREFIX}/tls-probe", verify=ctx)


def test_plain_http_is_not_served(server_settings: ServerConfig, sqlite_engine: Engine) -> None:
    with (
        _serve(server_settings, sqlite_engine) as server,
        socket.create_connection(("127.0.0.1", server.port)) as s,
    ):
        s.sendall(b"GET /api/v1/tls-probe HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        try:
            reply = s.recv(1024)
        except (ConnectionResetError, TimeoutError):
            reply = b""
        assert not reply.startswith(b"HTTP/1.1 200")


def test_the_verified_client_certificate_reaches_the_app(plant: Plant, tmp_path: Path) -> None:
    # The plant fixture's app has no probe route; the node route answering 400 (CSR
    # invalid) instead of 401 proves the certificate arrived and was accepted.
    enroll(plant.url, plant.token("node-t"), tmp_path / "t")
    with httpx.Client(base_url=plant.url, verify=node_ssl_context(tmp_path / "t")) as client:
        r = client.post(f"{API_PREFIX}/nodes/renew", json={"csr_pem": "-----BEGIN nothing"})
    assert r.status_code == 400
    assert "PKCS#10" in r.json()["message"]


def test_probe_sees_the_certificate_on_every_request_of_a_connection(
    server_settings: ServerConfig, sqlite_engine: Engine, tmp_path: Path
) -> None:
    with _serve(server_settings, sqlite_engine) as server:
        context: ServerContext = server.server.config.app.state.lineguard
        with session_factory(sqlite_engine)() as session:
            token = issue_node_token(session, context.ca.get(), "node-p")
        enroll(server.url, token, tmp_path / "p")
        with httpx.Client(base_url=server.url, verify=node_ssl_context(tmp_path / "p")) as client:
            first = client.get(f"{API_PREFIX}/tls-probe").json()
            second = client.get(f"{API_PREFIX}/tls-probe").json()
    assert first["has_cert"]
    assert second["has_cert"]
