"""Contracts shared by the edge node and the plant server: pydantic only, no I/O.

``events`` are the wire messages, ``types`` the in-process seams, ``errors`` the one
error hierarchy, ``validation`` the error formatting and size-checked parsing.
"""

from lineguard.contracts.errors import LineGuardError
from lineguard.contracts.events import (
    SCHEMA_VERSION,
    Alert,
    IngestBatch,
    InspectionEvent,
    NodeHeartbeat,
    Verdict,
    WorkOrderTrigger,
)
from lineguard.contracts.validation import parse_message

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "IngestBatch",
    "InspectionEvent",
    "LineGuardError",
    "NodeHeartbeat",
    "Verdict",
    "WorkOrderTrigger",
    "parse_message",
]
