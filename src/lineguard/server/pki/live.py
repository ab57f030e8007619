"""The plant CA of a running process, following ``lineguard ca rotate`` and ``retire`` on disk.

A server process used to read ``data_dir/ca/`` once, at start, so every replica and
worker had to be restarted after a rotation and again after the retirement; until it
was, it issued node certificates from the old CA and refused the new one's replica
certificates on the internal relay. :class:`LiveCa` holds the CA the process uses and
re-reads it when the files change: :meth:`LiveCa.refresh` costs one ``stat`` per file
(:func:`~.files.ca_files_signature`) and loads the CA again only when one of them was
replaced. ``server/pki/scheduled.py`` calls it every :data:`CHECK_INTERVAL_S`.

A change is followed, never half-taken: a load that fails (the rotation's renames
caught in the middle, a passphrase that no longer opens the key) keeps the CA in use,
says so once, and the next look tries again. Subscribers (the relay's TLS contexts) are
told after each successful re-read, from the thread that re-read it; one that fails (the
trust bundle unreadable at that instant) is told again at each later look until it
succeeds, since no other change may come to tell it (it kept the old trust until the
next rotation step).

On a host that is not a CA issuer (``role.py``) the loader reads the certificates only
(:meth:`PlantCa.load_public`) and :attr:`LiveCa.issuer` is False: the process follows
rotations the same way, and signs nothing itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lineguard.contracts.errors import LineGuardError
from lineguard.crypto import FilesSignature
from lineguard.server.pki.ca import PlantCa
from lineguard.server.pki.files import ca_files_signature, ca_paths, certificate_fingerprint

__all__ = ["CHECK_INTERVAL_S", "LiveCa"]

log = logging.getLogger(__name__)

#: How often a running server process looks at ``data_dir/ca/`` for a rotation or retirement.
CHECK_INTERVAL_S = 2.0

Subscriber = Callable[[PlantCa], None]


class LiveCa:
    """``get()`` the CA in use (loaded on first use, as the passphrase may be unset);
    ``refresh()`` re-reads it when the CA files changed since it was loaded."""

    def __init__(
        self,
        data_dir: Path,
        load: Callable[[], PlantCa],
        value: PlantCa | None = None,
        *,
        issuer: bool = True,
    ) -> None:
        self._paths = ca_paths(data_dir)
        #: Whether this process may sign (an issuer host: ``server/pki/role.py``).
        self.issuer = issuer
        self._load = load
        self._value = value
        # A CA handed in (the CLI loaded it, a test made it) counts as read from the
        # files as they are now: only a later change re-reads them.
        self._signature: FilesSignature | None = ca_files_signature(self._paths) if value else None
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        #: Subscribers whose last call failed: told the CA in use again at the next look.
        self._owed: list[Subscriber] = []
        self._failed: FilesSignature | None = None
        #: Re-reads that found a new CA state (0 until the first change after start).
        self.generation = 0
        #: ``time.monotonic()`` of the last re-read that changed something (None: none yet).
        self.changed_at: float | None = None

    @classmethod
    def of(cls, value: PlantCa, data_dir: Path) -> LiveCa:
        """One that is already loaded: ``value``, following ``data_dir``'s CA files from now on."""
        return cls(data_dir, lambda: value, value, issuer=value.can_sign)

    @property
    def built(self) -> bool:
        """Whether a CA is loaded (without loading it)."""
        return self._value is not None

    def get(self) -> PlantCa:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._value is None:
                signature = ca_files_signature(self._paths)
                self._value = self._load()  # a failure is not remembered: the next call tries again
                self._signature = signature
            return self._value

    def current(self) -> PlantCa:
        """:meth:`get` after a :meth:`refresh`: for issuing a certificate or pinning a token.

        The loop's look every few seconds leaves a window after ``ca retire`` in which
        this process would still issue from a CA just retired (a node would hold a
        certificate no listener accepts); looking first closes it. Blocking: one ``stat``
        per file, and on a change the key decrypted again.
        """
        if self._value is not None:
            self.refresh()
        return self.get()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(new_ca)`` after each re-read that changed the CA; returns the unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            for listed in (self._subscribers, self._owed):
                if callback in listed:
                    listed.remove(callback)

        return unsubscribe

    def refresh(self) -> bool:
        """Re-read the CA if its files changed since it was loaded; whether it did.

        Blocking (one ``stat`` per file; on a change, the key is decrypted again): call
        it from a worker thread.
        """
        if self._value is None:
            return False  # nothing loaded yet: the first get() reads the files as they are
        signature = ca_files_signature(self._paths)
        if signature == self._signature:
            self._tell_owed()
            return False
        with self._lock:
            if signature == self._signature:  # another thread re-read it meanwhile
                return False
            try:
                fresh = self._load()
            except (LineGuardError, OSError, ValueError) as exc:
                if self._failed != signature:  # said once per state of the files, not every look
                    self._failed = signature
                    log.warning(
                        "the plant CA files in %s changed but cannot be read yet (%s); "
                        "this process keeps the CA it has and looks again",
                        self._paths.directory,
                        exc,
                    )
                return False
            before = self._value
            self._value, self._signature, self._failed = fresh, signature, None
            self.generation += 1
            self.changed_at = time.monotonic()
        if _state(before) != _state(fresh):
            log.warning(
                "plant CA re-read from %s: issuing CA sha256 %s, %d CA(s) trusted, server certificate "
                "from CA sha256 %s",
                self._paths.directory,
                fresh.fingerprint_sha256[:16],
                len(fresh.trusted),
                fresh.serving_fingerprint[:16],
            )
        with self._lock:
            self._owed = []  # told below, with this CA
        self._tell(list(self._subscribers), fresh)
        return True

    def _tell(self, callbacks: list[Subscriber], ca: PlantCa, *, again: bool = False) -> None:
        for callback in callbacks:
            try:
                callback(ca)
            except Exception:  # one subscriber's failure must not keep the others on the old CA
                with self._lock:
                    if callback in self._subscribers and callback not in self._owed:
                        self._owed.append(callback)
                if not again:  # said once, not at every look that tries it again
                    log.exception("a subscriber to plant CA changes failed; told again at the next look")
            else:
                if again:
                    log.warning("a subscriber to plant CA changes that had failed follows the CA in use now")

    def _tell_owed(self) -> None:
        if not self._owed or self._value is None:
            return
        with self._lock:
            owed, self._owed = self._owed, []
        self._tell(owed, self._value, again=True)

    def __repr__(self) -> str:
        return f"LiveCa(generation={self.generation}, loaded={self._value!r})"


def _state(ca: PlantCa | None) -> tuple[str, ...]:
    if ca is None:
        return ()
    return (ca.fingerprint_sha256, ca.serving_fingerprint, *(certificate_fingerprint(c) for c in ca.trusted))
