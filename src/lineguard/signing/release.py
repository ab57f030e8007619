"""A release: the signed statement "this line (or node) runs this package now".

The registry writes one release document per deployment target into its TUF
repository (``releases/line/<line>.json``, ``releases/node/<node>.json``); TUF signs
the document's length and hashes (targets role), and the same facts ride in the
target's custom metadata, so a node can refuse a release for another line before it
downloads anything.

Release numbers grow across the whole site and never repeat. A rollback is a **new**
release (a higher number) whose package is an older model version: nodes only ever
move forward in release numbers, so replaying an old release — even a genuine,
correctly signed one — is refused (``replayed_release``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lineguard.contracts.events import Name, OpaqueId, Sha256Hex
from lineguard.signing._errors import VerificationError

__all__ = [
    "RELEASE_FORMAT",
    "SIGNERS_TARGET",
    "PackageFiles",
    "Release",
    "line_release_target",
    "node_release_target",
    "package_targets",
]

RELEASE_FORMAT = "lineguard-model-release"
#: TUF target path of the signing trust list (public keys and revocations).
SIGNERS_TARGET = "trust/signers.json"
TargetPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$", max_length=255)]


def line_release_target(line_id: str) -> str:
    return f"releases/line/{line_id}.json"


def node_release_target(node_id: str) -> str:
    return f"releases/node/{node_id}.json"


def package_targets(model_version_id: str) -> PackageFiles:
    """Where one registered model version's files live in the TUF repository."""
    base = f"packages/{model_version_id}"
    return PackageFiles(model=f"{base}/model.onnx", metadata=f"{base}/metadata.json", signature=f"{base}.sig")


class PackageFiles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: TargetPath
    metadata: TargetPath
    signature: TargetPath


class Release(BaseModel):
    """One release document (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["lineguard-model-release"] = "lineguard-model-release"
    schema_version: Literal[1] = 1
    release: int = Field(ge=1, le=2**53, description="Site-wide, strictly increasing release number.")
    kind: Literal["deploy", "rollback"] = "deploy"
    model_id: OpaqueId
    model_version: int = Field(ge=1, le=2**53)
    model_version_id: OpaqueId
    sha256: Sha256Hex = Field(description="sha256 of the ONNX graph the release runs.")
    lines: tuple[Name, ...] = Field(default=(), max_length=256)
    nodes: tuple[Name, ...] = Field(default=(), max_length=256)
    files: PackageFiles
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    #: For a rollback: the release it replaces.
    replaces_release: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _has_audience(self) -> Release:
        if not self.lines and not self.nodes:
            msg = "a release names at least one line or node"
            raise ValueError(msg)
        return self

    def is_for(self, *, line_id: str, node_id: str) -> bool:
        return line_id in self.lines or node_id in self.nodes

    def custom(self) -> dict[str, object]:
        """The facts repeated in the TUF target's custom metadata."""
        return {
            "lineguard": {
                "release": self.release,
                "lines": list(self.lines),
                "nodes": list(self.nodes),
                "sha256": self.sha256,
            }
        }

    def to_bytes(self) -> bytes:
        return (self.model_dump_json(indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Release:
        try:
            return cls.model_validate(json.loads(data))
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
            msg = f"the release document is not a {RELEASE_FORMAT} document: {exc}"
            raise VerificationError(msg, check="metadata") from None
