"""What other engineers build on is pinned: renaming it breaks this test first."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "lineguard.server.storage": [
        "PARTITION_KEYS", "PARTITION_SCHEMA", "Base", "Leadership", "Partition", "TableRows", "UtcDateTime",
        "advisory_key", "alembic_config", "create_engine_for", "current_heads", "database_url",
        "driver_execute", "drop_partition", "ensure_partitions", "insert_columns", "insert_many",
        "insert_rows", "load_all_models", "month_partitions", "open_engine", "open_storage", "opened_storage",
        "partition_key", "session_factory", "transaction_lock", "upgrade_to_head", "utcnow",
    ],
    "lineguard.server.app": ["API_PREFIX", "TELEMETRY_OFF", "LifespanHook", "create_app", "domain_modules"],
    "lineguard.server.tls": [
        "MODERN_CIPHERS", "TLS_EXTENSION", "PeerCertificateProtocol", "ServerThread",
        "client_certificate_pem", "serve", "serve_workers", "server_ssl_context", "uvicorn_config",
    ],
    "lineguard.server.egress": [
        "EGRESS_ACTOR", "ClientChain", "Denial", "Destination", "EgressGate", "GatedHttp", "GatedMqttClient",
        "HttpResult", "IpAddress", "Pass", "Resolver", "build_gate", "mqtt_destination", "system_resolver",
    ],
    "lineguard.server.integrations": [
        "CONNECTORS", "DELIVERY_ACTOR", "SEALED_CATEGORY", "CmmsDeliveryRow", "Connector", "Delivered",
        "Dispatcher", "IntegrationCursorRow", "IntegrationsState", "OnClosed", "ProbeResult", "RoundReport",
        "StatusOutcome", "StatusUpdate", "SyncReport", "WorkOrder", "backoff_s", "build_connector",
        "list_deliveries", "overview_destinations", "probe", "queue_work_order", "receive_status", "replay",
        "replay_in_transaction",
        "sign", "sync_erp", "verify",
    ],
    "lineguard.server.integrations.erp": [
        "MAPPINGS", "InvalidRecord", "Locations", "MissingField", "ModelCount", "ModelMapping", "SyncReport",
        "TrytonClient", "cursor_name", "cursor_positions", "decode", "encode_datetime", "read_answer",
        "scrap_costs", "source_key", "sync_erp",
    ],
    "lineguard.server.plantdata": [
        "DIMENSIONS", "PLANT_CATEGORIES", "SEALED_CATEGORY", "STRICTNESS", "CategoryScope", "FieldValue",
        "ImportedFile", "IndexKey", "Label", "PlantIndexKeyRow", "PlantRecordIn", "PlantRecordLineRow",
        "PlantRecordRow", "PlantRollupRow", "PlantTermRow", "ROLLUP_DIMENSIONS", "RecordBody", "Scope",
        "UpsertResult", "cedar_targets", "day_of", "derived_label", "import_records", "index_key",
        "labels_condition", "lines_of", "narrowest", "normalise", "open_records",
        "parse_file", "plant_category", "read_action", "readable_condition", "record_readable", "tokens",
        "upsert_records",
    ],
    "lineguard.server.measurements": [
        "SPC_DRIFT", "MeasurementRow", "SpcSettingsRow", "control_chart", "list_characteristics",
        "record_measurements", "update_spc_settings",
    ],
    "lineguard.edge.identity": [
        "EnrollmentToken", "IdentityStore", "NodeIdentityInfo", "enroll", "fetch_pinned_ca", "https_client",
        "maybe_renew", "needs_renewal", "node_ssl_context", "renew", "renewal_proof",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_api_is_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module} exports {name} but does not define it"
