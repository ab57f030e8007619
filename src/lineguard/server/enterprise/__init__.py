"""The plant's side of the optional enterprise roll-up: line-day counts, sent upwards.

* :func:`count_line_days` — parts by verdict, per defect class and alerts by kind and
  severity, per line and UTC day, from the plant's own rollups (no ids, no evidence, no
  people: the query never selects them).
* :mod:`.queue` — ``enterprise_outbox``, the durable queue of snapshots: a line-day's
  ``revision`` grows when its counts change; an acknowledgement settles one revision.
* :class:`RollupSender` — one round: recount, send through the egress gate with the
  plant's client certificate, settle and audit (``enterprise.rollup_sent`` /
  ``enterprise.rollup_failed``). ``scheduled`` runs it on the one replica leading
  ``enterprise-rollup``.

Off by default (``server.yaml``: ``enterprise.enabled``). The roll-up service itself is
:mod:`lineguard.enterprise`.
"""

from lineguard.server.enterprise.aggregate import LineDayCounts, count_line_days
from lineguard.server.enterprise.models import EnterpriseOutboxRow
from lineguard.server.enterprise.queue import QueueStatus, Snapshot, queue_status, refresh
from lineguard.server.enterprise.scheduled import ROLLUP_DUTY, sender_of
from lineguard.server.enterprise.sender import (
    AGGREGATES_PATH,
    ROLLUP_ACTOR,
    ROLLUP_PURPOSE,
    RollupReport,
    RollupSender,
)

__all__ = [
    "AGGREGATES_PATH",
    "ROLLUP_ACTOR",
    "ROLLUP_DUTY",
    "ROLLUP_PURPOSE",
    "EnterpriseOutboxRow",
    "LineDayCounts",
    "QueueStatus",
    "RollupReport",
    "RollupSender",
    "Snapshot",
    "count_line_days",
    "queue_status",
    "refresh",
    "sender_of",
]
