"""Schemathesis over the server's own OpenAPI description, unauthenticated, bounded.

Every operation gets a few generated requests (``MAX_EXAMPLES`` each: this runs in the
normal test suite, so in CI) against the real app (SQLite, migrated): no answer may be
a server error, and no operation that documents 401/403 (every guarded one: see
``auth.document_access_answers``) may succeed without credentials. The 2026-12 review
ran the same tool against the demo; this keeps the result from regressing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from tests.unit.server.conftest import AuditTrail

from lineguard.config.server import ServerConfig
from lineguard.server.app import create_app
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, upgrade_to_head

MAX_EXAMPLES = 3

_HOME = Path(tempfile.mkdtemp(prefix="lineguard-schemathesis-"))
_ENGINE = create_engine_for(f"sqlite:///{_HOME / 'fuzz.db'}")
upgrade_to_head(_ENGINE)
APP = create_app(
    ServerConfig(kind="server", site_id="plant-a", data_dir=_HOME / "server"),
    engine=_ENGINE,
    sealer=NoEncryption(),
    audit=AuditTrail(),
)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_no_unauthenticated_success(case: schemathesis.Case) -> None:
    response = case.call(headers={"host": "testserver"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )
    guarded = "401" in case.operation.definition.raw.get("responses", {})
    if guarded:
        assert response.status_code >= 400, (
            f"{case.method} {case.formatted_path} answered {response.status_code} without credentials"
        )
