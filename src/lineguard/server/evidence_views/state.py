"""What remote evidence views keep for the app's lifetime: the relay and the nodes' poll rate.

``create_app`` builds one :class:`EvidenceViewsState`; tests replace the relay with one
on a fake clock or shorter limits before the first request. With several server
processes on PostgreSQL the domain's lifespan (``scheduled.py``) adds the shared relay
and the client of the internal relay; both stay None in a single process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lineguard.config import ServerConfig
from lineguard.server.evidence_views.peers import PeerClient
from lineguard.server.evidence_views.refusals import RefusalLedger
from lineguard.server.evidence_views.relay import EvidenceRelay, RelaySettings
from lineguard.server.evidence_views.shared import SharedRelay
from lineguard.server.limits import TokenBuckets

__all__ = ["POLL_BURST", "POLL_RATE_PER_S", "EvidenceViewsState"]

#: Polls per second a node may make (it polls again at once after each answer).
POLL_RATE_PER_S = 1.0
POLL_BURST = 20


def _poll_buckets() -> TokenBuckets:
    return TokenBuckets(rate=POLL_RATE_PER_S, burst=POLL_BURST)


@dataclass
class EvidenceViewsState:
    #: Views in this process's memory only (the image is never written anywhere).
    relay: EvidenceRelay = field(default_factory=EvidenceRelay)
    #: Each node's long-poll rate.
    poll_buckets: TokenBuckets = field(default_factory=_poll_buckets)
    #: Several server processes: view state in PostgreSQL, this process's images in memory.
    shared: SharedRelay | None = None
    #: Several server processes: hand-offs to the others over mutual TLS.
    peers: PeerClient | None = None
    #: Several server processes: refused connections to this one's relay, counted for the audit log.
    refusals: RefusalLedger | None = None

    @classmethod
    def build(cls, settings: ServerConfig) -> EvidenceViewsState:
        """The relay with the configured bound on the images one process holds."""
        held = settings.http.internal_max_held_mib * 2**20
        return cls(relay=EvidenceRelay(RelaySettings(max_held_bytes=held)))

    @property
    def settings(self) -> RelaySettings:
        return self.relay.settings
