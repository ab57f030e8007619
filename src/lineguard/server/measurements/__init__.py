"""Measurements: every measured value of every inspection stage, and SPC on them.

``models`` (one row per value) ← ``service.record_measurements`` (called by ingest in the
batch's transaction) → ``spc`` (X̄/R charts, Cp/Cpk, Western Electric rules; each
characteristic's rules and baseline start in ``SpcSettingsRow``) → drift as
``spc_drift`` review items (``kinds``: a recommendation, never a fail) → ``views``
(``/api/v1/spc/characteristics``, ``/api/v1/spc/chart``, ``PUT /api/v1/spc/settings``,
``/api/v1/reviews/spc_drift``).
"""

from lineguard.server.measurements.kinds import SPC_DRIFT
from lineguard.server.measurements.models import MeasurementRow, SpcSettingsRow
from lineguard.server.measurements.service import (
    control_chart,
    list_characteristics,
    record_measurements,
    update_spc_settings,
)

__all__ = [
    "SPC_DRIFT",
    "MeasurementRow",
    "SpcSettingsRow",
    "control_chart",
    "list_characteristics",
    "record_measurements",
    "update_spc_settings",
]
