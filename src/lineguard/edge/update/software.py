"""Signed node-software updates: fetch, verify, unpack into a slot, switch — or refuse.

One :meth:`SoftwareUpdater.check` runs, in order::

    TUF refresh        timestamp → snapshot → targets → software role: signatures,
                       thresholds, expiry, versions never lower than trusted ones on disk
    signed by role?    the release document is listed, with these hashes, in the verified
                       metadata of the ``software`` role itself — the top-level targets
                       key (which publishes models) cannot ship node software  (unsigned)
    for this site?     custom metadata and document name this node's site  (wrong_target)
    newer?             release number above the last one accepted  (replayed_release)
    bundle             the target the document names, from the same role, with the
                       document's length and sha256; TUF checks the download  (tampered)
    contents           safe tar (regular files only, no absolute or ``..`` paths), every
                       file's sha256 as in manifest.json, nothing extra  (package)
    install            unpack into ``slots/r<release>-<version>``, switch ``current``,
                       keep the old one as ``previous``

Each step is journaled as a typed ``SoftwareDecision`` (and handed to ``reporter``:
:func:`~lineguard.edge.update.link.software_reporter` sends it to the server, which audits it)
and any failure raises :class:`~lineguard.signing.VerificationError` naming the check;
``current`` is untouched by a refused release. :meth:`SoftwareUpdater.rollback`
switches back to the kept previous version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.ngclient import FetcherInterface, Updater

from lineguard.edge.update.client import as_verification_error
from lineguard.edge.update.software_slots import SoftwareSlots
from lineguard.signing import SoftwareDecision, SoftwareRelease, VerificationError, software_release_target

__all__ = ["SoftwareOutcome", "SoftwareUpdater"]

log = logging.getLogger(__name__)

SOFTWARE_ROLE = "software"
_MAX_BUNDLE_FILES = 2_000
_MAX_BUNDLE_BYTES = 1 << 30
SoftwareReporter = Callable[[SoftwareDecision], None]
Outcome = Literal["verified", "installed", "rejected", "rolled_back"]


@dataclass(frozen=True, slots=True)
class SoftwareOutcome:
    """``installed`` a release, found the running one ``current``, ``none`` published, or ``rolled_back``."""

    status: str
    release: SoftwareRelease | None = None
    slot: Path | None = None


class SoftwareUpdater:
    """The node's software updater (see the module docstring)."""

    def __init__(
        self,
        *,
        data_dir: Path,
        site_id: str,
        metadata_url: str,
        targets_url: str,
        fetcher: FetcherInterface | None = None,
        initial_root: bytes | None = None,
        reporter: SoftwareReporter | None = None,
    ) -> None:
        self.slots = SoftwareSlots(data_dir)
        self.site_id = site_id
        self.metadata_url = metadata_url
        self.targets_url = targets_url
        self._fetcher = fetcher
        self._initial_root = initial_root
        self._reporter = reporter

    def close(self) -> None:
        """Release the fetcher's connections (an :class:`HttpxFetcher` closes its client, which
        the reporter shares): a server waits for open keep-alive connections on shutdown."""
        close = getattr(self._fetcher, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> SoftwareUpdater:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def check(self) -> SoftwareOutcome:
        seen: list[SoftwareRelease] = []
        try:
            outcome = self._check(seen)
        except Exception as exc:
            error = as_verification_error(exc)
            shutil.rmtree(self.slots.staging_dir, ignore_errors=True)
            self._record("rejected", seen[-1] if seen else None, check=error.check, reason=error.reason)
            raise error from exc
        if outcome.status == "installed":
            self._record("installed", outcome.release)
        return outcome

    def rollback(self) -> SoftwareOutcome:
        """Run the kept previous version again (the one rolled away from becomes previous)."""
        try:
            to, _away = self.slots.rollback()
        except FileNotFoundError as exc:
            msg = str(exc)
            raise VerificationError(msg, check="package") from None
        self._record("rolled_back", None, reason=f"now running {self.slots.version_of(to)}")
        return SoftwareOutcome("rolled_back", None, to)

    # -- steps ---------------------------------------------------------------------

    def _check(self, seen: list[SoftwareRelease]) -> SoftwareOutcome:
        updater = self._updater()
        updater.refresh()
        path = software_release_target(self.site_id)
        info = updater.get_targetinfo(path)
        if info is None:
            return SoftwareOutcome("none")
        self._signed_by_software_role(path, info)
        custom: Any = info.unrecognized_fields.get("custom", {}).get("lineguard_software", {})
        if custom.get("site") != self.site_id:
            msg = f"{path} is a release for site {custom.get('site')!r}, this node is in {self.site_id!r}"
            raise VerificationError(msg, check="wrong_target")
        release = SoftwareRelease.from_bytes(self._download(updater, info, "release.json"))
        seen.append(release)
        if release.site_id != self.site_id:
            msg = f"release {release.release} is for site {release.site_id}, this node is in {self.site_id}"
            raise VerificationError(msg, check="wrong_target")
        last = self.slots.last_release
        if release.release == last:
            return SoftwareOutcome("current", release, self.slots.current())
        if release.release < last:
            msg = (
                f"software release {release.release} (LineGuard {release.version}) is older than "
                f"release {last}, which this node already accepted"
            )
            raise VerificationError(msg, check="replayed_release")
        bundle_info = self._bundle_info(updater, release)
        bundle = self._download(updater, bundle_info, "bundle.tar.gz")
        unpacked = self._unpack(bundle, release)
        self._record("verified", release)
        slot = self.slots.install(unpacked, release=release.release, version=release.version)
        return SoftwareOutcome("installed", release, slot)

    def _signed_by_software_role(self, path: str, info: TargetFile) -> None:
        """TUF found ``path``; was it the ``software`` role that signed it (not top-level targets)?"""
        stored = self.slots.metadata_dir / f"{SOFTWARE_ROLE}.json"
        entry = None
        if stored.is_file():  # written by TUF only after verifying it against the delegation
            entry = Metadata[Targets].from_bytes(stored.read_bytes()).signed.targets.get(path)
        if entry is None or entry.hashes != info.hashes or entry.length != info.length:
            msg = f"{path} is not signed by the {SOFTWARE_ROLE} role (its own keys and threshold)"
            raise VerificationError(msg, check="unsigned")

    def _bundle_info(self, updater: Updater, release: SoftwareRelease) -> TargetFile:
        info = updater.get_targetinfo(release.bundle)
        if info is None:
            msg = f"release {release.release} names bundle {release.bundle}, which TUF does not list"
            raise VerificationError(msg, check="unsigned")
        self._signed_by_software_role(release.bundle, info)
        if info.hashes.get("sha256") != release.bundle_sha256 or info.length != release.bundle_length:
            msg = (
                f"release {release.release} names a bundle of {release.bundle_length} bytes, sha256 "
                f"{release.bundle_sha256}; the signed target is {info.length} bytes, "
                f"{info.hashes.get('sha256')}"
            )
            raise VerificationError(msg, check="tampered")
        return info

    def _download(self, updater: Updater, info: TargetFile, name: str) -> bytes:
        self.slots.staging_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        destination = self.slots.staging_dir / name
        destination.unlink(missing_ok=True)
        updater.download_target(info, str(destination))
        return destination.read_bytes()

    def _unpack(self, bundle: bytes, release: SoftwareRelease) -> Path:
        target = self.slots.staging_dir / f"r{release.release}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, mode=0o700)
        source = self.slots.staging_dir / "bundle.tar.gz"
        files: dict[str, str] = {}
        try:
            with tarfile.open(source, mode="r:gz") as tar:
                members = tar.getmembers()
                if len(members) > _MAX_BUNDLE_FILES or sum(m.size for m in members) > _MAX_BUNDLE_BYTES:
                    msg = f"the bundle holds {len(members)} entries, more than a bundle may"
                    raise VerificationError(msg, check="package")
                for member in members:
                    name = PurePosixPath(member.name)
                    if not member.isreg() or name.is_absolute() or ".." in name.parts:
                        msg = (
                            f"the bundle holds {member.name!r}: only plain files under the bundle are allowed"
                        )
                        raise VerificationError(msg, check="package")
                    handle = tar.extractfile(member)
                    assert handle is not None  # noqa: S101 - a regular file
                    data = handle.read()
                    out = target / name
                    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    out.write_bytes(data)
                    files[str(name)] = hashlib.sha256(data).hexdigest()
        except (tarfile.TarError, OSError, EOFError) as exc:
            msg = f"the bundle is not a readable tar.gz: {type(exc).__name__}: {exc}"
            raise VerificationError(msg, check="package") from None
        self._check_manifest(target, files, release)
        return target

    @staticmethod
    def _check_manifest(target: Path, files: dict[str, str], release: SoftwareRelease) -> None:
        try:
            manifest = json.loads((target / "manifest.json").read_bytes())
            listed = dict(manifest["files"])
            version = manifest["version"]
        except (OSError, ValueError, KeyError, TypeError):
            msg = "the bundle has no readable manifest.json"
            raise VerificationError(msg, check="package") from None
        if version != release.version:
            msg = f"the bundle's manifest says version {version!r}, the signed release {release.version!r}"
            raise VerificationError(msg, check="package")
        files.pop("manifest.json", None)
        if listed != files:
            differ = sorted(set(listed.items()) ^ set(files.items()))[:5]
            msg = f"the bundle's files differ from its manifest: {differ}"
            raise VerificationError(msg, check="tampered")

    def _updater(self) -> Updater:
        self.slots.metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.slots.staging_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        trusted = (self.slots.metadata_dir / "root.json").exists()
        if not trusted and self._initial_root is None:
            msg = "this node holds no trusted TUF root yet: bootstrap it with the registry's root.json"
            raise VerificationError(msg, check="metadata")
        return Updater(
            metadata_dir=str(self.slots.metadata_dir),
            metadata_base_url=self.metadata_url,
            target_dir=str(self.slots.staging_dir),
            target_base_url=self.targets_url,
            fetcher=self._fetcher,
            bootstrap=None if trusted else self._initial_root,
        )

    def _record(
        self, outcome: Outcome, release: SoftwareRelease | None, *, check: str = "", reason: str = ""
    ) -> None:
        decision = SoftwareDecision(
            outcome=outcome,
            site_id=self.site_id,
            release=release.release if release else None,
            version=release.version if release else None,
            check=check,
            reason=reason[:500],
            running_version=self.slots.version_of(self.slots.current()),
        )
        self.slots.log(decision)
        if self._reporter is not None:
            try:
                self._reporter(decision)
            except Exception as exc:  # the journal has it; reporting is best effort
                log.warning("could not report the software update step: %s", exc)
