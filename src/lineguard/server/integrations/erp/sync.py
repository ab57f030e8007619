"""One ERP sync: read what changed since the last one, label it, store it — all of it or nothing.

``sync_erp`` runs in two phases so a failure cannot leave half a sync behind:

1. **Read** (network only, nothing written): log in as the read-only ERP user, learn
   which warehouse every stock location belongs to, then for each model of
   :data:`~.mapping.MAPPINGS` read the records changed since its cursor (minus
   ``erp.overlap_s``) and map them to plant records; compute the derived values.
2. **Store** (one database transaction): upsert every record into the plant-data store
   (idempotent on ``erp:<name>`` + ``<model>:<id>``; the store never widens a stored
   record's scope), advance each model's cursor, audit ``erp.synced``.

An ERP that is down, refuses the credentials, or is not on the egress allowlist stops
the sync in phase 1: nothing is stored, no cursor moves, ``erp.sync_failed`` is
audited, and the :class:`UpstreamError` / :class:`EgressDeniedError` goes to the caller.

A record **missing a field its category needs** is reported (``SyncReport.problems``)
and left out; the others are stored. Its model's cursor stops at that record's
timestamp, so every later sync reads it again until the ERP fixes it — nothing is
skipped for good. Cursors live in ``integration_cursors`` as ``erp:<name>:<model>``,
the ERP's ``write_date`` in microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.erp import TrytonErpConfig
from lineguard.contracts.audit import ErpSynced, ErpSyncFailed
from lineguard.contracts.errors import EgressDeniedError, UpstreamError
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.egress import EgressGate, GatedHttp
from lineguard.server.integrations.cursors import advance, positions
from lineguard.server.integrations.erp.derived import Derived, scrap_costs
from lineguard.server.integrations.erp.jsonrpc import TrytonClient, encode_datetime
from lineguard.server.integrations.erp.mapping import (
    MAPPINGS,
    InvalidRecord,
    Locations,
    MissingField,
    ModelMapping,
    changed_at,
)
from lineguard.server.plantdata import PlantRecordIn, PlantRecordRow, UpsertResult, index_key, upsert_records

__all__ = ["ModelCount", "SyncReport", "cursor_name", "cursor_positions", "sync_erp"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@dataclass
class ModelCount:
    read: int = 0
    stored: int = 0
    skipped: int = 0
    site_wide_unmapped: int = 0


@dataclass
class SyncReport:
    """What one sync did (printed by the CLI, counted in ``erp.synced``)."""

    erp: str
    models: dict[str, ModelCount] = field(default_factory=dict)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_narrower: int = 0
    derived: int = 0
    #: One line per record left out: ``<model> <id>: no <field>, which <model> records need``.
    problems: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(c.read for c in self.models.values())

    @property
    def skipped(self) -> int:
        return sum(c.skipped for c in self.models.values())


@dataclass
class _Read:
    records: list[PlantRecordIn]
    derived: list[Derived]
    cursors: dict[str, int]


def cursor_name(erp: str, model: str) -> str:
    return f"erp:{erp}:{model}"[:64]


def _locations(client: TrytonClient, config: TrytonErpConfig) -> Locations:
    line_of: dict[int, str | None] = {}
    for warehouse in client.search_read(
        "stock.location", [("type", "=", "warehouse")], ["code"], page_size=config.page_size
    ):
        line = config.warehouses.get(str(warehouse.get("code") or ""))
        inside = client.call("model.stock.location.search", [("parent", "child_of", [warehouse["id"]])])
        if not isinstance(inside, list) or not all(isinstance(i, int) for i in inside):
            msg = f"{config.name}: stock.location.search answered something that is not a list of ids"
            raise UpstreamError(msg, retryable=True)
        for location_id in inside:
            line_of[location_id] = line
    return Locations(line_of)


def _read_model(
    client: TrytonClient,
    mapping: ModelMapping,
    *,
    config: TrytonErpConfig,
    since: int,
    locations: Locations,
    report: SyncReport,
) -> tuple[list[PlantRecordIn], int]:
    """The model's changed records as plant records, and where its cursor may move."""
    domain: list[Any] = list(mapping.domain)
    if since > 0:
        start = encode_datetime(_moment(max(0, since - config.overlap_s * 1_000_000)))
        domain.append(["OR", ("write_date", ">", start), ("create_date", ">", start)])
    count = report.models.setdefault(mapping.model, ModelCount())
    out: list[PlantRecordIn] = []
    newest, first_problem = since, None
    source = f"erp:{config.name}"
    for record in client.search_read(
        mapping.model, domain, mapping.read_fields(), page_size=config.page_size
    ):
        count.read += 1
        moment = changed_at(record)
        micros = _micros(moment) if moment is not None else since
        try:
            plant = mapping.to_plant(record, source=source, locations=locations)
        except (MissingField, InvalidRecord) as exc:
            count.skipped += 1
            report.problems.append(str(exc))
            first_problem = micros if first_problem is None else min(first_problem, micros)
            continue
        if mapping.location is not None and locations.unmapped(record.get(mapping.location)):
            count.site_wide_unmapped += 1
        out.append(plant)
        newest = max(newest, micros)
        count.stored += 1
    # A record left out holds the cursor just before its timestamp (reads are "changed after the
    # cursor"): it is read again, and reported again, until it is whole.
    return out, newest if first_problem is None else min(newest, first_problem - 1)


def _read(
    client: TrytonClient, config: TrytonErpConfig, cursors: dict[str, int], report: SyncReport
) -> _Read:
    password = config.password.resolve().get_secret_value()
    client.login(config.username, password)
    locations = _locations(client, config)
    records: list[PlantRecordIn] = []
    moved: dict[str, int] = {}
    for mapping in MAPPINGS:
        name = cursor_name(config.name, mapping.model)
        found, position = _read_model(
            client, mapping, config=config, since=cursors[name], locations=locations, report=report
        )
        records.extend(found)
        moved[name] = position
    derived = scrap_costs(
        client, source=f"erp:{config.name}", locations=locations, page_size=config.page_size
    )
    return _Read(records=records, derived=derived, cursors=moved)


def _with_sources(
    session: Session, *, site_id: str, source: str, derived: list[Derived], report: SyncReport
) -> list[PlantRecordIn]:
    """Derived records with ``derived_from`` = their sources' record ids; one whose sources
    are not all stored (one was left out) is reported and not stored either."""
    keys = sorted({k for d in derived for k in d.sources})
    ids = dict(
        session.execute(
            select(PlantRecordRow.source_key, PlantRecordRow.record_id).where(
                PlantRecordRow.site_id == site_id,
                PlantRecordRow.source == source,
                PlantRecordRow.source_key.in_(keys),
            )
        ).all()
    ) if keys else {}  # fmt: skip
    out = []
    for d in derived:
        missing = [k for k in d.sources if k not in ids]
        if missing:
            report.problems.append(f"{d.record.source_key}: not derived, {', '.join(missing)} is not stored")
            continue
        out.append(d.record.model_copy(update={"derived_from": tuple(ids[k] for k in d.sources)}))
    return out


def sync_erp(
    sessions: sessionmaker[Session],
    *,
    config: TrytonErpConfig,
    site_id: str,
    gate: EgressGate,
    sealer: Sealer,
    audit: AuditHook,
    actor: str,
    now: datetime | None = None,
) -> SyncReport:
    """Read the ERP and store what changed; see the module docstring."""
    moment = now or datetime.now(UTC)
    report = SyncReport(erp=config.name)
    names = [cursor_name(config.name, m.model) for m in MAPPINGS]
    with sessions() as session:
        cursors = positions(session, names)
    client = TrytonClient(
        GatedHttp(gate, purpose=f"erp:{config.name}"),
        url=config.url,
        database=config.database,
        name=config.name,
    )
    try:
        read = _read(client, config, cursors, report)
    except (UpstreamError, EgressDeniedError) as exc:
        with sessions.begin() as session:
            audit(session, ErpSyncFailed(erp=config.name, error=exc.message[:500]), actor=actor)
        raise
    key = index_key(sessions, site_id=site_id, sealer=sealer)
    with sessions.begin() as session:
        result = upsert_records(
            session, site_id=site_id, records=read.records, sealer=sealer, key=key, actor=actor, audit=audit,
            now=moment,
        )  # fmt: skip
        derived = _with_sources(
            session, site_id=site_id, source=f"erp:{config.name}", derived=read.derived, report=report
        )
        if derived:
            also = upsert_records(
                session, site_id=site_id, records=derived, sealer=sealer, key=key, actor=actor, audit=audit,
                now=moment,
            )  # fmt: skip
            result = UpsertResult(
                inserted=[*result.inserted, *also.inserted], updated=[*result.updated, *also.updated],
                unchanged=[*result.unchanged, *also.unchanged],
                kept_narrower=[*result.kept_narrower, *also.kept_narrower],
            )  # fmt: skip
        report.derived = len(derived)
        for name, position in read.cursors.items():
            if position != cursors[name]:
                advance(session, name, position, now=moment)
        report.inserted, report.updated = len(result.inserted), len(result.updated)
        report.unchanged, report.kept_narrower = len(result.unchanged), len(result.kept_narrower)
        audit(
            session,
            ErpSynced(
                erp=config.name,
                records_read=report.read,
                inserted=report.inserted,
                updated=report.updated,
                unchanged=report.unchanged,
                skipped=report.skipped,
                derived=report.derived,
            ),
            actor=actor,
        )
    return report


def cursor_positions(session: Session, config: TrytonErpConfig) -> dict[str, datetime | None]:
    """Each model's cursor as the ERP time it stands at (None: never synced)."""
    found = positions(session, [cursor_name(config.name, m.model) for m in MAPPINGS])
    return {m.model: (_moment(p) if p else None) for m, p in zip(MAPPINGS, found.values(), strict=True)}
