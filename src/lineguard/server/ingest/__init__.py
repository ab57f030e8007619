"""Ingest: event batches and heartbeats from enrolled edge nodes.

``views`` reads the body under a size limit and after authentication and the per-node
rate limit; ``service`` authorises every item against the node's enrolment, stores it
at most once per idempotency key, maintains the hourly rollup in the same transaction
and records the outcome in the audit log.
"""

from lineguard.server.ingest.models import (
    ALL_PARTS,
    UNKNOWN_MODEL_ID,
    AlertRow,
    CameraHealthRow,
    InspectionEventRow,
    NodeHealthRow,
    PartVerdictRow,
    RollupDaily,
    RollupHourly,
    StageResultRow,
    WorkOrderRow,
)
from lineguard.server.ingest.state import IngestState

#: The tables are exported read-only in spirit: other domains read them (the MQTT
#: publisher follows inspection_events and alerts by row id; work-order triggers become
#: recommendations; the dashboard and queries read them), only ingest writes them.
__all__ = [
    "ALL_PARTS",
    "UNKNOWN_MODEL_ID",
    "AlertRow",
    "CameraHealthRow",
    "IngestState",
    "InspectionEventRow",
    "NodeHealthRow",
    "PartVerdictRow",
    "RollupDaily",
    "RollupHourly",
    "StageResultRow",
    "WorkOrderRow",
]
