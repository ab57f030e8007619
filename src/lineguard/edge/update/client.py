"""Fetch, verify and hand over a model update — nothing is loaded before every check passed.

One :meth:`UpdateClient.check` runs, in order::

    TUF refresh            timestamp → snapshot → targets, signatures, thresholds, expiry,
                           versions never lower than the trusted ones on disk
    trust list             trust/signers.json (a TUF target): which keys sign, which are revoked
    release for me?        releases/node/<node>.json or releases/line/<line>.json;
                           custom metadata and document must name this node or its line
    newer?                 release number above the last accepted one
    download               every package file checked against TUF length + sha256
    model signature        model-signing bundle by a trusted, unrevoked key; files unchanged
    graph digest           the verified package's graph is the one the release names
    load                   build the runner off the frame path, then ModelSlot.swap

Any failure raises :class:`~lineguard.signing.VerificationError` naming the check; the
attempt is written to the node's journal and reported to the server (which audits it)
and the slot is untouched, so the running model keeps running.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api import exceptions as tuf_errors
from tuf.ngclient import FetcherInterface, Updater
from tuf.ngclient.config import UpdaterConfig

from lineguard.contracts.errors import ContractError
from lineguard.contracts.events import ModelRef
from lineguard.contracts.types import ModelRunner
from lineguard.edge.update.slot import ModelSlot
from lineguard.edge.update.state import UpdateState
from lineguard.signing import (
    SIGNERS_TARGET,
    Check,
    Release,
    SignerTrust,
    TrustListVerifier,
    UpdateReport,
    VerificationError,
    line_release_target,
    node_release_target,
)

__all__ = ["UpdateClient", "UpdateOutcome", "as_verification_error", "default_loader"]

log = logging.getLogger(__name__)

#: Builds a runner from a verified package folder (default: ONNX Runtime).
RunnerLoader = Callable[[Path], ModelRunner]
#: Sends a report to the server; failures to send are logged, never fatal.
Reporter = Callable[[UpdateReport], None]

_TUF_CHECKS: tuple[tuple[type[Exception], Check], ...] = (
    (tuf_errors.ExpiredMetadataError, "expired_metadata"),
    (tuf_errors.BadVersionNumberError, "replayed_release"),
    (tuf_errors.LengthOrHashMismatchError, "tampered"),
    (tuf_errors.DownloadLengthMismatchError, "tampered"),
    (tuf_errors.DownloadError, "download"),
    (tuf_errors.RepositoryError, "metadata"),
)


def default_loader(package_dir: Path) -> ModelRunner:
    from lineguard.vision.runtime import OnnxModelRunner

    return OnnxModelRunner(package_dir)


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """What one check did: ``installed`` a release, ``restored`` the installed one after a
    restart (verified again before loading), or found it ``current`` / ``none``."""

    status: str
    release: Release | None = None
    ref: ModelRef | None = None


def as_verification_error(exc: Exception) -> VerificationError:
    """Any failure on an update path as a :class:`VerificationError` naming its check."""
    if isinstance(exc, VerificationError):
        return exc
    for kind, check in _TUF_CHECKS:
        if isinstance(exc, kind):
            return VerificationError(f"TUF refused the update: {type(exc).__name__}: {exc}", check=check)
    if isinstance(exc, ContractError):  # a malformed trust list or release document
        return VerificationError(f"{type(exc).__name__}: {exc}", check="metadata")
    return VerificationError(f"{type(exc).__name__}: {exc}", check="package")


def _same_graph(release: Release, digest: str, *, check: Check, what: str) -> None:
    if digest != release.sha256:
        msg = f"release {release.release} names graph sha256 {release.sha256}, {what} has {digest}"
        raise VerificationError(msg, check=check)


class UpdateClient:
    """The node's updater (see the module docstring)."""

    def __init__(
        self,
        *,
        data_dir: Path,
        node_id: str,
        line_id: str,
        metadata_url: str,
        targets_url: str,
        slot: ModelSlot,
        fetcher: FetcherInterface | None = None,
        initial_root: bytes | None = None,
        loader: RunnerLoader = default_loader,
        reporter: Reporter | None = None,
    ) -> None:
        self.state = UpdateState(data_dir)
        self.node_id = node_id
        self.line_id = line_id
        self.metadata_url = metadata_url
        self.targets_url = targets_url
        self.slot = slot
        self._fetcher = fetcher
        self._initial_root = initial_root
        self._loader = loader
        self._reporter = reporter

    def close(self) -> None:
        """Release the fetcher's connections (an :class:`HttpxFetcher` closes its client)."""
        close = getattr(self._fetcher, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> UpdateClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the one public step ------------------------------------------------------

    def check(self) -> UpdateOutcome:
        """Look for a release for this node; install it if every check passes."""
        seen: list[Release] = []
        try:
            outcome = self._check(seen)
        except Exception as exc:
            error = as_verification_error(exc)
            shutil.rmtree(self.state.staging_dir, ignore_errors=True)
            if seen or error.check != "download":  # an unreachable server is no refused update
                self._record("rejected", seen[-1] if seen else None, check=error.check, reason=error.reason)
            raise error from exc
        if outcome.status == "installed" and outcome.release is not None:
            self._record("installed", outcome.release)
            release = outcome.release
            log.info(
                "model release %d installed: %s v%d", release.release, release.model_id, release.model_version
            )
        return outcome

    # -- steps ---------------------------------------------------------------------

    def _check(self, seen: list[Release]) -> UpdateOutcome:
        updater = self._updater()
        updater.refresh()
        trust = SignerTrust.from_bytes(self._download(updater, SIGNERS_TARGET), source=SIGNERS_TARGET)
        release = self._find_release(updater)
        if release is None:
            return UpdateOutcome("none")
        seen.append(release)
        installed = self.state.installed
        if installed is not None and release.release == installed.release:
            if self.slot.digest != installed.sha256:  # a restart: verify again, then load
                self._load(release, TrustListVerifier(trust), Path(installed.package_dir))
                return UpdateOutcome("restored", release, self.slot.model_ref)
            return UpdateOutcome("current", release, self.slot.model_ref)
        self.state.check_newer(release)
        package_dir = self._fetch_package(updater, release)
        runner = self._verified_runner(release, TrustListVerifier(trust), package_dir)
        installed_dir = self._promote(package_dir.parent, self.state.models_dir / f"r{release.release}")
        self.state.accept(release, installed_dir / "package")
        ref = ModelRef(model_id=release.model_id, version=release.model_version, sha256=release.sha256)
        self.slot.swap(runner, ref)
        return UpdateOutcome("installed", release, ref)

    def _verified_runner(
        self, release: Release, verifier: TrustListVerifier, package_dir: Path
    ) -> ModelRunner:
        verified = verifier.verify(package_dir)
        _same_graph(release, verified.digest, check="tampered", what="the signed package")
        runner = self._loader(package_dir)  # loaded only now, after every check passed
        _same_graph(release, runner.digest, check="package", what="the loaded runner")
        return runner

    def _load(self, release: Release, verifier: TrustListVerifier, package_dir: Path) -> None:
        runner = self._verified_runner(release, verifier, package_dir)
        ref = ModelRef(model_id=release.model_id, version=release.model_version, sha256=release.sha256)
        self.slot.swap(runner, ref)

    def _updater(self) -> Updater:
        self.state.metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state.staging_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The initial root is used once; afterwards the root TUF keeps on disk is the
        # anchor, so a rotation stays in force across restarts.
        bootstrap = None if self.state.has_trusted_root else self._initial_root
        if bootstrap is None and not self.state.has_trusted_root:
            msg = "this node holds no trusted TUF root yet: bootstrap it with the registry's root.json"
            raise VerificationError(msg, check="metadata")
        return Updater(
            metadata_dir=str(self.state.metadata_dir),
            metadata_base_url=self.metadata_url,
            target_dir=str(self.state.staging_dir),
            target_base_url=self.targets_url,
            fetcher=self._fetcher,
            config=UpdaterConfig(targets_max_length=1 << 30),
            bootstrap=bootstrap,
        )

    def _download(
        self, updater: Updater, path: str, destination: Path | None = None, *, missing: Check = "metadata"
    ) -> bytes:
        info = updater.get_targetinfo(path)
        if info is None:
            msg = f"TUF targets metadata lists no {path}"
            raise VerificationError(msg, check=missing)
        destination = destination or self.state.staging_dir / path.replace("/", "_")
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        destination.unlink(missing_ok=True)
        updater.download_target(info, str(destination))
        return destination.read_bytes()

    def _find_release(self, updater: Updater) -> Release | None:
        candidates: list[tuple[int, str]] = []
        for path in (node_release_target(self.node_id), line_release_target(self.line_id)):
            info = updater.get_targetinfo(path)
            if info is None:
                continue
            custom: Any = info.unrecognized_fields.get("custom", {}).get("lineguard", {})
            lines, nodes = custom.get("lines", []), custom.get("nodes", [])
            if self.line_id not in lines and self.node_id not in nodes:
                msg = (
                    f"{path} is a release for lines {lines or '-'} / nodes {nodes or '-'}, "
                    f"not for line {self.line_id} or node {self.node_id}"
                )
                raise VerificationError(msg, check="wrong_target")
            candidates.append((int(custom.get("release", 0)), path))
        if not candidates:
            return None
        _, path = max(candidates)
        release = Release.from_bytes(self._download(updater, path))
        if not release.is_for(line_id=self.line_id, node_id=self.node_id):
            msg = (
                f"release {release.release} is for lines {list(release.lines) or '-'} / nodes "
                f"{list(release.nodes) or '-'}, this node is {self.node_id} on line {self.line_id}"
            )
            raise VerificationError(msg, check="wrong_target")
        return release

    def _fetch_package(self, updater: Updater, release: Release) -> Path:
        staging = self.state.staging_dir / f"r{release.release}"
        shutil.rmtree(staging, ignore_errors=True)
        package_dir = staging / "package"
        package_dir.mkdir(parents=True, mode=0o700)
        files = release.files
        self._download(updater, files.model, package_dir / "model.onnx")
        self._download(updater, files.metadata, package_dir / "metadata.json")
        # A release whose package has no signature is an unsigned package, whatever TUF says.
        self._download(updater, files.signature, staging / "package.sig", missing="unsigned")
        return package_dir

    @staticmethod
    def _promote(staging: Path, installed: Path) -> Path:
        """Move a verified release out of staging; a rejected one is deleted with staging."""
        installed.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.rmtree(installed, ignore_errors=True)
        staging.replace(installed)
        return installed

    def _record(self, outcome: str, release: Release | None, *, check: str = "", reason: str = "") -> None:
        report = UpdateReport(
            node_id=self.node_id,
            outcome="installed" if outcome == "installed" else "rejected",
            check=check,
            reason=reason[:500],
            release=release.release if release else None,
            model_id=release.model_id if release else None,
            model_version=release.model_version if release else None,
            sha256=release.sha256 if release else None,
            running_sha256=self.slot.digest,
        )
        self.state.log(report)
        if outcome == "rejected":
            log.warning("model update rejected (%s): %s", check, reason)
        if self._reporter is not None:
            try:
                self._reporter(report)
            except Exception as exc:  # the journal has it; the server hears on the next report
                log.warning("could not report the update decision to the server: %s", exc)
