"""The enterprise roll-up service: line-day aggregates from many plants, nothing else.

A separate process (``lineguard enterprise serve --config enterprise.yaml``) with its own
database, CA, roles and audit chain. Plants push to it (``lineguard.server.enterprise``);
it has no way back into a plant.

* :func:`create_enterprise_app` — the HTTP API (:mod:`.app`): plants submit over mutual
  TLS, people read by role (:mod:`.roles`: ``quality_viewer``, ``plant_admin``,
  ``auditor``).
* :func:`open_enterprise_storage` — SQLite or PostgreSQL, schema versioned.
* :func:`init_enterprise_ca`, :func:`enrol_plant`, :func:`plant_request` — the roll-up's
  CA and each plant's client certificate.
* :func:`issue_token`, :func:`revoke_token`, :func:`list_tokens` — people's expiring API tokens.
* :func:`record`, :func:`checkpoint`, :func:`verify_log` — its audit log: the plant's
  chain and signed checkpoints over its own tables, with its own key
  (:func:`open_rollup_audit_key`).
"""

from lineguard.enterprise.access import DeclaredRoute, declared_routes
from lineguard.enterprise.app import create_enterprise_app
from lineguard.enterprise.audit import (
    ROLLUP_SITE_ID,
    checkpoint,
    open_rollup_audit_key,
    public_key_file,
    record,
    verify_log,
)
from lineguard.enterprise.pki import PlantRequest, enrol_plant, init_enterprise_ca, plant_request, service_tls
from lineguard.enterprise.roles import GRANTS, Permission, Role
from lineguard.enterprise.service import create_token, list_tokens, revoke_token
from lineguard.enterprise.storage import open_enterprise_storage
from lineguard.enterprise.tokens import IssuedToken, issue_token

__all__ = [
    "GRANTS",
    "ROLLUP_SITE_ID",
    "DeclaredRoute",
    "IssuedToken",
    "Permission",
    "PlantRequest",
    "Role",
    "checkpoint",
    "create_enterprise_app",
    "create_token",
    "declared_routes",
    "enrol_plant",
    "init_enterprise_ca",
    "issue_token",
    "list_tokens",
    "open_enterprise_storage",
    "open_rollup_audit_key",
    "plant_request",
    "public_key_file",
    "record",
    "revoke_token",
    "service_tls",
    "verify_log",
]
