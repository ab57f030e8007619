"""A listener's TLS context that follows its files: ``lineguard ca rotate`` / ``retire`` without a restart.

``asyncio`` (and uvloop) take one ``ssl.SSLContext`` when the listening socket is made,
and OpenSSL can add CA certificates to a context but never remove one, so a retired CA
cannot be dropped from a context in place. Instead the listener's context is a *front*:
its ``sni_callback``, which OpenSSL runs early in every handshake (whether or not the
client sent a server name), looks at the files (one ``stat`` each, at most every
:data:`CHECK_INTERVAL_S`), builds a fresh context when one of them was replaced, and
moves the handshake onto the newest context (``ssl_object.context = …``: OpenSSL's
``SSL_set_SSL_CTX``, which brings that context's certificate, key and trust store).
Connections already established keep the context they were made with; the next
handshake serves the new certificate and verifies clients against the new trust.

A build that fails (the server key replaced but not yet its certificate) keeps the
current context; the next look tries again. Session resumption through tickets is off
(TLS 1.2 and 1.3), so a client cannot skip a new trust bundle by resuming a ticket from
before it. TLS 1.2 session-id resumption within this process's cache stays possible
(Python has no switch for the cache); it gains an old-CA node nothing, since ``ca
retire`` leaves no active node with a usable old-CA certificate (refused, or revoked
with ``--force``: ``server.admin.retire_ca``) and node authentication reads the
database on every request.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lineguard.crypto import files_signature

__all__ = ["CHECK_INTERVAL_S", "ReloadingContext"]

log = logging.getLogger(__name__)

#: At most this often a handshake looks at the files (a ``stat`` each).
CHECK_INTERVAL_S = 1.0


class ReloadingContext:
    """``front`` is the context to give the listener; it hands each handshake the newest one."""

    def __init__(
        self,
        build: Callable[[], ssl.SSLContext],
        files: Sequence[Path],
        *,
        check_interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self._build = build
        self._files = tuple(files)
        self._check_interval_s = check_interval_s
        self._signature = files_signature(*self._files)
        self.front = self._fresh()
        self.current = self.front
        self.front.sni_callback = self._choose
        self._checked = time.monotonic()
        self._failed = self._signature
        self._lock = threading.Lock()  # ServerThread, several loops in one process
        #: Contexts built since start because the files changed.
        self.reloads = 0

    def _fresh(self) -> ssl.SSLContext:
        ctx = self._build()
        ctx.num_tickets = 0  # TLS 1.3: no resumption past a change of trust
        ctx.options |= ssl.OP_NO_TICKET
        return ctx

    def check(self) -> bool:
        """Build a fresh context if the files changed; whether it did."""
        signature = files_signature(*self._files)
        if signature == self._signature:
            return False
        with self._lock:
            if signature == self._signature:
                return False
            try:
                fresh = self._fresh()
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                if self._failed != signature:
                    self._failed = signature
                    log.warning(
                        "TLS files changed but cannot be loaded yet (%s); serving the current ones", exc
                    )
                return False
            self.current, self._signature = fresh, signature
            self.reloads += 1
        log.warning("TLS certificate and trust re-read from %s", ", ".join(str(p) for p in self._files))
        return True

    def _choose(
        self, ssl_object: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        try:
            now = time.monotonic()
            if now - self._checked >= self._check_interval_s:
                self._checked = now
                self.check()
            current = self.current
            if current is not self.front:
                ssl_object.context = current
        except Exception:  # never fail a handshake over the look itself: it keeps the context it has
            log.exception("looking for new TLS files failed")
