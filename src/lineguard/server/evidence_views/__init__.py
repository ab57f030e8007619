"""Remote evidence views: the redacted image, fetched from its edge node on demand.

Evidence stays on the edge node, encrypted. When a person allowed to see evidence opens
a record's image, the server queues a request for the node that holds it; the node,
which only ever connects out, long-polls for such requests over its mTLS connection,
decrypts the object and uploads the redacted JPEG with the statement it signed at
capture. The server checks format, size, hash, signature and that the signing key was
certified for that node (:mod:`.provenance`), keeps the image in memory only
(:mod:`.relay`) and hands it once to the person and browser session that asked.

With several server processes (workers or replicas, on PostgreSQL) the view's state is
shared in the database and the image handed between processes over an internal
mutual-TLS relay, never written anywhere (docs/deployment.md).

Files: ``relay.py`` (in-memory state), ``bells.py`` (waking node long polls),
``shared.py`` + ``models.py`` (state shared in PostgreSQL), ``listen.py`` (NOTIFY),
``peers.py`` (the internal relay) and ``handoff.py`` (what passes over it), ``jpeg.py``
and ``provenance.py`` (checks), ``service.py``, ``schemas.py``, ``views.py`` (routes) and
``scheduled.py`` (lifecycle: purging, heartbeats, the relay listener), ``identity.py``
(each replica's stable id) and ``revocation.py``.
"""

from lineguard.server.evidence_views.revocation import ReplicaView, list_replicas, revoke_replica
from lineguard.server.evidence_views.service import open_view
from lineguard.server.evidence_views.shared import SKEW_WARN_S, STALE_S
from lineguard.server.evidence_views.state import EvidenceViewsState

__all__ = [
    "SKEW_WARN_S",
    "STALE_S",
    "EvidenceViewsState",
    "ReplicaView",
    "list_replicas",
    "open_view",
    "revoke_replica",
]
