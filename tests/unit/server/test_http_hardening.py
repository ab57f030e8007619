"""HTTP-level findings of the 2026-12 security review, each reproduced against a real app.

* Finding 3 and 9 are below; finding 10 at the end.
* Finding 3: ``/api/v1/docs`` loaded ``swagger-ui-bundle.js`` from a CDN (floating
  version, no integrity hash, no CSP) into the dashboard's origin. The page is gone;
  the OpenAPI JSON stays public; every page left loads scripts from its own origin only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lineguard.config.server import ServerConfig
from lineguard.server.app import API_PREFIX, create_app
from lineguard.server.dashboard.site import PAGES
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from tests.unit.server.conftest import AuditTrail

_SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc=[\"']([^\"']+)", re.IGNORECASE)


@pytest.fixture
def client(server_settings: ServerConfig) -> Iterator[TestClient]:
    engine = create_engine_for(f"sqlite:///{server_settings.data_dir.parent / 'app.db'}")
    app = create_app(server_settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail())
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c
    engine.dispose()


def test_no_page_loads_a_third_party_script(client: TestClient) -> None:
    assert client.get(f"{API_PREFIX}/docs").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    for path in [page.path for page in PAGES]:
        response = client.get(path)
        assert response.status_code == 200, path
        sources = _SCRIPT_SRC.findall(response.text)
        assert all(src.startswith("/") and not src.startswith("//") for src in sources), (path, sources)
        assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_openapi_description_stays_public(client: TestClient) -> None:
    response = client.get(f"{API_PREFIX}/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "LineGuard plant server"


# Finding 9: an unauthenticated request with an embedded NUL caused a 500 and wrote a raw
# NUL into the log. Now such requests are refused with 400 before any route, and every
# log record's message escapes control characters.


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/app.css%00.js",
        "/static/css/app%0d%0aX-Injected:%20yes.css",
        f"{API_PREFIX}/auth/users/ab%00c/disable",
        f"{API_PREFIX}/audit/entries?name_prefix=%00",
        "/%1b[31mred",
    ],
)
def test_control_characters_in_path_or_query_are_400_never_500(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert not any("\x00" in r.getMessage() for r in caplog.records)


def test_log_messages_escape_control_characters(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)
    logging.getLogger("lineguard.test").warning("login failed for %s", "eve\x00\nFORGED entry\x1b[0m")
    (record,) = [r for r in caplog.records if r.name == "lineguard.test"]
    message = record.getMessage()
    assert message == "login failed for eve\\x00\\x0aFORGED entry\\x1b[0m"
    assert "\n" not in message and "\x00" not in message


# Finding 10 (smaller ones): API answers lacked Cache-Control: no-store, nosniff and
# HSTS; the OpenAPI description listed no 401/403.


@pytest.mark.parametrize(
    "path", [f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/auth/me", f"{API_PREFIX}/nope"]
)
def test_every_api_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert "default-src 'none'" in headers["content-security-policy"]


def test_static_files_keep_their_own_cache_policy(client: TestClient) -> None:
    headers = client.get("/static/css/app.css").headers
    assert headers["cache-control"] == "no-cache"
    assert headers["x-content-type-options"] == "nosniff"


def test_openapi_lists_401_and_403_on_guarded_operations_only(client: TestClient) -> None:
    paths = client.get(f"{API_PREFIX}/openapi.json").json()["paths"]
    users = paths[f"{API_PREFIX}/auth/users"]["get"]["responses"]
    assert {"401", "403"} <= set(users)
    assert users["403"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    login = paths[f"{API_PREFIX}/auth/login"]["post"]["responses"]
    assert "403" not in login  # public
