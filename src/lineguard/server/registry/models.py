"""Tables of the model registry: registered model versions and releases.

A **model version** is one signed package as registered (``model_id`` + a version
number counting up per model), with who registered it and who approved or rejected
it. A **release** is one deployment or rollback: a site-wide, strictly increasing
release number, the model version it runs and the lines / nodes it goes to. Releases
are never edited or deleted: a rollback is a new row (and a new TUF target version),
which is how nodes can refuse anything older than what they already run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime, utcnow

__all__ = ["ModelVersion", "ModelVersionState", "ReleaseRow"]


class ModelVersionState:
    REGISTERED = "registered"
    APPROVED = "approved"
    REJECTED = "rejected"


class ModelVersion(Base):
    __tablename__ = "registry_model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(BigInteger)
    #: sha256 of the ONNX graph (what nodes report running).
    sha256: Mapped[str] = mapped_column(String(64))
    #: Key id of the model-signing key that signed the package.
    signer_key_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=ModelVersionState.REGISTERED)
    registered_by: Mapped[str] = mapped_column(String(40))
    registered_by_actor: Mapped[str] = mapped_column(String(160))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(40), default=None)
    decided_by_actor: Mapped[str | None] = mapped_column(String(160), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    reject_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    #: The package's named defect classes ([] = it names none: every region is "anomaly");
    #: None for versions registered before the registry kept them (classes unknown).
    class_names: Mapped[list[str] | None] = mapped_column(JSON, default=None)


class ReleaseRow(Base):
    __tablename__ = "registry_releases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Site-wide release number: unique and strictly increasing (nodes refuse lower ones).
    release: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    model_version_id: Mapped[str] = mapped_column(ForeignKey("registry_model_versions.id"))
    lines: Mapped[list[str]] = mapped_column(JSON)
    nodes: Mapped[list[str]] = mapped_column(JSON)
    created_by_actor: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(500), default="")
    replaces_release: Mapped[int | None] = mapped_column(BigInteger, default=None)
