"""Request and response bodies of the registry API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lineguard.contracts.events import Name
from lineguard.server.registry.models import ModelVersion, ReleaseRow

__all__ = ["DeployRequest", "ModelVersionView", "RejectRequest", "ReleaseView", "RollbackRequest"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeployRequest(_Body):
    version_id: str = Field(max_length=40)
    lines: list[Name] = Field(default_factory=list, max_length=256)
    nodes: list[Name] = Field(default_factory=list, max_length=256)


class RollbackRequest(_Body):
    line: Name | None = None
    node: Name | None = None
    to_version_id: str | None = Field(
        default=None, max_length=40, description="Default: the previous version."
    )
    reason: str = Field(min_length=1, max_length=500)


class RejectRequest(_Body):
    reason: str = Field(min_length=1, max_length=500)


class ModelVersionView(_Body):
    id: str
    model_id: str
    version: int
    sha256: str
    signer_key_id: str
    state: str
    registered_by: str
    registered_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reject_reason: str | None
    #: The package's operating point in a quality engineer's words (goal, expected false
    #: rejects and recall with 95 % intervals); None when the stored package cannot be read.
    operating_point: str | None = None
    #: The package's named defect classes ([] = none, regions are "anomaly"; None = not recorded).
    class_names: list[str] | None = None

    @classmethod
    def of(cls, row: ModelVersion, *, operating_point: str | None = None) -> ModelVersionView:
        return cls(
            id=row.id,
            model_id=row.model_id,
            version=row.version,
            sha256=row.sha256,
            signer_key_id=row.signer_key_id,
            state=row.state,
            registered_by=row.registered_by_actor,
            registered_at=row.registered_at,
            decided_by=row.decided_by_actor,
            decided_at=row.decided_at,
            reject_reason=row.reject_reason,
            operating_point=operating_point,
            class_names=row.class_names,
        )


class ReleaseView(_Body):
    id: str
    release: int
    kind: str
    model_version_id: str
    lines: list[str]
    nodes: list[str]
    created_by: str
    created_at: datetime
    reason: str
    replaces_release: int | None

    @classmethod
    def of(cls, row: ReleaseRow) -> ReleaseView:
        return cls(
            id=row.id,
            release=row.release,
            kind=row.kind,
            model_version_id=row.model_version_id,
            lines=list(row.lines),
            nodes=list(row.nodes),
            created_by=row.created_by_actor,
            created_at=row.created_at,
            reason=row.reason,
            replaces_release=row.replaces_release,
        )
