"""Property: whatever bytes an unauthenticated client puts in a path or query, the server
answers with a 4xx in the error shape (never a 5xx), and a control character is always
refused with 400 before any route (review finding 9)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.server.conftest import AuditTrail

from lineguard.config.server import ServerConfig
from lineguard.server.app import create_app
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, upgrade_to_head

_HOME = Path(tempfile.mkdtemp(prefix="lineguard-paths-"))
_ENGINE = create_engine_for(f"sqlite:///{_HOME / 'paths.db'}")
upgrade_to_head(_ENGINE)
_CLIENT = TestClient(
    create_app(
        ServerConfig(kind="server", site_id="plant-a", data_dir=_HOME / "server"),
        engine=_ENGINE,
        sealer=NoEncryption(),
        audit=AuditTrail(),
    ),
    base_url="https://testserver",
    raise_server_exceptions=False,
)
_PREFIXES = [
    "/static/css/",
    "/static/",
    "/api/v1/auth/users/",
    "/api/v1/registry/models/",
    "/api/v1/audit/entries/",
    "/",
]
_CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.just("\x7f")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(prefix=st.sampled_from(_PREFIXES), tail=st.text(max_size=30), query=st.text(max_size=20))
def test_any_path_or_query_is_a_4xx_or_a_page_never_a_5xx(prefix: str, tail: str, query: str) -> None:
    response = _CLIENT.get(prefix + quote(tail, safe="/") + "?q=" + quote(query, safe=""))
    assert response.status_code < 500, (prefix, tail, query, response.text[:200])
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "message", "details"}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    prefix=st.sampled_from(_PREFIXES), before=st.text(max_size=10), control=_CONTROL, in_query=st.booleans()
)
def test_a_control_character_is_always_400(prefix: str, before: str, control: str, in_query: bool) -> None:
    dirty = quote(before + control, safe="")
    url = f"{prefix}x?q={dirty}" if in_query else f"{prefix}{dirty}"
    response = _CLIENT.get(url)
    assert response.status_code == 400, (url, response.status_code)
    assert response.json()["code"] == "bad_request"
