"""Where a node keeps its LineGuard software versions, under ``data_dir/software/``::

    tuf/metadata/            TUF's trusted metadata for software updates
    staging/                 a bundle being verified and unpacked (never run from here)
    slots/r<release>-<version>/   verified, unpacked bundles (wheels/, requirements.txt, manifest.json)
    current -> slots/...     the version the node runs (a symlink, switched atomically)
    previous -> slots/...    the version before it, kept for rollback
    state.json               the highest release accepted (only moves forward)
    decisions.jsonl          one typed :class:`SoftwareDecision` per step

"Installing" a release is unpacking it into its own slot and switching ``current``; the
service manager starts the node from ``current`` (``pip install --no-index
--find-links current/wheels -r current/requirements.txt`` into that slot's venv, or an
image built from it). Nothing is pip-installed into the running interpreter.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from lineguard.crypto import atomic_write
from lineguard.signing import SoftwareDecision

__all__ = ["SoftwareSlots"]


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_release: int = 0


class SoftwareSlots:
    """The node's software slots, pointers and journal (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir) / "software"
        self.metadata_dir = self.directory / "tuf" / "metadata"
        self.staging_dir = self.directory / "staging"
        self.slots_dir = self.directory / "slots"
        self.current_link = self.directory / "current"
        self.previous_link = self.directory / "previous"
        self.state_file = self.directory / "state.json"
        self.journal = self.directory / "decisions.jsonl"

    @property
    def last_release(self) -> int:
        if not self.state_file.exists():
            return 0
        return _State.model_validate_json(self.state_file.read_bytes()).last_release

    def current(self) -> Path | None:
        return self._target(self.current_link)

    def previous(self) -> Path | None:
        return self._target(self.previous_link)

    @staticmethod
    def version_of(slot: Path | None) -> str | None:
        return None if slot is None else slot.name.partition("-")[2] or None

    def install(self, unpacked: Path, *, release: int, version: str) -> Path:
        """Move a verified bundle into its slot, make it current, keep the old current as previous."""
        slot = self.slots_dir / f"r{release}-{version}"
        self.slots_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.rmtree(slot, ignore_errors=True)
        unpacked.replace(slot)
        old = self.current()
        if old is not None and old != slot:
            self._point(self.previous_link, old)
        self._point(self.current_link, slot)
        atomic_write(self.state_file, _State(last_release=release).model_dump_json().encode("utf-8"))
        self._prune()
        return slot

    def rollback(self) -> tuple[Path, Path]:
        """Switch ``current`` back to ``previous`` (which becomes the one rolled away from)."""
        current, previous = self.current(), self.previous()
        if previous is None or current is None:
            msg = "no previous software version is kept on this node"
            raise FileNotFoundError(msg)
        self._point(self.current_link, previous)
        self._point(self.previous_link, current)
        return previous, current

    def log(self, decision: SoftwareDecision) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(decision.model_dump_json() + "\n")

    def decisions(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line]

    def _target(self, link: Path) -> Path | None:
        if not link.is_symlink():
            return None
        target = self.directory / link.readlink()
        return target if target.is_dir() else None

    def _point(self, link: Path, slot: Path) -> None:
        """Atomically re-point ``link`` at ``slot`` (a relative symlink, renamed over the old one)."""
        tmp = link.with_name(link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(slot.relative_to(self.directory))
        tmp.replace(link)

    def _prune(self) -> None:
        """Only the current and the previous slot are kept."""
        keep = {self.current(), self.previous()}
        for slot in self.slots_dir.iterdir():
            if slot not in keep:
                shutil.rmtree(slot, ignore_errors=True)
