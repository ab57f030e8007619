"""Which tables a hash-chained audit log lives in, so one implementation serves every log.

The plant server's log is :data:`PLANT_AUDIT` (``audit_log``, ``audit_chain_head``,
``audit_checkpoints``); the enterprise roll-up keeps the same three tables, built from
the same column mixins (:mod:`.models`), on its own metadata. ``record``,
``lock_head``, ``create_checkpoint``, ``DatabaseLog`` and ``entries_between`` take an
:class:`AuditTables` (default: the plant's), so appending, signing and verifying are
one piece of code whichever log it is.

The append statements are built once per log (constructing a Core statement costs more
than executing it, and ``record`` is on the ingest path).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import cast

from sqlalchemy import Insert, Table, Update, bindparam, insert, update

from lineguard.server.audit.models import (
    AuditChainHead,
    AuditChainHeadColumns,
    AuditCheckpointColumns,
    AuditCheckpointRow,
    AuditEntryColumns,
    AuditEntryRow,
)

__all__ = ["ENTRY_FIELDS", "PLANT_AUDIT", "AppendStatements", "AuditTables"]

#: The entry columns ``record`` writes as they are (``recorded_at`` is converted by its type).
ENTRY_FIELDS = ("seq", "event_id", "name", "actor", "outcome", "payload", "prev_hash", "entry_hash")


@dataclass(frozen=True)
class AppendStatements:
    """``record``'s statements for one log (see :mod:`.service` for why each is shaped so)."""

    claim: Update
    append: Insert
    append_and_advance: Update
    sqlite_claim: str
    sqlite_advance: str


@dataclass(frozen=True)
class AuditTables:
    """The mapped classes of one audit log: its entries, its chain head and its checkpoints."""

    entries: type[AuditEntryColumns]
    head: type[AuditChainHeadColumns]
    checkpoints: type[AuditCheckpointColumns]

    @property
    def entry_table(self) -> Table:
        return cast(Table, self.entries.__table__)  # type: ignore[attr-defined]

    @property
    def head_table(self) -> Table:
        return cast(Table, self.head.__table__)  # type: ignore[attr-defined]

    @cached_property
    def statements(self) -> AppendStatements:
        log, head = self.entry_table, self.head_table
        claim = (
            update(head)
            .where(head.c.id == 1)
            .values(seq=head.c.seq + 1)
            .returning(head.c.seq, head.c.entry_hash, head.c.frontier)
        )
        append = insert(log).values(
            {c: bindparam(f"entry_{c}", type_=log.c[c].type) for c in (*ENTRY_FIELDS, "recorded_at")}
        )
        advance = (
            update(head)
            .where(head.c.id == 1)
            .values(entry_hash=bindparam("head_entry_hash"), frontier=bindparam("head_frontier"))
        )
        name = head.name  # a mapped class's own constant, never input
        return AppendStatements(
            claim=claim,
            append=append,
            # PostgreSQL, one round trip: ``WITH appended AS (INSERT …) UPDATE <head> …``
            # (a data-modifying CTE runs exactly once even if nothing reads it).
            append_and_advance=advance.add_cte(append.cte("appended")),
            sqlite_claim=f"UPDATE {name} SET seq = seq + 1 WHERE id = 1 RETURNING seq, entry_hash, frontier",  # noqa: S608 - a table name of ours
            sqlite_advance=f"UPDATE {name} SET entry_hash = ?, frontier = ? WHERE id = 1",  # noqa: S608
        )


#: The plant server's audit log.
PLANT_AUDIT = AuditTables(AuditEntryRow, AuditChainHead, AuditCheckpointRow)
