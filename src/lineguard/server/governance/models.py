"""Tables of the governance domain: document builds, notice publications, access reviews,
configuration snapshots.

Each row is a fact the doctor and the documents read back: which manifest was built
from which configuration digest and software version, when the worker notice of that
build was published, who started and signed off each access review, and the last
non-secret values of each configuration file (so a changed file is detected and its
diff audited at the next start).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime, utcnow

__all__ = ["AccessReviewRow", "ConfigSnapshotRow", "DocumentBuildRow", "NoticePublicationRow"]


class DocumentBuildRow(Base):
    __tablename__ = "governance_builds"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    built_by: Mapped[str] = mapped_column(String(160))
    software_version: Mapped[str] = mapped_column(String(64))
    #: sha256 of the facts the documents were rendered from (the live configuration).
    facts_sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    #: Names of the documents in the manifest (``record-of-processing`` …).
    documents: Mapped[list[str]] = mapped_column(JSON)


class NoticePublicationRow(Base):
    __tablename__ = "governance_notice_publications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    build_id: Mapped[str] = mapped_column(String(40))
    published_on: Mapped[date] = mapped_column(Date)
    where: Mapped[str] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(160))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AccessReviewRow(Base):
    __tablename__ = "governance_access_reviews"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    started_by: Mapped[str] = mapped_column(String(160))
    #: The accounts and findings as listed when the review started (JSON document).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    signed_off_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    signed_off_by: Mapped[str | None] = mapped_column(String(160), default=None)
    note: Mapped[str] = mapped_column(String(1000), default="")
    revoked_grants: Mapped[list[str]] = mapped_column(JSON, default=list)


class ConfigSnapshotRow(Base):
    __tablename__ = "governance_config_snapshots"

    #: ``server`` or ``edge:<node_id>``: one row per configuration file, replaced on change.
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Flattened non-secret values: dotted key → canonical JSON of the value.
    values: Mapped[dict[str, str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
