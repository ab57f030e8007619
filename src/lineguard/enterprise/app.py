"""The roll-up's HTTP API (``lineguard enterprise serve``): plants submit, people read.

* ``POST /api/v1/plant/aggregates`` — an enrolled plant's :class:`PlantAggregates`.
  Checks, cheapest first: a client certificate the roll-up's CA issued (the TLS
  handshake), enrolled and not revoked (403), the body under ``max_body_bytes`` (413),
  the contract (422, naming each broken field; an unknown field such as a record id is
  one), the message's ``plant_id`` equal to the certificate's (403). Then the snapshots
  are stored and ``enterprise.aggregates_received`` recorded in one transaction. Every
  refusal is audited as ``enterprise.aggregates_refused`` and stores nothing.
* ``GET /api/v1/aggregates`` (``aggregates.read``), ``GET /api/v1/plants``
  (``plants.read``), ``POST /api/v1/plants/{plant_id}/revoke`` (``plants.manage``),
  ``GET /api/v1/audit`` (``audit.read``) — people, by role (:mod:`.roles`).

The lifespan (:mod:`.scheduled`) opens the roll-up's audit key (no key, no start) and
signs a checkpoint over its log every ``audit_checkpoint_interval_s`` and at shutdown.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from lineguard import __version__
from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.audit import EnterpriseAggregatesReceived, EnterprisePlantRevoked
from lineguard.contracts.enterprise import AlertCount, DefectClassCount, PlantAggregates, RollupReceipt
from lineguard.contracts.errors import ContractError, PayloadTooLargeError, PermissionDeniedError
from lineguard.enterprise import service
from lineguard.enterprise.access import (
    PlantCaller,
    auth_limiter,
    refuse_plant,
    refuse_undeclared_routes,
    require,
    require_plant,
    sessions_of,
)
from lineguard.enterprise.audit import record
from lineguard.enterprise.models import LineDayRow
from lineguard.enterprise.roles import Permission
from lineguard.enterprise.scheduled import lifespan
from lineguard.enterprise.schemas import AuditEntryOut, LineDayOut, PlantOut
from lineguard.enterprise.service import Caller
from lineguard.server.errors import install_error_handlers
from lineguard.server.storage import utcnow

__all__ = ["create_enterprise_app"]

router = APIRouter(prefix="/api/v1")

Plant = Annotated[PlantCaller, Depends(require_plant())]
ReadAggregates = Annotated[Caller, Depends(require(Permission.AGGREGATES_READ))]
ReadPlants = Annotated[Caller, Depends(require(Permission.PLANTS_READ))]
ManagePlants = Annotated[Caller, Depends(require(Permission.PLANTS_MANAGE))]
ReadAudit = Annotated[Caller, Depends(require(Permission.AUDIT_READ))]


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        msg = f"the body is {declared} bytes, over the {limit}-byte limit"
        raise PayloadTooLargeError(msg)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            msg = f"the body is over the {limit}-byte limit"
            raise PayloadTooLargeError(msg)
    return bytes(body)


def _parse(raw: bytes, plant: PlantCaller) -> PlantAggregates:
    try:
        message = PlantAggregates.model_validate_json(raw)
    except ValidationError as exc:
        details = [f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors()[:20]]
        msg = "the aggregates do not match contract plant-aggregates v1"
        raise ContractError(msg, details=details) from None
    if message.plant_id != plant.plant_id:
        msg = f"the certificate is plant {plant.plant_id!r}'s, the message says {message.plant_id!r}"
        raise PermissionDeniedError(msg)
    return message


def _store(sessions: sessionmaker[Session], plant: PlantCaller, message: PlantAggregates) -> RollupReceipt:
    with sessions.begin() as session:
        receipt = service.store_aggregates(session, message=message, now=utcnow())
        event = EnterpriseAggregatesReceived(
            plant_id=plant.plant_id,
            line_days=len(message.aggregates),
            stored=receipt.stored,
            duplicates=receipt.duplicates,
            stale=receipt.stale,
        )
        record(session, event, actor=f"plant:{plant.plant_id}")
    return receipt


@router.post("/plant/aggregates", summary="A plant's line-day aggregates (mutual TLS, enrolled plants only)")
async def submit_aggregates(request: Request, plant: Plant) -> RollupReceipt:
    sessions = sessions_of(request)
    config: EnterpriseServiceConfig = request.app.state.enterprise_config
    try:
        raw = await _body(request, config.max_body_bytes)
        message = _parse(raw, plant)
    except (ContractError, PermissionDeniedError) as exc:
        await run_in_threadpool(refuse_plant, sessions, plant.plant_id, exc.message)
        raise
    return await run_in_threadpool(_store, sessions, plant, message)


def _line_day(row: LineDayRow) -> LineDayOut:
    return LineDayOut(
        plant_id=row.plant_id,
        line_id=row.line_id,
        day=row.day,
        revision=row.revision,
        parts_inspected=row.parts_inspected,
        parts_passed=row.parts_passed,
        parts_failed=row.parts_failed,
        parts_uncertain=row.parts_uncertain,
        first_pass_yield=round(row.parts_passed / row.parts_inspected, 6) if row.parts_inspected else None,
        defect_classes=[DefectClassCount.model_validate(c) for c in row.defect_classes],
        alerts=[AlertCount.model_validate(a) for a in row.alerts],
        received_at=row.received_at,
    )


@router.get("/aggregates", summary="Line-day aggregates of every plant (quality viewers)")
def get_aggregates(
    request: Request,
    _caller: ReadAggregates,
    since: Annotated[dt.date, Query(description="First UTC day.")],
    until: Annotated[dt.date, Query(description="Last UTC day (inclusive).")],
    plant: Annotated[str | None, Query(max_length=64)] = None,
    line: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[LineDayOut]:
    with sessions_of(request)() as session:
        rows = service.line_days(session, since=since, until=until, plant_id=plant, line_id=line, limit=limit)
        return [_line_day(r) for r in rows]


@router.get("/plants", summary="Enrolled plants and when each last reported")
def get_plants(request: Request, _caller: ReadPlants) -> list[PlantOut]:
    with sessions_of(request)() as session:
        return [
            PlantOut(
                plant_id=p.plant_id,
                fingerprint=p.fingerprint,
                enrolled_at=p.enrolled_at,
                revoked_at=p.revoked_at,
                last_received_at=p.last_received_at,
            )
            for p in service.plants(session)
        ]


@router.post("/plants/{plant_id}/revoke", summary="Stop accepting a plant's certificate (plant admins)")
def revoke(
    request: Request, caller: ManagePlants, plant_id: Annotated[str, Path(max_length=64)]
) -> dict[str, str]:
    with sessions_of(request).begin() as session:
        service.revoke_plant(session, plant_id=plant_id)
        record(session, EnterprisePlantRevoked(plant_id=plant_id), actor=f"token:{caller.token_id}")
    return {"plant_id": plant_id, "status": "revoked"}


@router.get("/audit", summary="The roll-up's audit log (auditors)")
def get_audit(
    request: Request,
    _caller: ReadAudit,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditEntryOut]:
    with sessions_of(request)() as session:
        return [
            AuditEntryOut(
                seq=e.seq,
                recorded_at=e.recorded_at,
                name=e.name,
                actor=e.actor,
                outcome=e.outcome,
                payload=e.payload,
                entry_hash=e.entry_hash,
            )
            for e in service.audit_entries(session, after_seq=after_seq, limit=limit)
        ]


def create_enterprise_app(config: EnterpriseServiceConfig, sessions: sessionmaker[Session]) -> FastAPI:
    """The roll-up app over an opened database (``storage.open_enterprise_storage``)."""
    app = FastAPI(
        lifespan=lifespan,
        title="LineGuard enterprise roll-up",
        version=__version__,
        description="Line-day aggregates from enrolled plants; no records, evidence or people.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.enterprise_sessions = sessions
    app.state.enterprise_config = config
    app.state.enterprise_auth_limiter = auth_limiter(config)
    install_error_handlers(app)
    app.include_router(router)
    refuse_undeclared_routes(app)
    return app
