"""Node software releases: "site S runs LineGuard version V, bundle B" — published via TUF.

A bundle is a gzip'd tar of the LineGuard wheel and every pinned dependency wheel, with
``requirements.txt`` (exact pins) and ``manifest.json`` (version, file list, sha256 of
each file). The registry publishes two targets per site under the TUF ``software``
role (its own keys and threshold, delegated from targets; see ``tuf_repo``)::

    software/<site>/release.json            this document (also in the target's custom metadata)
    software/<site>/lineguard-<version>.tar.gz   the bundle

Release numbers only grow per site: a node refuses a release that is not newer than
the one it runs (a rollback attack), one for another site, and a bundle that is not
exactly the one the signed document names.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lineguard.contracts.events import Name, Sha256Hex
from lineguard.signing._errors import VerificationError

__all__ = [
    "SOFTWARE_FORMAT",
    "SoftwareDecision",
    "SoftwareRelease",
    "build_software_bundle",
    "software_bundle_target",
    "software_release_target",
]

SOFTWARE_FORMAT = "lineguard-node-software"


def software_release_target(site_id: str) -> str:
    return f"software/{site_id}/release.json"


def software_bundle_target(site_id: str, version: str) -> str:
    return f"software/{site_id}/lineguard-{version}.tar.gz"


class SoftwareRelease(BaseModel):
    """One node-software release document (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["lineguard-node-software"] = "lineguard-node-software"
    schema_version: Literal[1] = 1
    site_id: Name
    release: int = Field(ge=1, le=2**53, description="Per-site, strictly increasing release number.")
    version: str = Field(pattern=r"^[0-9][0-9A-Za-z.+-]{0,63}$", description="The LineGuard version.")
    bundle: str = Field(pattern=r"^software/[A-Za-z0-9._-]+/[A-Za-z0-9._+-]+\.tar\.gz$", max_length=255)
    bundle_sha256: Sha256Hex
    bundle_length: int = Field(ge=1, le=1 << 31)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def custom(self) -> dict[str, object]:
        """The facts repeated in the TUF target's custom metadata."""
        facts = {"site": self.site_id, "release": self.release, "version": self.version}
        return {"lineguard_software": facts}

    def to_bytes(self) -> bytes:
        return (self.model_dump_json(indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> SoftwareRelease:
        try:
            return cls.model_validate(json.loads(data))
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
            msg = f"the software release document is not a {SOFTWARE_FORMAT} document: {exc}"
            raise VerificationError(msg, check="metadata") from None


class SoftwareDecision(BaseModel):
    """One step of a node-software update: journaled by the node and sent to the server
    (``POST /api/v1/registry/software-reports``), which audits it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    outcome: Literal["verified", "installed", "rejected", "rolled_back"]
    site_id: Name
    release: int | None = Field(default=None, ge=1, le=2**53)
    version: str | None = Field(default=None, pattern=r"^[0-9][0-9A-Za-z.+-]{0,63}$")
    #: The failed check (see ``lineguard.signing.CHECKS``); empty unless rejected.
    check: str = Field(default="", max_length=32, pattern=r"^[a-z_]*$")
    reason: str = Field(default="", max_length=500)
    running_version: str | None = Field(default=None, pattern=r"^[0-9][0-9A-Za-z.+-]{0,63}$")


def build_software_bundle(version: str, wheels: dict[str, bytes], requirements: str) -> bytes:
    """A reproducible bundle (fixed mtimes and owners) of ``wheels`` and the pinned requirements."""
    files = {f"wheels/{name}": data for name, data in sorted(wheels.items())}
    files["requirements.txt"] = requirements.encode("utf-8")
    manifest = {
        "format": SOFTWARE_FORMAT,
        "version": version,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
