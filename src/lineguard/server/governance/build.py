"""``lineguard governance build``: every document, as HTML and PDF, plus a manifest, from the facts.

:func:`compose_all` turns the facts into the documents (record of processing, worker
notices per line and language, data inventory, DPIA, AI Act file per deployed model,
vendor answers, architecture pack). :func:`build_documents` writes ``<name>.html`` and
``<name>.pdf`` for each, then ``manifest.json`` listing every file with its sha256, the
facts' digest and the software version — no clock, so the same facts give the same
bytes. The manifest's own sha256 is stored with the build and recorded in the audit
log (``governance.documents_built``) in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard import __version__
from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import GovernanceDocumentsBuilt, WorkerNoticePublished
from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.contracts.ids import new_id
from lineguard.server.audit import record
from lineguard.server.governance.compose_ppe import ppe_ai_act_files
from lineguard.server.governance.compose_privacy import (
    data_inventory,
    dpia,
    record_of_processing,
    worker_notices,
)
from lineguard.server.governance.compose_technical import ai_act_files, architecture_pack, vendor_answers
from lineguard.server.governance.document import Document, render_html, render_pdf
from lineguard.server.governance.facts import facts_sha256
from lineguard.server.governance.models import DocumentBuildRow, NoticePublicationRow
from lineguard.server.governance.service import current_facts

__all__ = [
    "MANIFEST",
    "BuildResult",
    "build_documents",
    "compose_all",
    "current_document",
    "current_documents",
    "record_notice_publication",
]

MANIFEST = "manifest.json"


def compose_all(facts: dict[str, Any]) -> list[Document]:
    return [
        record_of_processing(facts),
        *worker_notices(facts),
        data_inventory(facts),
        dpia(facts),
        *ai_act_files(facts),
        *ppe_ai_act_files(facts),
        vendor_answers(facts),
        architecture_pack(facts),
    ]


def current_documents(session: Session, *, settings: ServerConfig) -> list[Document]:
    """Every document as the live configuration gives it now (what the dashboard shows)."""
    return compose_all(current_facts(session, settings=settings)[1])


def current_document(session: Session, *, settings: ServerConfig, name: str) -> Document:
    found = next((d for d in current_documents(session, settings=settings) if d.name == name), None)
    if found is None:
        msg = f"no governance document named {name!r}"
        raise NotFoundError(msg)
    return found


@dataclass(frozen=True, slots=True)
class BuildResult:
    build_id: str
    out_dir: Path
    manifest_sha256: str
    facts_sha256: str
    documents: tuple[str, ...]


def _write(path: Path, data: bytes) -> str:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def build_documents(
    session: Session, *, settings: ServerConfig, out_dir: Path, actor: str, now: datetime | None = None
) -> BuildResult:
    """Render every document into ``out_dir``, record the build and its audit event; commit."""
    if out_dir.exists() and not out_dir.is_dir():
        msg = f"--out {out_dir} exists and is not a directory"
        raise InputError(msg)
    state, facts = current_facts(session, settings=settings, now=now)
    digest = facts_sha256(facts)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    documents = compose_all(facts)
    for doc in documents:
        for ext, data in (("html", render_html(doc)), ("pdf", render_pdf(doc))):
            files.append({"file": f"{doc.name}.{ext}", "sha256": _write(out_dir / f"{doc.name}.{ext}", data)})
    manifest = {
        "site_id": facts["site_id"],
        "software_version": __version__,
        "facts_sha256": digest,
        "documents": [d.name for d in documents],
        "files": files,
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    manifest_sha = _write(out_dir / MANIFEST, manifest_bytes)
    build = DocumentBuildRow(
        id=new_id("gvb"),
        built_at=state.now,
        built_by=actor,
        software_version=__version__,
        facts_sha256=digest,
        manifest_sha256=manifest_sha,
        documents=[d.name for d in documents],
    )
    session.add(build)
    record(
        session,
        GovernanceDocumentsBuilt(
            build_id=build.id,
            manifest_sha256=manifest_sha,
            facts_sha256=digest,
            documents=len(documents),
            software_version=__version__,
        ),
        actor=actor,
    )
    session.commit()
    return BuildResult(build.id, out_dir, manifest_sha, digest, tuple(d.name for d in documents))


def record_notice_publication(
    session: Session, *, published_on: date, where: str, actor: str, now: datetime | None = None
) -> NoticePublicationRow:
    """Record that the worker notice of the latest build was put up on ``published_on``."""
    build = session.scalars(
        select(DocumentBuildRow).order_by(DocumentBuildRow.built_at.desc(), DocumentBuildRow.id.desc())
    ).first()
    if build is None:
        msg = "no governance documents were built yet: run `lineguard governance build` first"
        raise NotFoundError(msg)
    moment = now or datetime.now(UTC)
    if published_on > moment.date():
        msg = f"publication date {published_on} is in the future (today is {moment.date()})"
        raise InputError(msg)
    if not where.strip():
        msg = "say where the notice was published (notice board, intranet page ...)"
        raise InputError(msg)
    row = NoticePublicationRow(
        id=new_id("gvn"), build_id=build.id, published_on=published_on, where=where.strip(),
        recorded_by=actor, recorded_at=moment,
    )  # fmt: skip
    session.add(row)
    record(
        session,
        WorkerNoticePublished(build_id=build.id, published_on=published_on.isoformat(), where=row.where),
        actor=actor,
    )
    session.commit()
    return row
