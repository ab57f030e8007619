"""Label checks on the dashboard: what the label stations read, and where labels were wrong.

A label stage (``edge/labels``) sends one :class:`~lineguard.contracts.stages.StageResult`
per part (kind ``label``), stored by ingest in ``stage_results``. This domain only reads
them: ``service.station_summaries`` counts each station's checks in a window by outcome
(:mod:`.outcomes`: read, mismatch, unreadable, upside down, not judged) and the fields that
differed; ``service.recent_checks`` lists the latest checks with their reasons and the
inspection record of the part (its decisive frame) to open. Routes (``views``):
``GET /api/v1/label-checks/stations`` and ``GET /api/v1/label-checks/recent``
(``inspection_results.read``, scoped to the caller's lines, reads audited). Metadata only:
what a label *said* never leaves the node, only which field differed.
"""

from lineguard.server.labelchecks.outcomes import Outcome, outcome_of
from lineguard.server.labelchecks.service import recent_checks, station_summaries

__all__ = ["Outcome", "outcome_of", "recent_checks", "station_summaries"]
