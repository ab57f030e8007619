"""PPE counts: hourly aggregates per zone from PPE cameras, never a person.

``models`` (one row per node message) ← ``service.ppe_row`` (ingest, in the batch's
transaction; small counts suppressed again with the server's minimum) → ``service.ppe_report``
(rows of one zone-hour added up, suppressed once more) → ``views``
(``GET /api/v1/ppe/counts``, ``safety_compliance.read``). Retention: ``ppe_counts_days``.
"""

from lineguard.server.ppe.models import PpeCountRow
from lineguard.server.ppe.service import ppe_report, ppe_row

__all__ = ["PpeCountRow", "ppe_report", "ppe_row"]
