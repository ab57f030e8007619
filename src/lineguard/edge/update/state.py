"""What a node remembers about updates, on disk under ``data_dir/update/``::

    tuf/metadata/       TUF's trusted metadata (root chain, timestamp, snapshot, targets):
                        a refresh refuses anything older than what is here
    state.json          the highest release accepted and the package installed for it
    decisions.jsonl     one line per update attempt: installed, or rejected with the check
    staging/            downloads being verified (never loaded from here)
    models/r<release>/  verified packages (+ ``.sig`` beside each)

The release counter only moves forward: :meth:`UpdateState.accept` refuses a release
that is not newer, so even a genuine old release replayed by a compromised server is
refused after a restart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lineguard.contracts.events import OpaqueId, Sha256Hex
from lineguard.crypto import atomic_write
from lineguard.signing import Release, UpdateReport, VerificationError

__all__ = ["InstalledRelease", "UpdateState"]


class InstalledRelease(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    release: int = Field(ge=1)
    model_id: OpaqueId
    model_version: int = Field(ge=1)
    sha256: Sha256Hex
    package_dir: str
    installed_at: datetime


class _StateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = "lineguard-update-state"
    last_release: int = 0
    installed: InstalledRelease | None = None


class UpdateState:
    """The node's update state (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir) / "update"
        self.metadata_dir = self.directory / "tuf" / "metadata"
        self.staging_dir = self.directory / "staging"
        self.models_dir = self.directory / "models"
        self.state_file = self.directory / "state.json"
        self.journal = self.directory / "decisions.jsonl"

    def _read(self) -> _StateFile:
        if not self.state_file.exists():
            return _StateFile()
        return _StateFile.model_validate_json(self.state_file.read_bytes())

    @property
    def last_release(self) -> int:
        return self._read().last_release

    @property
    def installed(self) -> InstalledRelease | None:
        return self._read().installed

    @property
    def has_trusted_root(self) -> bool:
        return (self.metadata_dir / "root.json").exists()

    def check_newer(self, release: Release) -> None:
        last = self.last_release
        if release.release <= last:
            msg = (
                f"release {release.release} ({release.model_id} v{release.model_version}) is not newer than "
                f"release {last}, which this node already accepted"
            )
            raise VerificationError(msg, check="replayed_release")

    def accept(self, release: Release, package_dir: Path) -> InstalledRelease:
        self.check_newer(release)
        installed = InstalledRelease(
            release=release.release,
            model_id=release.model_id,
            model_version=release.model_version,
            sha256=release.sha256,
            package_dir=str(package_dir),
            installed_at=datetime.now(UTC),
        )
        state = _StateFile(last_release=release.release, installed=installed)
        atomic_write(self.state_file, state.model_dump_json(indent=2).encode("utf-8"))
        return installed

    def log(self, report: UpdateReport) -> None:
        """Append one decision to the node's journal (kept even when the server is unreachable)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(report.model_dump_json() + "\n")

    def decisions(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line]
