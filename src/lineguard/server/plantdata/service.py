"""The plant-data store: upsert labelled records, keep their index, open what a reader may see.

* :func:`index_key` — the site's search-index key, created sealed on first use.
* :func:`upsert_records` — insert or update records by ``(source, source_key)`` in the
  caller's transaction: bodies sealed (their data keys written in the same
  transaction), lines and index terms replaced, **scope never widened** (a re-import
  keeps :func:`~lineguard.server.plantdata.labels.narrowest` of stored and new), a
  category change refused, every problem found before anything is written, the daily
  rollups (:mod:`.rollups`) moved in step. Audited as ``plant_data.imported``.
* :func:`import_records` — the same in a transaction of its own (the CLI's import).
* :func:`open_records` — bodies of rows the caller has already filtered with
  :func:`~lineguard.server.plantdata.access.readable_condition`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import PlantDataImported
from lineguard.contracts.errors import ConflictError, InputError
from lineguard.contracts.ids import new_ids
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.keystore import SqlDataKeyStore, staged_sealer
from lineguard.server.plantdata.index import IndexKey
from lineguard.server.plantdata.labels import Scope, narrowest, plant_category
from lineguard.server.plantdata.models import (
    PlantIndexKeyRow,
    PlantRecordLineRow,
    PlantRecordRow,
    PlantTermRow,
)
from lineguard.server.plantdata.rollups import Deltas, apply_deltas, contribute, row_values
from lineguard.server.plantdata.schemas import PlantRecordIn, RecordBody, UpsertResult
from lineguard.server.storage import insert_rows

__all__ = [
    "INDEX_KEY_CATEGORY",
    "SEALED_CATEGORY",
    "import_records",
    "index_key",
    "lines_of",
    "open_records",
    "upsert_records",
]

#: Envelope category of record bodies (object id: the record id).
SEALED_CATEGORY = "plant_data"
#: Envelope category of the index key (object id: the site id).
INDEX_KEY_CATEGORY = "plant_index_key"
#: Records handled per statement.
_CHUNK = 500


def index_key(sessions: sessionmaker[Session], *, site_id: str, sealer: Sealer) -> IndexKey:
    """The site's index key: read and opened, or made, sealed and stored on first use.

    Uses its own short transactions (sealing stores a data key through the envelope's
    own session), so call it before the transaction that imports or queries.
    """
    with sessions() as session:
        row = session.get(PlantIndexKeyRow, site_id)
        sealed = bytes(row.key_sealed) if row is not None else None
    if sealed is None:
        fresh = sealer.seal(os.urandom(32), object_id=site_id, category=INDEX_KEY_CATEGORY)
        with sessions.begin() as session:
            insert_rows(
                session,
                cast(Table, PlantIndexKeyRow.__table__),
                [{"site_id": site_id, "key_sealed": fresh, "created_at": datetime.now(UTC)}],
                on_conflict=["site_id"],
            )
        with sessions() as session:
            row = session.get(PlantIndexKeyRow, site_id)
            assert row is not None  # noqa: S101 - inserted (or raced) just above
            sealed = bytes(row.key_sealed)
    return IndexKey(sealer.open(sealed, object_id=site_id, category=INDEX_KEY_CATEGORY))


def lines_key(scope: Scope) -> str | None:
    """``plant_records.lines_key`` of a record in ``scope``."""
    return None if scope.lines is None else "|".join(sorted(scope.lines))


def _body_bytes(record: PlantRecordIn) -> bytes:
    return json.dumps(record.body(), sort_keys=True, separators=(",", ":"), default=str).encode()


def _content_hash(key: IndexKey, record: PlantRecordIn, body: bytes) -> str:
    meta = json.dumps(
        [
            record.kind,
            record.record_type,
            record.occurred_at.isoformat() if record.occurred_at else None,
            list(record.derived_from),
        ],
    ).encode()
    return key.content([meta, body])


def _check_batch(records: Sequence[PlantRecordIn]) -> None:
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for i, record in enumerate(records):
        try:
            plant_category(record.category)
        except InputError as exc:
            problems.append(f"record {i} ({record.source_key}): {exc.message}")
        first = seen.setdefault((record.source, record.source_key), i)
        if first != i:
            problems.append(f"record {i}: source key {record.source_key!r} repeats record {first}")
    if problems:
        msg = f"{len(problems)} problem(s) in the batch; nothing was stored"
        raise InputError(msg, details=problems[:200])


def lines_of(session: Session, record_ids: Sequence[str]) -> dict[str, frozenset[str]]:
    """The lines of each record (records without any sit on the whole site)."""
    found: dict[str, set[str]] = {}
    for start in range(0, len(record_ids), _CHUNK):
        chunk = list(record_ids[start : start + _CHUNK])
        for rid, line in session.execute(
            select(PlantRecordLineRow.record_id, PlantRecordLineRow.line_id).where(
                PlantRecordLineRow.record_id.in_(chunk)
            )
        ):
            found.setdefault(rid, set()).add(line)
    return {rid: frozenset(lines) for rid, lines in found.items()}


def _existing(
    session: Session, site_id: str, records: Sequence[PlantRecordIn]
) -> dict[tuple[str, str], PlantRecordRow]:
    out: dict[tuple[str, str], PlantRecordRow] = {}
    by_source: dict[str, list[str]] = {}
    for r in records:
        by_source.setdefault(r.source, []).append(r.source_key)
    for source, keys in by_source.items():
        for start in range(0, len(keys), _CHUNK):
            rows = session.scalars(
                select(PlantRecordRow).where(
                    PlantRecordRow.site_id == site_id,
                    PlantRecordRow.source == source,
                    PlantRecordRow.source_key.in_(keys[start : start + _CHUNK]),
                )
            )
            for row in rows:
                out[(row.source, row.source_key)] = row
    return out


def upsert_records(
    session: Session,
    *,
    site_id: str,
    records: Sequence[PlantRecordIn],
    sealer: Sealer,
    key: IndexKey,
    actor: str,
    audit: AuditHook,
    now: datetime | None = None,
) -> UpsertResult:
    """Insert new records and update changed ones; see the module docstring.

    Runs in ``session``'s transaction and does not commit: the caller commits the whole
    batch or nothing (``with sessions.begin() as session: upsert_records(...)``).
    Raises :class:`InputError` (bad batch) or :class:`ConflictError` (a record would
    change category) before writing anything.
    """
    moment = now or datetime.now(UTC)
    result = UpsertResult()
    if not records:
        return result
    _check_batch(records)
    existing = _existing(session, site_id, records)
    old_lines = lines_of(session, [row.record_id for row in existing.values()])
    conflicts = [
        f"{r.source}/{r.source_key}: stored as {row.category}, offered as {r.category}"
        for r in records
        if (row := existing.get((r.source, r.source_key))) is not None and row.category != r.category
    ]
    if conflicts:
        msg = (
            f"{len(conflicts)} record(s) would change category; nothing was stored "
            "(delete and re-import to relabel)"
        )
        raise ConflictError(msg, details=conflicts[:200])

    fresh_ids = iter(new_ids("pdr", sum(1 for r in records if (r.source, r.source_key) not in existing)))
    plans: list[tuple[PlantRecordIn, str, Scope, bytes, str, PlantRecordRow | None]] = []
    for r in records:
        row = existing.get((r.source, r.source_key))
        body = _body_bytes(r)
        content = _content_hash(key, r, body)
        offered = Scope.of(r.lines)
        if row is None:
            plans.append((r, next(fresh_ids), offered, body, content, None))
            continue
        stored = Scope.site() if row.site_wide else Scope(old_lines.get(row.record_id, frozenset()) or None)
        scope = narrowest(stored, offered)
        if scope != offered:
            result.kept_narrower.append(row.record_id)
        if content == row.content_h and scope == stored:
            result.unchanged.append(row.record_id)
            continue
        plans.append((r, row.record_id, scope, body, content, row))

    staged, key_rows = staged_sealer(sealer)
    sealed = staged.seal_many([(rid, body) for _, rid, _, body, _, _ in plans], category=SEALED_CATEGORY)
    new_rows: list[dict[str, Any]] = []
    changed_ids: list[str] = []
    deltas: Deltas = {}
    for _, _, _, _, _, row in plans:  # the stored values, read before any update touches them
        if row is not None:
            contribute(deltas, row_values(row), -1)
    for (r, rid, scope, _, content, row), blob in zip(plans, sealed, strict=True):
        quantity, amount = r.measures()
        dims = {f"{name}_h": (key.dimension(name, v) if v else None) for name, v in r.dimensions().items()}
        values: dict[str, Any] = {
            "kind": r.kind,
            "site_wide": scope.site_wide,
            "lines_key": lines_key(scope),
            "record_type": r.record_type,
            "occurred_at": r.occurred_at,
            "quantity": quantity,
            "amount": amount,
            **dims,
            "body_sealed": blob,
            "content_h": content,
            "derived_from": list(r.derived_from),
            "updated_at": moment,
            "imported_by": actor[:160],
        }
        contribute(deltas, {**values, "category": r.category}, 1)
        if row is None:
            new_rows.append(
                {
                    "record_id": rid,
                    "site_id": site_id,
                    "category": r.category,
                    "source": r.source,
                    "source_key": r.source_key,
                    "imported_at": moment,
                    **values,
                }
            )
            result.inserted.append(rid)
        else:
            session.execute(update(PlantRecordRow).where(PlantRecordRow.record_id == rid).values(**values))
            changed_ids.append(rid)
            result.updated.append(rid)
    if new_rows:
        for start in range(0, len(new_rows), _CHUNK):
            insert_rows(session, cast(Table, PlantRecordRow.__table__), new_rows[start : start + _CHUNK])
    if changed_ids:
        SqlDataKeyStore.bound(session).delete_objects(SEALED_CATEGORY, changed_ids)
        for start in range(0, len(changed_ids), _CHUNK):
            chunk = changed_ids[start : start + _CHUNK]
            session.execute(delete(PlantRecordLineRow).where(PlantRecordLineRow.record_id.in_(chunk)))
            session.execute(delete(PlantTermRow).where(PlantTermRow.record_id.in_(chunk)))
    line_rows = [
        {"record_id": rid, "line_id": line}
        for _, rid, scope, _, _, _ in plans
        for line in sorted(scope.lines or ())
    ]
    term_rows = [
        {"term_h": term, "record_id": rid}
        for r, rid, _, _, _, _ in plans
        for term in dict.fromkeys(key.terms(f"{r.title}\n{r.text}\n{_field_text(r)}"))
    ]
    for table, rows in ((PlantRecordLineRow.__table__, line_rows), (PlantTermRow.__table__, term_rows)):
        for start in range(0, len(rows), 2000):
            insert_rows(session, cast(Table, table), rows[start : start + 2000])
    apply_deltas(session, deltas)
    keys = key_rows({(SEALED_CATEGORY, rid) for _, rid, _, _, _, _ in plans})
    if keys is not None:
        insert_rows(session, keys.table, keys.rows)
    sources = sorted({r.source for r in records})
    categories = sorted({r.category for r in records})
    audit(
        session,
        PlantDataImported(
            source=",".join(sources)[:200],
            categories=tuple(categories),
            inserted=len(result.inserted),
            updated=len(result.updated),
            unchanged=len(result.unchanged),
            kept_narrower=len(result.kept_narrower),
        ),
        actor=actor,
    )
    return result


def _field_text(record: PlantRecordIn) -> str:
    """String field values of a structured record, indexed so a word search finds it too."""
    return " ".join(str(v) for v in record.fields.values() if isinstance(v, str))


def open_records(session: Session, rows: Sequence[PlantRecordRow], *, sealer: Sealer) -> list[RecordBody]:
    """Open the sealed bodies of ``rows``: only rows already filtered for the reader."""
    lines = lines_of(session, [r.record_id for r in rows])
    out: list[RecordBody] = []
    for row in rows:
        body = json.loads(
            sealer.open(bytes(row.body_sealed), object_id=row.record_id, category=SEALED_CATEGORY)
        )
        out.append(
            RecordBody(
                record_id=row.record_id,
                category=row.category,
                kind=row.kind,
                record_type=row.record_type,
                source=row.source,
                source_key=row.source_key,
                lines=None if row.site_wide else tuple(sorted(lines.get(row.record_id, ()))),
                occurred_at=row.occurred_at,
                title=str(body.get("title", "")),
                fields=dict(body.get("fields", {})),
                text=str(body.get("text", "")),
            )
        )
    return out


def import_records(
    sessions: sessionmaker[Session],
    *,
    site_id: str,
    records: Sequence[PlantRecordIn],
    sealer: Sealer,
    actor: str,
    audit: AuditHook,
    now: datetime | None = None,
) -> UpsertResult:
    """:func:`upsert_records` in a transaction of its own, with the site's index key: the
    whole batch is stored, or (on any error) none of it."""
    key = index_key(sessions, site_id=site_id, sealer=sealer)
    with sessions.begin() as session:
        return upsert_records(
            session,
            site_id=site_id,
            records=records,
            sealer=sealer,
            key=key,
            actor=actor,
            audit=audit,
            now=now,
        )
