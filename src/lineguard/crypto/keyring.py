"""The file keyring: AES-256 KEKs stored wrapped under a passphrase-derived key.

File format (JSON, ``format: lineguard-keyring``, ``version: 1``, mode 0600)::

    {"format": "lineguard-keyring", "version": 1,
     "kdf":   {"alg": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": "<b64url>"},
     "check": "<b64url HMAC-SHA256(mac_key, 'lineguard-keyring-check')>",
     "active": "kek_0193...",
     "keys": [{"kek_id": "kek_0193...", "state": "active" | "retired",
               "created_at": "...Z", "retired_at": null | "...Z",
               "wrapped": "<b64url nonce ‖ AES-256-GCM(wrap_key, KEK, aad=kek_id)>"}],
     "mac": "<b64url HMAC-SHA256(mac_key, canonical JSON of every other field)>"}

scrypt turns the passphrase into 64 bytes: a wrapping key and a MAC key. ``check``
tells a wrong passphrase apart from a tampered file; ``mac`` covers everything else,
so a key removed, reordered, or marked active by someone without the passphrase is
detected. Writes are atomic and serialised by a lock file.

Exactly one KEK is active. :meth:`Keyring.rotate` adds a new active KEK and retires
the old one, which stays available for unwrapping until ``lineguard keys rotate`` has
re-wrapped every data key and ``lineguard keys prune`` destroys it. A running server
picks up a rotation by itself: an unknown ``kek_id`` or a changed file triggers a
reload (at most once a second for the file check).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError, InputError, NotFoundError
from lineguard.contracts.ids import new_id
from lineguard.crypto._files import atomic_write, exclusive_lock
from lineguard.crypto.canonical import b64d, b64e, canonical_json, utc_text
from lineguard.crypto.kdf import KdfParams
from lineguard.crypto.kek import SoftwareKek, gcm_unwrap

__all__ = ["KEYRING_FORMAT", "KekInfo", "Keyring", "keyring_path"]

log = logging.getLogger(__name__)

KEYRING_FORMAT = "lineguard-keyring"
KEYRING_VERSION = 1
_CHECK_LABEL = b"lineguard-keyring-check"
_RELOAD_CHECK_S = 1.0


def keyring_path(data_dir: Path) -> Path:
    """Where a server or edge node keeps its keyring under ``data_dir``."""
    return data_dir / "keys" / "keyring.json"


@dataclass(frozen=True)
class KekInfo:
    """What may be shown about a KEK: never its key material."""

    kek_id: str
    state: str
    created_at: datetime
    retired_at: datetime | None


def _aad(kek_id: str) -> bytes:
    return f"{KEYRING_FORMAT}/v{KEYRING_VERSION}/kek/{kek_id}".encode()


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        msg = "expected a time string"
        raise InputError(msg)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Secrets:
    """The passphrase-derived keys, kept together and out of every repr."""

    __slots__ = ("mac_key", "params", "wrap_key")

    def __init__(self, params: KdfParams, passphrase: str) -> None:
        derived = params.derive(passphrase, 64)
        self.params = params
        self.wrap_key, self.mac_key = derived[:32], derived[32:]

    def mac(self, body: dict[str, Any]) -> bytes:
        return hmac.new(self.mac_key, canonical_json(body), hashlib.sha256).digest()

    def check(self) -> bytes:
        return hmac.new(self.mac_key, _CHECK_LABEL, hashlib.sha256).digest()


class Keyring:
    """KEKs from a passphrase-protected file; implements :class:`~lineguard.crypto.kek.KekProvider`."""

    def __init__(self, path: Path, passphrase: SecretStr) -> None:
        """Open an existing keyring (use :meth:`create` for a new one)."""
        self.path = path
        self._passphrase = passphrase
        self._lock = threading.Lock()
        self._secrets: _Secrets | None = None
        self._keys: dict[str, SoftwareKek] = {}
        self._info: dict[str, KekInfo] = {}
        self._active_id = ""
        self._stamp: tuple[int, int] = (0, 0)
        self._checked_at = 0.0
        self._load()

    # -- creation and changes -------------------------------------------------

    @classmethod
    def create(cls, path: Path, passphrase: SecretStr, *, kdf: KdfParams | None = None) -> Keyring:
        """Write a new keyring holding one fresh active KEK; refuse to overwrite one."""
        with exclusive_lock(path):
            if path.exists():
                msg = f"keyring {path} already exists; refusing to overwrite it"
                raise CryptoError(msg)
            secrets = _Secrets(kdf or KdfParams(), passphrase.get_secret_value())
            kek = SoftwareKek.generate(new_id("kek"))
            now = datetime.now(UTC)
            entries = [_entry(kek, secrets, "active", now, None)]
            _write(path, secrets, kek.kek_id, entries)
        log.info("created keyring %s with KEK %s", path, kek.kek_id)
        return cls(path, passphrase)

    def rotate(self) -> str:
        """Add a fresh active KEK, retire the current one; return the new KEK's id."""
        with exclusive_lock(self.path), self._lock:
            self._load_locked()
            secrets = self._require_secrets()
            now = datetime.now(UTC)
            kek = SoftwareKek.generate(new_id("kek"))
            entries = [
                _entry(self._keys[i.kek_id], secrets, "retired", i.created_at, i.retired_at or now)
                for i in self._info.values()
            ]
            entries.append(_entry(kek, secrets, "active", now, None))
            _write(self.path, secrets, kek.kek_id, entries)
            self._load_locked()
        log.info("keyring %s rotated: KEK %s is active", self.path, kek.kek_id)
        return kek.kek_id

    def destroy(self, kek_id: str, *, min_retired_s: float = 300.0) -> None:
        """Remove a retired KEK for good; the caller has checked that no data key needs it.

        ``min_retired_s`` leaves running processes time to reload the keyring before the
        KEK they may still wrap new data keys under disappears.
        """
        with exclusive_lock(self.path), self._lock:
            self._load_locked()
            info = self._info.get(kek_id)
            if info is None:
                msg = f"KEK {kek_id} is not in keyring {self.path}"
                raise NotFoundError(msg)
            if info.state != "retired" or info.retired_at is None:
                msg = f"KEK {kek_id} is {info.state}; only a retired KEK can be destroyed"
                raise CryptoError(msg)
            age = (datetime.now(UTC) - info.retired_at).total_seconds()
            if age < min_retired_s:
                msg = (
                    f"KEK {kek_id} was retired {age:.0f} s ago; wait until {min_retired_s:.0f} s have passed"
                )
                raise CryptoError(msg)
            secrets = self._require_secrets()
            entries = [
                _entry(self._keys[i.kek_id], secrets, i.state, i.created_at, i.retired_at)
                for i in self._info.values()
                if i.kek_id != kek_id
            ]
            _write(self.path, secrets, self._active_id, entries)
            self._load_locked()
        log.info("keyring %s: destroyed retired KEK %s", self.path, kek_id)

    def change_passphrase(self, new_passphrase: SecretStr, *, kdf: KdfParams | None = None) -> None:
        """Re-wrap every KEK under a key derived from ``new_passphrase`` (fresh salt)."""
        with exclusive_lock(self.path), self._lock:
            self._load_locked()
            secrets = _Secrets(kdf or KdfParams(), new_passphrase.get_secret_value())
            entries = [
                _entry(self._keys[i.kek_id], secrets, i.state, i.created_at, i.retired_at)
                for i in self._info.values()
            ]
            _write(self.path, secrets, self._active_id, entries)
            self._passphrase = new_passphrase
            self._secrets = None
            self._load_locked()

    # -- KekProvider ----------------------------------------------------------

    def active(self) -> SoftwareKek:
        self._maybe_reload()
        return self._keys[self._active_id]

    def get(self, kek_id: str) -> SoftwareKek:
        kek = self._keys.get(kek_id)
        if kek is None:
            with self._lock:
                self._load_locked()  # rotated by another process since we loaded?
            kek = self._keys.get(kek_id)
        if kek is None:
            msg = f"KEK {kek_id} is not in keyring {self.path} (destroyed, or from another keyring)"
            raise CryptoError(msg)
        return kek

    def describe(self) -> list[KekInfo]:
        self._maybe_reload()
        return sorted(self._info.values(), key=lambda i: i.created_at)

    def kek_ids(self) -> list[str]:
        """Every KEK held, oldest first."""
        return [i.kek_id for i in self.describe()]

    @property
    def active_id(self) -> str:
        self._maybe_reload()
        return self._active_id

    def __repr__(self) -> str:
        return f"Keyring(path={str(self.path)!r}, active={self._active_id!r}, keks={len(self._keys)})"

    # -- loading --------------------------------------------------------------

    def _require_secrets(self) -> _Secrets:
        assert self._secrets is not None  # noqa: S101 - set by every successful load
        return self._secrets

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < _RELOAD_CHECK_S:
            return
        self._checked_at = now
        if self._file_stamp() != self._stamp:
            with self._lock:
                self._load_locked()

    def _file_stamp(self) -> tuple[int, int]:
        try:
            st = self.path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        stamp = self._file_stamp()
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            msg = f"cannot read keyring {self.path} ({exc.strerror})"
            raise CryptoError(msg) from None
        doc = _parse(raw, self.path)
        params = KdfParams.from_json(doc["kdf"])
        secrets = self._secrets
        if secrets is None or secrets.params != params:
            secrets = _Secrets(params, self._passphrase.get_secret_value())
        if not hmac.compare_digest(secrets.check(), _b64field(doc, "check", self.path)):
            msg = f"wrong passphrase for keyring {self.path} (it does not open this keyring)"
            raise CryptoError(msg)
        body = {k: v for k, v in doc.items() if k != "mac"}
        got_mac = _b64field(doc, "mac", self.path)
        if not hmac.compare_digest(secrets.mac(body), got_mac):
            msg = (
                f"keyring {self.path} was modified outside LineGuard: its integrity code does not "
                f"match (expected {secrets.mac(body).hex()[:12]}…, got {got_mac.hex()[:12]}…)"
            )
            raise CryptoError(msg)
        keys: dict[str, SoftwareKek] = {}
        info: dict[str, KekInfo] = {}
        for entry in doc["keys"]:
            kek_id = entry["kek_id"]
            key = gcm_unwrap(secrets.wrap_key, b64d(entry["wrapped"]), _aad(kek_id), what=f"KEK {kek_id}")
            keys[kek_id] = SoftwareKek(kek_id, key)
            retired = entry.get("retired_at")
            info[kek_id] = KekInfo(
                kek_id,
                entry["state"],
                _parse_time(entry["created_at"]),
                _parse_time(retired) if retired else None,
            )
        actives = [i.kek_id for i in info.values() if i.state == "active"]
        if actives != [doc["active"]]:
            msg = f"keyring {self.path}: expected exactly one active KEK {doc['active']}, got {actives}"
            raise CryptoError(msg)
        self._secrets, self._keys, self._info, self._active_id = secrets, keys, info, doc["active"]
        self._stamp = stamp


def _b64field(doc: dict[str, Any], name: str, path: Path) -> bytes:
    try:
        return b64d(doc[name])
    except (KeyError, InputError):
        msg = f"keyring {path}: field {name!r} is missing or not base64url"
        raise CryptoError(msg) from None


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        msg = f"keyring {path} is not valid JSON (corrupt or not a keyring)"
        raise CryptoError(msg) from None
    if not isinstance(doc, dict) or doc.get("format") != KEYRING_FORMAT:
        msg = f"{path} is not a LineGuard keyring (expected format {KEYRING_FORMAT!r})"
        raise CryptoError(msg)
    if doc.get("version") != KEYRING_VERSION:
        msg = f"keyring {path}: unsupported version {doc.get('version')!r}, expected {KEYRING_VERSION}"
        raise CryptoError(msg)
    required = {"kdf", "check", "active", "keys", "mac"}
    if missing := sorted(required - doc.keys()):
        msg = f"keyring {path} lacks fields: {', '.join(missing)}"
        raise CryptoError(msg)
    if not isinstance(doc["keys"], list) or not all(isinstance(e, dict) for e in doc["keys"]):
        msg = f"keyring {path}: 'keys' must be a list of objects"
        raise CryptoError(msg)
    return doc


def _entry(
    kek: SoftwareKek, secrets: _Secrets, state: str, created: datetime, retired: datetime | None
) -> dict[str, Any]:
    return {
        "kek_id": kek.kek_id,
        "state": state,
        "created_at": utc_text(created),
        "retired_at": utc_text(retired) if retired else None,
        "wrapped": b64e(kek.export_wrapped(secrets.wrap_key, _aad(kek.kek_id))),
    }


def _write(path: Path, secrets: _Secrets, active_id: str, entries: list[dict[str, Any]]) -> None:
    body: dict[str, Any] = {
        "format": KEYRING_FORMAT,
        "version": KEYRING_VERSION,
        "kdf": secrets.params.to_json(),
        "check": b64e(secrets.check()),
        "active": active_id,
        "keys": entries,
    }
    doc = {**body, "mac": b64e(secrets.mac(body))}
    atomic_write(path, json.dumps(doc, indent=1).encode("utf-8") + b"\n")
