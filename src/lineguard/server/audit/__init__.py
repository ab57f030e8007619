"""Tamper-evident audit log of the plant server.

* :func:`record` — the one choke point every writer goes through (in its transaction);
  :class:`AuditRecorder` adapts it to ``create_app``'s ``audit`` hook.
* :mod:`.chain` — entry hashes over canonical JSON and the Merkle frontier.
* :func:`create_checkpoint` — an Ed25519-signed Merkle root (:class:`AuditKey`: sealed
  :class:`AuditSigner`, or on the HSM; :func:`open_audit_key` picks) over a
  span it re-walked and compared with what this process wrote (:class:`ChainWitness`);
  ``scheduled.lifespan`` makes one periodically.
* :class:`Ed25519Verifier` — the template-method verifier, over the live database
  (:class:`DatabaseLog`) or an export (:class:`ExportedLog`, :func:`write_export`).
* :func:`prune` — the audit log's own retention, cut only at a signed checkpoint.
* :class:`AuditTables` — which tables a log lives in (:data:`PLANT_AUDIT`, or another
  log's built from the column mixins, the enterprise roll-up's): ``record``,
  ``create_checkpoint`` and ``DatabaseLog`` take it, so every log is one implementation.
* :class:`AuditThrottle` — bounds what unauthenticated requests can write (counted, summarised).
"""

from lineguard.server.audit.chain import MerkleFrontier, entry_hash
from lineguard.server.audit.checkpoint import create_checkpoint
from lineguard.server.audit.export import ExportedLog, read_checkpoints, write_export
from lineguard.server.audit.hook import AuditRecorder
from lineguard.server.audit.keys import open_audit_key, open_checkpoint_key
from lineguard.server.audit.models import (
    GENESIS_HASH,
    AuditChainHeadColumns,
    AuditCheckpointColumns,
    AuditEntryColumns,
)
from lineguard.server.audit.records import Checkpoint, DatabaseLog, Entry, LogSource
from lineguard.server.audit.scheduled import Checkpoints
from lineguard.server.audit.service import prune, record
from lineguard.server.audit.signing import (
    AuditKey,
    AuditSigner,
    key_id_of,
    load_public_key,
    public_key_pem,
)
from lineguard.server.audit.syslog import SyslogTarget, forward_new_entries
from lineguard.server.audit.tables import PLANT_AUDIT, AuditTables
from lineguard.server.audit.throttle import AuditThrottle
from lineguard.server.audit.verifier import MIN_AUDIT_RETENTION_DAYS, Ed25519Verifier, Verifier, VerifyReport
from lineguard.server.audit.witness import ChainWitness

__all__ = [
    "GENESIS_HASH",
    "MIN_AUDIT_RETENTION_DAYS",
    "PLANT_AUDIT",
    "AuditChainHeadColumns",
    "AuditCheckpointColumns",
    "AuditEntryColumns",
    "AuditKey",
    "AuditRecorder",
    "AuditSigner",
    "AuditTables",
    "AuditThrottle",
    "ChainWitness",
    "Checkpoint",
    "Checkpoints",
    "DatabaseLog",
    "Ed25519Verifier",
    "Entry",
    "ExportedLog",
    "LogSource",
    "MerkleFrontier",
    "SyslogTarget",
    "Verifier",
    "VerifyReport",
    "create_checkpoint",
    "entry_hash",
    "forward_new_entries",
    "key_id_of",
    "load_public_key",
    "open_audit_key",
    "open_checkpoint_key",
    "prune",
    "public_key_pem",
    "read_checkpoints",
    "record",
    "write_export",
]
