"""Dashboard queries: yield and defect rate over time, Pareto of defect classes, recent
alerts and node health. Aggregates read ``rollup_hourly`` (never the raw events), and
every function takes the lines the caller may read, so a summary never mixes in data
from lines outside the caller's scope."""

from lineguard.server.query.schemas import AlertView
from lineguard.server.query.service import alert_view, recent_alerts

__all__ = [
    "AlertView",
    "alert_view",
    "recent_alerts",
]
