"""The ERP connector: plant data read from the plant's ERP (Tryton) into the plant-data store.

* :func:`sync_erp` — one incremental, idempotent sync (``lineguard data sync erp``):
  read through the ERP's JSON-RPC API as a read-only ERP user, through the egress
  gate; map each model to its category and scope (:data:`MAPPINGS`); store it all in
  one transaction with the cursors; audited as ``erp.synced`` / ``erp.sync_failed``.
* :class:`TrytonClient` — Tryton's JSON-RPC (login, ``search_read`` by id pages).
* :func:`scrap_costs` — derived values, labelled with the strictest of their sources.

See docs/plant-data.md#erp-connector.
"""

from lineguard.server.integrations.erp.derived import scrap_costs
from lineguard.server.integrations.erp.jsonrpc import TrytonClient, decode, encode_datetime, read_answer
from lineguard.server.integrations.erp.mapping import (
    MAPPINGS,
    InvalidRecord,
    Locations,
    MissingField,
    ModelMapping,
    source_key,
)
from lineguard.server.integrations.erp.sync import (
    ModelCount,
    SyncReport,
    cursor_name,
    cursor_positions,
    sync_erp,
)

__all__ = [
    "MAPPINGS",
    "InvalidRecord",
    "Locations",
    "MissingField",
    "ModelCount",
    "ModelMapping",
    "SyncReport",
    "TrytonClient",
    "cursor_name",
    "cursor_positions",
    "decode",
    "encode_datetime",
    "read_answer",
    "scrap_costs",
    "source_key",
    "sync_erp",
]
