"""The running node's certificate renewal: at 2/3 of its life, or at once when the server asks.

``maybe_renew`` existed but nothing in a running node called it, so a node renewed only
when an operator ran ``lineguard edge renew``. This worker looks every
:data:`CHECK_INTERVAL_S` (reading the certificate file and the renew-now note, no
network) and renews when due; a failed renewal (server down, refused) is logged and
tried again with a growing pause up to ``retry_max_s``, and the node keeps its current
certificate meanwhile. Every node client's transport follows the credentials file
(:class:`~lineguard.edge.identity.client.FollowingTransport`), so the renewed certificate
is presented from the next request on.

The renew-now header comes on HTTPS answers. A node whose outbox goes over MQTT gets
none (the broker answers nothing), so during a CA rotation it would renew only at 2/3 of
its certificate's life and ``lineguard ca retire`` would name it until then. With
``check_in_s`` the worker also asks the server something over mTLS every so often
(``GET /api/v1/enroll/ca``: public, tiny, answered with the header like any route) and
the client's hook notes the request as for every other answer.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from lineguard.edge.identity.client import https_client
from lineguard.edge.identity.enroll import API
from lineguard.edge.identity.renew import maybe_renew
from lineguard.edge.workers import Worker

__all__ = ["CHECK_INTERVAL_S", "CHECK_IN_S", "RenewalWorker"]

log = logging.getLogger(__name__)

#: How often the worker looks whether a renewal is due (local files only).
CHECK_INTERVAL_S = 5.0
#: How often a node with no other HTTPS traffic (ingest over MQTT) asks the server for the
#: renew-now header: a rotation reaches it within this, not at 2/3 of its certificate's life.
CHECK_IN_S = 300.0
_WAIT_S = 0.2


class RenewalWorker(Worker):
    def __init__(
        self,
        stop: threading.Event,
        *,
        data_dir: Path,
        server_url: str,
        check_interval_s: float = CHECK_INTERVAL_S,
        retry_max_s: float = 300.0,
        check_in_s: float | None = None,
    ) -> None:
        super().__init__("certificate-renewal", stop)
        self.data_dir = data_dir
        self.server_url = server_url
        self.check_interval_s = check_interval_s
        self.retry_max_s = retry_max_s
        self.check_in_s = check_in_s
        self.renewals = 0
        #: Looks at whether a renewal is due (each: the files read, and a check-in when one is due).
        self.looks = 0
        #: Check-ins answered (the header, if any, noted by the client's hook).
        self.check_ins = 0
        self._next = time.monotonic()
        self._next_check_in = time.monotonic()
        self._backoff_s = 0.0

    def step(self) -> None:
        if self.stop_event.wait(_WAIT_S) or time.monotonic() < self._next:
            return
        self.looks += 1
        try:
            self._check_in()
            renewed = maybe_renew(self.data_dir, self.server_url)
        except Exception as exc:  # the server down or refusing: keep the certificate, try again later
            self.record_error(exc)
            self._backoff_s = min(self.retry_max_s, max(self.check_interval_s, 2 * self._backoff_s))
            log.warning("certificate renewal failed (next try in %.0f s): %s", self._backoff_s, exc)
            self._next = time.monotonic() + self._backoff_s
            return
        self._backoff_s = 0.0
        self._next = time.monotonic() + self.check_interval_s
        if renewed is not None:
            self.renewals += 1
            log.info("node certificate renewed; valid until %s", renewed.isoformat())

    def _check_in(self) -> None:
        """Ask the server once per ``check_in_s`` (an answer may carry the renew-now header)."""
        if self.check_in_s is None or time.monotonic() < self._next_check_in:
            return
        self._next_check_in = time.monotonic() + self.check_in_s
        with https_client(self.data_dir, self.server_url) as client:
            client.get(f"{API}/enroll/ca").raise_for_status()
        self.check_ins += 1
