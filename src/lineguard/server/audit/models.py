"""Tables of the tamper-evident audit log.

``audit_log`` holds one row per event, numbered ``seq`` 1, 2, 3… without gaps; each
row stores the hash of its predecessor and its own hash, forming a chain.
``audit_chain_head`` is a single row (``id = 1``) naming the newest entry and the
Merkle frontier over all entries: appends lock it, which serialises writers so the
chain never forks. ``audit_checkpoints`` holds signed Merkle roots; a truncated tail
or a rewritten history no longer matches them.

The columns are mixins (:class:`AuditEntryColumns`, :class:`AuditChainHeadColumns`,
:class:`AuditCheckpointColumns`) so that another log with its own metadata (the
enterprise roll-up's) is the same chain, table for table, and
:class:`~lineguard.server.audit.tables.AuditTables` lets one ``record`` /
``create_checkpoint`` / verifier serve both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = [
    "GENESIS_HASH",
    "AuditChainHead",
    "AuditChainHeadColumns",
    "AuditCheckpointColumns",
    "AuditCheckpointRow",
    "AuditEntryColumns",
    "AuditEntryRow",
]

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64


class AuditEntryColumns:
    """One entry of a hash chain (mixin: the table name and indexes are the log's own)."""

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    name: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(160))
    outcome: Mapped[str] = mapped_column(String(16))
    #: Canonical JSON of the event's fields, exactly the bytes that were hashed.
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHeadColumns:
    """The single head row (``id = 1``) of a chain: appends lock it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    #: JSON list of ``[height, hex]`` Merkle peaks over entries 1..seq.
    frontier: Mapped[str] = mapped_column(Text)
    #: Entries up to ``base_seq`` were pruned by retention; verification starts here.
    base_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditCheckpointColumns:
    """A signed Merkle root over entries 1..seq of a chain."""

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    merkle_root: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class AuditEntryRow(AuditEntryColumns, Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "recorded_at"), Index(None, "name", "recorded_at"), Index(None, "actor"))


class AuditChainHead(AuditChainHeadColumns, Base):
    __tablename__ = "audit_chain_head"


class AuditCheckpointRow(AuditCheckpointColumns, Base):
    __tablename__ = "audit_checkpoints"
