"""The registry's TUF repository: root / targets / snapshot / timestamp, signed on the server.

Layout under ``<data_dir>/registry/tuf/``::

    metadata/1.root.json, 2.root.json …   every root version (clients walk the chain)
    metadata/timestamp.json               the only unversioned file clients fetch
    metadata/<n>.snapshot.json, <n>.targets.json    consistent snapshots
    targets/<dir>/<sha256>.<name>         target files, named by hash (consistent targets)
    keys/<role>-<keyid>.pem               ECDSA P-256 role keys, PKCS#8 encrypted under the
                                          keyring passphrase (or the registry's own SecretRef)

Thresholds and expiry come from :class:`TufPolicy`: by default the root role has two
keys and needs both (rotating root needs the old *and* the new threshold), the online
roles one key each; timestamp expires after a day, snapshot after a week, targets
after a month, root after a year. :meth:`TufRepository.refresh` re-signs what is close
to expiry (the registry's scheduled task runs it), so a node whose server stops
publishing — or whose traffic an attacker freezes — refuses the stale metadata once it
expires.

Node software (the LineGuard wheel and its pinned dependencies, one bundle per site)
is published under its own delegated role, ``software`` (:meth:`TufRepository.put_software`):
targets delegates ``software/*/*`` to it, terminating, with its own keys and threshold
(``TufPolicy.software_keys`` / ``software_threshold``, two of two by default), so the
online targets key that publishes model releases cannot sign node software, and
``put_targets`` refuses ``software/`` paths.

Root rotation (:meth:`TufRepository.rotate_root`) writes root ``n+1`` signed by the
current root keys and the new ones; nodes that trust root ``n`` verify the step and
from then on accept only the new keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from securesystemslib.signer import CryptoSigner, Key, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from lineguard.contracts.errors import ConfigError, CryptoError, InputError, NotFoundError
from lineguard.crypto import atomic_write
from lineguard.crypto._files import exclusive_lock  # the keyring's own writer lock

__all__ = ["ROLES", "SOFTWARE_PATHS", "SOFTWARE_ROLE", "TufPolicy", "TufRepository", "metadata_name_ok"]

ROLES = ("root", "targets", "snapshot", "timestamp")
#: The delegated role that alone signs node software, and the target paths it owns.
SOFTWARE_ROLE = "software"
SOFTWARE_PATHS = ("software/*/*",)
_METADATA_NAME = re.compile(r"^(?:[1-9][0-9]{0,8}\.)?(root|timestamp|snapshot|targets|software)\.json$")
_TARGET_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,300}$")
_SERIALIZER = JSONSerializer(compact=False)


def metadata_name_ok(name: str) -> bool:
    """Is ``name`` a metadata file a client may ask for (``3.root.json``, ``timestamp.json``…)?"""
    return bool(_METADATA_NAME.fullmatch(name))


@dataclass(frozen=True, slots=True)
class TufPolicy:
    """Thresholds, key counts and expiry periods of the four top-level roles."""

    root_keys: int = 2
    root_threshold: int = 2
    root_days: float = 365
    targets_days: float = 30
    snapshot_days: float = 7
    timestamp_days: float = 1
    software_keys: int = 2
    software_threshold: int = 2
    software_days: float = 30

    def __post_init__(self) -> None:
        if not 1 <= self.root_threshold <= self.root_keys:
            msg = f"root threshold must be 1..{self.root_keys} (root keys), got {self.root_threshold}"
            raise ConfigError(msg)
        if not 1 <= self.software_threshold <= self.software_keys:
            msg = (
                f"software threshold must be 1..{self.software_keys} (software keys), "
                f"got {self.software_threshold}"
            )
            raise ConfigError(msg)

    def period(self, role: str) -> timedelta:
        return timedelta(days=float(getattr(self, f"{role}_days")))


def _expiry(period: timedelta, now: datetime) -> datetime:
    return (now + period).replace(microsecond=0)


class TufRepository:
    """Signs and stores the metadata of one TUF repository (see the module docstring)."""

    def __init__(self, directory: Path, passphrase: SecretStr, policy: TufPolicy | None = None) -> None:
        self.directory = Path(directory)
        self.metadata_dir = self.directory / "metadata"
        self.targets_dir = self.directory / "targets"
        self.keys_dir = self.directory / "keys"
        self.policy = policy or TufPolicy()
        self._passphrase = passphrase

    # -- set-up ----------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.metadata_dir / "1.root.json").exists()

    def ensure_initialized(self, *, now: datetime | None = None) -> None:
        """Create root v1 and empty targets / snapshot / timestamp, once."""
        with self._locked():
            if self.initialized:
                return
            now = now or datetime.now(UTC)
            root = Root(expires=_expiry(self.policy.period("root"), now), consistent_snapshot=True)
            for role in ROLES:
                count = self.policy.root_keys if role == "root" else 1
                for _ in range(count):
                    root.add_key(self._new_key(role), role)
            root.roles["root"].threshold = self.policy.root_threshold
            root_md: Metadata[Root] = Metadata(root)
            self._sign(root_md, "root", root)
            self._write_root(root_md)
            targets_md: Metadata[Targets] = Metadata(
                Targets(expires=_expiry(self.policy.period("targets"), now))
            )
            self._publish(root, targets_md, now=now)

    # -- reading ---------------------------------------------------------------

    def root(self) -> Metadata[Root]:
        return Metadata[Root].from_file(str(self.metadata_dir / "root.json"))

    def root_bytes(self, version: int | None = None) -> bytes:
        """Root metadata as a client gets it: the latest, or version ``version``."""
        name = "root.json" if version is None else f"{version}.root.json"
        return self.metadata_file(name).read_bytes()

    def targets(self) -> Metadata[Targets]:
        snapshot = self._snapshot()
        version = snapshot.signed.meta["targets.json"].version
        return Metadata[Targets].from_file(str(self.metadata_dir / f"{version}.targets.json"))

    def timestamp(self) -> Metadata[Timestamp]:
        return Metadata[Timestamp].from_file(str(self.metadata_dir / "timestamp.json"))

    def metadata_file(self, name: str) -> Path:
        if not metadata_name_ok(name):
            msg = f"no TUF metadata named {name!r}"
            raise NotFoundError(msg)
        path = self.metadata_dir / name
        if not path.is_file():
            msg = f"no TUF metadata {name!r} in this repository"
            raise NotFoundError(msg)
        return path

    def target_file(self, path: str) -> Path:
        """The stored file for a client's target request (``dir/<sha256>.<name>``)."""
        if not _TARGET_PATH.fullmatch(path) or ".." in path.split("/"):
            msg = f"no target {path!r}"
            raise NotFoundError(msg)
        found = self.targets_dir / path
        if not found.is_file():
            msg = f"no target {path!r} in this repository"
            raise NotFoundError(msg)
        return found

    def target_bytes(self, path: str) -> bytes:
        """The current content of target ``path`` (by its logical name)."""
        info = self.targets().signed.targets.get(path)
        if info is None:
            msg = f"target {path!r} is not in the current targets metadata"
            raise NotFoundError(msg)
        return self.target_file(self._stored_name(path, info.hashes["sha256"])).read_bytes()

    # -- publishing --------------------------------------------------------------

    def put_targets(
        self,
        files: Mapping[str, bytes],
        *,
        custom: Mapping[str, dict[str, Any]] | None = None,
        remove: Iterable[str] = (),
        now: datetime | None = None,
    ) -> int:
        """Add or replace targets (with optional custom metadata), drop ``remove``; re-sign.

        Returns the new targets version. Snapshot and timestamp are re-signed with it.
        """
        custom = custom or {}
        with self._locked():
            now = now or datetime.now(UTC)
            root = self.root().signed
            current = self.targets()
            targets = current.signed
            for path in remove:
                targets.targets.pop(path, None)
            for path, data in files.items():
                if path.startswith("software/"):
                    msg = f"target {path!r}: node software is signed by the {SOFTWARE_ROLE} role only"
                    raise InputError(msg)
                targets.targets[path] = self._store_target(path, data, custom.get(path))
            targets.version += 1
            targets.expires = _expiry(self.policy.period("targets"), now)
            self._publish(root, current, now=now)
            return targets.version

    def software(self) -> Metadata[Targets]:
        """The ``software`` role's current metadata (:class:`NotFoundError` before the first bundle)."""
        version = self._software_version()
        if version is None:
            msg = "no node software was published in this repository"
            raise NotFoundError(msg)
        return Metadata[Targets].from_file(str(self.metadata_dir / f"{version}.{SOFTWARE_ROLE}.json"))

    def put_software(
        self,
        files: Mapping[str, bytes],
        *,
        custom: Mapping[str, dict[str, Any]] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Add node-software targets (``software/<site>/<name>``), signed by the ``software`` role.

        The first call delegates ``software/*/*`` from targets to a new role with
        ``TufPolicy.software_keys`` keys and ``software_threshold``. Returns the role's version.
        """
        custom = custom or {}
        with self._locked():
            now = now or datetime.now(UTC)
            root = self.root().signed
            targets_md = self.targets()
            if self._software_version() is None:
                self._delegate_software(targets_md.signed)
                software = Targets(version=1, expires=now)
            else:
                software = self.software().signed
                software.version += 1
            for path, data in files.items():
                if not path.startswith("software/") or path.count("/") != 2:
                    msg = f"node software targets are software/<site>/<name>, got {path!r}"
                    raise InputError(msg)
                software.targets[path] = self._store_target(path, data, custom.get(path))
            self._write_software(software, targets_md.signed, now=now)
            self._publish(root, targets_md, now=now, software_version=software.version)
            return software.version

    def refresh(self, *, now: datetime | None = None) -> list[str]:
        """Re-sign every role within half its period of expiry; return the roles re-signed."""
        with self._locked():
            now = now or datetime.now(UTC)
            renewed: list[str] = []
            root_md = self.root()
            root = root_md.signed
            if root.expires - now < self.policy.period("root") / 2:
                root.version += 1
                root.expires = _expiry(self.policy.period("root"), now)
                root_md.signatures.clear()
                self._sign(root_md, "root", root)
                self._write_root(root_md)
                renewed.append("root")
            targets_md = self.targets()
            if targets_md.signed.expires - now < self.policy.period("targets") / 2:
                targets_md.signed.version += 1
                targets_md.signed.expires = _expiry(self.policy.period("targets"), now)
                renewed.append("targets")
            if self._software_version() is not None:
                software = self.software().signed
                if software.expires - now < self.policy.period("software") / 2:
                    software.version += 1
                    self._write_software(software, targets_md.signed, now=now)
                    renewed.append(SOFTWARE_ROLE)
            snapshot = self._snapshot().signed
            timestamp = self.timestamp().signed
            stale = (
                renewed
                or snapshot.expires - now < self.policy.period("snapshot") / 2
                or timestamp.expires - now < self.policy.period("timestamp") / 2
            )
            if stale:
                self._publish(root, targets_md, now=now, bump_targets=bool("targets" in renewed))
                renewed += ["snapshot", "timestamp"]
            return renewed

    def sign_timestamp(self, *, expires: datetime, now: datetime | None = None) -> None:
        """Re-sign timestamp with an explicit expiry (operations and freeze-attack tests)."""
        with self._locked():
            root = self.root().signed
            self._write_timestamp(root, self._snapshot(), now=now or datetime.now(UTC), expires=expires)

    def rotate_root(self, *, now: datetime | None = None) -> int:
        """Replace every root key: root ``n+1`` is signed by the old threshold and the new keys."""
        with self._locked():
            now = now or datetime.now(UTC)
            root_md = self.root()
            root = root_md.signed
            old_signers = self._signers("root", root)
            for keyid in list(root.roles["root"].keyids):
                root.revoke_key(keyid, "root")
            for _ in range(self.policy.root_keys):
                root.add_key(self._new_key("root"), "root")
            root.roles["root"].threshold = self.policy.root_threshold
            root.version += 1
            root.expires = _expiry(self.policy.period("root"), now)
            root_md.signatures.clear()
            for signer in old_signers:
                root_md.sign(signer, append=True, signed_serializer=None)
            self._sign(root_md, "root", root)
            self._write_root(root_md)
            return root.version

    def rotate_online_key(self, role: str, *, now: datetime | None = None) -> int:
        """New key for ``targets``, ``snapshot`` or ``timestamp`` (a new root names it); re-sign."""
        if role not in {"targets", "snapshot", "timestamp"}:
            msg = f"online roles are targets, snapshot and timestamp; use rotate_root for {role!r}"
            raise InputError(msg)
        with self._locked():
            now = now or datetime.now(UTC)
            root_md = self.root()
            root = root_md.signed
            for keyid in list(root.roles[role].keyids):
                root.revoke_key(keyid, role)
            root.add_key(self._new_key(role), role)
            root.version += 1
            root_md.signatures.clear()
            self._sign(root_md, "root", root)
            self._write_root(root_md)
            targets_md = self.targets()
            targets_md.signed.version += 1
            self._publish(root, targets_md, now=now, bump_targets=False)
            return root.version

    # -- internals ----------------------------------------------------------------

    @staticmethod
    def _stored_name(path: str, sha256: str) -> str:
        head, _, name = path.rpartition("/")
        return f"{head}/{sha256}.{name}" if head else f"{sha256}.{name}"

    def _store_target(self, path: str, data: bytes, custom: dict[str, Any] | None) -> TargetFile:
        if not _TARGET_PATH.fullmatch(path) or ".." in path.split("/"):
            msg = f"target path {path!r} is not allowed"
            raise InputError(msg)
        info = TargetFile.from_data(path, data, ["sha256"])
        if custom is not None:
            info.unrecognized_fields["custom"] = custom
        atomic_write(self.targets_dir / self._stored_name(path, info.hashes["sha256"]), data, mode=0o644)
        return info

    def _software_version(self) -> int | None:
        if not self._has_timestamp():
            return None
        meta = self._snapshot().signed.meta.get(f"{SOFTWARE_ROLE}.json")
        return None if meta is None else meta.version

    def _delegate_software(self, targets: Targets) -> None:
        """Targets delegates ``software/*/*`` to a new role with its own keys (terminating)."""
        keys = [self._new_key(SOFTWARE_ROLE) for _ in range(self.policy.software_keys)]
        targets.delegations = Delegations(
            keys={key.keyid: key for key in keys},
            roles={
                SOFTWARE_ROLE: DelegatedRole(
                    name=SOFTWARE_ROLE,
                    keyids=[key.keyid for key in keys],
                    threshold=self.policy.software_threshold,
                    terminating=True,
                    paths=list(SOFTWARE_PATHS),
                )
            },
        )
        targets.version += 1

    def _write_software(self, software: Targets, targets: Targets, *, now: datetime) -> None:
        """Sign ``software`` (its version already set) with the keys targets delegated to it."""
        software.expires = _expiry(self.policy.period(SOFTWARE_ROLE), now)
        md: Metadata[Targets] = Metadata(software)
        assert targets.delegations is not None and targets.delegations.roles is not None  # noqa: S101
        role = targets.delegations.roles[SOFTWARE_ROLE]
        signers = [
            signer
            for keyid in role.keyids
            if (signer := self._signer_for(SOFTWARE_ROLE, keyid, targets.delegations.keys[keyid]))
        ]
        if len(signers) < role.threshold:
            msg = f"{len(signers)} key(s) for TUF role {SOFTWARE_ROLE} here, threshold {role.threshold}"
            raise CryptoError(msg)
        for signer in signers:
            md.sign(signer, append=True)
        atomic_write(
            self.metadata_dir / f"{software.version}.{SOFTWARE_ROLE}.json",
            md.to_bytes(_SERIALIZER),
            mode=0o644,
        )

    def _has_timestamp(self) -> bool:
        return (self.metadata_dir / "timestamp.json").exists()

    def _snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        return Metadata[Snapshot].from_file(str(self.metadata_dir / f"{version}.snapshot.json"))

    def _publish(
        self,
        root: Root,
        targets_md: Metadata[Targets],
        *,
        now: datetime,
        bump_targets: bool = False,
        software_version: int | None = None,
    ) -> None:
        """Sign and write targets, then a snapshot naming it (and the software role, once it
        exists), then a timestamp naming that."""
        software_version = software_version or self._software_version()
        if bump_targets:
            targets_md.signed.version += 1
        targets_md.signatures.clear()
        self._sign(targets_md, "targets", root)
        atomic_write(
            self.metadata_dir / f"{targets_md.signed.version}.targets.json",
            targets_md.to_bytes(_SERIALIZER),
            mode=0o644,
        )
        previous = self._snapshot().signed.version if self._has_timestamp() else 0
        snapshot = Snapshot(
            version=previous + 1,
            expires=_expiry(self.policy.period("snapshot"), now),
            meta={"targets.json": MetaFile(version=targets_md.signed.version)},
        )
        if software_version is not None:
            snapshot.meta[f"{SOFTWARE_ROLE}.json"] = MetaFile(version=software_version)
        snapshot_md: Metadata[Snapshot] = Metadata(snapshot)
        self._sign(snapshot_md, "snapshot", root)
        atomic_write(
            self.metadata_dir / f"{snapshot.version}.snapshot.json",
            snapshot_md.to_bytes(_SERIALIZER),
            mode=0o644,
        )
        self._write_timestamp(
            root, snapshot_md, now=now, expires=_expiry(self.policy.period("timestamp"), now)
        )

    def _write_timestamp(
        self, root: Root, snapshot_md: Metadata[Snapshot], *, now: datetime, expires: datetime
    ) -> None:
        data = snapshot_md.to_bytes(_SERIALIZER)
        version = self.timestamp().signed.version + 1 if self._has_timestamp() else 1
        meta = MetaFile(
            version=snapshot_md.signed.version,
            length=len(data),
            hashes={"sha256": hashlib.sha256(data).hexdigest()},
        )
        timestamp_md: Metadata[Timestamp] = Metadata(
            Timestamp(version=version, expires=expires, snapshot_meta=meta)
        )
        self._sign(timestamp_md, "timestamp", root)
        atomic_write(self.metadata_dir / "timestamp.json", timestamp_md.to_bytes(_SERIALIZER), mode=0o644)

    def _write_root(self, root_md: Metadata[Root]) -> None:
        data = root_md.to_bytes(_SERIALIZER)
        atomic_write(self.metadata_dir / f"{root_md.signed.version}.root.json", data, mode=0o644)
        atomic_write(self.metadata_dir / "root.json", data, mode=0o644)

    def _sign(self, md: Metadata[Any], role: str, root: Root) -> None:
        signers = self._signers(role, root)
        if len(signers) < root.roles[role].threshold:
            msg = f"{len(signers)} key(s) for TUF role {role} here, threshold {root.roles[role].threshold}"
            raise CryptoError(msg)
        for signer in signers:
            md.sign(signer, append=True)

    def _signers(self, role: str, root: Root) -> list[CryptoSigner]:
        return [
            signer
            for keyid in root.roles[role].keyids
            if (signer := self._signer_for(role, keyid, root.keys[keyid])) is not None
        ]

    def _signer_for(self, role: str, keyid: str, public: Key) -> CryptoSigner | None:
        """The signer of one role key held here; None for an offline key (not on this server)."""
        path = self.keys_dir / f"{role}-{keyid}.pem"
        if not path.exists():
            return None
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), self._secret())
        except (ValueError, TypeError):
            msg = f"cannot decrypt TUF key {path.name}: wrong passphrase, or the file was altered"
            raise CryptoError(msg) from None
        return CryptoSigner(private, public)  # type: ignore[arg-type]

    def _new_key(self, role: str) -> SSlibKey:
        private = ec.generate_private_key(ec.SECP256R1())
        public = SSlibKey.from_crypto(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._secret()),
        )
        atomic_write(self.keys_dir / f"{role}-{public.keyid}.pem", pem, mode=0o600)
        return public

    def _secret(self) -> bytes:
        return self._passphrase.get_secret_value().encode("utf-8")

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """One writer at a time, across processes (the CLI beside a running server)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return exclusive_lock(self.directory / "writer")
