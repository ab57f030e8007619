"""Plain records of the log as verifiers and exports see it: entries and checkpoints.

A :class:`LogSource` yields them, whatever they are read from: the live database
(:class:`DatabaseLog`) or an exported JSON-lines file (``export.read_export``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.crypto import utc_text
from lineguard.server.audit.models import AuditCheckpointColumns, AuditEntryColumns
from lineguard.server.audit.tables import PLANT_AUDIT, AuditTables

__all__ = ["Checkpoint", "DatabaseLog", "Entry", "LogSource", "entries_between"]


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    event_id: str
    recorded_at: str
    name: str
    actor: str
    outcome: str
    payload: str  # canonical JSON text of the event's fields
    prev_hash: str
    entry_hash: str

    @classmethod
    def from_row(cls, row: AuditEntryColumns) -> Entry:
        return cls(
            row.seq,
            row.event_id,
            utc_text(row.recorded_at),
            row.name,
            row.actor,
            row.outcome,
            row.payload,
            row.prev_hash,
            row.entry_hash,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "entry",
            "seq": self.seq,
            "event_id": self.event_id,
            "recorded_at": self.recorded_at,
            "name": self.name,
            "actor": self.actor,
            "outcome": self.outcome,
            "payload": json.loads(self.payload),
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    entry_hash: str
    merkle_root: str
    frontier: str
    created_at: str
    key_id: str
    signature: str
    site_id: str

    @classmethod
    def from_row(cls, row: AuditCheckpointColumns, *, site_id: str) -> Checkpoint:
        return cls(
            row.seq,
            row.entry_hash,
            row.merkle_root,
            row.frontier,
            utc_text(row.created_at),
            row.key_id,
            row.signature,
            site_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {"type": "checkpoint", **{f: getattr(self, f) for f in self.__dataclass_fields__}}


class LogSource(Protocol):
    """Where a verifier reads a log from."""

    def base(self) -> Checkpoint | None:
        """The checkpoint the kept log starts after (entries before it were pruned), or None."""
        ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def entries(self) -> Iterator[Entry]:
        """Entries in the order stored."""
        ...

    def tail(self) -> tuple[int, str] | None:
        """What the source claims its last entry is (seq, hash), if it records that."""
        ...


class DatabaseLog:
    """The live audit tables as a :class:`LogSource` (the plant's, or ``tables``)."""

    def __init__(
        self, session: Session, *, site_id: str, batch: int = 5000, tables: AuditTables = PLANT_AUDIT
    ) -> None:
        self.session = session
        self.site_id = site_id
        self.batch = batch
        self.tables = tables
        self._snapshot: tuple[int, str, int] | None = None

    def _head(self) -> tuple[int, str, int] | None:
        """(seq, entry hash, base seq) of the chain head, read once per verification.

        Writers keep appending while a verifier reads; every later read is bounded by this
        snapshot so entries recorded meanwhile are not mistaken for a broken chain.
        """
        if self._snapshot is None:
            head = self.session.get(self.tables.head, 1)
            if head is None:
                return None
            self._snapshot = (head.seq, head.entry_hash, head.base_seq)
        return self._snapshot

    def checkpoints(self) -> list[Checkpoint]:
        """Checkpoints up to the head snapshot, and any beyond the head as it is now.

        One signed after the snapshot over entries appended meanwhile is left out (the
        head has grown past it). One beyond the current head can only mean entries were
        cut and the head rewound: it is kept, so the walk reports the truncation.
        """
        head = self._head()
        row = self.tables.checkpoints
        found = [
            Checkpoint.from_row(r, site_id=self.site_id)
            for r in self.session.scalars(select(row).order_by(row.seq))
        ]
        if head is None or not found or found[-1].seq <= head[0]:
            return found
        head_row = self.tables.head
        now_at = self.session.scalar(select(head_row.seq).where(head_row.id == 1)) or 0
        return [cp for cp in found if cp.seq <= head[0] or cp.seq > now_at]

    def base(self) -> Checkpoint | None:
        head = self._head()
        if head is None or head[2] == 0:
            return None
        for cp in self.checkpoints():
            if cp.seq == head[2]:
                return cp
        return Checkpoint(head[2], "", "", "[]", "", "", "", self.site_id)  # fails verification

    def tail(self) -> tuple[int, str] | None:
        head = self._head()
        return None if head is None else (head[0], head[1])

    def entries(self) -> Iterator[Entry]:
        head = self._head()
        through = None if head is None else head[0]
        return entries_between(
            self.session, after_seq=0, through_seq=through, batch=self.batch, tables=self.tables
        )


def entries_between(
    session: Session,
    *,
    after_seq: int,
    through_seq: int | None,
    batch: int = 5000,
    tables: AuditTables = PLANT_AUDIT,
) -> Iterator[Entry]:
    """Entries with ``after_seq < seq <= through_seq`` (no upper bound if None), in seq order."""
    t = tables.entries
    stmt = select(
        t.seq, t.event_id, t.recorded_at, t.name, t.actor, t.outcome, t.payload, t.prev_hash, t.entry_hash
    ).order_by(t.seq)
    if after_seq:
        stmt = stmt.where(t.seq > after_seq)
    if through_seq is not None:
        stmt = stmt.where(t.seq <= through_seq)
    # Core rows through the session's connection: no ORM loading on the hot path. The
    # streaming option goes on the statement: on the connection it would outlive the read.
    result = session.connection().execute(stmt.execution_options(yield_per=batch))
    for row in result:
        yield Entry(row[0], row[1], utc_text(row[2]), *row[3:])
