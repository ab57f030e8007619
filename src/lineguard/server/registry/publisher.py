"""Where the registry keeps packages and how it publishes them to nodes.

``<data_dir>/registry/packages/<version_id>/package/`` holds each registered package
as verified at registration, with ``package.sig`` beside it; ``<data_dir>/signing/``
is the signing key store whose trust list (public keys, revocations) the server
accepts and publishes; ``<data_dir>/registry/tuf/`` is the TUF repository nodes read.

:meth:`Registry.publish_release` turns one release into TUF targets: the package
files (named by hash, so republishing is idempotent), the current trust list, and one
release document per line and per node, each with the audience in its custom metadata.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.server.registry.tuf_repo import TufPolicy, TufRepository
from lineguard.signing import (
    SIGNERS_TARGET,
    Release,
    SoftwareRelease,
    TrustListVerifier,
    VerifiedPackage,
    line_release_target,
    node_release_target,
    package_targets,
    signature_path_for,
    software_release_target,
)
from lineguard.signing.keystore import SigningKeyStore

__all__ = ["Registry"]


@dataclass
class Registry:
    """Package storage, the signing trust list and the TUF repository of one server."""

    packages_dir: Path
    signers: SigningKeyStore
    repo: TufRepository

    @classmethod
    def open(cls, data_dir: Path, passphrase: SecretStr, *, policy: TufPolicy | None = None) -> Registry:
        registry = cls(
            packages_dir=cls.stored_package(data_dir, "-").parent.parent,
            signers=SigningKeyStore(data_dir / "signing"),
            repo=TufRepository(data_dir / "registry" / "tuf", passphrase, policy),
        )
        registry.repo.ensure_initialized()
        return registry

    @staticmethod
    def exists(data_dir: Path) -> bool:
        """Has a registry been set up under ``data_dir`` (its TUF root written)?"""
        return (data_dir / "registry" / "tuf" / "metadata" / "1.root.json").exists()

    @classmethod
    def from_settings(cls, settings: ServerConfig) -> Registry:
        """Thresholds and expiry from ``registry``; TUF role keys encrypted under
        ``registry.tuf_passphrase``, or the keyring passphrase when that is not set."""
        cfg = settings.registry
        policy = TufPolicy(
            root_keys=cfg.root_keys,
            root_threshold=cfg.root_threshold,
            root_days=cfg.root_days,
            targets_days=cfg.targets_days,
            snapshot_days=cfg.snapshot_days,
            timestamp_days=cfg.timestamp_days,
        )
        passphrase = (cfg.tuf_passphrase or settings.keyring.passphrase).resolve()
        return cls.open(settings.data_dir, passphrase, policy=policy)

    # -- packages -------------------------------------------------------------------

    def package_dir(self, version_id: str) -> Path:
        return self.packages_dir / version_id / "package"

    @staticmethod
    def stored_package(data_dir: Path, version_id: str) -> Path:
        """Where :meth:`keep` stores a version's package under ``data_dir`` (no keys needed)."""
        return data_dir / "registry" / "packages" / version_id / "package"

    def verify_upload(self, package_dir: Path) -> VerifiedPackage:
        """Check an uploaded package against the server's trust list (signature beside it)."""
        return TrustListVerifier(self.signers.trust()).verify(package_dir)

    def keep(self, version_id: str, package_dir: Path) -> Path:
        """Move a verified upload into the registry's storage."""
        target = self.package_dir(version_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Contents only, never the upload's modes: the data directory stays private
        # (``server/file_modes.py`` refuses to start otherwise).
        shutil.copytree(package_dir, target, copy_function=shutil.copyfile)
        shutil.copyfile(signature_path_for(package_dir), signature_path_for(target))
        for path in [target, *target.rglob("*"), signature_path_for(target)]:
            path.chmod(0o700 if path.is_dir() else 0o600)
        return target

    # -- publishing ---------------------------------------------------------------------

    def publish_release(self, release: Release) -> int:
        """Publish ``release`` (package, trust list, release documents); return the targets version."""
        package = self.package_dir(release.model_version_id)
        files = package_targets(release.model_version_id)
        content = {
            files.model: (package / "model.onnx").read_bytes(),
            files.metadata: (package / "metadata.json").read_bytes(),
            files.signature: signature_path_for(package).read_bytes(),
            SIGNERS_TARGET: self.signers.trust().to_bytes(),
        }
        document = release.to_bytes()
        custom = {}
        for path in [line_release_target(x) for x in release.lines] + [
            node_release_target(x) for x in release.nodes
        ]:
            content[path] = document
            custom[path] = release.custom()
        return self.repo.put_targets(content, custom=custom)

    def publish_trust(self) -> bool:
        """Publish the trust list if it changed (a key rotated or revoked); True if it did."""
        current = self.signers.trust().to_bytes()
        published = self.repo.targets().signed.targets.get(SIGNERS_TARGET)
        if published is not None and published.hashes.get("sha256") == hashlib.sha256(current).hexdigest():
            return False
        self.repo.put_targets({SIGNERS_TARGET: current})
        return True

    def publish_software(self, release: SoftwareRelease, bundle: bytes) -> int:
        """Publish a node-software release and its bundle under the ``software`` role."""
        if (
            hashlib.sha256(bundle).hexdigest() != release.bundle_sha256
            or len(bundle) != release.bundle_length
        ):
            msg = f"the bundle is not the one release {release.release} names (sha256 and length differ)"
            raise InputError(msg)
        document = software_release_target(release.site_id)
        files = {document: release.to_bytes(), release.bundle: bundle}
        return self.repo.put_software(files, custom={document: release.custom()})

    def highest_software_release(self, site_id: str) -> int:
        """The release number of the node software published for ``site_id`` (0: none yet)."""
        try:
            info = self.repo.software().signed.targets.get(software_release_target(site_id))
        except NotFoundError:
            return 0
        facts = (
            {} if info is None else info.unrecognized_fields.get("custom", {}).get("lineguard_software", {})
        )
        return int(facts.get("release", 0))

    def highest_published_release(self) -> int:
        """The largest release number any published target names (survives a lost DB commit)."""
        highest = 0
        for info in self.repo.targets().signed.targets.values():
            custom = info.unrecognized_fields.get("custom", {}).get("lineguard", {})
            highest = max(highest, int(custom.get("release", 0)))
        return highest
