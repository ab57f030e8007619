"""Governance routes (thin): the doctor's report and the documents, as the live configuration gives them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.governance import build, service
from lineguard.server.governance.document import render_html, render_pdf

__all__ = ["router"]

router = APIRouter(prefix="/governance", tags=["governance"])

ReadGovernance = Annotated[Access, Depends(require(Action.GOVERNANCE_READ))]
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/doctor", summary="The deployment self-check: every item pass / warn / fail, grouped")
def get_doctor(access: ReadGovernance, session: DbSession) -> dict[str, Any]:
    return service.doctor(session, settings=access.context.settings).to_json()


@router.get("/documents", summary="The governance documents the live configuration gives now")
def list_documents(access: ReadGovernance, session: DbSession) -> list[dict[str, str]]:
    docs = build.current_documents(session, settings=access.context.settings)
    return [{"name": d.name, "title": d.title, "anchor": d.anchor, "lang": d.lang} for d in docs]


@router.get("/documents/{name}", summary="One governance document as HTML or PDF")
def get_document(
    name: str,
    access: ReadGovernance,
    session: DbSession,
    fmt: Annotated[str, Query(alias="format", pattern="^(html|pdf)$")] = "html",
) -> Response:
    doc = build.current_document(session, settings=access.context.settings, name=name)
    if fmt == "pdf":
        return Response(render_pdf(doc), media_type="application/pdf")
    return Response(render_html(doc), media_type="text/html; charset=utf-8")
