"""FastAPI's native OpenTelemetry stays off, whatever the environment asks for.

FastAPI 0.165 records spans, metrics and logs (exception messages and stack traces
included) for every request into OpenTelemetry's global providers, and adds OTLP
exporters when ``FASTAPI_OTEL_AUTO_CONFIGURE=true``. The plant server passes
:data:`~lineguard.server.app.TELEMETRY_OFF`; this pins that FastAPI took it, through the
attribute FastAPI keeps it in (a FastAPI upgrade that renames it fails here first).
"""

from __future__ import annotations

import pytest

from lineguard.config.server import ServerConfig
from lineguard.server.app import TELEMETRY_OFF, create_app
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from tests.unit.server.conftest import AuditTrail


def test_every_signal_and_environment_export_is_off(
    server_settings: ServerConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://10.0.0.1:4318")
    engine = create_engine_for(f"sqlite:///{server_settings.data_dir.parent / 'app.db'}")
    try:
        app = create_app(server_settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail())
    finally:
        engine.dispose()
    config = app._telemetry
    assert {key: config[key] for key in TELEMETRY_OFF} == TELEMETRY_OFF
    assert not any(TELEMETRY_OFF.values())
    assert app._native_telemetry.enabled() is False
