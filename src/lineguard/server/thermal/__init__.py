"""Thermal monitoring on the dashboard: each watched asset against its learned band, over time.

A thermal camera (``edge/thermal``, ``edge/pipeline/thermal.py``) sends three kinds of
:class:`~lineguard.contracts.stages.StageResult` (kind ``thermal``, no part), stored by
ingest in ``stage_results``: **readings** (``pass``, no reason; ``<asset>.max`` with the
band of that hour as nominal and limits, ``<asset>.trend``), **alarms** (``fail``;
``hot_spot``, ``delta_t``, ``sensor_dropout``) and **maintenance recommendations**
(``uncertain``; ingest also opens a ``thermal_maintenance`` review item). This domain only
reads them (``service``): the assets with their latest reading and the alarms of a window,
one asset's series (hottest pixel, band, trend; thinned to a chart's worth of points,
never hiding a peak) and the alarm list. Routes (``views``): ``GET /api/v1/thermal/assets``,
``/thermal/series``, ``/thermal/alarms`` (``maintenance_data.read``, scoped to the caller's
lines, reads audited). Metadata only: no thermal frame ever leaves the node.
"""

from lineguard.server.thermal.readings import AssetReading, readings_of
from lineguard.server.thermal.service import asset_series, asset_summaries, recent_alarms

__all__ = ["AssetReading", "asset_series", "asset_summaries", "readings_of", "recent_alarms"]
