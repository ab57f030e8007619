"""The per-camera pipeline that runs the stage folders in order.

capture/ → preprocess/ → infer/ → decide/ → redact/ → evidence/ → outbox/:
:class:`CaptureWorker` runs capture; :class:`InspectWorker` runs preprocess, infer and
decide, hands evidence to the gate (:mod:`lineguard.edge.evidence.gate`, which redacts
first) and writes events to the outbox. The node (:mod:`lineguard.edge.app`) starts one
pair per camera.
"""

from __future__ import annotations

from lineguard.edge.pipeline.camera import Arrival, CameraStats, CaptureWorker, InspectWorker

__all__ = ["Arrival", "CameraStats", "CaptureWorker", "InspectWorker"]
