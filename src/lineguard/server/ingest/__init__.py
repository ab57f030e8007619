"""Ingest: event batches and heartbeats from enrolled edge nodes.

``views`` reads the body under a size limit and after authentication and the per-node
rate limit; ``service`` authorises every item against the node's enrolment, stores it
at most once per idempotency key, maintains the hourly rollup in the same transaction
and records the outcome in the audit log.
"""

from lineguard.server.ingest.state import IngestState

__all__ = ["IngestState"]
